package server

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/databoard/databoard/cache"
	"github.com/databoard/databoard/daqbuf"
)

// The answer cache keeps encoded /channels/curve answers of settled windows in process, so a repeated
// request (a dashboard opened by many people, a reload) costs a memory copy: no store round trip, no
// decoding, no encoding. Only answers whose every chunk came from the curve cache (X-Cache: hit) and
// whose window ended before now − settle are kept: such chunks are final (the curve cache keeps a
// chunk's open-tail copy fresh for seconds, far less than the settle time), so the answer can never
// change until an operator flushes it.

// answerTTL bounds how long a kept answer lives (the curve cache keeps final chunks as long).
const answerTTL = 7 * 24 * time.Hour

// answerKey names one answer: everything that shapes it, the channel_name exactly as sent included
// (it names the output maps).
func answerKey(r curveRequest, ref daqbuf.ChannelRef, isString bool) string {
	var b strings.Builder
	b.Grow(96 + len(r.name) + len(ref.Name))
	for _, part := range []string{"ans", ref.Backend, ref.Name, strconv.FormatUint(ref.SeriesID, 10), r.name,
		strconv.FormatInt(r.beginMs, 10), strconv.FormatInt(r.endMs, 10), strconv.FormatInt(r.numBins, 10),
		strconv.FormatBool(r.rawIfSparse), strconv.FormatBool(r.removeEmpty), strconv.FormatBool(isString)} {
		b.WriteString(strconv.Itoa(len(part))) // length-prefixed: no separator can be forged by a name
		b.WriteByte(':')
		b.WriteString(part)
	}
	return b.String()
}

// settledWindow says whether [begin, end) ended long enough ago for its answer to be final: before
// now − max(settle, 2 bins of the width data-api picks), the curve cache's own rule.
func (s *Server) settledWindow(r curveRequest, rng daqbuf.Range) bool {
	settle := s.cfg.Settle
	if r.numBins > 0 {
		settle = max(settle, time.Duration(2*daqbuf.WidthForCount(rng, int(r.numBins))))
	}
	return rng.End <= s.cfg.Now().Add(-settle).UnixNano()
}

// cachedAnswer returns a kept answer, or nil.
func (s *Server) cachedAnswer(ctx context.Context, key string) []byte {
	if s.deps.Answers == nil {
		return nil
	}
	vals, err := s.deps.Answers.GetMany(ctx, []string{key})
	if err != nil || len(vals) == 0 {
		return nil
	}
	return vals[0]
}

// keepAnswer stores body when it is final.
func (s *Server) keepAnswer(ctx context.Context, key string, status cache.Status, settled bool, body []byte) {
	if s.deps.Answers == nil || status != cache.StatusHit || !settled {
		return
	}
	_ = s.deps.Answers.Set(ctx, key, body, answerTTL)
}

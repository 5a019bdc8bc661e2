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

// answerTTL bounds how long a kept answer lives. Short on purpose: it bounds the damage of anything
// the settle rule below cannot see (an upstream stream cut between frames looks complete), while
// repeated requests within it cost nothing.
const answerTTL = 10 * time.Minute

// tailSlack is added to the settle time: a chunk holding "now" may be served from a copy fetched up to
// the curve cache's TailTTL (5 s) ago, so the window must have ended settle before that fetch.
const tailSlack = 10 * time.Second

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

// settledWindow says whether the answer for [begin, end) is final: its last bin (which may end up to one
// bin after end) ended before now − max(settle, 2 bins) − tailSlack, the curve cache's own rule plus
// the age of the copy a hit may come from.
func (s *Server) settledWindow(r curveRequest, rng daqbuf.Range) bool {
	settle, last := s.cfg.Settle, rng.End
	if r.numBins > 0 {
		w := daqbuf.WidthForCount(rng, int(r.numBins))
		settle = max(settle, time.Duration(2*w))
		if w > 0 {
			last = daqbuf.GridRange(rng, w).End
		}
	}
	return last <= s.cfg.Now().Add(-settle-tailSlack).UnixNano()
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

package server

import (
	"context"
	"time"

	"github.com/databoard/databoard/daqbuf/curve"
)

// The answer cache keeps encoded /channels/curve answers of settled windows in process, so a repeated
// request (a dashboard opened by many people, a reload) costs a memory copy: no store round trip, no
// decoding, no encoding. Only answers whose every chunk came from the curve cache (X-Cache: hit) and
// whose window ended before now − settle are kept: such chunks are final (the curve cache keeps a
// chunk's open-tail copy fresh for seconds, far less than the settle time), so the answer can never
// change until an operator flushes it. And only answers asked for a second time (Server.answersSeen, a
// store.Doorkeeper of 65 536 key hashes, 512 KiB): a window asked for once would cost a kept copy and
// push a useful answer out, where not keeping it lets its buffer go back to the pool.

// answerTTL bounds how long a kept answer lives. Short on purpose: it bounds the damage of anything
// the settle rule below cannot see (an upstream stream cut between frames looks complete), while
// repeated requests within it cost nothing.
const answerTTL = 10 * time.Minute

// answerClockSlack is added to the curve source's tail age when deciding that an answer is final:
// instances sharing a cache may disagree about now by this much.
const answerClockSlack = 5 * time.Second

// cachedAnswer returns a kept answer, or nil. An empty window's answer costs nothing and is never kept.
func (s *Server) cachedAnswer(ctx context.Context, key string, empty bool) []byte {
	if s.deps.Answers == nil || empty {
		return nil
	}
	vals, err := s.deps.Answers.GetMany(ctx, []string{key})
	if err != nil || len(vals) == 0 {
		return nil
	}
	return vals[0]
}

// keepAnswer stores body when it is final and was asked for before (Server.answersSeen), and says whether
// it did: the cache then owns body.
func (s *Server) keepAnswer(ctx context.Context, key string, status curve.Status, settled bool, body []byte) bool {
	if s.deps.Answers == nil || status != curve.StatusHit || !settled {
		return false
	}
	_ = s.deps.Answers.Set(ctx, key, body, answerTTL)
	return true
}

// answerGzipPrefix names the gzip copy of a kept answer, kept in the same cache beside the plain one
// (so flushes drop both) and made on the first hit that accepts gzip.
const answerGzipPrefix = "gzip:"

// answerGzip returns the gzip form of the kept answer body under key, compressing and keeping it the
// first time.
func (s *Server) answerGzip(ctx context.Context, key string, body []byte) []byte {
	gzKey := answerGzipPrefix + key
	if vals, err := s.deps.Answers.GetMany(ctx, []string{gzKey}); err == nil && len(vals) == 1 && vals[0] != nil {
		return vals[0]
	}
	z := gzipBytes(body, gzipLevelCached)
	_ = s.deps.Answers.Set(ctx, gzKey, z, answerTTL)
	return z
}

package server

import (
	"context"
	"hash/maphash"
	"sync/atomic"
	"time"

	"github.com/databoard/databoard/daqbuf/curve"
)

// The answer cache keeps encoded /channels/curve answers of settled windows in process, so a repeated
// request (a dashboard opened by many people, a reload) costs a memory copy: no store round trip, no
// decoding, no encoding. Only answers whose every chunk came from the curve cache (X-Cache: hit) and
// whose window ended before now − settle are kept: such chunks are final (the curve cache keeps a
// chunk's open-tail copy fresh for seconds, far less than the settle time), so the answer can never
// change until an operator flushes it. And only answers asked for a second time (answerDoorkeeper): a
// window asked for once would cost a kept copy and push a useful answer out.

// answerTTL bounds how long a kept answer lives. Short on purpose: it bounds the damage of anything
// the settle rule below cannot see (an upstream stream cut between frames looks complete), while
// repeated requests within it cost nothing.
const answerTTL = 10 * time.Minute

// answerClockSlack is added to the curve source's tail age when deciding that an answer is final:
// instances sharing a cache may disagree about now by this much.
const answerClockSlack = 5 * time.Second

// answerDoorkeeper remembers which answers were asked for recently, so that only an answer asked for a
// second time is kept: a window asked once (a load of distinct windows, each person's own "last 3 days"
// shifted by seconds) would only push useful answers out and cost a copy of its bytes each, where
// not keeping it lets its buffer go back to the pool. It is a fixed table of key hashes (answerSeenSlots
// × 8 bytes, 512 KiB), direct-mapped: a key whose slot another key took since is forgotten, which only
// delays keeping its answer; a hash collision only keeps an answer one request early. Nothing it says
// can change an answer's bytes.
type answerDoorkeeper struct {
	seed  maphash.Seed
	slots []atomic.Uint64
}

// answerSeenSlots is the doorkeeper's size: a power of two.
const answerSeenSlots = 1 << 16

func newAnswerDoorkeeper() *answerDoorkeeper {
	return &answerDoorkeeper{seed: maphash.MakeSeed(), slots: make([]atomic.Uint64, answerSeenSlots)}
}

// seen notes key and says whether it was noted before (and not forgotten since).
func (d *answerDoorkeeper) seen(key string) bool {
	h := maphash.String(d.seed, key) | 1 // never 0, the empty slot
	return d.slots[h&(answerSeenSlots-1)].Swap(h) == h
}

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

// keepAnswer stores body when it is final and was asked for before (answerDoorkeeper), and says whether
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

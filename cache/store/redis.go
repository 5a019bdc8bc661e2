package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisPrefix namespaces and versions every key databoard writes to Redis: a change of the
// key or value layout bumps the version, so old and new instances never read each other's values.
const DefaultRedisPrefix = "databoard:v1:"

// RedisConfig configures a Redis store. Zero values are defaults.
type RedisConfig struct {
	// Prefix is put in front of every key. Default DefaultRedisPrefix.
	Prefix string
	// Timeout is the shortest deadline of a Redis round trip (one pipeline counts as one). Default
	// 100 ms. The deadline in use follows the measured round trips (a margin over the smoothed round
	// trip and its deviation) and doubles when a call times out, up to MaxTimeout. The client must be
	// built with ContextTimeoutEnabled so that the deadline reaches the socket.
	Timeout time.Duration
	// MaxTimeout is the longest deadline. Default 1 s (at least Timeout).
	MaxTimeout time.Duration
	// BreakerFailures is the number of consecutive failed calls (connection errors: Redis is absent)
	// that opens the circuit breaker. Default 5.
	BreakerFailures int
	// BreakerSlowCalls is the number of consecutive calls timing out at the current deadline (Redis,
	// or the host, is slow) that opens the breaker. Default 4 × BreakerFailures: a busy host is not a
	// dead Redis.
	BreakerSlowCalls int
	// BreakerCooldown is how long the breaker stays open before one probe call is let through.
	// Default 2 s.
	BreakerCooldown time.Duration
	// ScanCount is the COUNT hint of the SCANs of DeletePrefix and Stats, and their batch size.
	// Default 1000.
	ScanCount int
	// Now is the breaker's clock. Default time.Now.
	Now func() time.Time
}

// Redis is the Store shared by every databoard instance, on go-redis's universal client (single
// node, Sentinel or Cluster). Every call has a short deadline and goes through a circuit breaker;
// any failure is returned as ErrUnavailable (redis.Nil is a miss, not a failure), so callers fall
// back to data-api instead of failing.
type Redis struct {
	client redis.UniversalClient
	cfg    RedisConfig
	br     *breaker
	dl     *deadline
	token  string // lock owner id of this instance
	unlock *redis.Script
	extend *redis.Script

	failures atomic.Uint64
}

var _ Store = (*Redis)(nil)

// unlockScript deletes a lock only when it still holds our token: a lock that expired and was
// taken by another instance must survive our late Unlock.
const unlockScript = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`

// extendScript renews a lock only while it holds our token.
const extendScript = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) end return 0`

// NewRedis wraps client; it does no I/O. The client stays owned by the caller.
func NewRedis(client redis.UniversalClient, cfg RedisConfig) *Redis {
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultRedisPrefix
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 100 * time.Millisecond
	}
	if cfg.BreakerFailures <= 0 {
		cfg.BreakerFailures = 5
	}
	if cfg.MaxTimeout <= 0 {
		cfg.MaxTimeout = time.Second
	}
	if cfg.BreakerSlowCalls <= 0 {
		cfg.BreakerSlowCalls = 4 * cfg.BreakerFailures
	}
	if cfg.BreakerCooldown <= 0 {
		cfg.BreakerCooldown = 2 * time.Second
	}
	if cfg.ScanCount <= 0 {
		cfg.ScanCount = 1000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	br := newBreaker(cfg.BreakerFailures, cfg.BreakerCooldown, cfg.Now)
	br.slowThreshold = cfg.BreakerSlowCalls
	return &Redis{
		client: client, cfg: cfg, br: br, dl: newDeadline(cfg.Timeout, cfg.MaxTimeout),
		token: hex.EncodeToString(b), unlock: redis.NewScript(unlockScript), extend: redis.NewScript(extendScript),
	}
}

// Breaker reports the circuit breaker's state and how many times it has opened.
func (r *Redis) Breaker() (state BreakerState, trips uint64) { return r.br.snapshot() }

// Deadline is the per-call deadline in use now (RedisConfig.Timeout and MaxTimeout).
func (r *Redis) Deadline() time.Duration { return r.dl.current() }

// Failures is the number of Redis calls that failed (timeouts, connection errors, refusals by the
// open breaker).
func (r *Redis) Failures() uint64 { return r.failures.Load() }

// do runs one round trip under the breaker and the per-call deadline and translates its error.
func (r *Redis) do(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	ok, probe := r.br.allow()
	if !ok {
		r.failures.Add(1)
		return fmt.Errorf("cache: redis %s: circuit open: %w", op, ErrUnavailable)
	}
	used := r.dl.current()
	cctx, cancel := context.WithTimeout(ctx, used)
	defer cancel()
	start := time.Now()
	err := fn(cctx)
	var reply redis.Error
	switch {
	case err == nil:
		r.dl.observe(time.Since(start))
		r.br.done(probe, outcomeSuccess)
		return nil
	case ctx.Err() != nil:
		r.br.done(probe, outcomeNeutral)
		return fmt.Errorf("cache: redis %s: %w", op, ctx.Err())
	case errors.As(err, &reply) && !isTransient(err):
		// Redis answered (WRONGTYPE, OOM, ...): it is up, so the breaker stays closed.
		r.br.done(probe, outcomeSuccess)
		r.failures.Add(1)
		return fmt.Errorf("cache: redis %s: %v: %w", op, err, ErrUnavailable)
	case isTimeout(cctx, err):
		// Slow, not absent: the deadline grows; only calls that had the grown one count toward the
		// breaker, and only many of them in a row open it.
		o := outcomeNeutral
		if r.dl.timedOut(used) {
			o = outcomeSlow
		}
		r.br.done(probe, o)
		r.failures.Add(1)
		return fmt.Errorf("cache: redis %s: %v (deadline %s): %w: %w", op, err, used, ErrUnavailable, ErrSlow)
	default:
		r.br.done(probe, outcomeFailure)
		r.failures.Add(1)
		return fmt.Errorf("cache: redis %s: %v: %w", op, err, ErrUnavailable)
	}
}

// isTimeout tells a call that ran out of its deadline (the store or the host is slow) from one that
// failed (connection refused or reset: the store is absent).
func isTimeout(cctx context.Context, err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(cctx.Err(), context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// isTransient: replies that mean the node cannot serve right now (failover, loading).
func isTransient(err error) bool {
	s := err.Error()
	for _, p := range []string{"LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// GetMany reads all keys with one pipeline of GETs (GETs, not MGET, so that Cluster can route keys
// of different slots).
func (r *Redis) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	err := r.do(ctx, "get", func(ctx context.Context) error {
		pipe := r.client.Pipeline()
		cmds := make([]*redis.StringCmd, len(keys))
		for i, k := range keys {
			cmds[i] = pipe.Get(ctx, r.cfg.Prefix+k)
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		for i, c := range cmds {
			b, err := c.Bytes()
			switch {
			case errors.Is(err, redis.Nil):
			case err != nil:
				return err
			default:
				out[i] = b
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Set stores val under key for ttl.
func (r *Redis) Set(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	return r.do(ctx, "set", func(ctx context.Context) error {
		return r.client.Set(ctx, r.cfg.Prefix+key, val, ttl).Err()
	})
}

// SetMany stores entries with one pipeline of SETs.
func (r *Redis) SetMany(ctx context.Context, entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	return r.do(ctx, "set", func(ctx context.Context) error {
		_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, e := range entries {
				p.Set(ctx, r.cfg.Prefix+e.Key, e.Val, e.TTL)
			}
			return nil
		})
		return err
	})
}

// Lock is SET key token NX PX ttl, token identifying this instance.
func (r *Redis) Lock(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	var got bool
	err := r.do(ctx, "lock", func(ctx context.Context) error {
		var err error
		got, err = r.client.SetNX(ctx, r.cfg.Prefix+key, r.token, ttl).Result()
		return err
	})
	return got, err
}

// Extend renews the lock for ttl if this instance still holds it.
func (r *Redis) Extend(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	var n int64
	err := r.do(ctx, "extend lock", func(ctx context.Context) error {
		var err error
		n, err = r.extend.Run(ctx, r.client, []string{r.cfg.Prefix + key}, r.token, ttl.Milliseconds()).Int64()
		if errors.Is(err, redis.Nil) {
			return nil
		}
		return err
	})
	return n == 1, err
}

// Unlock deletes the lock if this instance still holds it.
func (r *Redis) Unlock(ctx context.Context, key string) error {
	return r.do(ctx, "unlock", func(ctx context.Context) error {
		err := r.unlock.Run(ctx, r.client, []string{r.cfg.Prefix + key}, r.token).Err()
		if errors.Is(err, redis.Nil) {
			return nil
		}
		return err
	})
}

// DeletePrefix SCANs the keys under prefix and UNLINKs them batch by batch; each round trip has its
// own deadline. On Cluster every master is scanned.
func (r *Redis) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	var n atomic.Int64
	err := r.scan(ctx, prefix, func(ctx context.Context, c redis.Cmdable, keys []string) error {
		return r.do(ctx, "unlink", func(ctx context.Context) error {
			cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, k := range keys {
					p.Unlink(ctx, k) // one key per command: keys of a batch may live in different slots
				}
				return nil
			})
			for _, cmd := range cmds {
				if ic, ok := cmd.(*redis.IntCmd); ok {
					n.Add(ic.Val())
				}
			}
			return err
		})
	})
	return int(n.Load()), err
}

// Stats counts the keys under the prefix and sums key lengths and value lengths (STRLEN). It is
// approximate: SCAN may return a key twice and misses keys written during the scan; Redis's own
// per-key overhead is not included. It costs one round trip per ScanCount keys.
func (r *Redis) Stats(ctx context.Context) (Stats, error) {
	var entries, size atomic.Int64
	err := r.scan(ctx, "", func(ctx context.Context, c redis.Cmdable, keys []string) error {
		return r.do(ctx, "strlen", func(ctx context.Context) error {
			cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, k := range keys {
					p.StrLen(ctx, k)
				}
				return nil
			})
			for i, cmd := range cmds {
				if ic, ok := cmd.(*redis.IntCmd); ok && ic.Err() == nil {
					entries.Add(1)
					size.Add(int64(len(keys[i])) + ic.Val())
				}
			}
			return err
		})
	})
	return Stats{Entries: entries.Load(), Bytes: size.Load(), Approximate: true}, err
}

// scan calls fn with batches of full key names under the prefix + sub, per node.
func (r *Redis) scan(ctx context.Context, sub string, fn func(context.Context, redis.Cmdable, []string) error) error {
	match := escapeGlob(r.cfg.Prefix+sub) + "*"
	node := func(ctx context.Context, c redis.Cmdable) error {
		var cursor uint64
		for {
			var keys []string
			err := r.do(ctx, "scan", func(ctx context.Context) error {
				var err error
				keys, cursor, err = c.Scan(ctx, cursor, match, int64(r.cfg.ScanCount)).Result()
				return err
			})
			if err != nil {
				return err
			}
			if len(keys) > 0 {
				if err := fn(ctx, c, keys); err != nil {
					return err
				}
			}
			if cursor == 0 {
				return nil
			}
		}
	}
	if cc, ok := r.client.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return node(ctx, c) })
	}
	return node(ctx, r.client)
}

// escapeGlob makes s match literally in a SCAN MATCH pattern.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		switch c {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

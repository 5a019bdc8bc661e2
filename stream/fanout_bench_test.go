package stream

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/databoard/databoard/cache/redistest"
)

// The cross-instance fan-out measured both ways Redis offers it, for docs/streaming.md's choice:
// Redis Streams (XADD with an approximate MAXLEN, one XREAD BLOCK over every key — what redisBroker
// does) and pub/sub (PUBLISH, one connection SUBSCRIBEd to every channel). 100 keys, 2 KiB payloads
// that carry their send time; one publishing instance, one receiving instance (its own connection).
//
//	go test ./stream -run '^$' -bench RedisFanOut -benchtime 20000x
//
// "paced": one message every 500 µs round-robin over the keys (2 000/s, 20 per key per second:
// twenty times the 1 s poll period of 100 series), so latency is not queueing behind the benchmark's
// own load; "saturated": 8 publishers as fast as Redis takes them, for throughput (ns/op is per
// message received).
const (
	fanoutKeys    = 100
	fanoutPayload = 2048
	fanoutMaxLen  = 610 // redisBroker's cap for the default STREAM_HISTORY / STREAM_POLL_MIN
)

func BenchmarkRedisFanOut(b *testing.B) {
	for _, transport := range []string{"streams", "pubsub"} {
		for _, mode := range []string{"paced", "saturated"} {
			b.Run(transport+"/"+mode, func(b *testing.B) { benchRedisFanOut(b, transport, mode == "paced") })
		}
	}
}

// fanoutLink is one transport: send publishes a payload to key k; receive delivers every payload
// received to got until ctx ends.
type fanoutLink interface {
	send(ctx context.Context, k int, payload []byte) error
	receive(ctx context.Context, ready func(), got func(payload []byte)) error
}

func benchRedisFanOut(b *testing.B, transport string, paced bool) {
	pub := redistest.Client(b)
	sub := redistest.Client(b) // the receiving instance: its own connection pool
	prefix := redistest.Prefix(b)
	keys := make([]string, fanoutKeys)
	for k := range keys {
		keys[k] = prefix + "{stream}:log:" + strconv.Itoa(k)
	}
	var link fanoutLink = &streamsLink{pub: pub, sub: sub, keys: keys}
	if transport == "pubsub" {
		link = &pubsubLink{pub: pub, sub: sub, keys: keys}
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu       sync.Mutex
		lat      = make([]time.Duration, 0, b.N)
		received atomic.Int64
		done     = make(chan struct{})
		ready    = make(chan struct{})
	)
	recvErr := make(chan error, 1)
	go func() {
		recvErr <- link.receive(ctx, sync.OnceFunc(func() { close(ready) }), func(p []byte) {
			sent := int64(binary.LittleEndian.Uint64(p))
			d := time.Duration(time.Now().UnixNano() - sent)
			mu.Lock()
			lat = append(lat, d)
			mu.Unlock()
			if received.Add(1) == int64(b.N) {
				close(done)
			}
		})
	}()
	select {
	case <-ready:
	case err := <-recvErr:
		b.Fatal(err)
	}

	payload := func() []byte {
		p := make([]byte, fanoutPayload)
		for i := 8; i < len(p); i++ {
			p[i] = 'a' + byte(i%26)
		}
		return p
	}
	b.SetBytes(fanoutPayload)
	b.ResetTimer()
	start := time.Now()
	if paced {
		p := payload()
		for i := range b.N {
			due := start.Add(time.Duration(i) * 500 * time.Microsecond)
			time.Sleep(time.Until(due))
			binary.LittleEndian.PutUint64(p, uint64(time.Now().UnixNano()))
			if err := link.send(ctx, i%fanoutKeys, p); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				p := payload()
				for i := next.Add(1) - 1; i < int64(b.N); i = next.Add(1) - 1 {
					binary.LittleEndian.PutUint64(p, uint64(time.Now().UnixNano()))
					if err := link.send(ctx, int(i%fanoutKeys), p); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	select {
	case <-done:
	case err := <-recvErr:
		b.Fatalf("receiver: %v", err)
	case <-time.After(30 * time.Second):
		b.Fatalf("received %d of %d after 30 s", received.Load(), b.N)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()

	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1])/float64(time.Millisecond), "max-ms")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
}

// streamsLink is XADD MAXLEN ~ and XREAD BLOCK over every key, as redisBroker does.
type streamsLink struct {
	pub, sub *redis.Client
	keys     []string
}

func (l *streamsLink) send(ctx context.Context, k int, payload []byte) error {
	return l.pub.XAdd(ctx, &redis.XAddArgs{Stream: l.keys[k], MaxLen: fanoutMaxLen, Approx: true,
		Values: []any{"u", payload}}).Err()
}

func (l *streamsLink) receive(ctx context.Context, ready func(), got func([]byte)) error {
	streams := make([]string, 0, 2*len(l.keys))
	streams = append(streams, l.keys...)
	for range l.keys {
		streams = append(streams, "$")
	}
	// "$" is resolved when XREAD runs: take the current last ids first so nothing sent after ready is missed.
	for i, k := range l.keys {
		msgs, err := l.sub.XRevRangeN(ctx, k, "+", "-", 1).Result()
		if err != nil {
			return err
		}
		streams[len(l.keys)+i] = "0-0"
		if len(msgs) > 0 {
			streams[len(l.keys)+i] = msgs[0].ID
		}
	}
	ready()
	for ctx.Err() == nil {
		res, err := l.sub.XRead(ctx, &redis.XReadArgs{Streams: streams, Block: time.Second, Count: 512}).Result()
		if err == redis.Nil {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for _, s := range res {
			i := slices.Index(l.keys, s.Stream)
			for _, m := range s.Messages {
				v, _ := m.Values["u"].(string)
				got([]byte(v))
				streams[len(l.keys)+i] = m.ID
			}
		}
	}
	return nil
}

// pubsubLink is PUBLISH, and one connection SUBSCRIBEd to every channel.
type pubsubLink struct {
	pub, sub *redis.Client
	keys     []string
}

func (l *pubsubLink) send(ctx context.Context, k int, payload []byte) error {
	return l.pub.Publish(ctx, l.keys[k], payload).Err()
}

func (l *pubsubLink) receive(ctx context.Context, ready func(), got func([]byte)) error {
	ps := l.sub.Subscribe(ctx, l.keys...)
	defer ps.Close()
	for range l.keys { // one confirmation per channel
		if _, err := ps.Receive(ctx); err != nil {
			return err
		}
	}
	ready()
	for {
		m, err := ps.ReceiveMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("pub/sub: %w", err)
		}
		got([]byte(m.Payload))
	}
}

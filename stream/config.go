package stream

import (
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
)

// Config configures the Hub. The zero value of every field is its default (docs/streaming.md).
type Config struct {
	// PollMin and PollMax bound a series' poll period, which follows its bin width; raw
	// subscriptions poll at PollMin (STREAM_POLL_MIN, STREAM_POLL_MAX). Defaults 1 s and 10 s.
	PollMin, PollMax time.Duration
	// MaxSubscriptions per connection (STREAM_MAX_SUBSCRIPTIONS). Default 100.
	MaxSubscriptions int
	// Linger is how long a series goes on polling after its last subscriber left, so a reload resumes
	// from history (STREAM_LINGER). Default 30 s.
	Linger time.Duration
	// History is how long a series keeps its updates for resumes (STREAM_HISTORY). Default 10 min.
	History time.Duration
	// WriteTimeout: a connection on which one write blocks longer is closed as a slow consumer
	// (STREAM_WRITE_TIMEOUT). Default 30 s.
	WriteTimeout time.Duration
	// SendQueueBytes bounds a connection's queue of encoded messages; when it is full, subscriptions
	// with appends waiting are conflated to one fresh snapshot (STREAM_SEND_QUEUE_BYTES). Default 1 MiB: a
	// larger queue only lets a slow client fall further behind before it gets a fresh snapshot.
	SendQueueBytes int
	// Heartbeat: a heartbeat message is sent after this long without any other. Default 20 s.
	Heartbeat time.Duration
	// AllowOrigins are the origins whose pages may open the stream, as host patterns ("example.org",
	// "*.example.org"). Empty: any origin, as the REST API's default CORS policy.
	AllowOrigins []string
	// Redis, when set, coordinates the series across instances sharing it: one poller per series in
	// the whole deployment (a lease), updates fanned out to every instance with subscribers, history
	// that any instance resumes from. Default nil: everything in process.
	Redis redis.UniversalClient
	// RedisPrefix is put in front of every key (REDIS_KEY_PREFIX). Default "databoard:v1:".
	RedisPrefix string
	// LeaseTTL is the lifetime of a series' poller lease, renewed at a third of it while the holder
	// lives: a dead holder's series is taken over within about LeaseTTL. Default 5 s.
	LeaseTTL time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives connection and poll events. Default: discard.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.PollMin, time.Second)
	def(&c.PollMax, 10*time.Second)
	if c.PollMax < c.PollMin {
		c.PollMax = c.PollMin
	}
	def(&c.Linger, 30*time.Second)
	def(&c.History, 10*time.Minute)
	def(&c.WriteTimeout, 30*time.Second)
	def(&c.Heartbeat, 20*time.Second)
	if c.MaxSubscriptions <= 0 {
		c.MaxSubscriptions = 100
	}
	if c.SendQueueBytes <= 0 {
		c.SendQueueBytes = 1 << 20
	}
	def(&c.LeaseTTL, 5*time.Second)
	if c.RedisPrefix == "" {
		c.RedisPrefix = "databoard:v1:"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

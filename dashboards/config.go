package dashboards

import (
	"errors"
	"fmt"
	"time"
)

// Config holds the store's settings. Zero values mean the defaults stated per field.
type Config struct {
	// Collection is the MongoDB collection holding one document per dashboard. Default "dashboards"
	// (the old backend's, so existing data keeps working).
	Collection string
	// Schema is the JSON Schema (draft-07) a body is validated against. Required when ValidateSchema.
	Schema []byte
	// ValidateSchema turns schema validation on (VALIDATE_DASHBOARD_SCHEMA).
	ValidateSchema bool
	// ValidateSize refuses bodies above MaxSingleBytes (VALIDATE_DASHBOARD_SIZE).
	ValidateSize bool
	// MaxSingleBytes is the BSON size in bytes of a body above which Create and Replace fail with
	// ErrTooLarge (when ValidateSize). Default 10 MiB.
	MaxSingleBytes int64
	// MaxTotalBytes is the total of all dashboards' sizes, in bytes, that eviction works against.
	// Default 10 GiB.
	MaxTotalBytes int64
	// EvictionThreshold is the fraction of MaxTotalBytes at which eviction starts. Default 0.95.
	EvictionThreshold float64
	// TargetUtilization is the fraction of MaxTotalBytes eviction reduces the total to. Default 0.60.
	TargetUtilization float64
	// Embedded says the database is the embedded store (FerretDB v1 over SQLite), written by this process
	// only: keys FerretDB refuses are escaped (keys.go), and writes find documents by _id alone.
	Embedded bool
	// SizeRecount is how often the size counter is checked against a full recount ($group/$sum), which
	// puts right what a crash between a write and its $inc left (see size.go). Default 10 min. FerretDB's
	// $group reads every whole document, so the embedded store may want it longer.
	SizeRecount time.Duration
	// ProbeInterval is how often the store's health is probed (see Stats). Default 5 s.
	ProbeInterval time.Duration
	// AccessFlushInterval is how often batched last_access updates are written. Default 1 s.
	AccessFlushInterval time.Duration
	// CacheBytes bounds an in-process cache of encoded GET answers, in bytes. 0 (the default) turns it off;
	// see doc.go for why it is off unless a single instance serves the database.
	CacheBytes int64
	// CacheTTL bounds how long a cached answer is served without reading MongoDB again, which is the
	// staleness another instance's replace or delete can cause. Default 2 s when CacheBytes > 0.
	CacheTTL time.Duration
	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// Defaults of Config's zero-valued fields.
const (
	DefaultCollection          = "dashboards"
	DefaultMaxSingleBytes      = 10 << 20
	DefaultMaxTotalBytes       = 10 << 30
	DefaultEvictionThreshold   = 0.95
	DefaultTargetUtilization   = 0.60
	DefaultAccessFlushInterval = time.Second
	DefaultCacheTTL            = 2 * time.Second
	DefaultSizeRecount         = 10 * time.Minute
	DefaultProbeInterval       = 5 * time.Second
)

// withDefaults fills zero fields and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if c.Collection == "" {
		c.Collection = DefaultCollection
	}
	if c.MaxSingleBytes == 0 {
		c.MaxSingleBytes = DefaultMaxSingleBytes
	}
	if c.MaxTotalBytes == 0 {
		c.MaxTotalBytes = DefaultMaxTotalBytes
	}
	if c.EvictionThreshold == 0 {
		c.EvictionThreshold = DefaultEvictionThreshold
	}
	if c.TargetUtilization == 0 {
		c.TargetUtilization = DefaultTargetUtilization
	}
	if c.AccessFlushInterval == 0 {
		c.AccessFlushInterval = DefaultAccessFlushInterval
	}
	if c.CacheTTL == 0 {
		c.CacheTTL = DefaultCacheTTL
	}
	if c.SizeRecount == 0 {
		c.SizeRecount = DefaultSizeRecount
	}
	if c.ProbeInterval == 0 {
		c.ProbeInterval = DefaultProbeInterval
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	var errs []error
	if c.MaxSingleBytes < 0 || c.MaxTotalBytes < 0 || c.CacheBytes < 0 {
		errs = append(errs, errors.New("byte limits must not be negative"))
	}
	if c.EvictionThreshold < 0 || c.TargetUtilization < 0 || c.TargetUtilization > c.EvictionThreshold {
		errs = append(errs, fmt.Errorf("need 0 <= target utilization (%g) <= eviction threshold (%g)",
			c.TargetUtilization, c.EvictionThreshold))
	}
	if c.AccessFlushInterval < 0 || c.CacheTTL < 0 || c.SizeRecount < 0 || c.ProbeInterval < 0 {
		errs = append(errs, errors.New("intervals must not be negative"))
	}
	if c.ValidateSchema && len(c.Schema) == 0 {
		errs = append(errs, errors.New("schema validation is on but no schema was given"))
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("dashboards config: %w", err)
	}
	return c, nil
}

package daqbuf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Client. Every field's zero value is the default.
type Config struct {
	// BaseURL of data-api v4, e.g. https://data-api.psi.ch/api/4 (required; http or https).
	BaseURL string
	// HTTPClient sends the requests. Default: one client owned by this Client, with keep-alive and
	// MaxConnsPerHost connections per host.
	HTTPClient *http.Client
	// MaxConnsPerHost bounds the default client's connections to data-api. Default 16.
	MaxConnsPerHost int
	// RequestTimeout is the deadline for the response headers of one request (the body of a stream
	// may take longer; see IdleTimeout). Default 30s, data-api's proxy's own limit.
	RequestTimeout time.Duration
	// IdleTimeout is the longest silence tolerated while reading a body: framed binned streams send
	// no keepalives, so it must be generous. Default 60s.
	IdleTimeout time.Duration
	// UserAgent is sent with every request. Default "databoard-daqbuf".
	UserAgent string
	// MaxContinuations bounds the extra requests an events stream makes to complete a truncated
	// answer (EventStream). Default 8; negative disables continuation.
	MaxContinuations int
	// Now is the clock used to decide whether a range lies in the past. Default time.Now.
	Now func() time.Time
}

// Client talks to one data-api v4 base URL. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	hc        *http.Client
	reqTO     time.Duration
	idleTO    time.Duration
	ua        string
	maxCont   int
	now       func() time.Time
	maxErrLen int64

	// sent counts the requests sent to data-api by path below the base URL ("/binned", "/events", ...):
	// path -> *atomic.Uint64. Paths come from this package's code, never from callers, so the set is
	// small and fixed.
	sent sync.Map
}

// New validates cfg and returns a Client. It does no I/O.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("daqbuf: base URL %q: want http(s)://host/path", cfg.BaseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("daqbuf: base URL %q must not carry a query or fragment", cfg.BaseURL)
	}
	c := &Client{
		base: u, hc: cfg.HTTPClient, reqTO: cfg.RequestTimeout, idleTO: cfg.IdleTimeout,
		ua: cfg.UserAgent, maxCont: cfg.MaxContinuations, now: cfg.Now, maxErrLen: 64 << 10,
	}
	if c.reqTO <= 0 {
		c.reqTO = 30 * time.Second
	}
	if c.idleTO <= 0 {
		c.idleTO = 60 * time.Second
	}
	if c.ua == "" {
		c.ua = "databoard-daqbuf"
	}
	if c.maxCont == 0 {
		c.maxCont = 8
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.hc == nil {
		conns := cfg.MaxConnsPerHost
		if conns <= 0 {
			conns = 16
		}
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxConnsPerHost = conns
		t.MaxIdleConnsPerHost = conns
		c.hc = &http.Client{Transport: t}
	}
	return c, nil
}

// Timeout causes, to tell our own timers from the caller's cancellation.
var (
	errHeaderTimeout = errors.New("no response headers within the request timeout")
	errIdleTimeout   = errors.New("body idle for longer than the idle timeout")
)

// response is an open 200 (or 204) answer. Closing it cancels the request, which releases the
// connection even if the body was not read to the end.
type response struct {
	status      int
	contentType string
	body        io.ReadCloser // idle-timed
	ctx         context.Context
	cancel      context.CancelCauseFunc
}

func (r *response) Close() error {
	err := r.body.Close()
	r.cancel(context.Canceled)
	return err
}

// get sends one GET and returns the open response on 200/204, or a typed error. The request runs
// under its own context derived from ctx: headers must arrive within RequestTimeout, then every read
// of the body must make progress within IdleTimeout.
func (c *Client) get(ctx context.Context, path string, q url.Values, accept string) (*response, error) {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + path
	u.RawPath = ""
	u.RawQuery = q.Encode()
	rctx, cancel := context.WithCancelCause(ctx)
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, u.String(), nil)
	if err != nil {
		cancel(nil)
		return nil, fmt.Errorf("daqbuf: building request: %w", err)
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", c.ua)
	c.countSent(path)
	timer := time.AfterFunc(c.reqTO, func() { cancel(errHeaderTimeout) })
	resp, err := c.hc.Do(req)
	if !timer.Stop() && err == nil {
		// The header deadline fired as the headers arrived: the body is already cancelled.
		resp.Body.Close()
		err = errHeaderTimeout
	}
	if err != nil {
		mapped := c.transportErr(ctx, rctx, err, false)
		cancel(nil)
		return nil, mapped
	}
	r := &response{
		status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"),
		body: newIdleBody(resp.Body, c.idleTO, cancel), ctx: rctx, cancel: cancel,
	}
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNoContent {
		return r, nil
	}
	defer r.Close()
	b, _ := io.ReadAll(io.LimitReader(r.body, c.maxErrLen))
	return nil, statusError(resp.StatusCode, resp.Header.Get("requestid"), b)
}

// countSent counts one request sent to path.
func (c *Client) countSent(path string) {
	n, ok := c.sent.Load(path)
	if !ok {
		n, _ = c.sent.LoadOrStore(path, new(atomic.Uint64))
	}
	n.(*atomic.Uint64).Add(1)
}

// RequestCount is the number of requests a Client has sent to one data-api endpoint.
type RequestCount struct {
	Path string // below the base URL: "/binned", "/events", "/search/channel", ...
	N    uint64
}

// RequestCounts returns how many requests this Client has sent to data-api since it was made, by
// endpoint, sorted by path: every attempt counts, whatever its outcome (an error status, a timeout,
// a continuation of a truncated events answer). It is the whole upstream load this Client caused,
// curves, searches and the channel list alike.
func (c *Client) RequestCounts() []RequestCount {
	var out []RequestCount
	c.sent.Range(func(k, v any) bool {
		out = append(out, RequestCount{Path: k.(string), N: v.(*atomic.Uint64).Load()})
		return true
	})
	slices.SortFunc(out, func(a, b RequestCount) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// transportErr classifies a failure before the response headers (inBody false) or while reading a
// body (inBody true): a body that stops early is an upstream failure, while a connection that closes
// before any response is ErrConnectionClosed (docs/daqbuf.md §6.2).
func (c *Client) transportErr(parent, rctx context.Context, err error, inBody bool) error {
	if ue := (*UpstreamError)(nil); errors.As(err, &ue) {
		return err
	}
	switch perr := parent.Err(); {
	case errors.Is(perr, context.DeadlineExceeded):
		return &UpstreamError{Kind: ErrTimeout, Message: "request deadline exceeded"}
	case perr != nil:
		return fmt.Errorf("daqbuf: %w", perr)
	}
	switch cause := context.Cause(rctx); {
	case errors.Is(err, errHeaderTimeout) || errors.Is(cause, errHeaderTimeout):
		return &UpstreamError{Kind: ErrTimeout, Message: fmt.Sprintf("%v (%s)", errHeaderTimeout, c.reqTO)}
	case errors.Is(cause, errIdleTimeout):
		return &UpstreamError{Kind: ErrTimeout, Message: fmt.Sprintf("%v (%s)", errIdleTimeout, c.idleTO)}
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		return &UpstreamError{Kind: ErrTimeout, Message: err.Error()}
	}
	if !inBody && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isConnReset(err)) {
		return &UpstreamError{Kind: ErrConnectionClosed, Message: err.Error()}
	}
	return &UpstreamError{Kind: ErrUpstream, Message: err.Error()}
}

// getJSON runs a small JSON request (backends, search, config) and reads the whole body.
func (c *Client) getJSON(ctx context.Context, path string, q url.Values) (int, []byte, error) {
	r, err := c.get(ctx, path, q, "application/json")
	if err != nil {
		return 0, nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r.body, maxPlainBody))
	if err != nil {
		return 0, nil, c.transportErr(ctx, r.ctx, err, true)
	}
	return r.status, b, nil
}

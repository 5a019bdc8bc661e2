package server

import (
	"bytes"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gofiber/fiber/v2"
	"github.com/klauspost/compress/gzip"
)

// Compressed answers (issue 13): a client that sends Accept-Encoding: gzip gets JSON answers of at
// least compressMin bytes gzipped, with Vary: Accept-Encoding on every answer that size so a shared
// cache keeps the two forms apart. A HEAD answer and a small body are sent as they are. Answers kept
// in a cache (the whole channel list, settled curves, cached searches) are compressed once, beside the
// plain copy, at a better level; any other answer is compressed per request at the fastest level.

// compressMin is the smallest body worth compressing: below it the gzip header and the work cost more
// than the bytes saved.
const compressMin = 1024

// Levels: per request the fastest (a 2 000-bin curve, ~560 KB, in about 2 ms), once per cached answer
// the default.
const (
	gzipLevelPerRequest = gzip.BestSpeed
	gzipLevelCached     = gzip.DefaultCompression
)

var gzipWriters = map[int]*sync.Pool{
	gzipLevelPerRequest: {New: func() any { w, _ := gzip.NewWriterLevel(nil, gzipLevelPerRequest); return w }},
	gzipLevelCached:     {New: func() any { w, _ := gzip.NewWriterLevel(nil, gzipLevelCached); return w }},
}

// gzipBytes returns body gzipped at level (one of the two above).
func gzipBytes(body []byte, level int) []byte {
	pool := gzipWriters[level]
	w := pool.Get().(*gzip.Writer)
	defer pool.Put(w)
	var b bytes.Buffer
	b.Grow(len(body)/4 + 64)
	w.Reset(&b)
	_, _ = w.Write(body)
	_ = w.Close()
	return b.Bytes()
}

// acceptsGzip says whether an Accept-Encoding value allows gzip (or any coding, *) with a non-zero
// quality.
func acceptsGzip(header string) bool {
	for header != "" {
		var item string
		item, header, _ = strings.Cut(header, ",")
		coding, params, _ := strings.Cut(item, ";")
		coding = strings.TrimSpace(coding)
		if !strings.EqualFold(coding, "gzip") && !strings.EqualFold(coding, "x-gzip") && coding != "*" {
			continue
		}
		return !zeroQuality(params)
	}
	return false
}

// zeroQuality says whether parameters of an Accept-Encoding item set q to 0 (q=0, q=0.0, q=0.000).
func zeroQuality(params string) bool {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		name, val, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue
		}
		val = strings.TrimSpace(val)
		return strings.TrimRight(strings.TrimPrefix(val, "0."), "0") == "" && strings.HasPrefix(val, "0")
	}
	return false
}

// sendJSON sends pre-encoded JSON, gzipped when the client accepts it and body is large enough.
// gzipped, when not nil, returns body's gzip form from the caller's cache (computing it at most once);
// nil there, or a nil result, compresses per request.
func sendJSON(c *fiber.Ctx, status int, body []byte, gzipped func() []byte) error {
	return sendEncoded(c, status, body, gzipped, c.Send)
}

// answerBuffer lends the response's own body buffer, which fasthttp takes from its pool and returns to
// it once the response is written, for an answer of about n bytes. A 2 000-bin curve is hundreds of
// kilobytes: allocated per request, it was most of the garbage a chunk hit made. The caller either
// sends the answer with sendPooledJSON, which gives the buffer back, or keeps it (the answer cache
// then owns it) and sends it with sendJSON.
func answerBuffer(c *fiber.Ctx, n int) []byte {
	buf := c.Response().SwapBody(nil)
	if cap(buf) < n {
		return make([]byte, 0, n)
	}
	return buf[:0]
}

// sendPooledJSON is sendJSON for a body written into answerBuffer: body becomes the response's body
// buffer again, written and then returned to the pool; when the gzip form is sent instead, body goes
// back to the pool at once. The caller must not use body afterwards.
func sendPooledJSON(c *fiber.Ctx, status int, body []byte) error {
	c.Response().SwapBody(body)
	return sendEncoded(c, status, body, nil, func([]byte) error { return nil })
}

// sendEncoded is sendJSON with the way the plain body is sent.
func sendEncoded(c *fiber.Ctx, status int, body []byte, gzipped func() []byte, sendPlain func([]byte) error) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	c.Status(status)
	if len(body) < compressMin || c.Method() == fiber.MethodHead {
		return sendPlain(body)
	}
	c.Vary(fiber.HeaderAcceptEncoding)
	if !acceptsGzip(c.Get(fiber.HeaderAcceptEncoding)) {
		return sendPlain(body)
	}
	var z []byte
	if gzipped != nil {
		z = gzipped()
	}
	if z == nil {
		z = gzipBytes(body, gzipLevelPerRequest)
	}
	if len(z) >= len(body) {
		return sendPlain(body)
	}
	c.Set(fiber.HeaderContentEncoding, "gzip")
	return c.Send(z)
}

// gzipOnce is the gzip form of one cached body, computed the first time a client asks for it.
type gzipOnce struct {
	once sync.Once
	body []byte
	z    []byte
	made atomic.Int64 // len(z) once made, for size
}

func newGzipOnce(body []byte) *gzipOnce { return &gzipOnce{body: body} }

func (g *gzipOnce) get() []byte {
	g.once.Do(func() {
		g.z = gzipBytes(g.body, gzipLevelCached)
		g.made.Store(int64(cap(g.z)))
	})
	return g.z
}

// size is the bytes of the gzip form: 0 until made.
func (g *gzipOnce) size() int { return int(g.made.Load()) }

package server

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/databoard/databoard/cache/curves"
)

// Distinct windows are answered without keeping their answers (each would push a useful one out);
// a window asked for again is kept from then on.
func TestAnswersOfWindowsAskedOnceAreNotKept(t *testing.T) {
	e := cachedEnv(t, curves.Config{})
	end := time.Now().Add(-40 * time.Hour).Truncate(time.Hour)
	path := func(k int) string {
		e := end.Add(-time.Duration(k) * 37 * time.Second)
		return binnedPath("SIM-F64:SINE", e.Add(-2*time.Hour), e, 200)
	}
	e.do(t, http.MethodGet, path(0), "") // warm the chunks: these two windows cover the others
	e.do(t, http.MethodGet, path(21), "")
	for k := 1; k <= 20; k++ {
		if r := e.do(t, http.MethodGet, path(k), ""); r.header.Get("X-Cache") != "hit" {
			t.Fatalf("window %d: X-Cache %q, want a chunk hit", k, r.header.Get("X-Cache"))
		}
	}
	if n := answersKept(t, e); n != 0 {
		t.Errorf("20 windows asked once: %d answers kept, want 0", n)
	}
	e.do(t, http.MethodGet, path(3), "")
	if n := answersKept(t, e); n != 1 {
		t.Errorf("a window asked twice: %d answers kept, want 1", n)
	}
}

// Answers written into the responses' pooled buffers stay intact under concurrent requests, plain,
// gzipped and HEAD: each is byte for byte the uncached answer (a buffer handed back to the pool while
// still being written would mix two answers; under -race, it is a data race too).
func TestPooledAnswersUnderConcurrency(t *testing.T) {
	cached := cachedEnv(t, curves.Config{})
	direct := newTestEnv(t)
	end := time.Now().Add(-30 * time.Hour).Truncate(time.Hour)
	var paths []string
	for k := range 12 {
		e := end.Add(-time.Duration(k) * 61 * time.Second)
		paths = append(paths, binnedPath([]string{"SIM-F64:SINE", "SIM-F64:NOISE"}[k%2], e.Add(-3*time.Hour), e, 500+k))
	}
	want := map[string][]byte{}
	for _, p := range paths {
		want[p] = direct.do(t, http.MethodGet, p, "").body
		cached.do(t, http.MethodGet, p, "") // chunks fetched; the answer is not kept yet
	}
	client := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 16}}
	var wg sync.WaitGroup
	errs := make(chan error, 16*len(paths)*6)
	for w := range 16 {
		wg.Go(func() {
			for i := range 6 * len(paths) {
				p := paths[(w+i)%len(paths)]
				method, gz := []string{http.MethodGet, http.MethodGet, http.MethodHead}[i%3], i%3 == 1
				if err := checkAnswer(client, cached.url+p, method, gz, want[p]); err != nil {
					errs <- fmt.Errorf("%s %s gzip=%v: %w", method, p, gz, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// checkAnswer asks for url and compares the answer with want (a HEAD answer has no body).
func checkAnswer(client *http.Client, url, method string, gz bool, want []byte) error {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return err
	}
	if gz {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var body io.Reader = res.Body
	if res.Header.Get("Content-Encoding") == "gzip" {
		if body, err = gzip.NewReader(res.Body); err != nil {
			return err
		}
	} else if gz {
		return fmt.Errorf("not gzipped")
	}
	got, err := io.ReadAll(body)
	switch {
	case err != nil:
		return err
	case res.StatusCode != http.StatusOK:
		return fmt.Errorf("status %d", res.StatusCode)
	case method == http.MethodHead && len(got) != 0:
		return fmt.Errorf("HEAD answer with a body")
	case method != http.MethodHead && !bytes.Equal(got, want):
		return fmt.Errorf("answer differs from the uncached one (%d vs %d bytes)", len(got), len(want))
	}
	return nil
}

// The buffer of a pooled answer stays with its response until the response is reset after writing:
// while it is being written, fasthttp's pool must not lend it to another answer.
func TestPooledAnswerBufferStaysWithItsResponse(t *testing.T) {
	app := fiber.New()
	want := bytes.Repeat([]byte(`{"k":1},`), 512)
	for i := range 40 {
		var fctx fasthttp.RequestCtx
		c := app.AcquireCtx(&fctx)
		body := append(answerBuffer(c, len(want)), want...)
		if err := sendPooledJSON(c, http.StatusOK, body); err != nil {
			t.Fatal(err)
		}
		other := fasthttp.AcquireResponse()
		lent := other.SwapBody(nil)
		if cap(lent) > 0 && &lent[:1][0] == &body[:1][0] {
			t.Fatalf("round %d: the pool lent the buffer of an answer not yet written", i)
		}
		other.SwapBody(lent)
		fasthttp.ReleaseResponse(other)
		if !bytes.Equal(fctx.Response.Body(), want) {
			t.Fatalf("round %d: response body changed", i)
		}
		app.ReleaseCtx(c)
		fctx.Response.Reset() // written: the buffer goes back to the pool
	}
}

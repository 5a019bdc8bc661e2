package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/databoard/databoard/dashboards/mongowire/mongotest"
)

// databoardProcess is the databoard binary running as a subprocess, so a test can kill it with SIGKILL.
type databoardProcess struct {
	t    *testing.T
	bin  string
	env  []string
	addr string
	cmd  *exec.Cmd
	done chan struct{}
}

func startDataboard(t *testing.T, env ...string) *databoardProcess {
	t.Helper()
	p := &databoardProcess{t: t, bin: mongotest.Build(t, "github.com/databoard/databoard/cmd/databoard"),
		addr: mongotest.FreeAddr(t)}
	p.env = append(os.Environ(), append(env, "LISTEN_ADDR="+p.addr, "DEMO=true", "LOG_LEVEL=error")...)
	p.start()
	t.Cleanup(p.kill)
	return p
}

func (p *databoardProcess) start() {
	p.t.Helper()
	p.cmd = exec.Command(p.bin)
	p.cmd.Env, p.cmd.Stderr = p.env, os.Stderr
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	done := make(chan struct{})
	p.done = done
	go func(cmd *exec.Cmd) { _ = cmd.Wait(); close(done) }(p.cmd)
	mongotest.WaitListening(p.t, p.addr, done)
}

func (p *databoardProcess) kill() {
	if p.cmd != nil {
		_ = p.cmd.Process.Kill()
		<-p.done
		p.cmd = nil
	}
}

// ackLog keeps, per dashboard, the last body a 2xx acknowledged and the bodies sent since without an
// acknowledgement (a write that failed may still have been applied).
type ackLog struct {
	mu      sync.Mutex
	acked   map[string][]byte
	pending map[string][][]byte
	count   int
}

func (l *ackLog) record(id string, body []byte, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ok {
		l.acked[id], l.pending[id] = body, nil
		l.count++
		return
	}
	l.pending[id] = append(l.pending[id], body)
}

func (l *ackLog) acks() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.count
}

// faultWriters runs 8 writers against base, each creating a dashboard and then replacing it again and again,
// until stop is closed.
func faultWriters(t *testing.T, base string, log *ackLog, stop <-chan struct{}) *sync.WaitGroup {
	client := &http.Client{Timeout: 20 * time.Second}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := ""
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				body := []byte(fmt.Sprintf(`{"dashboard":{"widgets":[{"channels":[],"layout":{"i":"w%d-%d","x":0,"y":0,"w":12,"h":19.25}}]}}`, w, n))
				method, url := http.MethodPost, base+"/dashboard/"
				if id != "" {
					method, url = http.MethodPatch, base+"/dashboard/"+id
				}
				req, _ := http.NewRequest(method, url, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					if id != "" {
						log.record(id, body, false)
					}
					time.Sleep(20 * time.Millisecond) // the server is down: do not spin
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				ok := resp.StatusCode/100 == 2
				if id == "" && ok {
					var a struct{ ID string }
					_ = json.Unmarshal(b, &a)
					id = a.ID
				}
				if id != "" {
					log.record(id, body, ok)
				}
			}
		}()
	}
	return &wg
}

// waitAcks polls until at least n writes were acknowledged in all.
func waitAcks(t *testing.T, log *ackLog, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // only ends a hung test
	defer cancel()
	for log.acks() < n {
		select {
		case <-ctx.Done():
			t.Fatalf("only %d writes acknowledged, waited for %d", log.acks(), n)
		case <-time.After(20 * time.Millisecond): // polling interval
		}
	}
}

// checkNoAckLost reads every dashboard back: each holds its last acknowledged body byte for byte, or a
// body sent after it whose answer never came.
func checkNoAckLost(t *testing.T, base string, log *ackLog) {
	t.Helper()
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.acked) == 0 {
		t.Fatal("no write was acknowledged: the test shows nothing")
	}
	for id, body := range log.acked {
		resp, err := http.Get(base + "/dashboard/" + id)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("acknowledged dashboard %s: GET answered %d %s", id, resp.StatusCode, got)
			continue
		}
		ok := bytes.Equal(got, answerOf(id, body))
		for _, p := range log.pending[id] {
			ok = ok || bytes.Equal(got, answerOf(id, p))
		}
		if !ok {
			t.Errorf("dashboard %s lost an acknowledged write:\n got  %s\n want %s", id, got, answerOf(id, body))
		}
	}
}

func answerOf(id string, body []byte) []byte {
	return append([]byte(`{"id":"`+id+`",`), body[1:]...)
}

// TestFaultMongoKilledUnderWriters kills the MongoDB-wire server with SIGKILL while 8 writers save through
// databoard, restarts it, and checks that no write acknowledged with 2xx was lost.
func TestFaultMongoKilledUnderWriters(t *testing.T) {
	mw := mongotest.StartProcess(t)
	db := startDataboard(t, "MONGO_URI="+mw.URI())
	base := "http://" + db.addr
	log := &ackLog{acked: map[string][]byte{}, pending: map[string][][]byte{}}
	stop := make(chan struct{})
	wg := faultWriters(t, base, log, stop)
	waitAcks(t, log, 40)
	mw.Kill()
	mw.Start()
	n := log.acks()
	waitAcks(t, log, n+40) // writes go through again after the restart
	close(stop)
	wg.Wait()
	checkNoAckLost(t, base, log)
}

// TestFaultDataboardKilledMidWrite kills databoard itself with SIGKILL while 8 writers save into its
// embedded store, restarts it on the same data directory, and checks that no acknowledged write was lost.
func TestFaultDataboardKilledMidWrite(t *testing.T) {
	db := startDataboard(t, "DATA_DIR="+t.TempDir())
	base := "http://" + db.addr
	log := &ackLog{acked: map[string][]byte{}, pending: map[string][][]byte{}}
	stop := make(chan struct{})
	wg := faultWriters(t, base, log, stop)
	waitAcks(t, log, 60)
	db.kill() // writers are mid-request
	close(stop)
	wg.Wait()
	db.start()
	checkNoAckLost(t, base, log)
}

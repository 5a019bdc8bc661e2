package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// progressBar shows how far an export or import is. On a terminal it redraws one line in place (a bar, a
// percentage, counts); elsewhere (a log file, CI) it logs a line now and then instead, since carriage
// returns would garble the file.
type progressBar struct {
	w     io.Writer // the terminal, or nil for log lines
	log   *slog.Logger
	what  string
	every time.Duration // minimum time between two redraws or log lines
	now   func() time.Time
	last  time.Time
	drawn bool
}

const (
	barWidth       = 30
	redrawEvery    = 100 * time.Millisecond
	logEvery       = 10 * time.Second
	progressFormat = "%s [%s] %3d%%  %s"
)

func newProgressBar(stderr io.Writer, log *slog.Logger, what string) *progressBar {
	p := &progressBar{log: log, what: what, every: logEvery, now: time.Now}
	if isTerminal(stderr) {
		p.w, p.every = stderr, redrawEvery
	}
	p.last = p.now()
	return p
}

// update shows done of total (total <= 0: unknown) followed by detail, unless it showed something very
// recently.
func (p *progressBar) update(done, total int64, detail string) {
	now := p.now()
	if now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	p.show(done, total, detail)
}

func (p *progressBar) show(done, total int64, detail string) {
	pct := 0
	if total > 0 {
		pct = int(min(100, done*100/total))
	}
	if p.w == nil {
		p.log.Info("dashboards "+p.what+" in progress", slog.Int("percent", pct), slog.String("done", detail))
		return
	}
	fill := pct * barWidth / 100
	bar := strings.Repeat("#", fill) + strings.Repeat(".", barWidth-fill)
	fmt.Fprintf(p.w, "\r\033[K"+progressFormat, p.what, bar, pct, detail)
	p.drawn = true
}

// finish draws the final state and ends the bar's line, so what is printed next starts on its own.
func (p *progressBar) finish(done, total int64, detail string) {
	if p.w == nil {
		return
	}
	p.show(done, total, detail)
	fmt.Fprintln(p.w)
}

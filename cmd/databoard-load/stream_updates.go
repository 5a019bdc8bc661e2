package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// maxUpdatesBody bounds what is read from -updates: ten minutes of history of 10 000 series at one update per
// second is 6 million lines of ~70 bytes; more than that is not a history this tool asked for.
const maxUpdatesBody = 512 << 20

// joinUpdates measures "poll result ready → decoded": it reads the server's update times (one JSON
// object per line: epoch, offset, at_ns) and, for every append decoded while measuring, records the time
// from its update's at_ns to the decode. Both clocks are this machine's (the server runs on loopback).
func (l *streamLoader) joinUpdates(ctx context.Context, res *StreamResult) error {
	ready, err := l.fetchUpdates(ctx)
	if err != nil {
		return err
	}
	var h histogram
	l.mu.Lock()
	for k, r := range l.receipts {
		at, ok := ready[k.offset]
		if !ok {
			res.ReadyUnlisted += int64(len(r.times))
			continue
		}
		for _, t := range r.times {
			h.record(time.Duration(t - at))
		}
		res.ReadyJoined += int64(len(r.times))
	}
	l.mu.Unlock()
	res.Ready = h.summary()
	return nil
}

// fetchUpdates reads -updates into a map from "epoch/offset" (a receiptKey's offset) to Unix ns.
func (l *streamLoader) fetchUpdates(ctx context.Context) (map[string]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	resp, err := getOK(ctx, l.client, l.cfg.UpdatesURL)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", l.cfg.UpdatesURL, err)
	}
	defer resp.Body.Close()
	return parseUpdates(io.LimitReader(resp.Body, maxUpdatesBody))
}

func parseUpdates(r io.Reader) (map[string]int64, error) {
	out := map[string]int64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var u struct {
			Epoch  string `json:"epoch"`
			Offset string `json:"offset"`
			AtNs   int64  `json:"at_ns"`
		}
		if err := json.Unmarshal([]byte(line), &u); err != nil {
			return nil, fmt.Errorf("update times: %w in %.100q", err, line)
		}
		out[u.Epoch+"/"+u.Offset] = u.AtNs
	}
	return out, sc.Err()
}

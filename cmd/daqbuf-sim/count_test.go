package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/databoard/databoard/daqbuf/sim"
)

func TestRequestCounter(t *testing.T) {
	srv := httptest.NewServer(&requestCounter{next: sim.New(sim.Config{})})
	t.Cleanup(srv.Close)
	get := func(path string) []byte {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return b
	}
	tests := []struct {
		path  string
		times int
	}{
		{"/api/4/backend/list", 1},
		{"/api/4/search/channel?nameRegex=SINE", 3},
		{"/api/4/binned?backend=sf-databuffer&channelName=SIM-F64:SINE&begDate=2024-01-01T00:00:00Z&endDate=2024-01-01T01:00:00Z&binCount=10", 2},
		{"/api/4/no-such-route", 2}, // "other": unknown paths do not grow the map
		{"/elsewhere", 1},
	}
	for _, tt := range tests {
		for range tt.times {
			get(tt.path)
		}
	}
	for round := range 2 { // reading the counts is not counted
		var got counts
		if err := json.Unmarshal(get(countsPath), &got); err != nil {
			t.Fatal(err)
		}
		want := map[string]uint64{"/api/4/backend/list": 1, "/api/4/search/channel": 3, "/api/4/binned": 2, "other": 3}
		if got.Total != 9 || len(got.ByPath) != len(want) {
			t.Errorf("round %d: counts %+v, want total 9 and %v", round, got, want)
		}
		for p, n := range want {
			if got.ByPath[p] != n {
				t.Errorf("round %d: %s counted %d, want %d", round, p, got.ByPath[p], n)
			}
		}
	}
}

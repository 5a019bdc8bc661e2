package server

import (
	"net/http"
	"testing"
)

func TestCompatRawLink(t *testing.T) {
	e := newTestEnv(t)
	const base = "https://data-api.example/api/4"
	tests := []struct {
		name  string
		query []string
		want  string
	}{
		{"the contract's example, default backend",
			[]string{"channel_name", "SIM-F64:SINE", "begin_time", "1747406011275", "end_time", "1747406071000"},
			base + "/events?backend=sf-databuffer&channelName=SIM-F64%3ASINE" +
				"&begDate=2025-05-16+14%3A33%3A31.275%2B00%3A00&endDate=2025-05-16+14%3A34%3A31.000%2B00%3A00"},
		{"explicit backend, milliseconds kept",
			[]string{"channel_name", "SIM-F64:SINE", "begin_time", "10", "end_time", "1001", "backend", "sls-archiver"},
			base + "/events?backend=sls-archiver&channelName=SIM-F64%3ASINE" +
				"&begDate=1970-01-01+00%3A00%3A00.010%2B00%3A00&endDate=1970-01-01+00%3A00%3A01.001%2B00%3A00"},
		{"names are form-encoded as Python's urlencode",
			[]string{"channel_name", "A B/C&D=E+F~G_H.I-J", "begin_time", "1747406011275", "end_time", "1747406011275"},
			base + "/events?backend=sf-databuffer&channelName=A+B%2FC%26D%3DE%2BF~G_H.I-J" +
				"&begDate=2025-05-16+14%3A33%3A31.275%2B00%3A00&endDate=2025-05-16+14%3A33%3A31.275%2B00%3A00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, http.MethodGet, pathWith("/channels/raw-link", tt.query...), "")
			wantStatus(t, r, http.StatusOK)
			var body map[string]string
			decode(t, r, &body)
			if len(body) != 1 || body["link"] != tt.want {
				t.Errorf("answer %s,\nwant {\"link\": %q}", r.body, tt.want)
			}
		})
	}

	wantValidation(t, e.do(t, http.MethodGet, "/channels/raw-link?channel_name=X&begin_time=1", ""), "end_time")
	wantValidation(t, e.do(t, http.MethodGet, "/channels/raw-link?begin_time=1.5&end_time=2", ""), "channel_name", "begin_time")
}

func TestCompatRawLinkDefaultBase(t *testing.T) {
	e := newTestEnv(t, withServer(func(c *Config) { c.DaqbufPublicURL = "" }))
	r := e.do(t, http.MethodGet, pathWith("/channels/raw-link", "channel_name", "X", "begin_time", "1747406011275", "end_time", "1747406011276"), "")
	var body map[string]string
	decode(t, r, &body)
	want := "https://data-api.psi.ch/api/4/events?backend=sf-databuffer&channelName=X" +
		"&begDate=2025-05-16+14%3A33%3A31.275%2B00%3A00&endDate=2025-05-16+14%3A33%3A31.276%2B00%3A00"
	if body["link"] != want {
		t.Errorf("link %q, want %q", body["link"], want)
	}
}

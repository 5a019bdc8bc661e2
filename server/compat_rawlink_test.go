package server

import (
	"net/http"
	"strings"
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

// The raw link refuses the windows /channels/curve refuses, with the same 400, instead of links dated
// 1969 or in the year 292 278 994.
func TestCompatRawLinkRefusesBadWindows(t *testing.T) {
	e := newTestEnv(t)
	const invalidTime = "begin_time or end_time is invalid, must be valid unix time (milliseconds)"
	for _, tc := range []struct {
		name, begin, end, detail string
	}{
		{"begin after end", "1747406071000", "1747406011275", "begin_time must not be after end_time"},
		{"begin 0", "0", "1747406011275", invalidTime},
		{"end 0", "1", "0", invalidTime},
		{"negative begin", "-5", "1747406011275", invalidTime},
		{"negative end", "1", "-1", invalidTime},
		{"end beyond year 9999", "1", "9223372036854775807", "end_time is after the year 9999"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := []string{"channel_name", "SIM-F64:SINE", "begin_time", tc.begin, "end_time", tc.end}
			wantDetail(t, e.do(t, http.MethodGet, pathWith("/channels/raw-link", q...), ""), http.StatusBadRequest, tc.detail)
			if tc.detail != invalidTime && !strings.HasPrefix(tc.detail, "begin_time must") {
				return
			}
			// The curve route gives the same answer for the same window.
			wantDetail(t, e.do(t, http.MethodGet, pathWith("/channels/curve", q...), ""), http.StatusBadRequest, tc.detail)
		})
	}
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

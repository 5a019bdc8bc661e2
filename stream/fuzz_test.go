package stream

import (
	"testing"
	"unicode/utf8"
)

// FuzzParseClientMessage: any bytes decode to a message or a 400 protocol error, never a panic; an
// accepted subscribe is well formed.
func FuzzParseClientMessage(f *testing.F) {
	for _, s := range []string{
		`{"type":"subscribe","id":"p/1","channel_name":"C","window_ms":600000,"num_bins":1000,"useEventsIfBinCountTooLarge":true,"removeEmptyBins":true,"isString":false,"resume":{"epoch":"b1c4","offset":"1842"}}`,
		`{"type":"subscribe","id":"x","channel_name":"C","begin_time":1,"end_time":2}`,
		`{"type":"unsubscribe","id":"x"}`, `{"type":"ping","data":[1,{"a":null}]}`, `{}`, `[]`, `null`, `{"type":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseClientMessage(b)
		if err != nil {
			if err.status != 400 || err.detail == "" {
				t.Fatalf("error %d %q", err.status, err.detail)
			}
			return
		}
		switch m.typ {
		case typePing:
		case typeUnsubscribe, typeSubscribe:
			if n := utf8.RuneCountInString(m.id); n < 1 || n > maxIDLength {
				t.Fatalf("accepted id of %d characters", n)
			}
		default:
			t.Fatalf("accepted type %q", m.typ)
		}
		if m.typ == typeSubscribe {
			p := m.params
			if p.ChannelName == "" || p.Backend == "" {
				t.Fatalf("accepted %+v", p)
			}
			if p.WindowMs <= 0 && (p.BeginMs <= 0 || (p.HasEnd && p.EndMs < p.BeginMs)) {
				t.Fatalf("accepted a bad window %+v", p)
			}
		}
	})
}

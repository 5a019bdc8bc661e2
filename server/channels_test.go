package server

import (
	"bytes"
	"testing"
)

// TestSearchAnswerCopiedFromTheList: a list search's answer copied out of the encoded whole list is
// byte for byte the answer encoded from its channels, for a few matches, a whole backend and most of
// the list; a live answer, which has no positions in the list, is encoded. (That positions index
// All() across the list's additions too is the catalogue's test.)
func TestSearchAnswerCopiedFromTheList(t *testing.T) {
	e := newTestEnv(t, withoutStore())
	ctx := t.Context()
	gen, all := e.channels.All()
	list := encodeChannelList(gen, all)
	if got := string(list.body); got != string(appendChannelsJSON(nil, eachChannel(all), nil)) {
		t.Fatal("the whole list encoded with offsets differs from the plain encoding")
	}
	for _, tt := range []struct {
		pattern, backend string
		live             bool // a live answer: no positions in the list
	}{
		{"sine", "", false}, {"sine", "sf-archiver", false}, {".*", "sls-archiver", false}, {`\d\d`, "", false},
		{"a|e", "", false}, {"^SIM-F64:SINE$", "", true},
	} {
		found, err := e.channels.Search(ctx, tt.pattern, tt.backend, tt.live)
		if err != nil || found.Len() == 0 {
			t.Fatalf("%q in %q: %d, %v", tt.pattern, tt.backend, found.Len(), err)
		}
		if _, listed := found.Generation(); listed == tt.live {
			t.Errorf("%q in %q: listed %v", tt.pattern, tt.backend, listed)
		}
		want := appendChannelsJSON(nil, found.All(), nil)
		if _, listed := found.Generation(); listed {
			if got := list.appendSubset(nil, &found); !bytes.Equal(got, want) {
				t.Errorf("%q in %q: copied answer\n%s\nwant\n%s", tt.pattern, tt.backend, got, want)
			}
		}
		// Through the server's choice (copy or encode).
		if got := e.srv.searchAnswerJSON(&found); !bytes.Equal(got, want) {
			t.Errorf("%q in %q: answer\n%s\nwant\n%s", tt.pattern, tt.backend, got, want)
		}
	}
}

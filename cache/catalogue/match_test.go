package catalogue

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/databoard/databoard/daqbuf"
)

// scanSearch is the definition of a search: RE2 "(?i)"+pattern on every name, in list order.
func scanSearch(t testing.TB, chs []daqbuf.Channel, pattern, backend string) []daqbuf.Channel {
	t.Helper()
	re, err := regexp.Compile("(?i)" + pattern)
	if err != nil {
		t.Fatalf("pattern %q: %v", pattern, err)
	}
	var out []daqbuf.Channel
	for _, ch := range chs {
		if (backend == "" || ch.Backend == backend) && re.MatchString(ch.Name) {
			out = append(out, ch)
		}
	}
	return out
}

// fastSearch is the indexed search under test.
func fastSearch(t testing.TB, x *channelIndex, pattern, backend string) []daqbuf.Channel {
	t.Helper()
	m, err := compileMatcher(pattern)
	if err != nil {
		t.Fatalf("pattern %q: %v", pattern, err)
	}
	part := x.search(m, backend)
	res := listMatches(0, part, matchPart{})
	return res.Channels()
}

func channelNames(chs []daqbuf.Channel) []string {
	out := make([]string, len(chs))
	for i, ch := range chs {
		out[i] = ch.Backend + "/" + ch.Name
	}
	return out
}

func namedChannels(backends []string, names ...string) []daqbuf.Channel {
	var chs []daqbuf.Channel
	for _, b := range backends {
		for i, n := range names {
			chs = append(chs, daqbuf.Channel{Backend: b, Name: n, SeriesID: uint64(i + 1)})
		}
	}
	return chs
}

var matchTestNames = []string{
	"SIM-F64:SINE", "SIM-F64:SINE2", "sim-f64:sine", "SIM-F64:COSINE", "SIM-I32:RAMP", "SIM-GEN:CH000001",
	"SIM-GEN:CH000010", "SIM-GEN:CH000100", "X.VAL", "XAVAL", "a.b", "foo bar", "foobar", "bar foo",
	"\u212A-KELVIN", "k-lower", "K-upper", "ſ-long-s", "s-short", "Straße", "STRASSE", "ǅ-title", "ǆ-lower",
	"bad\xffbyte", "rep\uFFFDchar", "line1\nline2", "", "aaa", "abcd", "acd", "abd", "İstanbul", "istanbul",
}

func TestFastSearchEqualsScan(t *testing.T) {
	chs := namedChannels([]string{"sf-databuffer", "sf-archiver"}, matchTestNames...)
	x := newChannelIndex(chs)
	tests := []struct {
		pattern string
		plan    string // "" = do not check
	}{
		{`^SIM-F64:SINE$`, `literals ["sim-f64:sine"] mode 4`},
		{`sine`, `literals ["sine"] mode 1`},
		{`SINE$`, `literals ["sine"] mode 3`},
		{`^sim-gen`, `literals ["sim-gen"] mode 2`},
		{`^X.VAL$`, `literals ["val"] mode 0`},
		{`X\.VAL`, `literals ["x.val"] mode 1`},
		{`(?-i)SIM`, `literals ["sim"] mode 0`},
		{`(?-i)sim`, ``},
		{`(?-i):`, `literals [":"] mode 1`},
		{`sine|ramp`, `literals ["ramp" "sine"] mode 5`},
		{`sine|SINE2|ramp|sine`, `literals ["ramp" "sine"] mode 0`}, // RE2 factors it: sine(?:|2)|ramp
		{`(?-i)sine|ramp`, `literals ["ramp" "sine"] mode 0`},
		{`x*`, `all`},
		{`(a|)`, `all`},
		{`^.*$`, `scan`},
		{`\b`, `scan`},
		{`(?m)^`, `scan`},
		{`(abc)+`, `literals ["abc"] mode 0`},
		{`a(b|c)d`, ``},
		{`x{2}`, ``},
		{`k`, `literals ["k"] mode 1`},
		{`^K-`, `literals ["k-"] mode 2`},
		{`S-`, ``},
		{`straSSe`, ``},
		{`ǆ`, ``},
		{`\bfoo\b`, `literals ["foo"] mode 0`},
		{`foo\b`, ``},
		{`.*`, `all`},
		{``, `all`},
		{`^$`, `scan`},
		{`(?m)^line2$`, `literals ["line2"] mode 0`},
		{`line1\nline2`, `literals ["line1\nline2"] mode 0`},
		{`[a-z]+:CH0001`, `literals [":ch0001"] mode 0`},
		{`\x{FFFD}`, ``},
		{`(?s)a.b`, `literals ["a"] mode 0`},
		{`^(SIM)-(F64):(SINE)$`, `literals ["sim-f64:sine"] mode 0`},
		{`(?i)İ`, ``},
		{`i̇`, ``},
		{`ca?t`, ``},
		{`SIM-.*:CH0+1$`, ``},
	}
	for _, tt := range tests {
		for _, backend := range []string{"", "sf-archiver", "nope"} {
			want := scanSearch(t, chs, tt.pattern, backend)
			got := fastSearch(t, x, tt.pattern, backend)
			if !slices.Equal(channelNames(got), channelNames(want)) {
				t.Errorf("search %q backend %q:\n got %q\nwant %q", tt.pattern, backend, channelNames(got), channelNames(want))
			}
		}
		if tt.plan != "" {
			m, _ := compileMatcher(tt.pattern)
			if got := m.String(); got != tt.plan {
				t.Errorf("plan of %q = %s, want %s", tt.pattern, got, tt.plan)
			}
		}
	}
}

// TestFastSearchFindsFoldedForms pins the folding cases a plain strings.ToLower prefilter gets
// wrong: RE2's (?i) matches whole case orbits (k, K, and the Kelvin sign; s, S and long s).
func TestFastSearchFindsFoldedForms(t *testing.T) {
	chs := namedChannels([]string{"b"}, matchTestNames...)
	x := newChannelIndex(chs)
	tests := []struct {
		pattern string
		want    []string
	}{
		{`^k-`, []string{"b/\u212A-KELVIN", "b/k-lower", "b/K-upper"}},
		{`^s-`, []string{"b/ſ-long-s", "b/s-short"}},
		{`^ǅ`, []string{"b/ǅ-title", "b/ǆ-lower"}},
		{`\x{FFFD}`, []string{"b/bad\xffbyte", "b/rep\uFFFDchar"}},
	}
	for _, tt := range tests {
		if got := channelNames(fastSearch(t, x, tt.pattern, "")); !slices.Equal(got, tt.want) {
			t.Errorf("search %q = %q, want %q", tt.pattern, got, tt.want)
		}
	}
}

// TestFastSearchBackendRanges: unsorted lists (the additions) have no backend ranges and are
// still filtered right.
func TestFastSearchBackendRanges(t *testing.T) {
	chs := []daqbuf.Channel{
		{Backend: "a", Name: "X1"}, {Backend: "b", Name: "X2"}, {Backend: "a", Name: "X3"},
	}
	x := newChannelIndex(chs)
	if x.ranges != nil {
		t.Fatalf("ranges of an interleaved list: %v", x.ranges)
	}
	if got, want := channelNames(fastSearch(t, x, "x", "a")), []string{"a/X1", "a/X3"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	sorted := newChannelIndex(namedChannels([]string{"a", "b"}, "X1", "X2"))
	if got, want := sorted.ranges["b"], [2]int32{2, 4}; got != want {
		t.Errorf("range of b = %v, want %v", got, want)
	}
}

// FuzzFastSearch compares the indexed search with the plain scan on random patterns and names.
func FuzzFastSearch(f *testing.F) {
	f.Add("^SIM-F64:SINE$", "SIM-F64:SINE\x00sim-f64:sine2\x00X", uint8(0))
	f.Add("k|ſ", "\u212A\x00s\x00S\x00k", uint8(1))
	f.Add("(a+)(b|c)d", "abd\x00aacd\x00ABCD", uint8(2))
	f.Add(`\bx\b`, "a x b\x00axb\x00X", uint8(0))
	f.Add("(?-i)Ab", "ab\x00AB\x00Ab\x00\xff", uint8(1))
	f.Add("a\nb", "a\x00b\x00a\nb", uint8(0))
	f.Fuzz(func(t *testing.T, pattern, joined string, sel uint8) {
		if _, err := regexp.Compile("(?i)" + pattern); err != nil {
			return
		}
		names := strings.Split(joined, "\x00")
		var chs []daqbuf.Channel
		for i, n := range names {
			b := "a"
			if (int(sel)>>(i%8))&1 == 1 {
				b = "b"
			}
			chs = append(chs, daqbuf.Channel{Backend: b, Name: n, SeriesID: uint64(i)})
		}
		x := newChannelIndex(chs)
		for _, backend := range []string{"", "a", "b"} {
			want := scanSearch(t, chs, pattern, backend)
			got := fastSearch(t, x, pattern, backend)
			if !slices.Equal(channelNames(got), channelNames(want)) {
				m, _ := compileMatcher(pattern)
				t.Fatalf("search %q (%s) backend %q:\n got %q\nwant %q", pattern, m, backend,
					channelNames(got), channelNames(want))
			}
		}
	})
}

// TestChannelIndexLookups: name and series lookups agree on sorted (binary search) and unsorted
// (scanned) lists, duplicates included.
func TestChannelIndexLookups(t *testing.T) {
	chs := []daqbuf.Channel{
		{Backend: "a", Name: "N1", SeriesID: 10}, {Backend: "a", Name: "N2", SeriesID: 20},
		{Backend: "a", Name: "N2", SeriesID: 21}, {Backend: "b", Name: "N1", SeriesID: 10},
		{Backend: "b", Name: "N3", SeriesID: 0},
	}
	reversed := slices.Clone(chs)
	slices.Reverse(reversed)
	for _, tc := range []struct {
		name   string
		chs    []daqbuf.Channel
		sorted bool
	}{{"sorted", chs, true}, {"unsorted", reversed, false}} {
		x := newChannelIndex(tc.chs)
		if x.sorted != tc.sorted {
			t.Fatalf("%s: sorted = %v", tc.name, x.sorted)
		}
		for _, q := range []struct {
			backend, name string
			ok            bool
		}{{"a", "N1", true}, {"b", "N1", true}, {"a", "N2", true}, {"b", "N3", true}, {"a", "N3", false}, {"c", "N1", false}} {
			got, ok := x.lookup(q.backend, q.name)
			if ok != q.ok || (ok && (got.Backend != q.backend || got.Name != q.name)) {
				t.Errorf("%s: lookup %s/%s = %+v %v", tc.name, q.backend, q.name, got, ok)
			}
		}
		for _, q := range []struct {
			backend string
			id      uint64
			name    string
		}{{"a", 10, "N1"}, {"b", 10, "N1"}, {"a", 21, "N2"}, {"b", 20, ""}, {"b", 0, ""}} {
			got, ok := x.lookupSeries(q.backend, q.id)
			if ok != (q.name != "") || got.Name != q.name {
				t.Errorf("%s: series %s/%d = %+v %v, want %q", tc.name, q.backend, q.id, got, ok, q.name)
			}
		}
		for _, ch := range tc.chs {
			if !x.has(&ch) {
				t.Errorf("%s: has(%+v) = false", tc.name, ch)
			}
		}
		if x.has(&daqbuf.Channel{Backend: "a", Name: "N2", SeriesID: 22}) {
			t.Errorf("%s: has a series it does not hold", tc.name)
		}
	}
}

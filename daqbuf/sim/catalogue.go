package sim

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Channel is one channel of the simulator's catalogue, as channel search describes it.
type Channel struct {
	Backend     string
	Name        string
	SeriesID    uint64 // deterministic 63-bit hash of (Backend, Name), ≥ 2^60
	Type        string // data-api scalar type: "f64", "f32", "i32", "u64", "bool", "string", "enum"
	Shape       []uint32
	Unit        string
	Description string
	Pulsed      bool          // events carry pulse ids
	Period      time.Duration // nominal event spacing
}

// generatedPrefix names the CatalogueSize extra channels: generatedPrefix + "%06d".
const generatedPrefix = "SIM-GEN:CH"

// entry is one name of the catalogue: a fixed definition or the index of a generated channel.
type entry struct {
	name  string
	fixed *chanDef // nil for generated channels
	gen   int
}

// catalogue is the precomputed channel set, identical on every backend. names are kept sorted so
// that listing and lookup need no work per request; series ids are precomputed per backend.
type catalogue struct {
	entries []entry             // sorted by name
	names   []string            // names in entry order, for search
	lower   []string            // ASCII-lower-cased names (same byte lengths), for case-insensitive search
	joined  string              // names joined by '\n', for literal prefiltering
	ljoined string              // lower-cased names joined by '\n'
	starts  []int               // offset of entry i in joined (and ljoined)
	ids     map[string][]uint64 // backend -> series id per entry
	byID    map[string]map[uint64]int32
}

func newCatalogue(backends []string, generated int) *catalogue {
	fixed := fixedChannels()
	c := &catalogue{
		entries: make([]entry, 0, len(fixed)+generated),
		ids:     make(map[string][]uint64, len(backends)),
		byID:    make(map[string]map[uint64]int32, len(backends)),
	}
	for i := range fixed {
		c.entries = append(c.entries, entry{name: fixed[i].name, fixed: &fixed[i]})
	}
	for i := 0; i < generated; i++ {
		c.entries = append(c.entries, entry{name: generatedName(i), gen: i})
	}
	sort.Slice(c.entries, func(i, j int) bool { return c.entries[i].name < c.entries[j].name })
	c.names = make([]string, len(c.entries))
	c.lower = make([]string, len(c.entries))
	for i, e := range c.entries {
		c.names[i], c.lower[i] = e.name, asciiLower(e.name)
	}
	c.starts = make([]int, len(c.entries))
	var jb, lb strings.Builder
	for i := range c.entries {
		c.starts[i] = jb.Len()
		jb.WriteString(c.names[i])
		jb.WriteByte('\n')
		lb.WriteString(c.lower[i])
		lb.WriteByte('\n')
	}
	c.joined, c.ljoined = jb.String(), lb.String()
	for _, b := range backends {
		ids := make([]uint64, len(c.entries))
		rev := make(map[uint64]int32, len(c.entries))
		for i, e := range c.entries {
			ids[i] = seriesIDOf(b, e.name)
			rev[ids[i]] = int32(i)
		}
		c.ids[b] = ids
		c.byID[b] = rev
	}
	return c
}

func generatedName(i int) string { return fmt.Sprintf("%s%06d", generatedPrefix, i) }

func (c *catalogue) hasBackend(b string) bool {
	_, ok := c.ids[b]
	return ok
}

// index finds the entry of an exact name, or -1.
func (c *catalogue) index(name string) int {
	i := sort.Search(len(c.entries), func(i int) bool { return c.entries[i].name >= name })
	if i < len(c.entries) && c.entries[i].name == name {
		return i
	}
	return -1
}

// indexByID finds the entry of a series id on a backend, or -1.
func (c *catalogue) indexByID(backend string, id uint64) int {
	if i, ok := c.byID[backend][id]; ok {
		return int(i)
	}
	return -1
}

// def returns the signal definition of entry i (built on demand for generated channels).
func (c *catalogue) def(i int) *chanDef {
	e := c.entries[i]
	if e.fixed != nil {
		return e.fixed
	}
	return generatedDef(e.name, e.gen)
}

// channel describes entry i on a backend.
func (c *catalogue) channel(backend string, i int) Channel {
	d := c.def(i)
	ch := Channel{
		Backend:  backend,
		Name:     d.name,
		SeriesID: c.ids[backend][i],
		Type:     d.stype,
		Shape:    append([]uint32{}, d.shape...),
		Pulsed:   d.pulsed,
		Period:   time.Duration(d.period),
	}
	if d.name == "SIM-F64:SINE" && backend == "sf-databuffer" {
		ch.Unit, ch.Description = "mm", "sine test signal"
	}
	return ch
}

// lookup resolves a Channel value given by a caller back to its catalogue entry.
func (c *catalogue) lookup(ch Channel) (int, bool) {
	if !c.hasBackend(ch.Backend) {
		return -1, false
	}
	i := c.index(ch.Name)
	return i, i >= 0
}

// seriesIDOf is a 63-bit hash of (backend, name) with the top bit clear and bit 60 set, so every id
// is ≥ 2^60 and exceeds float64's exact integer range.
func seriesIDOf(backend, name string) uint64 {
	h := mix64(fnv1a(backend) ^ mix64(fnv1a(name)))
	return 1<<60 | h&(1<<60-1)
}

func fnv1a(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// mix64 is the splitmix64 finaliser: a cheap, well-spread deterministic hash of a 64-bit value.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// asciiLower lower-cases ASCII letters only, so that lengths (and offsets) are preserved.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

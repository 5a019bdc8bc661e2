package catalogue

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/databoard/databoard/daqbuf"
)

func TestChannelSetRoundTrip(t *testing.T) {
	at := time.Unix(0, 1747406011275000064)
	tests := []struct {
		name string
		set  channelSet
	}{
		{"empty", channelSet{}},
		{"list", channelSet{ID: "abc-1", FetchedAt: at, FetchTook: 1234 * time.Millisecond, Channels: []daqbuf.Channel{
			{Backend: "sf-databuffer", Name: "SIM-F64:SINE", SeriesID: 1<<63 + 5, Type: "f64", Shape: []uint32{}, Unit: "mA"},
			{Backend: "sf-databuffer", Name: "SIM-F64:SINE2", SeriesID: 1<<64 - 1, Type: "f64", Shape: []uint32{2048}},
			{Backend: "sf-archiver", Name: "SIM-F64", Source: "tcp://x", Type: "enum", Shape: []uint32{3, 4},
				Description: "décrit ✓"},
			{Backend: "sls-archiver", Name: "Ω-ωmega\xff", Type: "", Shape: nil},
			{Backend: "sls-archiver", Name: "Ω-ωmega\xffX"},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeChannelSet(encodeChannelSet(tt.set))
			if err != nil {
				t.Fatal(err)
			}
			if !got.FetchedAt.Equal(tt.set.FetchedAt) {
				t.Errorf("fetchedAt %v, want %v", got.FetchedAt, tt.set.FetchedAt)
			}
			got.FetchedAt = tt.set.FetchedAt
			if len(got.Channels) == 0 {
				got.Channels = tt.set.Channels // nil and empty are both "none"
			}
			if !reflect.DeepEqual(got, tt.set) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, tt.set)
			}
		})
	}
}

func TestChannelSetDecodeRejects(t *testing.T) {
	good := encodeChannelSet(channelSet{ID: "x", Channels: namedChannels([]string{"a"}, "AB", "ABC")})
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"other version", append([]byte{channelCodecVersion + 1}, good[1:]...)},
		{"truncated", good[:len(good)-3]},
		{"garbage", []byte{channelCodecVersion, 0xc1, 0xc1}},
	}
	for _, tt := range tests {
		if _, err := decodeChannelSet(tt.in); err == nil {
			t.Errorf("%s: decoded", tt.name)
		}
	}
}

// catalogue100k is a 100 000-channel list shaped like the simulator's: three backends of generated
// names, sorted.
func catalogue100k() []daqbuf.Channel {
	backends := []string{"sf-archiver", "sf-databuffer", "sls-archiver"}
	per := 100_000 / len(backends)
	chs := make([]daqbuf.Channel, 0, 100_000)
	for bi, b := range backends {
		n := per
		if bi == 0 {
			n += 100_000 - per*len(backends)
		}
		for i := range n {
			chs = append(chs, daqbuf.Channel{Backend: b, Name: fmt.Sprintf("SIM-GEN:CH%06d", i),
				SeriesID: uint64(bi+1)<<40 + uint64(i)*7919, Type: "f64", Shape: []uint32{}, Unit: "mm"})
		}
	}
	return chs
}

// TestChannelSetSize100k measures the stored size of a 100 000-channel list; it must stay far below
// what a Redis round trip moves within the store's deadline.
func TestChannelSetSize100k(t *testing.T) {
	chs := catalogue100k()
	start := time.Now()
	blob := encodeChannelSet(channelSet{ID: "id", Channels: chs})
	enc := time.Since(start)
	start = time.Now()
	got, err := decodeChannelSet(blob)
	if err != nil {
		t.Fatal(err)
	}
	dec := time.Since(start)
	if !reflect.DeepEqual(got.Channels, chs) {
		t.Fatal("100k round trip differs")
	}
	t.Logf("100 000 channels: %d bytes (%.1f per channel), encode %v, decode %v", len(blob),
		float64(len(blob))/float64(len(chs)), enc, dec)
	if len(blob) > 2<<20 {
		t.Errorf("100 000 channels take %d bytes, want < 2 MiB", len(blob))
	}
}

func FuzzDecodeChannelSet(f *testing.F) {
	f.Add(encodeChannelSet(channelSet{ID: "x", Channels: namedChannels([]string{"a", "b"}, "AB", "ABC")}))
	f.Add([]byte{channelCodecVersion})
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := decodeChannelSet(in)
		if err != nil {
			return
		}
		again, err := decodeChannelSet(encodeChannelSet(s))
		if err != nil {
			t.Fatalf("re-encoded set does not decode: %v", err)
		}
		if len(again.Channels) != len(s.Channels) {
			t.Fatalf("re-encoded set has %d channels, want %d", len(again.Channels), len(s.Channels))
		}
	})
}

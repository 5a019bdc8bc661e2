package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

func TestExportImportRoundTrip(t *testing.T) {
	clock := newFakeClock()
	src, _ := newTestStore(t, Config{Now: clock.Now, AccessFlushInterval: time.Hour})
	ctx := testCtx(t)
	files := referenceDashboards(t)
	var ids []string
	for _, name := range sortedKeys(files) {
		clock.Advance(time.Second)
		d, err := src.Create(ctx, files[name])
		if err != nil {
			t.Fatalf("Create %s: %v", name, err)
		}
		ids = append(ids, d.ID)
	}
	if err := src.SetWhitelisted(ctx, ids[0], true); err != nil {
		t.Fatal(err)
	}
	if err := src.SetProtected(ctx, ids[1], true); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	if _, err := src.Get(ctx, ids[2]); err != nil { // pending access: Export must carry it
		t.Fatal(err)
	}

	var dump bytes.Buffer
	n, err := src.Export(ctx, &dump, nil)
	if err != nil || n != len(ids) {
		t.Fatalf("Export = %d, %v; want %d records", n, err, len(ids))
	}
	lines := strings.Split(strings.TrimSuffix(dump.String(), "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("Export wrote %d lines for %d records", len(lines), n)
	}
	for _, l := range lines {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("export line is not JSON: %v", err)
		}
		for _, k := range []string{"_id", "dashboard", "_size", "last_access", "whitelisted", "protected"} {
			if _, ok := m[k]; !ok {
				t.Errorf("export line lacks %q", k)
			}
		}
	}

	dst, _ := newTestStore(t, Config{})
	if rep, err := dst.Import(ctx, bytes.NewReader(dump.Bytes()), ImportOptions{}); err != nil || rep.Created != len(ids) {
		t.Fatalf("Import = %+v, %v; want %d created", rep, err, len(ids))
	}
	for _, id := range ids {
		want, err := src.Record(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		got, err := dst.Record(ctx, id)
		if err != nil {
			t.Fatalf("imported Record %s: %v", id, err)
		}
		wj, _ := want.MarshalJSON()
		gj, _ := got.MarshalJSON()
		if string(gj) != string(wj) {
			t.Errorf("record %s after export/import\n got  %.300s\n want %.300s", id, gj, wj)
		}
	}
	if rec, _ := dst.Record(ctx, ids[2]); !rec.LastAccess.Equal(clock.Now()) {
		t.Errorf("pending access not exported: last_access %v, want %v", rec.LastAccess, clock.Now())
	}

	// Without replace, existing ids are skipped; with replace they are overwritten.
	want := ImportReport{Skipped: len(ids)}
	if rep, err := dst.Import(ctx, bytes.NewReader(dump.Bytes()), ImportOptions{}); err != nil || !reflect.DeepEqual(rep, want) {
		t.Errorf("second Import without replace = %+v, %v; want %+v", rep, err, want)
	}
	want = ImportReport{Replaced: len(ids)}
	if rep, err := dst.Import(ctx, bytes.NewReader(dump.Bytes()), ImportOptions{Replace: true}); err != nil || !reflect.DeepEqual(rep, want) {
		t.Errorf("Import with replace = %+v, %v; want %+v", rep, err, want)
	}
}

// TestImportRefusesBadLines: a record that fails validation is refused with its line and reason, and the
// import goes on with the next.
func TestImportRefusesBadLines(t *testing.T) {
	s, _ := newTestStore(t, Config{})
	ctx := testCtx(t)
	good := `{"_id":"a","dashboard":{"dashboard":{"widgets":[]}},"last_access":{"$date":"2024-05-01T10:00:00Z"}}`
	after := `{"_id":"z","dashboard":{"dashboard":{"widgets":[]}}}`
	tests := []struct {
		name, line, id, reason string
	}{
		{"not JSON", `{"_id":`, "", "invalid"},
		{"no id", `{"dashboard":{"dashboard":{"widgets":[]}}}`, "", "_id"},
		{"schema", `{"_id":"b","dashboard":{"dashboard":{"nope":1}}}`, "b", "Additional property"},
		{"time", `{"_id":"c","dashboard":{"dashboard":{"widgets":[]}},"last_access":"yesterday"}`, "c", "last_access"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen []int
			rep, err := s.Import(ctx, strings.NewReader(good+"\n\n"+tt.line+"\n"+after+"\n"), ImportOptions{
				Replace: true, Progress: func(r ImportReport) { seen = append(seen, r.Records()) }})
			if err != nil {
				t.Fatalf("Import: %v; a refused record must not stop it", err)
			}
			if rep.Created+rep.Replaced != 2 || len(rep.Refused) != 1 {
				t.Fatalf("Import report %+v; want the 2 good records stored and 1 refused", rep)
			}
			r := rep.Refused[0]
			if r.Line != 3 || r.ID != tt.id || !strings.Contains(r.Reason, tt.reason) {
				t.Errorf("refusal %+v; want line 3, id %q, a reason naming %q", r, tt.id, tt.reason)
			}
			if !reflect.DeepEqual(seen, []int{1, 2, 3}) {
				t.Errorf("progress saw %v records, want [1 2 3]", seen)
			}
		})
	}
	rec, err := s.Record(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC); !rec.LastAccess.Equal(want) {
		t.Errorf("mongoexport $date read as %v, want %v", rec.LastAccess, want)
	}
}

// importLines is an export of n paddedBody dashboards, ids imp000…, accessed in order a second apart.
func importLines(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, `{"_id":"imp%03d","dashboard":%s,"last_access":"2026-01-01T00:00:%02dZ"}`+"\n", i, paddedBody(i), i)
	}
	return b.Bytes()
}

// TestImportEvictsFromTheCounter: the end of an import decides on eviction from the size counter, as a
// create does, and measures the whole collection only when eviction is due (a full recount of 10 000
// dashboards took 85 s on FerretDB). When it is due, the contract's rule holds exactly.
func TestImportEvictsFromTheCounter(t *testing.T) {
	probe, _ := newTestStore(t, Config{})
	ctx := testCtx(t)
	if _, err := probe.Import(ctx, bytes.NewReader(importLines(1)), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	rec, err := probe.Record(ctx, "imp000")
	if err != nil {
		t.Fatal(err)
	}
	size := rec.Size

	tests := []struct {
		name      string
		records   int
		recounts  uint64 // full recounts the import itself may cause
		remaining int
	}{
		{"below the threshold: no recount", 9, 0, 9},
		// 10 of room 10 reaches 0.95: one recount, then the 4 least recently accessed go (down to 0.60).
		{"over the threshold: evicts", 10, 1, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestStore(t, Config{MaxTotalBytes: 10 * size})
			if _, err := s.recount(ctx); err != nil { // the counter exists, as on any store after its first writes
				t.Fatal(err)
			}
			before := s.Stats().SizeRecounts
			rep, err := s.Import(ctx, bytes.NewReader(importLines(tt.records)), ImportOptions{})
			if err != nil || rep.Created != tt.records {
				t.Fatalf("Import = %+v, %v; want %d created", rep, err, tt.records)
			}
			if got := s.Stats().SizeRecounts - before; got != tt.recounts {
				t.Errorf("the import recounted %d times, want %d", got, tt.recounts)
			}
			ids := remainingIDs(t, s)
			if len(ids) != tt.remaining || ids[0] != fmt.Sprintf("imp%03d", tt.records-tt.remaining) {
				t.Errorf("after import: %v; want the %d most recently accessed", ids, tt.remaining)
			}
			if got, want := s.Stats().TotalBytes, int64(tt.remaining)*size; got != want {
				t.Errorf("size counter %d, want %d", got, want)
			}
		})
	}
}

// TestScheduledRecountSkipsAnUnchangedCounter: the periodic recount has nothing to check while no write
// changed the counter since this process measured it, and must run again after any write.
func TestScheduledRecountSkipsAnUnchangedCounter(t *testing.T) {
	s, _ := newTestStore(t, Config{})
	ctx := testCtx(t)
	if s.counterUnchanged(ctx) {
		t.Fatal("before any recount the counter must count as changed")
	}
	steps := []struct {
		name      string
		do        func() error
		unchanged bool
	}{
		{"after a recount", func() error { _, err := s.recount(ctx); return err }, true},
		{"after a create", func() error { _, err := s.Create(ctx, paddedBody(1)); return err }, false},
		{"after the next recount", func() error { _, err := s.recount(ctx); return err }, true},
		{"after an import", func() error {
			_, err := s.Import(ctx, bytes.NewReader(importLines(1)), ImportOptions{})
			return err
		}, false},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := s.counterUnchanged(ctx); got != st.unchanged {
			t.Errorf("%s: counterUnchanged = %v, want %v", st.name, got, st.unchanged)
		}
	}
}

// TestExportOrder: Export asks for id order only where the server sorts by its index; FerretDB would read
// and sort the whole collection before the first record.
func TestExportOrder(t *testing.T) {
	tests := []struct {
		name             string
		embedded, ferret bool
		sorted           bool
	}{
		{"MongoDB", false, false, true},
		{"embedded", true, false, false},
		{"FerretDB server", false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Store{cfg: Config{Embedded: tt.embedded}}
			s.isFerretDB.Store(tt.ferret)
			var opts options.FindOptions
			for _, set := range s.exportOrder().List() {
				if err := set(&opts); err != nil {
					t.Fatal(err)
				}
			}
			if got := opts.Sort != nil; got != tt.sorted {
				t.Errorf("sorted = %v, want %v", got, tt.sorted)
			}
		})
	}
}

// TestExportProgressTotal: Export's progress has the number of dashboards as its total from the start
// (on FerretDB from collStats, not from count, which reads every document).
func TestExportProgressTotal(t *testing.T) {
	s, _ := newTestStore(t, Config{})
	ctx := testCtx(t)
	for i := range 3 {
		if _, err := s.Create(ctx, paddedBody(i)); err != nil {
			t.Fatal(err)
		}
	}
	var totals []int
	if _, err := s.Export(ctx, io.Discard, func(_, total int) { totals = append(totals, total) }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(totals, []int{3, 3, 3}) {
		t.Errorf("progress totals %v, want [3 3 3]", totals)
	}
}

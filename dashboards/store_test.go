package dashboards

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestReferenceDashboardsRoundTrip stores every real dashboard and reads it back unchanged: same values,
// same key sets, same array order, numbers spelled as sent.
func TestReferenceDashboardsRoundTrip(t *testing.T) {
	s, _ := newTestStore(t, Config{})
	ctx := testCtx(t)
	files := referenceDashboards(t)
	for _, name := range sortedKeys(files) {
		body := files[name]
		t.Run(name, func(t *testing.T) {
			created, err := s.Create(ctx, body)
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			got, err := s.Get(ctx, created.ID)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if got.ID != created.ID {
				t.Errorf("Get id = %q, want %q", got.ID, created.ID)
			}
			var answer map[string]json.RawMessage
			if err := json.Unmarshal(got.JSON, &answer); err != nil {
				t.Fatalf("answer is not a JSON object: %v", err)
			}
			if string(answer["id"]) != `"`+created.ID+`"` {
				t.Errorf(`answer "id" = %s, want %q`, answer["id"], created.ID)
			}
			var sent map[string]json.RawMessage
			if err := json.Unmarshal(body, &sent); err != nil {
				t.Fatal(err)
			}
			assertSameJSON(t, "dashboard", answer["dashboard"], sent["dashboard"])
			if len(answer) != len(sent)+1 {
				t.Errorf("answer has keys %d, want the body's %d plus id", len(answer), len(sent))
			}
			assertSameJSON(t, "create answer vs get answer", created.JSON, got.JSON)
		})
	}
}

// TestPythonWrittenDocuments reads records written the way the old backend's pymongo wrote them. (Arrays
// directly inside arrays are covered by the pure conversion tests: FerretDB v1 cannot store them.)
func TestPythonWrittenDocuments(t *testing.T) {
	s, db := newTestStore(t, Config{})
	ctx := testCtx(t)
	body := bson.D{{Key: "dashboard", Value: bson.D{{Key: "widgets", Value: bson.A{
		bson.D{
			{Key: "layout", Value: bson.D{{Key: "i", Value: "a"}, {Key: "x", Value: int32(0)}, {Key: "y", Value: 2.0},
				{Key: "w", Value: int64(12)}, {Key: "h", Value: 19.25}}},
			{Key: "channels", Value: bson.A{}},
			{Key: "plotSettings", Value: bson.D{{Key: "yAxisAttributes", Value: bson.A{
				bson.D{{Key: "min", Value: nil}, {Key: "max", Value: -0.5}, {Key: "big", Value: int64(1) << 53}},
			}}, {Key: "nested", Value: bson.A{bson.D{{Key: "a", Value: bson.A{int32(1), 1e-7}}}, bson.D{{Key: "e", Value: bson.A{}}}, bson.D{{Key: "b", Value: bson.A{nil, bson.D{}}}}}}}},
		},
	}}}}}
	raw, err := bson.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Collection("dashboards").InsertOne(ctx, bson.D{
		{Key: "_id", Value: "py-1"}, {Key: "dashboard", Value: body}, {Key: "_size", Value: int32(len(raw))},
		{Key: "last_access", Value: bson.NewDateTimeFromTime(newFakeClock().Now())},
	}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "py-1")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	want := `{"id":"py-1","dashboard":{"widgets":[{"layout":{"i":"a","x":0,"y":2.0,"w":12,"h":19.25},"channels":[],` +
		`"plotSettings":{"yAxisAttributes":[{"min":null,"max":-0.5,"big":9007199254740992}],"nested":[{"a":[1,1e-07]},{"e":[]},{"b":[null,{}]}]}}]}}`
	if string(got.JSON) != want {
		t.Errorf("Get\n got  %s\n want %s", got.JSON, want)
	}
	rec, err := s.Record(ctx, "py-1")
	if err != nil {
		t.Fatalf("Record: %v", err)
	}
	if rec.Size != int64(len(raw)) || rec.Whitelisted || rec.Protected {
		t.Errorf("Record = %+v", rec)
	}
}

func TestCreateGetReplaceDelete(t *testing.T) {
	s, db := newTestStore(t, Config{})
	ctx := testCtx(t)
	v1 := `{"dashboard":{"widgets":[]}}`
	v2 := `{"dashboard":{"widgets":[{"channels":[],"layout":{"i":"a","x":0,"y":0,"w":6,"h":2.5}}]}}`

	created, err := s.Create(ctx, []byte(v1))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if len(created.ID) != 36 || created.ID[14] != '4' {
		t.Errorf("id %q is not a uuid4", created.ID)
	}
	if want := `{"id":"` + created.ID + `","dashboard":{"widgets":[]}}`; string(created.JSON) != want {
		t.Errorf("Create answer %s, want %s", created.JSON, want)
	}
	var stored bson.Raw
	if stored, err = db.Collection("dashboards").FindOne(ctx, bson.D{{Key: "_id", Value: created.ID}}).Raw(); err != nil {
		t.Fatalf("stored record: %v", err)
	}
	// The old backend's layout: the whole DTO under "dashboard", its BSON size in _size, a datetime last_access.
	wantSize, _ := bson.Marshal(bson.D{{Key: "dashboard", Value: bson.D{{Key: "widgets", Value: bson.A{}}}}})
	if got := stored.Lookup("_size").AsInt64(); got != int64(len(wantSize)) {
		t.Errorf("_size = %d, want %d", got, len(wantSize))
	}
	if got := stored.Lookup("dashboard", "dashboard", "widgets").Type; got != bson.TypeArray {
		t.Errorf("stored dashboard.dashboard.widgets has type %v, want array", got)
	}
	if got := stored.Lookup("last_access").Type; got != bson.TypeDateTime {
		t.Errorf("last_access has type %v, want datetime", got)
	}

	replaced, err := s.Replace(ctx, created.ID, []byte(v2))
	if err != nil {
		t.Fatalf("Replace: %v", err)
	}
	got, err := s.Get(ctx, created.ID)
	if err != nil {
		t.Fatalf("Get after Replace: %v", err)
	}
	if want := `{"id":"` + created.ID + `",` + v2[1:]; string(got.JSON) != want || string(replaced.JSON) != want {
		t.Errorf("after Replace: Get %s, Replace %s, want %s", got.JSON, replaced.JSON, want)
	}

	deleted, err := s.Delete(ctx, created.ID)
	if err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if string(deleted.JSON) != string(got.JSON) {
		t.Errorf("Delete answer %s, want %s", deleted.JSON, got.JSON)
	}
	for name, op := range map[string]func() error{
		"Get":            func() error { _, err := s.Get(ctx, created.ID); return err },
		"Replace":        func() error { _, err := s.Replace(ctx, created.ID, []byte(v1)); return err },
		"Delete":         func() error { _, err := s.Delete(ctx, created.ID); return err },
		"Record":         func() error { _, err := s.Record(ctx, created.ID); return err },
		"SetWhitelisted": func() error { return s.SetWhitelisted(ctx, created.ID, true) },
		"SetProtected":   func() error { return s.SetProtected(ctx, created.ID, true) },
	} {
		if err := op(); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s of a deleted dashboard: %v, want ErrNotFound", name, err)
		}
	}
}

func TestValidation(t *testing.T) {
	valid := `{"dashboard":{"widgets":[]}}`
	tests := []struct {
		name   string
		cfg    Config
		body   string
		want   error
		reason string
	}{
		{"malformed JSON", Config{}, `{"dashboard":`, ErrInvalid, "unexpected end"},
		{"not an object", Config{}, `[]`, ErrInvalid, "must be a JSON object"},
		{"no dashboard member", Config{}, `{}`, ErrInvalid, `no "dashboard"`},
		{"dashboard not an object", Config{}, `{"dashboard":[]}`, ErrInvalid, `must be an object`},
		{"schema: unknown key", Config{}, `{"dashboard":{"widgets":[],"x":1}}`, ErrInvalid, "Additional property x"},
		{"schema: missing widgets", Config{}, `{"dashboard":{}}`, ErrInvalid, "widgets is required"},
		{"schema off accepts unknown keys", Config{Schema: []byte("{}")}, `{"dashboard":{"anything":1}}`, nil, ""},
		{"too large", Config{Schema: []byte("{}"), ValidateSize: true, MaxSingleBytes: 40}, `{"dashboard":{"widgets":[1,2,3,4]}}`, ErrTooLarge, "exceeds max 40"},
		{"exactly at the limit", Config{Schema: []byte("{}"), ValidateSize: true, MaxSingleBytes: 35}, valid, nil, ""},
		{"size check off", Config{Schema: []byte("{}"), MaxSingleBytes: 10}, valid, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestStore(t, tt.cfg)
			ctx := testCtx(t)
			_, err := s.Create(ctx, []byte(tt.body))
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Create(%s) = %v, want %v", tt.body, err, tt.want)
			}
			if err != nil && !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not give the reason %q", err, tt.reason)
			}
			if tt.want == nil {
				return
			}
			// Replace validates the same way, before looking the id up.
			if _, err := s.Replace(ctx, "any", []byte(tt.body)); !errors.Is(err, tt.want) {
				t.Errorf("Replace(%s) = %v, want %v", tt.body, err, tt.want)
			}
		})
	}
}

func TestProtectAndWhitelist(t *testing.T) {
	s, _ := newTestStore(t, Config{})
	ctx := testCtx(t)
	body := []byte(`{"dashboard":{"widgets":[]}}`)
	d, err := s.Create(ctx, body)
	if err != nil {
		t.Fatal(err)
	}
	flags := func() (bool, bool) {
		t.Helper()
		rec, err := s.Record(ctx, d.ID)
		if err != nil {
			t.Fatalf("Record: %v", err)
		}
		return rec.Whitelisted, rec.Protected
	}
	if err := s.SetWhitelisted(ctx, d.ID, true); err != nil {
		t.Fatal(err)
	}
	if w, p := flags(); !w || p {
		t.Errorf("after whitelist: whitelisted=%v protected=%v", w, p)
	}
	if err := s.SetWhitelisted(ctx, d.ID, false); err != nil {
		t.Fatal(err)
	}
	if err := s.SetProtected(ctx, d.ID, true); err != nil {
		t.Fatal(err)
	}
	if w, p := flags(); !w || !p {
		t.Errorf("after protect: whitelisted=%v protected=%v, want both", w, p)
	}
	if _, err := s.Replace(ctx, d.ID, body); !errors.Is(err, ErrProtected) {
		t.Errorf("Replace protected: %v, want ErrProtected", err)
	}
	if _, err := s.Delete(ctx, d.ID); !errors.Is(err, ErrProtected) {
		t.Errorf("Delete protected: %v, want ErrProtected", err)
	}
	if _, err := s.Get(ctx, d.ID); err != nil {
		t.Errorf("Get protected: %v", err)
	}
	if err := s.SetProtected(ctx, d.ID, false); err != nil {
		t.Fatal(err)
	}
	if w, p := flags(); !w || p {
		t.Errorf("after unprotect: whitelisted=%v protected=%v, want whitelisted only", w, p)
	}
	if _, err := s.Replace(ctx, d.ID, body); err != nil {
		t.Errorf("Replace after unprotect: %v", err)
	}
	if _, err := s.Delete(ctx, d.ID); err != nil {
		t.Errorf("Delete after unprotect: %v", err)
	}
}

// TestServerRefusalIsInvalid: what the server cannot store is the client's error (422), not a 500. MongoDB
// stores all of these; FerretDB v1 refuses them.
func TestServerRefusalIsInvalid(t *testing.T) {
	s, _ := newTestStore(t, Config{Schema: []byte("{}")})
	ctx := testCtx(t)
	for _, body := range []string{
		`{"dashboard":{"a.b":1}}`,
		`{"dashboard":{"$x":1}}`,
		`{"dashboard":{"a":[[1]]}}`,
	} {
		d, err := s.Create(ctx, []byte(body))
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("Create(%s) = %v, want success or ErrInvalid", body, err)
		}
		if err == nil {
			got, err := s.Get(ctx, d.ID)
			if err != nil || string(got.JSON) != string(d.JSON) {
				t.Errorf("Get(%s) = %s, %v; want %s", body, got.JSON, err, d.JSON)
			}
		}
	}
}

package dashboards

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Export writes every record as one JSON line (Record's MarshalJSON shape), ordered by id, and returns how
// many it wrote. Pending access times are written first so the export carries them.
func (s *Store) Export(ctx context.Context, w io.Writer) (int, error) {
	if err := s.flushAccess(ctx); err != nil {
		return 0, fmt.Errorf("export: %w", err)
	}
	cur, err := s.reads.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: fieldID, Value: 1}}))
	if err != nil {
		return 0, translate("export", err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	bw := bufio.NewWriterSize(w, 64<<10)
	n := 0
	for cur.Next(ctx) {
		rec, err := parseRecord(cur.Current)
		if err != nil {
			return n, fmt.Errorf("export: %w", err)
		}
		line, _ := rec.MarshalJSON()
		if _, err := bw.Write(append(line, '\n')); err != nil {
			return n, fmt.Errorf("export: write: %w", err)
		}
		n++
	}
	if err := cur.Err(); err != nil {
		return n, translate("export", err)
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("export: write: %w", err)
	}
	return n, nil
}

// Import reads records in Export's format, one JSON line each, validates each dashboard as Create does
// (schema, size; _size is recomputed) and stores it. With replace, a record whose id exists replaces it;
// without, existing ids are left as they are and not counted. It returns how many records it wrote and stops
// at the first bad line, naming it (the lines before it stay imported). last_access may also be
// mongoexport's {"$date": ...}; a missing one means now. Eviction runs once at the end.
func (s *Store) Import(ctx context.Context, r io.Reader, replace bool) (int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), int(4*s.cfg.MaxSingleBytes+1<<20))
	n, line := 0, 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		doc, err := s.importRecord(text)
		if err != nil {
			return n, fmt.Errorf("import line %d: %w", line, err)
		}
		wrote, err := s.writeImported(ctx, doc, replace)
		if err != nil {
			return n, fmt.Errorf("import line %d: %w", line, err)
		}
		if wrote {
			n++
		}
	}
	if err := sc.Err(); err != nil {
		return n, fmt.Errorf("import after line %d: %w", line, err)
	}
	if n > 0 {
		s.sizes.forget() // replaced records' old sizes are unknown
		s.evictAfterWrite(ctx, 0)
	}
	return n, nil
}

// importRecord checks one exported line and returns the record to store.
func (s *Store) importRecord(text []byte) (bson.D, error) {
	raw, err := jsonToBSON(nil, text)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	rec := bson.Raw(raw)
	id, ok := rec.Lookup(fieldID).StringValueOK()
	if !ok || id == "" {
		return nil, fmt.Errorf("%w: record needs a string _id", ErrInvalid)
	}
	dash, ok := rec.Lookup(fieldDashboard).DocumentOK()
	if !ok {
		return nil, fmt.Errorf("%w: record %s needs a %q object", ErrInvalid, id, fieldDashboard)
	}
	body, err := bsonToJSON(nil, dash)
	if err != nil {
		return nil, fmt.Errorf("%w: record %s: %w", ErrInvalid, id, err)
	}
	doc, err := s.encodeBody(body)
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", id, err)
	}
	last, err := importedTime(rec.Lookup(fieldLastAccess))
	if err != nil {
		return nil, fmt.Errorf("%w: record %s: %w", ErrInvalid, id, err)
	}
	if last.IsZero() {
		last = s.now()
	}
	whitelisted, _ := rec.Lookup(fieldWhitelisted).BooleanOK()
	protected, _ := rec.Lookup(fieldProtected).BooleanOK()
	return bson.D{
		{Key: fieldID, Value: id},
		{Key: fieldDashboard, Value: bson.Raw(doc)},
		{Key: fieldSize, Value: sizeValue(len(doc))},
		{Key: fieldLastAccess, Value: bson.NewDateTimeFromTime(last)},
		{Key: fieldWhitelisted, Value: whitelisted || protected},
		{Key: fieldProtected, Value: protected},
	}, nil
}

func (s *Store) writeImported(ctx context.Context, doc bson.D, replace bool) (bool, error) {
	id := doc[0].Value.(string)
	defer s.invalidate(id)
	if replace {
		s.writeMu.Lock()
		_, err := s.writes.Load().ReplaceOne(ctx, bson.D{{Key: fieldID, Value: id}}, doc, options.Replace().SetUpsert(true))
		s.writeMu.Unlock()
		return err == nil, translateWrite("store "+id, err)
	}
	_, err := s.writes.Load().InsertOne(ctx, doc)
	if mongo.IsDuplicateKeyError(err) {
		return false, nil
	}
	return err == nil, translateWrite("store "+id, err)
}

// importedTime reads last_access as Export writes it (an RFC 3339 string) or as mongoexport does
// ({"$date": "<RFC 3339>"} or {"$date": {"$numberLong": "<ms>"}} or {"$date": <ms>}). Missing or null
// gives the zero time.
func importedTime(v bson.RawValue) (time.Time, error) {
	switch v.Type {
	case 0, bson.TypeNull:
		return time.Time{}, nil
	case bson.TypeString:
		return parseTime(v.StringValue())
	case bson.TypeEmbeddedDocument:
		d := v.Document().Lookup("$date")
		switch d.Type {
		case bson.TypeString:
			return parseTime(d.StringValue())
		case bson.TypeInt32, bson.TypeInt64:
			ms, _ := d.AsInt64OK()
			return time.UnixMilli(ms).UTC(), nil
		case bson.TypeEmbeddedDocument:
			if s, ok := d.Document().Lookup("$numberLong").StringValueOK(); ok {
				ms, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					return time.Time{}, fmt.Errorf("last_access: %w", err)
				}
				return time.UnixMilli(ms).UTC(), nil
			}
		}
	}
	return time.Time{}, errors.New("last_access is neither an RFC 3339 string nor {\"$date\": ...}")
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("last_access: %w", err)
	}
	return t.UTC().Truncate(time.Millisecond), nil
}

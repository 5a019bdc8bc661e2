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

// Export writes every record as one JSON line (Record's MarshalJSON shape) and returns how many it wrote:
// ordered by id on MongoDB, in storage order on FerretDB, which sorts by reading and sorting the whole
// collection before it returns the first record (6 minutes of a 7-minute export of 10 000 dashboards
// under load, with the progress bar at 0). Pending access times are written first so the export carries
// them. progress, when not nil, is called after each record with the count so far and the collection's
// estimated size.
func (s *Store) Export(ctx context.Context, w io.Writer, progress func(done, total int)) (int, error) {
	return run(s, ctx, func(ctx context.Context) (int, error) { return s.export(ctx, w, progress) })
}

func (s *Store) export(ctx context.Context, w io.Writer, progress func(done, total int)) (int, error) {
	if err := s.flushAccess(ctx); err != nil {
		return 0, fmt.Errorf("export: %w", err)
	}
	estimate, err := s.estimatedCount(ctx)
	if err != nil {
		return 0, translate("export: count", err)
	}
	cur, err := s.reads.Find(ctx, bson.D{}, s.exportOrder())
	if err != nil {
		return 0, translate("export", err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	bw := bufio.NewWriterSize(w, 64<<10)
	n := 0
	for cur.Next(ctx) {
		if err := ctx.Err(); err != nil { // Next does not look at ctx while it serves a fetched batch
			return n, translate("export", err)
		}
		rec, err := s.parseRecord(cur.Current)
		if err != nil {
			return n, fmt.Errorf("export: %w", err)
		}
		line, _ := rec.MarshalJSON()
		if _, err := bw.Write(append(line, '\n')); err != nil {
			return n, fmt.Errorf("export: write: %w", err)
		}
		n++
		if progress != nil {
			progress(n, max(n, int(estimate)))
		}
	}
	if err := cur.Err(); err != nil {
		return n, translate("export", err)
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("export: write: %w", err)
	}
	return n, nil
}

// estimatedCount is the number of dashboards for Export's progress, from the server's metadata. FerretDB
// v1 answers count (which EstimatedDocumentCount sends) by reading every document: 3.5 minutes for 10 000
// example dashboards, before the first record; its collStats counts in SQL (1.3 s).
func (s *Store) estimatedCount(ctx context.Context) (int64, error) {
	if !s.onFerretDB() {
		return s.reads.EstimatedDocumentCount(ctx)
	}
	var stats struct {
		Count int64 `bson:"count"`
	}
	err := s.reads.Database().RunCommand(ctx, bson.D{{Key: "collStats", Value: s.reads.Name()}}).Decode(&stats)
	return stats.Count, err
}

// exportOrder is Export's find options: by id where the server sorts by its _id index.
func (s *Store) exportOrder() *options.FindOptionsBuilder {
	if s.onFerretDB() {
		return options.Find()
	}
	return options.Find().SetSort(bson.D{{Key: fieldID, Value: 1}})
}

// ImportOptions says how Import treats existing ids and whom it tells of its progress.
type ImportOptions struct {
	// Replace makes a record whose id exists replace it; without, the existing one is kept (Skipped).
	Replace bool
	// Progress, when not nil, is called after each record with the report so far.
	Progress func(ImportReport)
}

// ImportReport says what Import did with each record.
type ImportReport struct {
	Created  int
	Replaced int
	Skipped  int
	Refused  []Refusal
}

// Records is how many records the report covers.
func (r ImportReport) Records() int { return r.Created + r.Replaced + r.Skipped + len(r.Refused) }

// Refusal is a record Import did not store, and why.
type Refusal struct {
	Line   int
	ID     string // empty when the line has none
	Reason string
}

// Import reads records in Export's format, one JSON line each, validates each dashboard as Create does
// (schema, size; _size is recomputed) and stores it. A record that fails validation is refused (reported,
// not stored) and the import goes on; a failure of the store or of reading stops it, and the records before
// stay imported. last_access may also be mongoexport's {"$date": ...}; a missing one means now. Eviction
// runs once at the end, from the size counter's total after the last write, as after a create: a full
// recount at the end (FerretDB's $group reads every whole dashboard) took 85 s of a 10 000-dashboard
// import, and the counter already says whether eviction is due.
func (s *Store) Import(ctx context.Context, r io.Reader, opts ImportOptions) (ImportReport, error) {
	var rep ImportReport
	var total sizeTotal // the counter after the last write; unknown until a write reads it
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), int(4*s.cfg.MaxSingleBytes+1<<20))
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		if err := s.importLine(ctx, line, text, opts.Replace, &rep, &total); err != nil {
			return rep, fmt.Errorf("import line %d: %w", line, err)
		}
		if opts.Progress != nil {
			opts.Progress(rep)
		}
	}
	if err := sc.Err(); err != nil {
		return rep, fmt.Errorf("import after line %d: %w", line, err)
	}
	if rep.Created+rep.Replaced > 0 {
		s.evictIfNeeded(ctx, total)
	}
	return rep, nil
}

// importLine stores one record and counts it in rep; total becomes the size counter's value after the
// write when the write changed it. Only the store's failures are returned.
func (s *Store) importLine(ctx context.Context, line int, text []byte, replace bool, rep *ImportReport, total *sizeTotal) error {
	id, doc, size, err := s.importRecord(text)
	if err == nil {
		var out importOutcome
		out, err = run(s, ctx, func(ctx context.Context) (importOutcome, error) {
			return s.writeImported(ctx, id, doc, size, replace)
		})
		res := out.result
		if res == imported || res == replacedExisting {
			*total = out.total
		}
		switch res {
		case imported:
			rep.Created++
		case replacedExisting:
			rep.Replaced++
		case skippedExisting:
			rep.Skipped++
		}
	}
	if errors.Is(err, ErrInvalid) || errors.Is(err, ErrTooLarge) {
		rep.Refused = append(rep.Refused, Refusal{Line: line, ID: id, Reason: err.Error()})
		return nil
	}
	return err
}

// importRecord checks one exported line and returns its id, the record to store and the dashboard's size.
func (s *Store) importRecord(text []byte) (string, bson.D, int64, error) {
	raw, err := jsonToBSON(nil, text)
	if err != nil {
		return "", nil, 0, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	rec := bson.Raw(raw)
	id, ok := rec.Lookup(fieldID).StringValueOK()
	if !ok || id == "" {
		return "", nil, 0, fmt.Errorf("%w: record needs a string _id", ErrInvalid)
	}
	dash, ok := rec.Lookup(fieldDashboard).DocumentOK()
	if !ok {
		return id, nil, 0, fmt.Errorf("%w: record %s needs a %q object", ErrInvalid, id, fieldDashboard)
	}
	body, err := bsonToJSON(nil, dash)
	if err != nil {
		return id, nil, 0, fmt.Errorf("%w: record %s: %w", ErrInvalid, id, err)
	}
	doc, stored, err := s.encodeForStore(body)
	if err != nil {
		return id, nil, 0, fmt.Errorf("record %s: %w", id, err)
	}
	last, err := importedTime(rec.Lookup(fieldLastAccess))
	if err != nil {
		return id, nil, 0, fmt.Errorf("%w: record %s: %w", ErrInvalid, id, err)
	}
	if last.IsZero() {
		last = s.now()
	}
	whitelisted, _ := rec.Lookup(fieldWhitelisted).BooleanOK()
	protected, _ := rec.Lookup(fieldProtected).BooleanOK()
	return id, bson.D{
		{Key: fieldID, Value: id},
		{Key: fieldDashboard, Value: bson.Raw(stored)},
		{Key: fieldSize, Value: sizeValue(len(doc))},
		{Key: fieldLastAccess, Value: bson.NewDateTimeFromTime(last)},
		{Key: fieldWhitelisted, Value: whitelisted || protected},
		{Key: fieldProtected, Value: protected},
	}, int64(len(doc)), nil
}

// importResult is what writeImported did with a record.
type importResult int

const (
	notWritten importResult = iota
	imported
	replacedExisting
	skippedExisting
)

// importOutcome is what writeImported did, and the size counter after a write that changed it.
type importOutcome struct {
	result importResult
	total  sizeTotal
}

func (s *Store) writeImported(ctx context.Context, id string, doc bson.D, size int64, replace bool) (importOutcome, error) {
	defer s.invalidate(id)
	op := "store " + id
	var out importOutcome
	err := s.locked(ctx, op, func(w *writeSet) error {
		if !replace {
			_, err := w.dash.InsertOne(ctx, doc)
			if mongo.IsDuplicateKeyError(err) {
				out.result = skippedExisting
				return nil
			}
			if err != nil {
				return translateWrite(op, err)
			}
			out = importOutcome{result: imported, total: s.addSize(ctx, w, size)}
			return nil
		}
		old, existed, err := s.replaceOrInsert(ctx, w, id, doc)
		if err != nil {
			return translateWrite(op, err)
		}
		out = importOutcome{result: imported, total: s.addSize(ctx, w, size-old)}
		if existed {
			out.result = replacedExisting
		}
		return nil
	})
	return out, err
}

// replaceOrInsert stores doc under id whether or not it exists, and returns the size it replaced (see
// updateUnprotected for why the embedded store reads first).
func (s *Store) replaceOrInsert(ctx context.Context, w *writeSet, id string, doc bson.D) (int64, bool, error) {
	if s.onFerretDB() {
		prev, err := s.reads.FindOne(ctx, byID(id), options.FindOne().SetProjection(bson.D{{Key: fieldSize, Value: 1}})).Raw()
		existed := err == nil
		if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
			return 0, false, err
		}
		if _, err = w.dash.ReplaceOne(ctx, byID(id), doc, options.Replace().SetUpsert(true)); err != nil || !existed {
			return 0, existed, err
		}
		return storedSize(prev), true, nil
	}
	prev, err := w.dash.FindOneAndReplace(ctx, byID(id), doc, options.FindOneAndReplace().SetUpsert(true)).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, false, nil
	}
	return storedSize(prev), err == nil, err
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

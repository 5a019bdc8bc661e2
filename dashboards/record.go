package dashboards

import (
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Record is a dashboard's full stored record, for maintenance and export.
type Record struct {
	// ID is the record's _id.
	ID string
	// Dashboard is the stored body as JSON: the DashboardDTO {"dashboard": {...}} as the client sent it.
	Dashboard []byte
	// Size is the body's BSON size in bytes (_size), which eviction sums.
	Size int64
	// LastAccess is when the dashboard was last created, read or replaced; zero if never recorded.
	LastAccess time.Time
	// Whitelisted dashboards are never evicted.
	Whitelisted bool
	// Protected dashboards cannot be replaced or deleted (and are whitelisted).
	Protected bool
}

// lastAccessLayout writes last_access in UTC with BSON's millisecond precision.
const lastAccessLayout = "2006-01-02T15:04:05.000Z"

// MarshalJSON writes the contract's shape: {"_id", "dashboard", "_size", "last_access", "whitelisted",
// "protected"}; last_access is an RFC 3339 UTC string, or null when unknown.
func (r Record) MarshalJSON() ([]byte, error) {
	buf := make([]byte, 0, len(r.Dashboard)+160)
	buf = append(buf, `{"_id":`...)
	buf = appendJSONString(buf, []byte(r.ID))
	buf = append(buf, `,"dashboard":`...)
	if len(r.Dashboard) == 0 {
		buf = append(buf, "null"...)
	} else {
		buf = append(buf, r.Dashboard...)
	}
	buf = append(buf, `,"_size":`...)
	buf = strconv.AppendInt(buf, r.Size, 10)
	buf = append(buf, `,"last_access":`...)
	if r.LastAccess.IsZero() {
		buf = append(buf, "null"...)
	} else {
		buf = append(buf, '"')
		buf = r.LastAccess.UTC().AppendFormat(buf, lastAccessLayout)
		buf = append(buf, '"')
	}
	buf = append(buf, `,"whitelisted":`...)
	buf = strconv.AppendBool(buf, r.Whitelisted)
	buf = append(buf, `,"protected":`...)
	buf = strconv.AppendBool(buf, r.Protected)
	return append(buf, '}'), nil
}

// parseRecord reads a stored record. Missing optional fields keep their zero values, as in databases the
// old backend's first versions wrote (no _size, no last_access).
func (s *Store) parseRecord(raw bson.Raw) (Record, error) {
	var rec Record
	id, err := raw.LookupErr(fieldID)
	if err != nil {
		return rec, fmt.Errorf("record without _id")
	}
	if s, ok := id.StringValueOK(); ok {
		rec.ID = s
	} else {
		rec.ID = id.String() // a foreign id type: shown as extended JSON
	}
	if v, err := raw.LookupErr(fieldDashboard); err == nil {
		doc, ok := v.DocumentOK()
		if !ok {
			return rec, fmt.Errorf("record %s: %q is BSON type %s, not a document", rec.ID, fieldDashboard, v.Type)
		}
		body, err := s.fromStored(doc)
		if err != nil {
			return rec, fmt.Errorf("record %s: %w", rec.ID, err)
		}
		if rec.Dashboard, err = bsonToJSON(nil, body); err != nil {
			return rec, fmt.Errorf("record %s: %w", rec.ID, err)
		}
	}
	if v, err := raw.LookupErr(fieldSize); err == nil {
		if n, ok := v.AsInt64OK(); ok {
			rec.Size = n
		}
	}
	if v, err := raw.LookupErr(fieldLastAccess); err == nil {
		if ms, ok := v.DateTimeOK(); ok {
			rec.LastAccess = time.UnixMilli(ms).UTC()
		}
	}
	if v, err := raw.LookupErr(fieldWhitelisted); err == nil {
		rec.Whitelisted, _ = v.BooleanOK()
	}
	if v, err := raw.LookupErr(fieldProtected); err == nil {
		rec.Protected, _ = v.BooleanOK()
	}
	return rec, nil
}

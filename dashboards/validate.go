package dashboards

import (
	"fmt"
	"strings"

	"github.com/xeipuuv/gojsonschema"
)

// maxReasons bounds how many schema violations an ErrInvalid carries: enough for a log line.
const maxReasons = 5

// compileSchema parses the dashboard JSON Schema once, at New.
func compileSchema(schema []byte) (*gojsonschema.Schema, error) {
	s, err := gojsonschema.NewSchema(gojsonschema.NewBytesLoader(schema))
	if err != nil {
		return nil, fmt.Errorf("dashboards: compile schema: %w", err)
	}
	return s, nil
}

// encodeBody checks a request body and returns it as the BSON document to store, whose length is the
// dashboard's size as the old backend measured it (bson.encode of the whole DTO).
func (s *Store) encodeBody(body []byte) ([]byte, error) {
	doc, err := jsonToBSON(nil, body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := checkDashboardMember(doc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if s.schema != nil {
		res, err := s.schema.Validate(gojsonschema.NewBytesLoader(body))
		if err != nil {
			return nil, fmt.Errorf("%w: schema: %w", ErrInvalid, err)
		}
		if !res.Valid() {
			return nil, fmt.Errorf("%w: %s", ErrInvalid, schemaReasons(res.Errors()))
		}
	}
	if s.cfg.ValidateSize && int64(len(doc)) > s.cfg.MaxSingleBytes {
		return nil, &SizeError{Size: int64(len(doc)), Max: s.cfg.MaxSingleBytes}
	}
	return doc, nil
}

// checkDashboardMember requires the DTO's "dashboard" member to exist and be an object: the frontend reads
// dashboard.widgets from every answer.
func checkDashboardMember(doc []byte) error {
	body, err := documentBody(doc)
	if err != nil {
		return err
	}
	for len(body) > 0 {
		typ, key, _, rest, err := nextElement(body)
		if err != nil {
			return err
		}
		if string(key) == "dashboard" {
			if typ != bsonDocument {
				return fmt.Errorf(`"dashboard" must be an object`)
			}
			return nil
		}
		body = rest
	}
	return fmt.Errorf(`the body has no "dashboard" member`)
}

func schemaReasons(errs []gojsonschema.ResultError) string {
	var b strings.Builder
	for i, e := range errs {
		if i == maxReasons {
			fmt.Fprintf(&b, "; and %d more", len(errs)-maxReasons)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.String())
	}
	return b.String()
}

// encodeForStore checks body and returns it as BSON twice: doc, whose length is the dashboard's size and
// which answers are built from, and stored, the form the database holds (the same bytes except on the
// embedded store when a key must be escaped; see keys.go).
func (s *Store) encodeForStore(body []byte) (doc, stored []byte, err error) {
	if doc, err = s.encodeBody(body); err != nil {
		return nil, nil, err
	}
	if !s.cfg.Embedded {
		return doc, doc, nil
	}
	if stored, err = escapeKeys(doc); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return doc, stored, nil
}

// fromStored undoes encodeForStore's escaping on a stored body.
func (s *Store) fromStored(stored []byte) ([]byte, error) {
	if !s.cfg.Embedded {
		return stored, nil
	}
	return unescapeKeys(stored)
}

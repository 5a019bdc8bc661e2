package server

import (
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// validationItem is one entry of FastAPI's 422 body, kept so clients that print it keep working.
type validationItem struct {
	Loc   []string `json:"loc"`
	Msg   string   `json:"msg"`
	Type  string   `json:"type"`
	Input *string  `json:"input,omitempty"`
}

// validationError collects every bad query parameter of one request (422).
type validationError struct{ items []validationItem }

func (e *validationError) Error() string {
	parts := make([]string, len(e.items))
	for i, it := range e.items {
		parts[i] = strings.Join(it.Loc, ".") + ": " + it.Msg
	}
	return strings.Join(parts, "; ")
}

// queryParams reads typed query parameters and remembers what was wrong, FastAPI style.
type queryParams struct {
	c    *fiber.Ctx
	errs []validationItem
}

func newQueryParams(c *fiber.Ctx) *queryParams { return &queryParams{c: c} }

func (q *queryParams) fail(name, msg, typ string, input *string) {
	q.errs = append(q.errs, validationItem{Loc: []string{"query", name}, Msg: msg, Type: typ, Input: input})
}

// raw returns the parameter copied out of Fiber's reused buffer, and whether it was present.
func (q *queryParams) raw(name string) (string, bool) {
	v := q.c.Context().QueryArgs().Peek(name)
	if v == nil {
		return "", false
	}
	return string(v), true
}

// String is an optional string parameter.
func (q *queryParams) String(name, def string) string {
	if v, ok := q.raw(name); ok {
		return v
	}
	return def
}

// RequiredString is a string parameter that must be present.
func (q *queryParams) RequiredString(name string) string {
	v, ok := q.raw(name)
	if !ok {
		q.fail(name, "Field required", "missing", nil)
	}
	return v
}

// Int is an optional integer parameter; required makes absence an error.
func (q *queryParams) Int(name string, def int64, required bool) int64 {
	v, ok := q.raw(name)
	if !ok {
		if required {
			q.fail(name, "Field required", "missing", nil)
		}
		return def
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		q.fail(name, "Input should be a valid integer, unable to parse string as an integer", "int_parsing", &v)
		return def
	}
	return n
}

// Bool is an optional boolean parameter parsed as FastAPI (pydantic) does.
func (q *queryParams) Bool(name string, def bool) bool {
	b, _ := q.OptionalBool(name)
	if b == nil {
		return def
	}
	return *b
}

// OptionalBool is a boolean parameter that may be absent (nil).
func (q *queryParams) OptionalBool(name string) (*bool, bool) {
	v, ok := q.raw(name)
	if !ok {
		return nil, false
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "t", "yes", "y", "on":
		b := true
		return &b, true
	case "0", "false", "f", "no", "n", "off":
		b := false
		return &b, true
	}
	q.fail(name, "Input should be a valid boolean, unable to interpret input", "bool_parsing", &v)
	return nil, true
}

// Err is the collected validation error, or nil.
func (q *queryParams) Err() error {
	if len(q.errs) == 0 {
		return nil
	}
	return &validationError{items: q.errs}
}

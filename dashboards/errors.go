package dashboards

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"
)

// Errors returned by the Store. Callers test them with errors.Is; the wrapped text says more.
var (
	// ErrNotFound: no dashboard has the given id.
	ErrNotFound = errors.New("dashboard not found")
	// ErrProtected: the dashboard is protected (read-only); it cannot be replaced or deleted.
	ErrProtected = errors.New("dashboard is protected")
	// ErrTooLarge: the body's BSON size exceeds Config.MaxSingleBytes.
	ErrTooLarge = errors.New("dashboard too large")
	// ErrInvalid: the body is not JSON, not a DashboardDTO, or fails the schema. The error text after the
	// sentinel's gives the reasons (for logs); clients get InvalidMessage.
	ErrInvalid = errors.New("invalid dashboard")
	// ErrUnavailable: MongoDB cannot be reached (server selection, network or deadline). The store recovers
	// by itself when MongoDB returns.
	ErrUnavailable = errors.New("dashboard store unavailable")
)

// InvalidMessage is the text the old backend answered with (422) when validation failed. Callers show it to
// clients instead of ErrInvalid's reasons, which may be long.
const InvalidMessage = "Dashboard validation failed."

// translate maps a driver error to the package's sentinels and prefixes the operation:
// mongo.ErrNoDocuments → ErrNotFound; server selection, network and timeout errors → ErrUnavailable (the
// driver error stays in the chain, so errors.Is(err, context.DeadlineExceeded) still works). A caller's
// cancellation is passed through unchanged.
func translate(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: %w", op, err)
	case isUnavailable(err):
		return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
	default:
		return fmt.Errorf("%s: %w", op, err)
	}
}

// translateWrite is translate for writes of a dashboard body: a document the server refuses (BadValue:
// FerretDB v1 refuses keys with '.' or a leading '$' and nested arrays, which MongoDB stores) is the client's
// ErrInvalid, and one above the server's document limit is ErrTooLarge.
// SizeError is a dashboard refused for its size: its BSON size and the limit, in bytes. It wraps
// ErrTooLarge.
type SizeError struct {
	Size, Max int64
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("%v: size %d exceeds max %d", ErrTooLarge, e.Size, e.Max)
}

func (e *SizeError) Unwrap() error { return ErrTooLarge }

func translateWrite(op string, err error) error {
	const (
		badValue           = 2
		bsonObjectTooLarge = 10334
	)
	var we mongo.WriteException
	if errors.As(err, &we) {
		for _, e := range we.WriteErrors {
			switch e.Code {
			case badValue:
				return fmt.Errorf("%s: %w: the database refused it: %s", op, ErrInvalid, e.Message)
			case bsonObjectTooLarge:
				return fmt.Errorf("%s: %w: %s", op, ErrTooLarge, e.Message)
			}
		}
	}
	return translate(op, err)
}

func isUnavailable(err error) bool {
	var sel topology.ServerSelectionError
	return errors.As(err, &sel) ||
		errors.Is(err, topology.ErrTopologyClosed) ||
		mongo.IsNetworkError(err) ||
		mongo.IsTimeout(err)
}

// writeConcernUnsupported reports whether a write failed only because the server cannot honour the majority
// write concern (a stand-alone or emulating server): then the store falls back to w:1.
func writeConcernUnsupported(err error) bool {
	var we mongo.WriteException
	if errors.As(err, &we) && we.WriteConcernError != nil {
		return wcCodeUnsupported(we.WriteConcernError.Code, we.WriteConcernError.Message)
	}
	var ce mongo.CommandError
	if errors.As(err, &ce) {
		return wcCodeUnsupported(int(ce.Code), ce.Message)
	}
	return false
}

func wcCodeUnsupported(code int, msg string) bool {
	const (
		badValue                  = 2
		unknownReplWriteConcern   = 79
		unsatisfiableWriteConcern = 100
	)
	switch code {
	case unknownReplWriteConcern, unsatisfiableWriteConcern:
		return true
	case badValue:
		m := strings.ToLower(msg)
		return strings.Contains(m, "write concern") || strings.Contains(m, "writeconcern") ||
			strings.Contains(m, "not replicated") || strings.Contains(m, "majority")
	}
	return false
}

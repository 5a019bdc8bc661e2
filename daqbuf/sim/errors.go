package sim

import (
	"bytes"
	"encoding/json"
	"net/http"
)

// writeMessage writes data-api's data-endpoint error body (§6.1): pretty-printed
// {"message": ..., "requestid": ...}.
func writeMessage(w http.ResponseWriter, status int, msg, requestID string) {
	body, _ := marshalJSON(struct {
		Message   string `json:"message"`
		RequestID string `json:"requestid"`
	}{msg, requestID}, "  ")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if status != http.StatusNoContent && status != http.StatusNotModified && status >= 200 {
		_, _ = w.Write(body)
	}
}

// writeMalformed is the proxy's answer to a query it cannot parse (§6.2): 500 naming the URI.
func writeMalformed(w http.ResponseWriter, r *http.Request, requestID string) {
	writeMessage(w, http.StatusInternalServerError, "malformed request or missing parameters  "+r.URL.RequestURI(), requestID)
}

// writeSearchError is the error shape of search and status endpoints: {"reason", "msg"}.
func writeSearchError(w http.ResponseWriter, status int, reason, msg string) {
	body, _ := marshalJSON(map[string]any{"reason": reason, "msg": msg}, "")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeJSON writes a 200 JSON body.
func writeJSON(w http.ResponseWriter, v any) {
	body, err := marshalJSON(v, "")
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	writeJSONBytes(w, body)
}

func writeJSONBytes(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// writeHalfAndAbort sends a 200 header and half of body, then drops the connection: the plain-JSON
// rendering of a mid-stream failure.
func writeHalfAndAbort(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body[:len(body)/2])
	_ = http.NewResponseController(w).Flush()
	panic(http.ErrAbortHandler)
}

// marshalJSON encodes like serde_json: no HTML escaping of <, > and &; indented when indent != "".
func marshalJSON(v any, indent string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", indent)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

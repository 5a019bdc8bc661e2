package sim

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
)

// frameWriter writes data-api frames (docs/daqbuf.md §5.2, §5.3) and flushes each one, so that a client
// sees data while a long range is still being generated.
type frameWriter struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	mode   responseMode
	binary bool // binary header: cbor-framed, or json-framed with Config.LegacyJSONFrameHeader
	enc    func(any) ([]byte, error)
	hdr    []byte
}

func (s *Sim) newFrameWriter(w http.ResponseWriter, mode responseMode) *frameWriter {
	fw := &frameWriter{w: w, rc: http.NewResponseController(w), mode: mode, enc: json.Marshal}
	if mode == modeCBORFramed {
		fw.binary, fw.enc = true, s.cbor.Marshal
	} else {
		fw.binary = s.cfg.LegacyJSONFrameHeader
	}
	return fw
}

// contentType is the Content-Type of a framed response.
func (fw *frameWriter) contentType() string {
	if fw.mode == modeCBORFramed {
		return "application/cbor-framed"
	}
	return "application/json-framed"
}

// start sends the 200 header of a framed stream.
func (fw *frameWriter) start() {
	fw.w.Header().Set("Content-Type", fw.contentType())
	fw.w.WriteHeader(http.StatusOK)
}

// frame writes one frame around payload and flushes it. Empty payloads are never sent, as on the
// server.
func (fw *frameWriter) frame(payload []byte) error {
	if len(payload) == 0 {
		return nil
	}
	fw.hdr = fw.hdr[:0]
	var trailer []byte
	if fw.binary {
		fw.hdr = binary.LittleEndian.AppendUint32(fw.hdr, uint32(len(payload)))
		fw.hdr = append(fw.hdr, make([]byte, 12)...)
		trailer = make([]byte, (8-len(payload)%8)%8)
	} else {
		fw.hdr = fmt.Appendf(fw.hdr, "%15d\n", len(payload))
		trailer = []byte{'\n'}
	}
	if _, err := fw.w.Write(fw.hdr); err != nil {
		return err
	}
	if _, err := fw.w.Write(payload); err != nil {
		return err
	}
	if len(trailer) > 0 {
		if _, err := fw.w.Write(trailer); err != nil {
			return err
		}
	}
	return fw.rc.Flush()
}

// control writes a one-key control frame such as {"rangeFinal":true} in the stream's encoding.
func (fw *frameWriter) control(key string, value any) error {
	payload, err := fw.enc(map[string]any{key: value})
	if err != nil {
		return err
	}
	return fw.frame(payload)
}

func (fw *frameWriter) rangeFinal() error         { return fw.control("rangeFinal", true) }
func (fw *frameWriter) keepalive() error          { return fw.control("type", "keepalive") }
func (fw *frameWriter) errorFrame(m string) error { return fw.control("error", m) }

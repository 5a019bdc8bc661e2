package sim

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
	// binnedPlainMax is where plain-JSON binned collection stops, without any marker (§6.3).
	binnedPlainMax = 2500
	// binsPerFrame is the framed binned flush size (§5.4).
	binsPerFrame = 128
)

func (s *Sim) serveBinned(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	accept := r.Header.Get("Accept")
	mode := acceptMode(accept)
	if mode == modeUnsupported {
		msg := "Unsupported Accept: " + accept
		if strings.Contains(accept, "application/octet-stream") {
			msg = "binary binned data not yet available"
		}
		writeMessage(w, http.StatusInternalServerError, msg, c.id)
		return
	}
	beg, end, rerr := parseRange(q, c.now)
	_, idx, cerr := s.resolveChannel(q)
	if rerr != nil || (cerr != nil && !errors.Is(cerr, errChannelNotFound)) {
		writeMalformed(w, r, c.id)
		return
	}
	if cerr != nil {
		writeMessage(w, http.StatusNotFound, "channel not found", c.id)
		return
	}
	binCount := 0
	if q.Has("binCount") {
		n, err := strconv.ParseUint(q.Get("binCount"), 10, 32)
		if err != nil {
			writeMalformed(w, r, c.id)
			return
		}
		if n == 0 {
			writeMessage(w, http.StatusInternalServerError, "bad binned query: "+errBinCount.Error(), c.id)
			return
		}
		binCount = int(n)
	}
	var binWidth time.Duration
	if q.Has("binWidth") {
		// An unparsable width is silently ignored, as on the server (§1.5).
		if d, err := parseHumantime(q.Get("binWidth")); err == nil && d > 0 {
			binWidth = d
		}
	}
	width, err := chooseWidth(beg, end, binCount, binWidth)
	if err != nil {
		writeMessage(w, http.StatusInternalServerError, "bad binned query: "+err.Error(), c.id)
		return
	}
	b := newBinner(s.cat.def(idx), beg, end, width, c.now)
	b.done = r.Context().Done()
	if mode == modeJSON {
		s.plainBins(w, c, b)
		return
	}
	s.streamBins(w, r, c, mode, b)
}

// plainBins answers with one JSON object of at most binnedPlainMax bins, or 204.
func (s *Sim) plainBins(w http.ResponseWriter, c *call, b *binner) {
	var bins []Bin
	for len(bins) < binnedPlainMax {
		bin, ok := b.next()
		if !ok {
			break
		}
		bins = append(bins, bin)
	}
	if len(bins) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	body := appendBinsJSON(make([]byte, 0, 64+len(bins)*96), bins)
	if c.midStream {
		writeHalfAndAbort(w, body)
		return
	}
	writeJSONBytes(w, body)
}

// streamBins writes frames of binsPerFrame bins as they are computed. Binned streams carry no
// rangeFinal in the current server.
func (s *Sim) streamBins(w http.ResponseWriter, r *http.Request, c *call, mode responseMode, b *binner) {
	fw := s.newFrameWriter(w, mode)
	fw.start()
	if c.dropFrames {
		return
	}
	bins := make([]Bin, 0, binsPerFrame)
	var buf []byte
	for {
		bins = bins[:0]
		for len(bins) < binsPerFrame {
			bin, ok := b.next()
			if !ok {
				break
			}
			bins = append(bins, bin)
		}
		if len(bins) == 0 || r.Context().Err() != nil {
			break
		}
		var payload []byte
		if mode == modeCBORFramed {
			var err error
			if payload, err = s.binsCBOR(bins); err != nil {
				_ = fw.errorFrame(err.Error())
				return
			}
		} else {
			buf = appendBinsJSON(buf[:0], bins)
			payload = buf
		}
		if fw.frame(payload) != nil || c.midStream || len(bins) < binsPerFrame {
			break
		}
	}
	if c.midStream {
		_ = fw.errorFrame(c.faultMsg)
	}
}

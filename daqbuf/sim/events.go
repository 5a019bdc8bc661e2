package sim

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
)

// Plain-JSON event limits (docs/daqbuf.md §6.3).
const (
	eventsMaxDefault = 80_000
	eventsMaxLarge   = 500_000
	eventsMaxCap     = 4_000_000
	bytesMaxDefault  = 8 << 20
	bytesMaxLarge    = 80 << 20
	bytesMaxCap      = 400 << 20
)

// eventSpan is the contiguous run of event indices [lo, hi) one events request returns.
type eventSpan struct {
	d          *chanDef
	lo, hi     int64
	rangeFinal bool
}

// eventSpanFor applies begExcl and oneBeforeRange to [beg, end) and clips at now.
func eventSpanFor(d *chanDef, q url.Values, beg, end, now int64) eventSpan {
	k0 := d.firstAtOrAfter(beg)
	if boolParam(q, "begExcl") {
		k0 = d.firstAfter(beg)
	}
	k1 := d.firstAtOrAfter(min(end, now))
	sp := eventSpan{d: d, lo: k0, hi: max(k0, k1), rangeFinal: end <= now}
	if boolParam(q, "oneBeforeRange") {
		// The most recent event before the range (with begExcl: at or before beg), which the data
		// must already hold (ts < now).
		if p := min(k0, k1) - 1; p >= d.kStart() {
			if k1 > k0 {
				sp.lo = p
			} else {
				sp.lo, sp.hi = p, p+1
			}
		}
	}
	return sp
}

func (s *Sim) serveEvents(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	mode := acceptMode(r.Header.Get("Accept"))
	if mode == modeUnsupported {
		writeMessage(w, http.StatusInternalServerError, "unsupported accept", c.id)
		return
	}
	framed := mode != modeJSON
	beg, end, rerr := parseRange(q, c.now)
	_, idx, cerr := s.resolveChannel(q)
	if rerr != nil || (cerr != nil && !errors.Is(cerr, errChannelNotFound)) {
		if framed {
			// The proxy cannot route a malformed framed query and drops the connection.
			cutConnection(w)
			return
		}
		writeMalformed(w, r, c.id)
		return
	}
	if cerr != nil {
		writeMessage(w, http.StatusNotFound, "channel not found", c.id)
		return
	}
	sp := eventSpanFor(s.cat.def(idx), q, beg, end, c.now)
	if framed {
		s.streamEvents(w, r, c, mode, sp)
		return
	}
	s.plainEvents(w, q, c, sp)
}

// plainEvents answers with one JSON object, truncated at eventsMax / bytesMax (then without
// rangeFinal), or 204 when there is nothing.
func (s *Sim) plainEvents(w http.ResponseWriter, q url.Values, c *call, sp eventSpan) {
	large := boolParam(q, "allowLargeResult")
	eventsMax := limitParam(q, "eventsMax", eventsMaxDefault, eventsMaxLarge, eventsMaxCap, large)
	bytesMax := limitParam(q, "bytesMax", bytesMaxDefault, bytesMaxLarge, bytesMaxCap, large)
	n := sp.hi - sp.lo
	if limit := min(eventsMax, max(1, bytesMax/eventSizeEstimate(sp.d))); n > limit {
		sp.hi, sp.rangeFinal = sp.lo+limit, false
		n = limit
	}
	if n <= 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	body := appendEventsJSON(make([]byte, 0, 64+n*32), sp.d, sp.lo, sp.hi, sp.rangeFinal, make([]float64, sp.d.waveLen))
	if c.midStream {
		writeHalfAndAbort(w, body)
		return
	}
	writeJSONBytes(w, body)
}

// limitParam reads a plain-JSON size limit: the default (or the large default with
// allowLargeResult) when absent, invalid or zero, capped at limitCap.
func limitParam(q url.Values, name string, def, large, limitCap int64, allowLarge bool) int64 {
	v, err := strconv.ParseInt(q.Get(name), 10, 64)
	if err != nil || v <= 0 {
		if allowLarge {
			return large
		}
		return def
	}
	return min(v, limitCap)
}

// eventSizeEstimate is the server-side size estimate of one event, in bytes.
func eventSizeEstimate(d *chanDef) int64 {
	size := int64(16)
	if d.pulsed {
		size += 8
	}
	switch d.kind {
	case kindWave:
		size += 8 * int64(d.waveLen)
	case kindBool:
		size++
	case kindString, kindEnum:
		size += 24
	default:
		size += 8
	}
	return size
}

// streamEvents writes the span as frames of at most EventsPerFrame events, each flushed as it is
// generated, then {"rangeFinal":true} when the range is complete.
func (s *Sim) streamEvents(w http.ResponseWriter, r *http.Request, c *call, mode responseMode, sp eventSpan) {
	fw := s.newFrameWriter(w, mode)
	fw.start()
	if s.cfg.Keepalive {
		if fw.keepalive() != nil {
			return
		}
	}
	per := int64(s.cfg.EventsPerFrame)
	var cols eventColumns
	scratch := make([]float64, sp.d.waveLen)
	var buf []byte
	for k := sp.lo; k < sp.hi; k += per {
		if r.Context().Err() != nil {
			return
		}
		hi := min(k+per, sp.hi)
		var payload []byte
		if mode == modeCBORFramed {
			var err error
			if payload, err = s.eventsCBOR(sp.d, k, hi, &cols); err != nil {
				_ = fw.errorFrame(err.Error())
				return
			}
		} else {
			buf = appendEventsJSON(buf[:0], sp.d, k, hi, false, scratch)
			payload = buf
		}
		if fw.frame(payload) != nil {
			return
		}
		if c.midStream {
			break
		}
	}
	if c.midStream {
		_ = fw.errorFrame(c.faultMsg)
		return
	}
	if sp.rangeFinal {
		_ = fw.rangeFinal()
	}
}

package sim

import (
	"math"
	"time"
)

// Bin is one time bin [Ts1, Ts2) as /binned returns it. Avg (and, when every value seen was NaN,
// Min and Max) may be NaN, which JSON renders as null.
type Bin struct {
	Ts1, Ts2 int64
	Count    uint64
	Min, Max float32
	Avg      float32
}

// binner walks the bins of one channel over the grid [first, end) in steps of w, stopping at now.
// It carries the last value from bin to bin and touches each event once, by index, so it streams
// arbitrarily long ranges in constant memory.
type binner struct {
	d        *chanDef
	w, end   int64
	now      int64
	t1       int64 // start of the next bin
	k        int64 // index of the next event not yet binned
	carry    float32
	hasCarry bool
	scratch  []float64
	// done, when set, stops the walk early (the client went away): one bin of a long range can hold
	// hundreds of millions of events, far too many to finish for nobody.
	done <-chan struct{}
}

// newBinner prepares the bins of width w covering [beg, end), grid-aligned to multiples of w.
func newBinner(d *chanDef, beg, end, w, now int64) *binner {
	b := &binner{d: d, w: w, end: end, now: now, t1: floorTo(beg, w), scratch: make([]float64, d.waveLen)}
	b.k = d.firstAtOrAfter(b.t1)
	if prev := b.k - 1; prev >= d.kStart() && d.ts(prev) < now {
		b.carry, b.hasCarry = d.binValue(prev, b.scratch), true
	}
	return b
}

// next returns the next bin, or false when the grid or the data (now) is exhausted.
func (b *binner) next() (Bin, bool) {
	for {
		if b.t1 >= b.end || b.t1 >= b.now {
			return Bin{}, false
		}
		t2 := b.t1 + b.w
		if t2 < b.t1 { // overflow at the far end of int64
			t2 = math.MaxInt64
		}
		covEnd := min(t2, b.now)
		kEnd := b.d.firstAtOrAfter(covEnd)
		if !b.hasCarry && b.k >= kEnd {
			// No value known yet: skip ahead to the bin holding the first event.
			first := b.d.ts(b.k)
			if first >= b.now {
				return Bin{}, false
			}
			b.t1 += floorTo(first-b.t1, b.w)
			continue
		}
		bin := b.fill(b.t1, t2, covEnd, kEnd)
		b.t1 = t2
		return bin, true
	}
}

// fill aggregates events [b.k, kEnd) into the bin [t1, t2) whose data ends at covEnd.
func (b *binner) fill(t1, t2, covEnd, kEnd int64) Bin {
	bin := Bin{Ts1: t1, Ts2: t2}
	lo, hi := float32(math.NaN()), float32(math.NaN())
	see := func(v float32) {
		if v != v {
			return
		}
		if lo != lo || v < lo {
			lo = v
		}
		if hi != hi || v > hi {
			hi = v
		}
	}
	var sum float64
	var covered int64
	t := t1
	cur, has := b.carry, b.hasCarry
	if has {
		see(cur)
	}
	for ; b.k < kEnd; b.k++ {
		if b.k&0xffff == 0 && b.cancelled() {
			b.k = kEnd
			break
		}
		ts := b.d.ts(b.k)
		v := b.d.binValue(b.k, b.scratch)
		if has {
			dt := ts - t
			sum += float64(cur) * float64(dt)
			covered += dt
		}
		cur, has, t = v, true, ts
		see(v)
		bin.Count++
	}
	dt := covEnd - t
	sum += float64(cur) * float64(dt)
	covered += dt
	b.carry, b.hasCarry = cur, true

	avg := float32(math.NaN())
	if covered > 0 {
		avg = float32(sum / float64(covered))
	}
	// Clamp into [min, max]: float rounding must not put the mean outside the values seen.
	if avg == avg && lo == lo {
		avg = max(lo, min(hi, avg))
	}
	bin.Min, bin.Max, bin.Avg = lo, hi, avg
	return bin
}

// cancelled says whether done is closed.
func (b *binner) cancelled() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// Bins returns exactly the bins /binned serves for ch over [beg, end) with the given binCount or
// binWidth (0 = absent; both absent means 20 bins), after width choice and grid alignment, up to
// the clock's now. Plain-JSON responses carry only the first 2 500 of them.
func (s *Sim) Bins(ch Channel, beg, end int64, binCount int, binWidth time.Duration) ([]Bin, error) {
	i, ok := s.cat.lookup(ch)
	if !ok {
		return nil, errChannelNotFound
	}
	w, err := chooseWidth(beg, end, binCount, binWidth)
	if err != nil {
		return nil, err
	}
	b := newBinner(s.cat.def(i), beg, end, w, s.now().UnixNano())
	var out []Bin
	for {
		bin, ok := b.next()
		if !ok {
			return out, nil
		}
		out = append(out, bin)
	}
}

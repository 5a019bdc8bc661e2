package catalogue

import (
	"encoding/binary"
	"regexp/syntax"
	"slices"
	"unicode/utf8"
)

// A search only asks whether a name contains a match, not where, and names are short ASCII. Go's
// regexp answers that through its backtracker (~300 ns a name: a machine from a pool, a cleared
// bitmap, a start at every position), which dominates a scan of every name. dfaRunner answers it
// with a DFA built lazily from the same compiled program: a state is the set of program threads
// alive after the bytes read so far, with a new thread started at every position (the search is
// unanchored), and a name matches as soon as a state reaches the program's Match. A step is then
// one table lookup per byte. The RE2 program decides what each instruction matches
// (syntax.Inst.MatchRune), so the answers are RE2's by construction; names outside what the DFA
// reads (non-ASCII bytes, '\n', empty) and programs with word boundaries go to RE2 itself.

// dfaMaxStates bounds the states one runner builds (a pattern like `a.{30}b` needs exponentially
// many); past it the runner hands every name to RE2. The table then holds at most
// 1024×128×4 bytes.
const dfaMaxStates = 1024

// dfaAlphabet is the bytes a DFA reads: ASCII (byte = rune).
const dfaAlphabet = utf8.RuneSelf

// dfaEnd is the empty-width assertions that can hold at the end of a name (and not before it: a
// name the DFA reads holds no '\n').
const dfaEnd = syntax.EmptyEndText | syntax.EmptyEndLine

// dfaStart is the assertions that hold at the start of a name (and not after it).
const dfaStart = syntax.EmptyBeginText | syntax.EmptyBeginLine

// dfaProgram compiles the simplified pattern for dfaRunner; nil when the program asserts word
// boundaries (those depend on the neighbouring bytes, which a state does not hold).
func dfaProgram(tree *syntax.Regexp) *syntax.Prog {
	prog, err := syntax.Compile(tree)
	if err != nil {
		return nil
	}
	for i := range prog.Inst {
		inst := &prog.Inst[i]
		if inst.Op == syntax.InstEmptyWidth &&
			syntax.EmptyOp(inst.Arg)&(syntax.EmptyWordBoundary|syntax.EmptyNoWordBoundary) != 0 {
			return nil
		}
	}
	return prog
}

// dfaState is one DFA state.
type dfaState struct {
	// threads are the program counters of the threads waiting for the next byte (rune
	// instructions), and of those waiting for the end of the name (end assertions).
	threads []uint32
	accept  bool // a thread reached Match: the name matches, whatever follows
	atEnd   bool // a thread reaches Match if the name ends here
}

// dfaRunner is a lazily built DFA for one program, owned by one goroutine (building mutates it).
type dfaRunner struct {
	prog   *syntax.Prog
	states []dfaState
	ids    map[string]int32 // a state's sorted threads → its index
	// next[s*dfaAlphabet+c] is the state after state s reads byte c; -1 until computed.
	next  []int32
	first int32 // the state before the first byte
	full  bool  // dfaMaxStates reached: RE2 decides from now on

	// Scratch for closures: the threads being collected, which pcs this closure saw, and a
	// state's key in ids.
	key     []byte
	threads []uint32
	stack   []uint32
	seen    []uint32 // seen[pc] == epoch: visited in the current closure
	epoch   uint32
}

func newDFARunner(prog *syntax.Prog) *dfaRunner {
	d := &dfaRunner{prog: prog, ids: map[string]int32{}, seen: make([]uint32, len(prog.Inst))}
	d.begin()
	accept := d.closure(uint32(prog.Start), dfaStart)
	d.first = d.intern(accept)
	return d
}

// match reports whether name contains a match; ok is false when the DFA cannot tell (the caller
// asks RE2).
func (d *dfaRunner) match(name string) (matched, ok bool) {
	if len(name) == 0 || d.full {
		return false, false
	}
	s := d.first
	if d.states[s].accept {
		return true, true
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= dfaAlphabet || c == '\n' {
			return false, false
		}
		t := d.next[int(s)*dfaAlphabet+int(c)]
		if t < 0 {
			if t = d.step(s, c); t < 0 {
				return false, false
			}
		}
		if d.states[t].accept {
			return true, true
		}
		s = t
	}
	return d.states[s].atEnd, true
}

// step computes and records the state after s reads c; -1 when the state limit is reached.
func (d *dfaRunner) step(s int32, c byte) int32 {
	if len(d.states) >= dfaMaxStates {
		d.full = true
		return -1
	}
	d.begin()
	accept := false
	for _, pc := range d.states[s].threads {
		if inst := &d.prog.Inst[pc]; matchesByte(inst, c) {
			accept = d.closure(inst.Out, 0) || accept
		}
	}
	// Unanchored: a match may also start after c.
	accept = d.closure(uint32(d.prog.Start), 0) || accept
	t := d.intern(accept)
	d.next[int(s)*dfaAlphabet+int(c)] = t
	return t
}

// matchesByte reports whether a thread at inst consumes c.
func matchesByte(inst *syntax.Inst, c byte) bool {
	switch inst.Op {
	case syntax.InstRune, syntax.InstRune1:
		return inst.MatchRune(rune(c))
	case syntax.InstRuneAny:
		return true
	case syntax.InstRuneAnyNotNL:
		return c != '\n'
	}
	return false // an end assertion waiting for the end
}

// begin starts collecting a new state's threads.
func (d *dfaRunner) begin() {
	d.threads = d.threads[:0]
	d.epoch++
	if d.epoch == 0 { // wrapped: forget every mark
		clear(d.seen)
		d.epoch = 1
	}
}

// closure adds to d.threads the threads reached from pc without reading a byte, where the
// assertions in holds are true, and reports whether Match is reached. A thread stopped by an end
// assertion is kept (the name may end right here); one stopped by a start assertion dies (the
// start is behind).
func (d *dfaRunner) closure(pc uint32, holds syntax.EmptyOp) (accept bool) {
	stack := append(d.stack[:0], pc)
	for len(stack) > 0 {
		pc, stack = stack[len(stack)-1], stack[:len(stack)-1]
		if d.seen[pc] == d.epoch {
			continue
		}
		d.seen[pc] = d.epoch
		inst := &d.prog.Inst[pc]
		switch inst.Op {
		case syntax.InstAlt, syntax.InstAltMatch:
			stack = append(stack, inst.Arg, inst.Out)
		case syntax.InstNop, syntax.InstCapture:
			stack = append(stack, inst.Out)
		case syntax.InstEmptyWidth:
			switch op := syntax.EmptyOp(inst.Arg); {
			case op&^holds == 0:
				stack = append(stack, inst.Out)
			case op&^(holds|dfaEnd) == 0:
				d.threads = append(d.threads, pc)
			}
		case syntax.InstMatch:
			accept = true
		case syntax.InstFail:
		default: // rune instructions
			d.threads = append(d.threads, pc)
		}
	}
	d.stack = stack
	return accept
}

// intern returns the state of the collected threads, adding it when new. Accepting states are one
// state: nothing after them matters.
func (d *dfaRunner) intern(accept bool) int32 {
	d.key = d.key[:0]
	if accept {
		d.threads = d.threads[:0]
		d.key = append(d.key, 'a') // no thread list is one byte long
	} else {
		slices.Sort(d.threads)
		for _, pc := range d.threads {
			d.key = binary.LittleEndian.AppendUint32(d.key, pc)
		}
	}
	if id, ok := d.ids[string(d.key)]; ok {
		return id
	}
	st := dfaState{threads: slices.Clone(d.threads), accept: accept}
	st.atEnd = accept || d.acceptsAtEnd(st.threads)
	id := int32(len(d.states))
	d.states = append(d.states, st)
	d.ids[string(d.key)] = id
	for range dfaAlphabet {
		d.next = append(d.next, -1)
	}
	return id
}

// acceptsAtEnd reports whether one of threads reaches Match when the name ends: the threads
// waiting for an end assertion, which now holds.
func (d *dfaRunner) acceptsAtEnd(threads []uint32) bool {
	d.begin()
	for _, pc := range threads {
		if d.prog.Inst[pc].Op == syntax.InstEmptyWidth && d.closure(pc, dfaEnd) {
			return true
		}
	}
	return false
}

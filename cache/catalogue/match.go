package catalogue

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A channel search is "(?i)" + pattern, unanchored, against each name. Running RE2 on every one of
// 100 000 names costs 10-20 ms; most patterns the frontend sends (`^NAME$`, a substring, a word)
// contain a literal that every match must contain. nameMatcher finds the names holding that literal
// with strings.Index over one string of all case-folded names, and runs the regexp only on those.
// For a pattern that is nothing but a case-insensitive literal (optionally anchored) the literal
// test is the whole answer and the regexp is not run at all. Patterns without a usable literal
// (`.*`, `[0-9]+`, `a.b` with one-letter parts only, ...) fall back to the full scan. Where the
// regexp runs (the full scan, candidates of litVerify), a DFA built from its program decides most
// names (dfa.go).

// nameSep ends every name in the folded, joined string.
const nameSep = '\n'

// literalMode says what a match of the literal means for a candidate name.
type literalMode uint8

const (
	litVerify   literalMode = iota // the literal is only necessary: run the regexp
	litContains                    // the pattern is the literal: containing it is matching
	litPrefix                      // ^literal
	litSuffix                      // literal$
	litEqual                       // ^literal$
	litAnyOf                       // literal|literal|...: containing one of them is matching
)

// nameMatcher is one compiled search pattern.
type nameMatcher struct {
	re *regexp.Regexp // "(?i)" + pattern: the definition of a match
	// all: the pattern matches every name (".*", "", "x*"): no test at all.
	all bool
	// lits are folded strings of which every match contains at least one; empty: full scan.
	lits []string
	mode literalMode
	// prog is the pattern's program for dfaRunner when the regexp has to run (litVerify or the
	// full scan) and a DFA can read it; nil: RE2 decides.
	prog *syntax.Prog
}

// compileMatcher compiles a search pattern; the error is RE2's.
func compileMatcher(pattern string) (*nameMatcher, error) {
	full := "(?i)" + pattern
	re, err := regexp.Compile(full)
	if err != nil {
		return nil, err
	}
	m := &nameMatcher{re: re}
	tree, err := syntax.Parse(full, syntax.Perl) // regexp.Compile's own flags
	if err != nil {
		return m, nil // unreachable after Compile succeeded; the full scan is still right
	}
	tree = tree.Simplify()
	if re.MatchString("") && !hasAssertion(tree) {
		// Without assertions a match does not depend on its context: the empty match at the
		// start of any name is a match.
		m.all = true
		return m, nil
	}
	f := literalFactsOf(tree)
	switch {
	case f.exact && f.str != "":
		m.lits = []string{f.str}
	case !f.exact:
		m.lits = f.any
	}
	if lits, mode := literalShape(tree); mode != litVerify {
		m.lits, m.mode = lits, mode
		return m, nil
	}
	m.prog = dfaProgram(tree)
	return m, nil
}

// runner returns a DFA for one goroutine's names (nil: RE2 decides every name).
func (m *nameMatcher) runner() *dfaRunner {
	if m.prog == nil || m.mode != litVerify {
		return nil
	}
	return newDFARunner(m.prog)
}

// match runs the pattern on name: through run when it can tell, else RE2.
func (m *nameMatcher) match(run *dfaRunner, name string) bool {
	if run != nil {
		if matched, ok := run.match(name); ok {
			return matched
		}
	}
	return m.re.MatchString(name)
}

// hasAssertion reports whether re contains an empty-width assertion (^, $, \b, \B).
func hasAssertion(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return true
	}
	for _, sub := range re.Sub {
		if hasAssertion(sub) {
			return true
		}
	}
	return false
}

// String describes the plan, for tests and logs.
func (m *nameMatcher) String() string {
	if m.all {
		return "all"
	}
	if len(m.lits) == 0 {
		return "scan"
	}
	return fmt.Sprintf("literals %q mode %d", m.lits, m.mode)
}

// matchFolded decides a candidate by its folded name alone (modes other than litVerify).
func (m *nameMatcher) matchFolded(folded string) bool {
	lit := m.lits[0]
	switch m.mode {
	case litAnyOf:
		for _, l := range m.lits {
			if strings.Contains(folded, l) {
				return true
			}
		}
		return false
	case litContains:
		return strings.Contains(folded, lit)
	case litPrefix:
		return strings.HasPrefix(folded, lit)
	case litSuffix:
		return strings.HasSuffix(folded, lit)
	default: // litEqual
		return folded == lit
	}
}

// literalFacts is what a sub-expression says about the text it matches, in folded form.
type literalFacts struct {
	exact bool     // every match is str (up to case folding)
	str   string   // when exact
	any   []string // when not exact: every match contains one of these (none empty); nil: unknown
}

// literalFactsOf derives literalFacts bottom-up. Every rule only ever claims what holds for all
// matches, so the candidates it selects are a superset of the matches.
func literalFactsOf(re *syntax.Regexp) literalFacts {
	switch re.Op {
	case syntax.OpLiteral:
		return literalFacts{exact: true, str: foldRunes(re.Rune)}
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		// Zero-width: they match only the empty string, so neighbours stay adjacent.
		return literalFacts{exact: true}
	case syntax.OpCapture:
		return literalFactsOf(re.Sub[0])
	case syntax.OpPlus:
		return literalFacts{any: requiredSet(literalFactsOf(re.Sub[0]))}
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return literalFacts{any: requiredSet(literalFactsOf(re.Sub[0]))}
		}
	case syntax.OpConcat:
		return concatFacts(re.Sub)
	case syntax.OpAlternate:
		var union []string
		for _, sub := range re.Sub {
			set := requiredSet(literalFactsOf(sub))
			if set == nil {
				return literalFacts{}
			}
			union = append(union, set...)
		}
		slices.Sort(union)
		return literalFacts{any: slices.Compact(union)}
	}
	return literalFacts{}
}

// requiredSet is f as "every match contains one of": nil when f promises nothing non-empty.
func requiredSet(f literalFacts) []string {
	if f.exact {
		if f.str == "" {
			return nil
		}
		return []string{f.str}
	}
	return f.any
}

// concatFacts joins runs of exact neighbours into one literal and keeps the strongest requirement.
func concatFacts(subs []*syntax.Regexp) literalFacts {
	var best []string
	consider := func(set []string) {
		if setStrength(set) > setStrength(best) {
			best = set
		}
	}
	var run strings.Builder
	allExact := true
	for _, sub := range subs {
		f := literalFactsOf(sub)
		if f.exact {
			run.WriteString(f.str)
			continue
		}
		allExact = false
		if run.Len() > 0 {
			consider([]string{run.String()})
			run.Reset()
		}
		consider(f.any)
	}
	if allExact {
		return literalFacts{exact: true, str: run.String()}
	}
	if run.Len() > 0 {
		consider([]string{run.String()})
	}
	return literalFacts{any: best}
}

// setStrength ranks requirement sets: the shortest member bounds how selective the set is; more
// members mean more strings.Index passes.
func setStrength(set []string) int {
	if len(set) == 0 {
		return 0
	}
	shortest := len(set[0])
	for _, s := range set[1:] {
		shortest = min(shortest, len(s))
	}
	return shortest*16 - len(set)
}

// literalShape recognises patterns that are one case-insensitive literal, optionally anchored at
// the start and/or end of the name, or an unanchored alternation of such literals, for which the
// folded comparison is the exact answer.
func literalShape(re *syntax.Regexp) ([]string, literalMode) {
	re = uncapture(re)
	if re.Op == syntax.OpAlternate {
		lits := make([]string, 0, len(re.Sub))
		for _, sub := range re.Sub {
			lit, ok := exactLiteral(sub)
			if !ok {
				return nil, litVerify
			}
			lits = append(lits, lit)
		}
		slices.Sort(lits)
		return slices.Compact(lits), litAnyOf
	}
	var subs []*syntax.Regexp
	if re.Op == syntax.OpConcat {
		subs = re.Sub
	} else {
		subs = []*syntax.Regexp{re}
	}
	begin := len(subs) > 0 && subs[0].Op == syntax.OpBeginText
	if begin {
		subs = subs[1:]
	}
	end := len(subs) > 0 && subs[len(subs)-1].Op == syntax.OpEndText
	if end {
		subs = subs[:len(subs)-1]
	}
	if len(subs) != 1 {
		return nil, litVerify
	}
	s, ok := exactLiteral(subs[0])
	if !ok {
		return nil, litVerify
	}
	lits := []string{s}
	switch {
	case begin && end:
		return lits, litEqual
	case begin:
		return lits, litPrefix
	case end:
		return lits, litSuffix
	}
	return lits, litContains
}

// exactLiteral returns the folded text of a case-insensitive literal (see foldsExactly) that does
// not contain nameSep (a literal holding it could match across two joined names).
func exactLiteral(re *syntax.Regexp) (string, bool) {
	re = uncapture(re)
	if re.Op != syntax.OpLiteral || !foldsExactly(re) {
		return "", false
	}
	s := foldRunes(re.Rune)
	if strings.ContainsRune(s, nameSep) {
		return "", false
	}
	return s, true
}

func uncapture(re *syntax.Regexp) *syntax.Regexp {
	for re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	return re
}

// foldsExactly: the literal matches exactly the runes whose fold equals its own, i.e. it is
// case-insensitive, or every rune of it has no other case.
func foldsExactly(lit *syntax.Regexp) bool {
	if lit.Flags&syntax.FoldCase != 0 {
		return true
	}
	for _, r := range lit.Rune {
		if unicode.SimpleFold(r) != r {
			return false
		}
	}
	return true
}

// foldRune maps r to one representative of its case-folding orbit (the orbit RE2's (?i) matches):
// the orbit's smallest rune, lower-cased when that is an ASCII letter so that ASCII text folds to
// its familiar lower case. Two runes match each other case-insensitively exactly when they fold to
// the same rune.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		m = min(m, f)
	}
	if 'A' <= m && m <= 'Z' {
		m += 'a' - 'A'
	}
	return m
}

func foldRunes(rs []rune) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

// appendFolded appends s folded rune by rune. Invalid UTF-8 bytes become U+FFFD each, as RE2 reads
// them, so a literal U+FFFD finds them too.
func appendFolded(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		dst = utf8.AppendRune(dst, foldRune(r))
		i += w
	}
	return dst
}

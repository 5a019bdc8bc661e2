package sim

import (
	"regexp"
	"regexp/syntax"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// searchCacheMax bounds the remembered search results; the cache is simply emptied when full.
const searchCacheMax = 256

// searchCache remembers which catalogue entries a (pattern, icase) matched: the catalogue never
// changes, so repeated searches (every dashboard load) cost nothing.
type searchCache struct {
	mu      sync.Mutex
	results map[string][]int32
}

func newSearchCache() searchCache { return searchCache{results: make(map[string][]int32)} }

// nameMatcher is a compiled search: the regexp, the name list it runs on, and a literal every match
// must contain, used to find candidates with one strings.Index pass over the joined names instead
// of running the regexp on every name.
type nameMatcher struct {
	re      *regexp.Regexp
	names   []string
	joined  string
	literal string
}

// searchNames returns the catalogue entries whose name the unanchored regex matches.
func (s *Sim) searchNames(pattern string, icase bool) ([]int32, error) {
	key := "c\x00" + pattern
	if icase {
		key = "i\x00" + pattern
	}
	s.search.mu.Lock()
	res, ok := s.search.results[key]
	s.search.mu.Unlock()
	if ok {
		return res, nil
	}

	m, err := s.cat.compileSearch(pattern, icase)
	if err != nil {
		return nil, err
	}
	res = m.run(s.cat.starts)

	s.search.mu.Lock()
	defer s.search.mu.Unlock()
	if len(s.search.results) >= searchCacheMax {
		clear(s.search.results)
	}
	s.search.results[key] = res
	return res, nil
}

func (c *catalogue) compileSearch(pattern string, icase bool) (*nameMatcher, error) {
	if icase {
		if tree, ok := lowerPattern(pattern); ok {
			// A lower-cased pattern over lower-cased names keeps literals usable for
			// prefiltering, which (?i) would fold away.
			re, err := regexp.Compile(tree.String())
			if err == nil {
				return &nameMatcher{re: re, names: c.lower, joined: c.ljoined, literal: requiredLiteral(tree)}, nil
			}
		}
		re, err := regexp.Compile("(?i)" + pattern)
		if err != nil {
			return nil, err
		}
		return &nameMatcher{re: re, names: c.names}, nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	m := &nameMatcher{re: re, names: c.names, joined: c.joined}
	if tree, err := syntax.Parse(pattern, syntax.Perl); err == nil {
		m.literal = requiredLiteral(tree.Simplify())
	}
	return m, nil
}

// run returns the indices of matching names, ascending. starts[i] is name i's offset in joined.
func (m *nameMatcher) run(starts []int) []int32 {
	res := []int32{}
	if m.literal == "" {
		for i, n := range m.names {
			if m.re.MatchString(n) {
				res = append(res, int32(i))
			}
		}
		return res
	}
	for pos := 0; pos < len(m.joined); {
		j := strings.Index(m.joined[pos:], m.literal)
		if j < 0 {
			break
		}
		line := sort.Search(len(starts), func(i int) bool { return starts[i] > pos+j }) - 1
		if m.re.MatchString(m.names[line]) {
			res = append(res, int32(line))
		}
		if line+1 >= len(starts) {
			break
		}
		pos = starts[line+1]
	}
	return res
}

// requiredLiteral returns a case-sensitive literal that every match of re contains ("" if none is
// evident): the longest such literal of a concatenation, looking through captures and repeats.
func requiredLiteral(re *syntax.Regexp) string {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return ""
		}
		return string(re.Rune)
	case syntax.OpCapture, syntax.OpPlus:
		return requiredLiteral(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return requiredLiteral(re.Sub[0])
		}
	case syntax.OpConcat:
		best := ""
		for _, sub := range re.Sub {
			if l := requiredLiteral(sub); len(l) > len(best) {
				best = l
			}
		}
		return best
	}
	return ""
}

// lowerPattern rewrites a case-insensitive pattern into a case-sensitive one over ASCII-lower-cased
// input: folded literals become lower case (folded classes already hold both cases). It declines
// non-ASCII patterns and patterns with inline flags or Unicode classes, whose folding it cannot
// mirror exactly.
func lowerPattern(pattern string) (*syntax.Regexp, bool) {
	for i := 0; i < len(pattern); i++ {
		if pattern[i] >= utf8.RuneSelf {
			return nil, false
		}
	}
	if strings.Contains(pattern, "(?") || strings.Contains(pattern, `\p`) || strings.Contains(pattern, `\P`) {
		return nil, false
	}
	tree, err := syntax.Parse(pattern, syntax.Perl|syntax.FoldCase)
	if err != nil {
		return nil, false
	}
	var walk func(*syntax.Regexp)
	walk = func(re *syntax.Regexp) {
		if re.Op == syntax.OpLiteral && re.Flags&syntax.FoldCase != 0 {
			for i, r := range re.Rune {
				re.Rune[i] = unicode.ToLower(r)
			}
			re.Flags &^= syntax.FoldCase
		}
		for _, sub := range re.Sub {
			walk(sub)
		}
	}
	walk(tree)
	return tree.Simplify(), true
}

package catalogue

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"testing"
)

// dfaTestNames are ASCII names the DFA reads itself, plus the kinds it must hand to RE2.
var dfaTestNames = []string{
	"SARFE10-PSSS059:SPECTRUM_Y", "sarfe10-psss059:spectrum_y", "S10BC01-DBPM010:X1", "X", "x", "ab", "ba",
	"aab", "abab", "a.b", "a\tb", "AMPLT-AVG", "line", "SINE", "sine2", "CH000100", "12", "a1", "1a",
	"axxxxxxxxxxxxxxxxxxxb", "Straße", "\u212A", "k", "bad\xffbyte", "line1\nline2", "",
}

// dfaTestPatterns are search patterns of every construct the DFA reads (anchors, (?m), (?s),
// (?-i), classes, repetitions, empty alternatives) and those it declines (word boundaries).
var dfaTestPatterns = []string{
	`[a-z]+\d{2}`, `\d\d`, `^sarfe1\d-psss`, `spectrum_y$`, `^x$`, `^$`, `$`, `^`, `(?m)^line$`,
	`(?m)^line2$`, `a.b`, `(?s)a.b`, `(?-i)SINE`, `(?-i)sine`, `a|b$`, `(a|)b`, `(?:ab)+$`, `a{2,}b`,
	`[^a-z0-9]`, `\W`, `a.{15}b`, `k`, `(?-i)K`, `x*y`, `x*$`, `\bab\b`, `\Bb`, `\Ax`, `x\z`,
	`(?U)a+b`, `[[:upper:]]+`, `\pL\d`, `e$|^s`,
}

// TestDFAMatchesRE2: the DFA decides every non-empty ASCII name without '\n', as RE2 does; the
// others (unless a match came first) and word-boundary patterns are left to RE2.
func TestDFAMatchesRE2(t *testing.T) {
	for _, pattern := range dfaTestPatterns {
		re := regexp.MustCompile("(?i)" + pattern)
		prog := compileDFAProgram(t, pattern)
		if strings.Contains(pattern, `\b`) || strings.Contains(pattern, `\B`) {
			if prog != nil {
				t.Errorf("%q: a DFA program for a word-boundary pattern", pattern)
			}
			continue
		}
		if prog == nil {
			t.Errorf("%q: no DFA program", pattern)
			continue
		}
		run := newDFARunner(prog)
		for _, name := range dfaTestNames {
			got, ok := run.match(name)
			readable := name != "" && !strings.ContainsAny(name, "\n") && isASCII(name)
			if readable && !ok {
				t.Errorf("%q on %q: an ASCII name left to RE2", pattern, name)
			}
			if want := re.MatchString(name); ok && got != want {
				t.Errorf("%q on %q: DFA %v, RE2 %v", pattern, name, got, want)
			}
		}
	}
}

// TestDFAStateLimit: a pattern whose DFA outgrows dfaMaxStates hands names to RE2 instead of
// growing without bound.
func TestDFAStateLimit(t *testing.T) {
	// "a" exactly 12 bytes before the end: a state remembers the last 12 bytes' a-ness (4 096).
	prog := compileDFAProgram(t, `a.{11}$`)
	run := newDFARunner(prog)
	decided := 0
	for i := range 5000 {
		name := strings.NewReplacer("0", "a", "1", "b").Replace(fmt.Sprintf("%013b", i))
		if _, ok := run.match(name); ok {
			decided++
		}
	}
	if len(run.states) > dfaMaxStates || !run.full {
		t.Fatalf("%d states, full %v; want at most %d and full", len(run.states), run.full, dfaMaxStates)
	}
	if decided == 5000 {
		t.Error("every name decided by the DFA past its state limit")
	}
	if _, ok := run.match("ab"); ok {
		t.Error("a full DFA still decides")
	}
}

func compileDFAProgram(t testing.TB, pattern string) *syntax.Prog {
	t.Helper()
	tree, err := syntax.Parse("(?i)"+pattern, syntax.Perl)
	if err != nil {
		t.Fatal(err)
	}
	return dfaProgram(tree.Simplify())
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// FuzzDFA compares the DFA with RE2 on random patterns and names.
func FuzzDFA(f *testing.F) {
	for i, p := range dfaTestPatterns {
		f.Add(p, dfaTestNames[i%len(dfaTestNames)])
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		re, err := regexp.Compile("(?i)" + pattern)
		if err != nil {
			return
		}
		prog := compileDFAProgram(t, pattern)
		if prog == nil {
			return
		}
		run := newDFARunner(prog)
		// Twice: the second run reads the transitions the first one built.
		for range 2 {
			if got, ok := run.match(name); ok && got != re.MatchString(name) {
				t.Fatalf("%q on %q: DFA %v, RE2 %v", pattern, name, got, !got)
			}
		}
	})
}

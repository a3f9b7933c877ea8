package sqlident

import (
	"regexp"
	"strings"
	"testing"
)

// reference is the pattern the adapters used before this package.
var reference = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

func TestValid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"user", true}, {"_x", true}, {"A1_b2", true}, {"snake_case_table", true},
		{strings.Repeat("a", 63), true}, {strings.Repeat("a", 64), false},
		{"", false}, {"1abc", false}, {"a-b", false}, {"a b", false}, {"a.b", false},
		{`a"b`, false}, {"é", false}, {"a\x00", false}, {"ü_table", false}, {"a;drop", false},
	} {
		if got := Valid(tc.name); got != tc.want {
			t.Errorf("Valid(%q) = %v, want %v", tc.name, got, tc.want)
		}
		if got := reference.MatchString(tc.name); got != tc.want {
			t.Errorf("reference pattern on %q = %v, want %v (the table is wrong)", tc.name, got, tc.want)
		}
	}
}

func FuzzValidMatchesPattern(f *testing.F) {
	for _, s := range []string{"user", "_", "9", "a-b", strings.Repeat("z", 63), strings.Repeat("z", 64), "\xff", "aé"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := Valid(s), reference.MatchString(s); got != want {
			t.Fatalf("Valid(%q) = %v, the pattern says %v", s, got, want)
		}
	})
}

// qualifiedReference is the pattern storage's type names used before.
var qualifiedReference = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$`)

func FuzzValidQualifiedMatchesPattern(f *testing.F) {
	for _, s := range []string{"public.role", "role", "a.b.c", ".a", "a.", "1.a", "a.1", strings.Repeat("z", 63) + ".x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidQualified(s), qualifiedReference.MatchString(s); got != want {
			t.Fatalf("ValidQualified(%q) = %v, the pattern says %v", s, got, want)
		}
	})
}

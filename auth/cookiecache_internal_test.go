package auth

import (
	"regexp"
	"testing"
)

// TestIsISODate checks the hand-written date check against the regular
// expression it replaces, on the forms that matter and their near misses.
func TestIsISODate(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$`)
	for _, s := range []string{
		"2026-11-26T21:03:04Z", "2026-11-26T21:03:04.123Z", "2026-11-26T21:03:04.1234567Z",
		"2026-11-26T21:03:04.Z", "2026-11-26T21:03:04", "2026-11-26 21:03:04Z", "2026-11-26T21:03:04+00:00",
		"2026-11-26T21:03:04.12aZ", "226-11-26T21:03:04Z", "2026-1-26T21:03:04Z", "x2026-11-26T21:03:04Z",
		"2026-11-26T21:03:04Zx", "2026-11-26T21:03:0aZ", "", "Z", "2026-11-26T21:03:04ZZ", "２026-11-26T21:03:04Z",
	} {
		if got, want := isISODate(s), re.MatchString(s); got != want {
			t.Errorf("isISODate(%q) = %v, want %v", s, got, want)
		}
	}
}

package sqlbuild

import (
	"math/rand/v2"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/storage"
)

type bound struct {
	U  string
	OK bool
}

func TestAbove(t *testing.T) {
	t.Parallel()
	cases := []struct {
		s    string
		want bound
	}{
		{"\xc3(", bound{"À", true}},                 // c3 80 is the least above c3 28
		{"\xc3", bound{"À", true}},                  // a cut character
		{"a\xc3\xa9\xc3", bound{"aéÀ", true}},       // after a whole one
		{"\x80", bound{"\u0080", true}},             // a continuation byte: c2 80
		{"\xc1\xbf", bound{"\u0080", true}},         // overlong
		{"\xe0\x80\x80", bound{"\u0800", true}},     // overlong: e0 a0 80
		{"\xed\xa0\x80", bound{"\ue000", true}},     // a surrogate
		{"\xed\x9f\xbf\xff", bound{"\ue000", true}}, // U+D7FF, then nothing fits
		{"\x00", bound{"\x01", true}},               // NUL
		{"a\x00b", bound{"a\x01", true}},            // NUL inside
		{"\U0010FFFF\x00", bound{"\U0010FFFF\x01", true}},
		{"a\xf4\x90", bound{"b", true}},       // above U+10FFFF
		{"a\U0010FFFF\xf5", bound{"b", true}}, // after the last character
		{"\xff", bound{"", false}},            // above every string
		{"\U0010FFFF\U0010FFFF\xff", bound{"", false}},
	}
	for _, tc := range cases {
		u, ok := above(tc.s)
		if diff := cmp.Diff(tc.want, bound{u, ok}); diff != "" {
			t.Errorf("above(%q) (-want +got):\n%s", tc.s, diff)
		}
	}
}

// For random strings s that are not storable, the storable strings less
// than s are exactly those less than above(s), in byte order.
func TestAboveOrder(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(17, 11))
	bytes := []byte{0x00, 0x01, '(', 'a', 0x7f, 0x80, 0x8f, 0x90, 0xa0, 0xbf, 0xc2, 0xc3, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff}
	runes := []rune{1, 'a', 0x7f, 0x80, 0xc0, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfffd, 0xffff, 0x10000, 0x10ffff}
	gen := func() string {
		var b []byte
		for range rng.IntN(5) {
			if rng.IntN(2) == 0 {
				b = append(b, bytes[rng.IntN(len(bytes))])
			} else {
				b = utf8.AppendRune(b, runes[rng.IntN(len(runes))])
			}
		}
		return string(b)
	}
	var stored []string
	for len(stored) < 2000 {
		if s := gen(); storage.Storable(s) {
			stored = append(stored, s)
		}
	}
	for range 3000 {
		s := gen()
		if storage.Storable(s) {
			continue
		}
		u, ok := above(s)
		if ok && (!storage.Storable(u) || u <= s) {
			t.Fatalf("above(%q) = %q: not a storable string above it", s, u)
		}
		for _, x := range stored {
			if below, want := !ok || x < u, x < s; below != want {
				t.Fatalf("above(%q) = %q, %v: %q < %q is %v", s, u, ok, x, s, want)
			}
		}
	}
}

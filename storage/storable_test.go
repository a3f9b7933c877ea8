package storage_test

import (
	"testing"

	"github.com/managarten/mana-auth/storage"
)

func TestStorable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		s    string
		want bool
	}{
		{"", true},
		{"ann@example.com", true},
		{"éve ☃ 日本 👩‍💻 \uFFFD \U0010FFFF", true},
		{"\x01\t\n\x7f", true},
		{"\x00", false},
		{"ann\x00", false},
		{"é\x00", false},            // a NUL after a non-ASCII character
		{"\xc3(", false},            // a cut two-byte sequence
		{"É"[:1], false},            // a character cut in half
		{"a\xed\xa0\x80b", false},   // a lone surrogate (WTF-8)
		{"\xc0\xaf", false},         // overlong
		{"\xf4\x90\x80\x80", false}, // above U+10FFFF
		{"\xff", false},
	}
	for _, tc := range cases {
		if got := storage.Storable(tc.s); got != tc.want {
			t.Errorf("Storable(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
}

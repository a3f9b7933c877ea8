package plugin

import (
	"net/http"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrInvalidName is CheckName's answer.
var ErrInvalidName = NewError(http.StatusBadRequest, "INVALID_NAME", "Name must be at most 256 characters without control or invisible characters")

// emailPattern is the address syntax of Zod 4's z.email(), with which
// Better Auth 1.7 validates addresses: dot-separated local parts of ASCII
// letters, digits and _ ' + - (the last character not '), and a dotted
// domain of letter, digit and hyphen labels ending in a top-level domain of
// two or more letters. Being ASCII, it admits no invisible, bidi, space,
// control or look-alike character anywhere.
var emailPattern = regexp.MustCompile(`^(?:[A-Za-z0-9_'+\-]+\.)*[A-Za-z0-9_'+\-]*[A-Za-z0-9_+-]@(?:[A-Za-z0-9][A-Za-z0-9\-]*\.)+[A-Za-z]{2,}$`)

// ValidEmail reports whether s is an email address Better Auth accepts
// (Zod's z.email(): ASCII only, so no address can look like another
// through invisible or look-alike characters) that also fits the lengths
// of RFC 5321 (local part 64 bytes, domain labels 63, address 254) and has
// no domain label ending in a hyphen.
func ValidEmail(s string) bool {
	if len(s) > 254 || !emailPattern.MatchString(s) {
		return false
	}
	at := strings.IndexByte(s, '@')
	if at > 64 {
		return false
	}
	for l := range strings.SplitSeq(s[at+1:], ".") {
		if len(l) > 63 || strings.HasSuffix(l, "-") {
			return false
		}
	}
	return true
}

// NormalizeEmail trims and lower-cases an email address, as every route
// stores and looks up emails.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// CheckName returns ErrInvalidName unless name is valid UTF-8 of at most
// 256 UTF-16 code units (and 1024 bytes) with no HiddenRune and no U+FFFD.
// Every name a user gives is checked with it: their own (sign-up,
// update-user, magic link) and an organization's.
func CheckName(name string) error {
	if len(name) > 1024 || utf16Len(name) > 256 {
		return ErrInvalidName
	}
	for _, r := range name {
		if HiddenRune(r) || r == utf8.RuneError { // U+FFFD, or invalid UTF-8
			return ErrInvalidName
		}
	}
	return nil
}

// HiddenRune reports whether r hides or disguises text instead of showing
// as a character: a control character (C0, DEL, C1), the line or paragraph
// separator, or an invisible format character or other default-ignorable
// code point (bidi controls and marks, zero-width space, word joiner, byte
// order mark, soft hyphen, tag characters, Hangul fillers, …). The
// zero-width joiner and non-joiner are not hidden runes: emoji sequences
// and scripts such as Persian need them. Names may not contain hidden
// runes, and package mail renders none into an email.
func HiddenRune(r rune) bool {
	switch {
	case r == '\u200c' || r == '\u200d':
		return false
	case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
		return true
	}
	return unicode.In(r, unicode.Cf, unicode.Other_Default_Ignorable_Code_Point)
}

// utf16Len is the length of s in UTF-16 code units, as JavaScript counts.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

package auth

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind is the expected JSON type of a body parameter.
type Kind int

// Parameter kinds.
const (
	KindString Kind = iota + 1
	KindEmail       // a string that must be an email address
	KindBool
	KindNumber
	KindObject
	KindArray
	KindAny
)

// String returns the kind's name as validation messages use it.
func (k Kind) String() string {
	switch k {
	case KindString, KindEmail:
		return "string"
	case KindBool:
		return "boolean"
	case KindNumber:
		return "number"
	case KindObject:
		return "object"
	case KindArray:
		return "array"
	}
	return "any"
}

// Param declares one body parameter of an endpoint. The pipeline checks
// declared parameters before the session and the handler run, answering
// 400 VALIDATION_ERROR with Better Auth's "[body.name] message" text.
type Param struct {
	Name     string
	Kind     Kind
	Optional bool
}

// JSONKind names the JSON type of a decoded value as validation messages
// do: "string", "number", "boolean", "object", "array", "null".
func JSONKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number, float64:
		return "number"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return "unknown"
}

// validateBody checks body against params. bodyPresent distinguishes an
// absent body from an empty object.
func validateBody(body any, present bool, params []Param, additional bool) error {
	if len(params) == 0 {
		return nil
	}
	obj, ok := body.(map[string]any)
	if !ok {
		allOptional := true
		for _, p := range params {
			allOptional = allOptional && p.Optional
		}
		if !present && allOptional {
			return nil
		}
		got := "undefined"
		if present {
			got = JSONKind(body)
		}
		msg := "[body] Invalid input: expected object, received " + got
		if additional {
			msg += "; [body] Invalid input: expected record, received " + got
		}
		return ErrValidation.WithMessage(msg)
	}
	var issues []string
	for _, p := range params {
		v, ok := obj[p.Name]
		if !ok || v == nil && p.Optional {
			if !p.Optional {
				issues = append(issues, fmt.Sprintf("[body.%s] Invalid input: expected %s, received undefined", p.Name, p.Kind))
			}
			continue
		}
		got := JSONKind(v)
		want := p.Kind.String()
		if p.Kind != KindAny && got != want {
			issues = append(issues, fmt.Sprintf("[body.%s] Invalid input: expected %s, received %s", p.Name, want, got))
			continue
		}
		if p.Kind == KindEmail && !ValidEmail(strings.TrimSpace(v.(string))) {
			issues = append(issues, fmt.Sprintf("[body.%s] Invalid email address", p.Name))
		}
	}
	if len(issues) > 0 {
		return ErrValidation.WithMessage(strings.Join(issues, "; "))
	}
	return nil
}

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

// String returns the body parameter name as a string ("" if absent or not
// a string).
func (c *Context) String(name string) string { s, _ := c.body[name].(string); return s }

// Bool returns the body parameter name as a bool, or def if absent.
func (c *Context) Bool(name string, def bool) bool {
	b, ok := c.body[name].(bool)
	if !ok {
		return def
	}
	return b
}

// Has reports whether the body has parameter name.
func (c *Context) Has(name string) bool { _, ok := c.body[name]; return ok }

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

func checkImage(img *string) error {
	if img == nil {
		return nil
	}
	if len(*img) > 2048 {
		return ErrInvalidImage
	}
	for _, r := range *img {
		if unicode.IsControl(r) {
			return ErrInvalidImage
		}
	}
	return nil
}

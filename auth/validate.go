package auth

import (
	"encoding/json"
	"fmt"
	"net/mail"
	"strings"
	"unicode"
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

// ValidEmail reports whether s is a plausible email address: one "@", a
// non-empty local part, a dotted domain, no spaces or control characters,
// at most 254 bytes.
func ValidEmail(s string) bool {
	if len(s) > 254 || len(s) < 3 {
		return false
	}
	for _, r := range s {
		if r <= 0x20 || r == 0x7f || r == '<' || r == '>' || r == '(' || r == ')' || r == ',' || r == ';' || r == '"' || r == '\\' {
			return false
		}
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || strings.Count(s, "@") != 1 {
		return false
	}
	local, domain := s[:at], s[at+1:]
	if len(local) > 64 || strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return false
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return false
		}
	}
	if len(labels[len(labels)-1]) < 2 {
		return false
	}
	_, err := mail.ParseAddress(s)
	return err == nil
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

func checkName(name string) error {
	if len(name) > 1024 || utf16Len(name) > 256 {
		return ErrInvalidName
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return ErrInvalidName
		}
	}
	return nil
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

// Package sqlident says which names the storage adapters and the rate
// limiter's PostgreSQL store accept as SQL identifiers (schemas, tables,
// columns, check constraints, PostgreSQL types):
//
//	if !sqlident.Valid(name) {
//		return fmt.Errorf("%q is not an identifier", name)
//	}
package sqlident

import "strings"

// MaxLen is the longest identifier accepted: PostgreSQL truncates names
// longer than 63 bytes, so two longer names could silently become one.
const MaxLen = 63

// Valid reports whether name is an ASCII letter or underscore followed by
// ASCII letters, digits and underscores, at most MaxLen bytes: a name that
// is the same quoted or not on every supported database, and safe to
// write between double quotes.
func Valid(name string) bool {
	if len(name) == 0 || len(name) > MaxLen {
		return false
	}
	for i := range len(name) {
		c := name[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// ValidQualified reports whether name is an identifier or two joined by
// one dot (schema.name), each Valid.
func ValidQualified(name string) bool {
	first, rest, dotted := strings.Cut(name, ".")
	return Valid(first) && (!dotted || Valid(rest))
}

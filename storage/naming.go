package storage

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"

	"github.com/managarten/mana-auth/internal/sqlident"
)

// Naming maps the logical names of a [Schema] to the names of an existing
// database, as Better Auth's options do: a table's modelName (Tables), a
// field's column (Fields, Better Auth's fields: {emailVerified:
// "email_verified"}) and the adapter's usePlural (Plural). Types declares
// the database type of a column that is not the adapter's own, such as a
// PostgreSQL enum. Keys are logical names: tables as the core and the
// plugins declare them ("user", "session", "twoFactor", …), fields as in
// records ("emailVerified", "userId", …).
//
// It is JSON-decodable, so that a mapping can be a file:
//
//	{
//	  "plural": false,
//	  "tables": {"user": "users", "session": "sessions"},
//	  "fields": {"user": {"emailVerified": "email_verified", "createdAt": "created_at"}},
//	  "types":  {"user": {"role": "auth.user_role"}}
//	}
//
// The zero Naming changes nothing. [Naming.Apply] applies it to a schema
// (auth.New does, to the core's and every plugin's tables together).
type Naming struct {
	// Plural appends "s" to the name of every table that Tables does not
	// name, as Better Auth's usePlural does: "users", "sessions",
	// "verifications", "jwkss", "twoFactors", …. A table named in Tables
	// keeps exactly that name (Better Auth would pluralise a modelName
	// too: write the plural there).
	Plural bool `json:"plural,omitempty"`
	// Tables gives a table's name in the database, by logical table name.
	Tables map[string]string `json:"tables,omitempty"`
	// Fields gives a field's column name, by logical table name and then
	// logical field name. The primary key "id" cannot be renamed.
	Fields map[string]map[string]string `json:"fields,omitempty"`
	// Types gives the database type of a String field's column where it
	// is not the adapter's own (text), by logical table name and then
	// logical field name: a PostgreSQL enum such as "auth.user_role"
	// (optionally schema-qualified; the type must exist). The PostgreSQL
	// adapter casts every value written to it ($1::auth.user_role), reads
	// and compares the column as text, and creates a missing column with
	// that type. Adapters without such types (SQLite, memory) ignore it.
	Types map[string]map[string]string `json:"types,omitempty"`
}

// IsZero reports whether n changes nothing.
func (n Naming) IsZero() bool {
	return !n.Plural && len(n.Tables) == 0 && len(n.Fields) == 0 && len(n.Types) == 0
}

// Only returns the part of n that concerns the tables named: their
// entries in Tables, Fields and Types, and Plural. It is what code that
// keeps a table of its own outside the schema (the rate-limit store of
// ratelimit/postgres) applies to that table.
func (n Naming) Only(tables ...string) Naming {
	keep := func(t string) bool { return slices.Contains(tables, t) }
	return n.filter(keep)
}

// Without returns n without the entries of the tables named (see
// [Naming.Only]).
func (n Naming) Without(tables ...string) Naming {
	keep := func(t string) bool { return !slices.Contains(tables, t) }
	return n.filter(keep)
}

func (n Naming) filter(keep func(string) bool) Naming {
	out := Naming{Plural: n.Plural}
	for t, name := range n.Tables {
		if keep(t) {
			if out.Tables == nil {
				out.Tables = map[string]string{}
			}
			out.Tables[t] = name
		}
	}
	sub := func(m map[string]map[string]string) map[string]map[string]string {
		var o map[string]map[string]string
		for t, fs := range m {
			if keep(t) {
				if o == nil {
					o = map[string]map[string]string{}
				}
				o[t] = maps.Clone(fs)
			}
		}
		return o
	}
	out.Fields, out.Types = sub(n.Fields), sub(n.Types)
	return out
}

// Apply renames the tables and columns of s and sets the database types
// of its columns as n says (Table.DBName, Field.Column, Field.DBType),
// and rewrites the column names in the tables' CHECK expressions to
// match. Apply it once, to a schema with its declared names.
//
// Everything is checked before s is changed; the error lists every
// problem, each naming the table and field: a table or field that s does
// not have, an empty or invalid name, "id" renamed, a type on a field
// that is not a String, two tables given the same name or two fields of
// one table the same column (compared ignoring case, as SQLite does).
// On error s is unchanged.
func (n Naming) Apply(s *Schema) error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }

	for _, t := range sortedKeys(n.Tables) {
		name := n.Tables[t]
		switch {
		case s.Table(t) == nil:
			bad("tables: unknown table %q", t)
		case name == "":
			bad("tables: table %q: empty name", t)
		case !sqlident.Valid(name):
			bad("tables: table %q: invalid table name %q (letters, digits and _, at most 63)", t, name)
		}
	}
	checkFields := func(what string, m map[string]map[string]string, check func(t *Table, f Field, v string)) {
		for _, tn := range sortedKeys(m) {
			t := s.Table(tn)
			if t == nil {
				bad("%s: unknown table %q", what, tn)
				continue
			}
			for _, fn := range sortedKeys(m[tn]) {
				f, ok := t.Field(fn)
				if !ok {
					bad("%s: table %q has no field %q", what, tn, fn)
					continue
				}
				check(t, f, m[tn][fn])
			}
		}
	}
	checkFields("fields", n.Fields, func(t *Table, f Field, col string) {
		switch {
		case f.Name == "id":
			bad("fields: %s.id: the id column cannot be renamed", t.Name)
		case col == "":
			bad("fields: %s.%s: empty column name", t.Name, f.Name)
		case !sqlident.Valid(col):
			bad("fields: %s.%s: invalid column name %q (letters, digits and _, at most 63)", t.Name, f.Name, col)
		}
	})
	checkFields("types", n.Types, func(t *Table, f Field, typ string) {
		switch {
		case f.Name == "id":
			bad("types: %s.id: the id column's type cannot be set", t.Name)
		case f.Type != String:
			bad("types: %s.%s: a database type can only be given to a string field, not a %s", t.Name, f.Name, f.Type)
		case typ == "":
			bad("types: %s.%s: empty type", t.Name, f.Name)
		case !sqlident.ValidQualified(typ):
			bad("types: %s.%s: invalid type %q (a name, optionally schema.name)", t.Name, f.Name, typ)
		}
	})
	if len(errs) > 0 {
		return namingError(errs)
	}

	// The names each table and column would have.
	tableName := func(t *Table) string {
		if name, ok := n.Tables[t.Name]; ok {
			return name
		}
		if n.Plural {
			return t.TableName() + "s"
		}
		return t.TableName()
	}
	columnName := func(t *Table, f Field) string {
		if col, ok := n.Fields[t.Name][f.Name]; ok {
			return col
		}
		return f.ColumnName()
	}
	tablesByName := map[string][]string{}
	for i := range s.Tables {
		t := &s.Tables[i]
		k := strings.ToLower(tableName(t))
		tablesByName[k] = append(tablesByName[k], t.Name)
		cols := map[string][]string{"id": {"id"}}
		for _, f := range t.Fields {
			k := strings.ToLower(columnName(t, f))
			cols[k] = append(cols[k], f.Name)
		}
		for _, k := range sortedKeys(cols) {
			if fs := cols[k]; len(fs) > 1 {
				bad("table %s (%s): fields %s all map to column %q", t.Name, tableName(t), strings.Join(fs, ", "), k)
			}
		}
	}
	for _, k := range sortedKeys(tablesByName) {
		if ts := tablesByName[k]; len(ts) > 1 {
			bad("tables %s all map to table %q", strings.Join(ts, ", "), k)
		}
	}
	if len(errs) > 0 {
		return namingError(errs)
	}

	for i := range s.Tables {
		t := &s.Tables[i]
		if name := tableName(t); name != t.TableName() {
			t.DBName = name
		}
		renamed := map[string]string{} // old column -> new
		fields := slices.Clone(t.Fields)
		for j := range fields {
			f := &fields[j]
			if col := columnName(t, *f); col != f.ColumnName() {
				renamed[f.ColumnName()] = col
				f.Column = col
			}
			if typ, ok := n.Types[t.Name][f.Name]; ok {
				f.DBType = typ
			}
		}
		t.Fields = fields
		if len(renamed) > 0 && len(t.Checks) > 0 {
			checks := slices.Clone(t.Checks)
			for j := range checks {
				checks[j].Expr = renameColumns(checks[j].Expr, renamed)
			}
			t.Checks = checks
		}
	}
	return nil
}

// namingError is the error of Apply.
func namingError(problems []string) error {
	if len(problems) == 1 {
		return errors.New("storage: naming: " + problems[0])
	}
	return errors.New("storage: naming:\n  " + strings.Join(problems, "\n  "))
}

// renameColumns rewrites the double-quoted identifiers of an SQL
// expression that renamed maps, leaving string literals alone.
func renameColumns(expr string, renamed map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(expr); {
		switch expr[i] {
		case '\'':
			j := i + 1
			for j < len(expr) {
				if expr[j] == '\'' {
					if j+1 < len(expr) && expr[j+1] == '\'' {
						j += 2
						continue
					}
					break
				}
				j++
			}
			j = min(j+1, len(expr))
			b.WriteString(expr[i:j])
			i = j
		case '"':
			j := i + 1
			var id strings.Builder
			for j < len(expr) {
				if expr[j] == '"' {
					if j+1 < len(expr) && expr[j+1] == '"' {
						id.WriteByte('"')
						j += 2
						continue
					}
					break
				}
				id.WriteByte(expr[j])
				j++
			}
			if j >= len(expr) { // unterminated: leave it
				b.WriteString(expr[i:])
				return b.String()
			}
			if nw, ok := renamed[id.String()]; ok {
				b.WriteString(`"` + strings.ReplaceAll(nw, `"`, `""`) + `"`)
			} else {
				b.WriteString(expr[i : j+1])
			}
			i = j + 1
		default:
			b.WriteByte(expr[i])
			i++
		}
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// SnakeCase returns name in snake_case as Drizzle's casing: "snake_case"
// writes it: "emailVerified" → "email_verified", "userId" → "user_id",
// "credentialID" → "credential_id", "twoFactorEnabled" →
// "two_factor_enabled". Its words are what the regular expression
// [\da-z]+|[A-Z]+(?![a-z])|[A-Z][\da-z]+ matches, lower-cased and joined
// with "_"; other characters only separate them.
func SnakeCase(name string) string {
	r := []rune(name)
	lowerOrDigit := func(c rune) bool { return unicode.IsLower(c) || unicode.IsDigit(c) }
	var words []string
	for i := 0; i < len(r); {
		switch {
		case lowerOrDigit(r[i]):
			j := i
			for j < len(r) && lowerOrDigit(r[j]) {
				j++
			}
			words = append(words, string(r[i:j]))
			i = j
		case unicode.IsUpper(r[i]):
			j := i
			for j < len(r) && unicode.IsUpper(r[j]) {
				j++
			}
			switch {
			case j == len(r) || !unicode.IsLower(r[j]): // capitals not followed by a lower-case letter
				words = append(words, string(r[i:j]))
				i = j
			case j-i > 1: // "HTMLParser": "HTML", then "Parser"
				words = append(words, string(r[i:j-1]))
				i = j - 1
			default: // one capital, then lower-case letters and digits
				k := j
				for k < len(r) && lowerOrDigit(r[k]) {
					k++
				}
				words = append(words, string(r[i:k]))
				i = k
			}
		default:
			i++
		}
	}
	return strings.ToLower(strings.Join(words, "_"))
}

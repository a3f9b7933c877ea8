// Package sqlbuild holds what the SQL storage adapters (storage/sqlite and
// storage/postgres) share: a bound schema with its quoted names and column
// lists computed once, the statements of the [storage.Adapter] operations
// (INSERT, SELECT with WHERE / ORDER BY / LIMIT, the joined SELECT of
// [storage.Joiner], UPDATE, DELETE, COUNT), the conversion of values and
// rows, and migration planning: the comparison of a schema with what a
// database holds and the DDL that brings it up to date.
//
// What differs between databases is described by a [Dialect] that each
// adapter provides: placeholders ($1 or ?), how a table name is qualified,
// column types, how values are encoded and decoded, how In lists and
// substring patterns are written, and what a migration can change on an
// existing table. The operations themselves (Create, FindOne, …) are
// written once, over a [Runner] that each adapter implements: running the
// statements (connections, transactions, prepared statements, error
// mapping) and reading the database catalog stay in the adapters.
//
// Statements are built with one [strings.Builder] each, from column lists
// quoted when the schema is bound, so that building the SQL of a call costs
// little next to running it. The SQL text of a call depends only on the
// schema and on the shape of the call (tables, fields, operators, NULL
// tests, strings that are not [storage.Storable], list lengths, sorts,
// whether there is a limit), never on values, so that drivers can cache
// prepared statements by text. A string that is not storable is never an
// argument: a condition on it is written as the condition on storable
// strings it amounts to (see [storage.Where]), and a write of it is
// refused with [storage.ErrInvalidValue].
package sqlbuild

import (
	"strconv"
	"strings"

	"github.com/managarten/mana-auth/storage"
)

// Dialect describes a database for the builders. Its fields are set once,
// by the adapter, and not changed afterwards.
type Dialect struct {
	// Name prefixes error messages ("sqlite", "postgres").
	Name string
	// Schema is the database schema that qualifies every table name
	// ("schema"."table"), or "" for unqualified names.
	Schema string
	// Numbered selects numbered placeholders ($1, $2, …); otherwise every
	// placeholder is ?.
	Numbered bool
	// FoldCase says that identifiers are case-insensitive: the reserved
	// table name is matched ignoring case, and the keys of a [DBState] are
	// lower-cased names.
	FoldCase bool
	// ColumnType returns the column type of a field type.
	ColumnType func(storage.FieldType) string
	// Encode converts a normalized value (string, bool, int64 or
	// time.Time; never nil) to the argument the driver is given. Nil
	// passes values as they are.
	Encode func(any) any
	// Decode converts a column value read by the driver to the canonical
	// Go type of f (see [storage.Record]); v may be nil (NULL).
	Decode func(f storage.Field, v any) (any, error)
	// DBTypes says that the database honours [storage.Field.DBType]: a
	// column of another type than ColumnType's (an enum) holding a String
	// field, whose values are written cast to it ($1::type) and read and
	// compared cast to text (col::text). Without it DBType is ignored.
	DBTypes bool
	// Collate is appended to a String column compared with <, <=, > or >=
	// and to one sorted on (` COLLATE "C"` for byte order), or "".
	Collate string
	// False is a condition that matches nothing ("FALSE", "0 = 1").
	False string
	// Array, when set, passes an In / NotIn list as one array argument:
	// col = ANY($n), col <> ALL($n). It converts the normalized values of
	// a list to the argument, dropping NULLs, and returns how many values
	// it holds and whether there were NULLs. When nil, each value of a
	// list has its own placeholder: col IN (?, ?).
	Array func(t storage.FieldType, list []any) (arg any, n int, hasNull bool)
	// Match is the case-sensitive pattern operator of Contains,
	// StartsWith and EndsWith ("GLOB", "LIKE"), Wildcard its
	// any-characters wildcard ("*", "%"), Escape makes a string match
	// itself in a pattern, and MatchSuffix follows the pattern's
	// placeholder (" ESCAPE '!'", or "").
	Match, Wildcard string
	Escape          func(string) string
	MatchSuffix     string
	// LimitWithOffset writes LIMIT and OFFSET together whenever either is
	// set, with a limit of -1 for none (SQLite); otherwise each is written
	// only when it is non-zero.
	LimitWithOffset bool

	// AppliedAt is the type and constraints of the applied_at column of
	// the migrations table.
	AppliedAt string
	// AddColumnIfNotExists writes ADD COLUMN IF NOT EXISTS.
	AddColumnIfNotExists bool
	// AddNotNull says that a required column added to a table without
	// rows can be NOT NULL; otherwise added columns are always nullable.
	AddNotNull bool
	// NullableReason ends the warning about a required column added as
	// nullable.
	NullableReason string
	// AddCheck says that a CHECK constraint can be added to an existing
	// table (a step with Check set); otherwise a missing one is reported
	// with a warning ending with CheckReason.
	AddCheck    bool
	CheckReason string
	// TypeMatches, when set, reports whether a column of the database type
	// typ (as read by the adapter) can hold a field of type t; a mismatch
	// is a migration warning.
	TypeMatches func(t storage.FieldType, typ string) bool
}

// Quote quotes an SQL identifier.
func Quote(id string) string { return `"` + strings.ReplaceAll(id, `"`, `""`) + `"` }

// Table returns the quoted, qualified name of the table called name.
func (d *Dialect) Table(name string) string {
	if d.Schema == "" {
		return Quote(name)
	}
	return Quote(d.Schema) + "." + Quote(name)
}

// key is name as a key of a DBState.
func (d *Dialect) key(name string) string {
	if d.FoldCase {
		return strings.ToLower(name)
	}
	return name
}

// encode converts a non-nil normalized value to a driver argument.
func (d *Dialect) encode(v any) any {
	if d.Encode == nil {
		return v
	}
	return d.Encode(v)
}

// builder writes one statement and collects its arguments.
type builder struct {
	strings.Builder
	d    *Dialect
	args []any
}

// arg appends v to the arguments and writes its placeholder.
func (b *builder) arg(v any) {
	b.args = append(b.args, v)
	b.mark(len(b.args))
}

// mark writes the placeholder of the n-th argument.
func (b *builder) mark(n int) {
	if !b.d.Numbered {
		b.WriteByte('?')
		return
	}
	var buf [20]byte
	b.WriteByte('$')
	b.Write(strconv.AppendInt(buf[:0], int64(n), 10))
}

// col writes column i of t as it is read and compared (cast to text when
// its database type is not the dialect's own), qualified by alias unless
// alias is "".
func (b *builder) col(t *Table, alias string, i int) {
	if alias != "" {
		b.WriteString(alias)
		b.WriteByte('.')
	}
	b.WriteString(t.reads[i])
}

// Package storage describes the tables an auth deployment needs and the small
// adapter interface every database backend implements.
//
// The core and every plugin declare their tables as a [Schema]; an [Adapter]
// serves generic create / find / update / delete / count operations over those
// tables with simple where-clauses, and runs transactions. That is what lets a
// third-party plugin add a table without touching any adapter.
//
// Records are maps from logical (camelCase) field names to Go values:
//
//	string      for String fields (and ids); valid UTF-8 without NUL ([Storable])
//	bool        for Bool fields
//	int64       for Int fields
//	time.Time   for Date fields (UTC, millisecond precision)
//	nil         for a NULL in an optional field
//
// Adapters translate logical names to the column names of the schema
// (Better Auth's by default) and back, so the rest of the code never sees a
// column name. A [Naming] renames tables and columns to those of an
// existing database (Better Auth's modelName, fields and usePlural) and
// declares columns of a type of their own, such as a PostgreSQL enum.
//
// Usage:
//
//	s := storage.Schema{Tables: []storage.Table{{
//		Name: "note",
//		Fields: []storage.Field{
//			{Name: "userId", Type: storage.String, Required: true, Index: true,
//				References: &storage.Reference{Table: "user", Field: "id", OnDelete: storage.Cascade}},
//			{Name: "body", Type: storage.String, Required: true},
//		},
//	}}}
//	db := memory.New()
//	_ = db.Bind(s)
//	err := db.Create(ctx, "note", storage.Record{"id": "n1", "userId": "u1", "body": "hi"})
package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/managarten/mana-auth/internal/sqlident"
)

// Sentinel errors every adapter returns (possibly wrapped).
var (
	// ErrNotFound is returned by FindOne when no record matches.
	ErrNotFound = errors.New("storage: not found")
	// ErrConflict is returned when a write violates a unique constraint.
	ErrConflict = errors.New("storage: unique constraint violated")
	// ErrConstraint is returned when a write violates another constraint
	// (a foreign key or a CHECK).
	ErrConstraint = errors.New("storage: constraint violated")
	// ErrUnavailable is returned when the database cannot be reached.
	ErrUnavailable = errors.New("storage: database unavailable")
	// ErrInvalidValue is returned when a write holds a string that is not
	// [Storable] (invalid UTF-8 or a NUL byte). The error names the field,
	// never the value, and nothing is written.
	ErrInvalidValue = errors.New("storage: invalid value")
)

// Record is one row: logical field name to value. The "id" key holds the
// primary key.
type Record map[string]any

// String returns the string value of field k, or "" if absent or not a string.
func (r Record) String(k string) string { s, _ := r[k].(string); return s }

// Bool returns the bool value of field k.
func (r Record) Bool(k string) bool { b, _ := r[k].(bool); return b }

// Int returns the int64 value of field k.
func (r Record) Int(k string) int64 { n, _ := r[k].(int64); return n }

// Time returns the time value of field k, or the zero time.
func (r Record) Time(k string) time.Time { t, _ := r[k].(time.Time); return t }

// StringPtr returns a pointer to the string value of field k, or nil for NULL.
func (r Record) StringPtr(k string) *string {
	s, ok := r[k].(string)
	if !ok {
		return nil
	}
	return &s
}

// TimePtr returns a pointer to the time value of field k, or nil for NULL.
func (r Record) TimePtr(k string) *time.Time {
	t, ok := r[k].(time.Time)
	if !ok {
		return nil
	}
	return &t
}

// Op is a comparison operator of a [Where] clause.
type Op string

// The operators every adapter supports.
const (
	Eq         Op = "eq"
	Ne         Op = "ne"
	Lt         Op = "lt"
	Lte        Op = "lte"
	Gt         Op = "gt"
	Gte        Op = "gte"
	In         Op = "in"     // Value is a []any (or []string)
	NotIn      Op = "not_in" // Value is a []any (or []string)
	Contains   Op = "contains"
	StartsWith Op = "starts_with"
	EndsWith   Op = "ends_with"
)

// Where is one condition. Conditions in a slice are joined with AND, except
// that a condition with Or set is joined to the one before it with OR
// (evaluated left to right, AND binding tighter than OR, as in SQL).
// A nil Value with Eq or Ne tests for NULL / NOT NULL. Contains, StartsWith and
// EndsWith are case-sensitive substring matches on String fields.
//
// A string Value that is not [Storable] is never sent to the database. No
// stored string equals it: Eq matches nothing, Ne every non-NULL value, and
// In and NotIn answer as if it were not in the list. Lt, Lte, Gt and Gte
// compare in byte order, as for any string. Contains, StartsWith and
// EndsWith match nothing: a stored string holds no NUL and no part of a
// character.
type Where struct {
	Field string
	Op    Op
	Value any
	Or    bool
}

// W is shorthand for an equality condition.
func W(field string, value any) Where { return Where{Field: field, Op: Eq, Value: value} }

// Sort orders a query by one field.
type Sort struct {
	Field string
	Desc  bool
}

// Query selects records for FindMany.
type Query struct {
	Where  []Where
	Sort   []Sort
	Limit  int // 0 means no limit
	Offset int
}

// Adapter is the interface a database backend implements. All methods are
// safe for concurrent use. Table names are logical names from the bound
// [Schema]; unknown tables or fields are an error, never silently ignored.
type Adapter interface {
	// Bind tells the adapter which schema it serves. auth.New calls it once,
	// before any other method. It does not touch the database: migrations
	// are an optional capability ([Migrator]).
	Bind(s Schema) error
	// Create inserts rec, which must contain "id". A unique violation is
	// ErrConflict.
	Create(ctx context.Context, table string, rec Record) error
	// FindOne returns the first record matching where, or ErrNotFound.
	FindOne(ctx context.Context, table string, where ...Where) (Record, error)
	// FindMany returns the records matching q, in q.Sort order.
	FindMany(ctx context.Context, table string, q Query) ([]Record, error)
	// Update sets the fields of set on every record matching where and
	// returns how many records matched.
	Update(ctx context.Context, table string, set Record, where ...Where) (int64, error)
	// Delete removes every record matching where and returns how many.
	Delete(ctx context.Context, table string, where ...Where) (int64, error)
	// Count returns how many records match where.
	Count(ctx context.Context, table string, where ...Where) (int64, error)
	// Tx runs fn in a transaction: if fn returns an error, nothing it wrote
	// is kept. The Adapter passed to fn must be used for all work inside; a
	// Tx call on it runs fn in the same transaction.
	Tx(ctx context.Context, fn func(tx Adapter) error) error
}

// Migrator is implemented by adapters that can create and upgrade the
// tables of a schema. Migrate is idempotent: it creates what is missing and
// adds new columns, and never drops data.
type Migrator interface {
	Migrate(ctx context.Context, s Schema) error
}

// MigrationPlanner is implemented by adapters that can show the SQL a
// migration would run without running it (a dry run).
type MigrationPlanner interface {
	PlanMigration(ctx context.Context, s Schema) ([]string, error)
}

// SchemaChecker is implemented by adapters that can compare a schema with
// the database they serve, without changing anything: for a server that
// does not migrate on start (or serves a database another program
// migrates) to refuse to start when a table or column it needs is missing,
// rather than fail requests. CheckSchema returns the problems found, none
// when the database can serve s; the error is for a database that cannot
// be read.
type SchemaChecker interface {
	CheckSchema(ctx context.Context, s Schema) ([]SchemaProblem, error)
}

// SchemaProblem is a difference between a schema and a database that
// keeps the database from serving the schema.
type SchemaProblem struct {
	// Table is the logical name of the table concerned.
	Table string
	// Field is the logical name of the field concerned, or "" when the
	// problem is the table's.
	Field string
	// Problem says what is wrong, with the database's names, e.g.
	// `table "users" is missing`.
	Problem string
}

// String is the problem with the logical names it concerns, e.g.
// `user.emailVerified: column "users"."email_verified" is missing`.
func (p SchemaProblem) String() string {
	if p.Field == "" {
		return p.Table + ": " + p.Problem
	}
	return p.Table + "." + p.Field + ": " + p.Problem
}

// Pinger is implemented by adapters that can check that the database is
// reachable (used by readiness probes).
type Pinger interface {
	Ping(ctx context.Context) error
}

// Closer is implemented by adapters that hold resources.
type Closer interface {
	Close() error
}

// Joiner is implemented by adapters that can read a record together with
// the record one of its reference fields points to, in one round trip (one
// SQL statement joining the two tables). Callers fall back to two FindOne
// calls when the adapter does not implement it.
type Joiner interface {
	// FindOneJoined returns the first record of table matching where and
	// the record of the referenced table that its field ref (a field with
	// References) points to. Matching records whose ref is NULL or points to
	// no record are skipped, as in an SQL inner join: the error wraps
	// ErrNotFound when no record matches or the referenced one is missing.
	// An unknown table or field, or a ref without References, is an error
	// that does not wrap ErrNotFound. Both records are copies, in the same
	// form as FindOne returns them.
	FindOneJoined(ctx context.Context, table, ref string, where ...Where) (rec, refRec Record, err error)
}

// ManyJoiner is implemented by adapters that can read several records,
// each with the record one of its reference fields points to, in one
// round trip. auth uses it to look up the sessions of concurrent requests
// together; callers fall back to one FindOneJoined (or FindOne) per record
// when the adapter does not implement it.
type ManyJoiner interface {
	// FindManyJoined returns every record of table matching where, each
	// with the record of the referenced table that its field ref points
	// to: recs[i] references refRecs[i]. Records whose ref is NULL or
	// points to no record are left out, as in an SQL inner join; none
	// matching is not an error. Errors are as for
	// [Joiner.FindOneJoined]; records are copies, in the same form as
	// FindOne returns them, in no particular order.
	FindManyJoined(ctx context.Context, table, ref string, where ...Where) (recs, refRecs []Record, err error)
}

// ScopedTxer is implemented by adapters whose database can restrict what a
// transaction may touch by settings made for that transaction alone:
// PostgreSQL, whose row-level security policies (see [RowSecurity]) read
// them with current_setting. Callers use the function [ScopedTx], which
// falls back to Tx on other adapters.
type ScopedTxer interface {
	// ScopedTx runs fn in a transaction, as Tx does, that first makes each
	// setting (name → value) for that transaction only; on PostgreSQL
	// SELECT set_config(name, value, true), with the name and the value
	// passed as parameters. A setting never outlasts its transaction, so
	// it cannot reach the next user of a pooled connection. Settings that
	// [CheckSettings] refuses are an error and fn is not called. On the
	// adapter of a transaction ScopedTx is an error: the settings would
	// outlast the inner transaction.
	ScopedTx(ctx context.Context, settings map[string]string, fn func(tx Adapter) error) error
}

// ScopedTx runs fn in a transaction of db scoped by settings: with db's
// ScopedTx if db implements [ScopedTxer]; otherwise with db.Tx, the
// settings (checked all the same) being ignored, since such a database
// has no row-level security to read them.
//
//	err := storage.ScopedTx(ctx, db, map[string]string{"app.current_user_id": userID},
//		func(tx storage.Adapter) error {
//			_, err := tx.FindOne(ctx, "note", storage.W("userId", userID))
//			return err
//		})
func ScopedTx(ctx context.Context, db Adapter, settings map[string]string, fn func(tx Adapter) error) error {
	if s, ok := db.(ScopedTxer); ok {
		return s.ScopedTx(ctx, settings, fn)
	}
	if err := CheckSettings(settings); err != nil {
		return err
	}
	return db.Tx(ctx, fn)
}

// CheckSettings checks the settings of a [ScopedTx]: every name is a
// setting name — an identifier (ASCII letters, digits and underscores, not
// starting with a digit, at most 63 bytes) or two joined by a dot, such
// as "app.current_user_id" or "synchronous_commit" — and every value is
// [Storable] (otherwise the error wraps ErrInvalidValue). The error names
// the setting, never the value.
func CheckSettings(settings map[string]string) error {
	for name, v := range settings {
		if !validSetting(name) {
			return fmt.Errorf("storage: invalid setting name %q", name)
		}
		if !Storable(v) {
			return fmt.Errorf("%w: setting %s", ErrInvalidValue, name)
		}
	}
	return nil
}

// validSetting reports whether name is a setting name (see CheckSettings).
// Such a name is safe to write into SQL between single quotes.
func validSetting(name string) bool { return sqlident.ValidQualified(name) }

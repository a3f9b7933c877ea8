package storage

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/managarten/mana-auth/internal/sqlident"
)

// FieldType is the logical type of a field.
type FieldType int

// The field types.
const (
	String FieldType = iota + 1
	Bool
	Int
	Date
)

// String returns the type's name ("string", "bool", …).
func (t FieldType) String() string {
	switch t {
	case String:
		return "string"
	case Bool:
		return "bool"
	case Int:
		return "int"
	case Date:
		return "date"
	}
	return fmt.Sprintf("FieldType(%d)", int(t))
}

// OnDelete is the action a foreign key takes when the referenced row goes.
type OnDelete string

// Foreign key actions.
const (
	Cascade  OnDelete = "cascade"
	SetNull  OnDelete = "set null"
	Restrict OnDelete = "restrict"
)

// Reference makes a field a foreign key.
type Reference struct {
	Table    string // logical table name
	Field    string // logical field name, usually "id"
	OnDelete OnDelete
}

// Field describes one column. The primary key "id" (a string) is implicit in
// every table and must not be listed.
type Field struct {
	Name       string // logical name, used in records and JSON
	Column     string // column name in the database; defaults to Name
	Type       FieldType
	Required   bool // NOT NULL
	Unique     bool
	Index      bool
	References *Reference
	// DBType is the database type of the column of a String field when it
	// is not the adapter's own (text), e.g. a PostgreSQL enum
	// "auth.user_role"; usually set by [Naming.Apply]. The PostgreSQL
	// adapter casts the values it writes to it, reads and compares the
	// column as text, and creates a missing column with that type; the
	// other adapters ignore it.
	DBType string
	// Input lets the body of POST /sign-up/email and POST /update-user set
	// a field a plugin adds to the user table, as Better Auth's input
	// attribute does (a username): the value is checked against Type (null
	// clears a field that is not Required) and stored as given, for the
	// plugin to validate or normalise in a before-hook or a
	// BeforeUserCreate hook. Without it those routes ignore the field on
	// sign-up and refuse it on update-user (FIELD_NOT_ALLOWED). Fields of
	// other tables ignore it.
	Input bool
}

// ColumnName is the name of the field's column.
func (f Field) ColumnName() string {
	if f.Column != "" {
		return f.Column
	}
	return f.Name
}

// Check is a table-level constraint. Expr is written in a SQL subset that
// PostgreSQL and SQLite both accept, over column names (quoted with double
// quotes, which [Naming.Apply] renames along with the columns); adapters
// without SQL enforce it through Func.
type Check struct {
	Name string
	Expr string
	Func func(Record) bool
}

// Table describes one table.
type Table struct {
	Name   string // logical name
	DBName string // table name in the database; defaults to Name
	Fields []Field
	Checks []Check
	// RowSecurity, if set, lets a transaction touch only the rows of the
	// party it is scoped to, on databases with row-level security.
	RowSecurity *RowSecurity
}

// RowSecurity declares that each row of a table belongs to one party (a
// user, a tenant), named by one of its fields, and that a transaction may
// touch only the rows of the party that [ScopedTx] scoped it to. Adapters
// whose database has row-level security enforce it; the others ignore it,
// as they ignore the settings of ScopedTx. It guards against a statement
// that forgets its where-clause, not against someone who can run SQL as
// the application's role (who can make any setting).
//
// PostgreSQL's Migrate enables and forces row-level security on the table
// (FORCE binds the table's owner too) and creates the policies
// <table>_user_isolation, admitting for every command only the rows whose
// Field equals current_setting(Setting, true) (USING and WITH CHECK; with
// the setting unset, no row), and, with ReadAllSetting,
// <table>_maintenance_read, admitting SELECT of every row in a transaction
// that sets ReadAllSetting to "on". A policy that exists under its name is
// left as it is. Superusers and roles with BYPASSRLS ignore every policy;
// Migrate logs a warning when it runs as one. Foreign-key cascades are not
// subject to the policies.
type RowSecurity struct {
	// Field is the String field naming the party a row belongs to
	// ("id" included).
	Field string
	// Setting is the ScopedTx setting that names the party a transaction
	// acts for, e.g. "app.current_user_id".
	Setting string
	// ReadAllSetting, if not empty, is a setting that, set to "on", lets a
	// transaction read (never write) every row: for maintenance that
	// looks across parties.
	ReadAllSetting string
}

// TableName is the name of the table in the database.
func (t Table) TableName() string {
	if t.DBName != "" {
		return t.DBName
	}
	return t.Name
}

// Field returns the field called name ("id" included) and whether it exists.
func (t *Table) Field(name string) (Field, bool) {
	if name == "id" {
		return Field{Name: "id", Type: String, Required: true, Unique: true}, true
	}
	for _, f := range t.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// AllFields returns "id" followed by the declared fields.
func (t *Table) AllFields() []Field {
	out := make([]Field, 0, len(t.Fields)+1)
	id, _ := t.Field("id")
	return append(append(out, id), t.Fields...)
}

// Schema is a set of tables.
type Schema struct {
	Tables []Table
}

// Table returns the table with the given logical name, or nil.
func (s *Schema) Table(name string) *Table {
	for i := range s.Tables {
		if s.Tables[i].Name == name {
			return &s.Tables[i]
		}
	}
	return nil
}

// Merge adds the tables of o to s. A table that already exists gains o's
// fields and checks (this is how a plugin adds a column to "user"); a field
// declared twice must be declared identically.
func (s *Schema) Merge(o Schema) error {
	for _, t := range o.Tables {
		cur := s.Table(t.Name)
		if cur == nil {
			t.Fields = append([]Field(nil), t.Fields...)
			t.Checks = append([]Check(nil), t.Checks...)
			s.Tables = append(s.Tables, t)
			continue
		}
		if t.DBName != "" {
			cur.DBName = t.DBName
		}
		if t.RowSecurity != nil {
			if cur.RowSecurity != nil && *cur.RowSecurity != *t.RowSecurity {
				return fmt.Errorf("storage: table %s: row security declared twice with different definitions", t.Name)
			}
			cur.RowSecurity = t.RowSecurity
		}
		for _, f := range t.Fields {
			if old, ok := cur.Field(f.Name); ok {
				if old.Type != f.Type || old.Required != f.Required || old.Unique != f.Unique || old.Input != f.Input {
					return fmt.Errorf("storage: field %s.%s declared twice with different definitions", t.Name, f.Name)
				}
				continue
			}
			cur.Fields = append(cur.Fields, f)
		}
		cur.Checks = append(cur.Checks, t.Checks...)
	}
	return nil
}

// Clone returns a deep copy of s.
func (s Schema) Clone() Schema {
	out := Schema{Tables: make([]Table, len(s.Tables))}
	for i, t := range s.Tables {
		t.Fields = append([]Field(nil), t.Fields...)
		t.Checks = append([]Check(nil), t.Checks...)
		if t.RowSecurity != nil {
			rs := *t.RowSecurity
			t.RowSecurity = &rs
		}
		out.Tables[i] = t
	}
	return out
}

// Validate checks names (identifiers safe to quote), types and references.
func (s *Schema) Validate() error {
	seen := map[string]bool{}     // database table names
	seenName := map[string]bool{} // logical table names
	for _, t := range s.Tables {
		if !sqlident.Valid(t.Name) || !sqlident.Valid(t.TableName()) {
			return fmt.Errorf("storage: invalid table name %q", t.Name)
		}
		if seen[t.TableName()] || seenName[t.Name] {
			return fmt.Errorf("storage: table %q declared twice", t.Name)
		}
		seen[t.TableName()] = true
		seenName[t.Name] = true
		cols := map[string]bool{"id": true}
		names := map[string]bool{}
		for _, f := range t.Fields {
			if f.Name == "id" {
				return fmt.Errorf("storage: table %s: id is implicit", t.Name)
			}
			if !sqlident.Valid(f.Name) || !sqlident.Valid(f.ColumnName()) {
				return fmt.Errorf("storage: table %s: invalid field name %q", t.Name, f.Name)
			}
			if cols[f.ColumnName()] || names[f.Name] {
				return fmt.Errorf("storage: table %s: field %q (column %q) declared twice", t.Name, f.Name, f.ColumnName())
			}
			cols[f.ColumnName()] = true
			names[f.Name] = true
			if f.Type < String || f.Type > Date {
				return fmt.Errorf("storage: field %s.%s: invalid type", t.Name, f.Name)
			}
			if f.DBType != "" && (f.Type != String || !sqlident.ValidQualified(f.DBType)) {
				return fmt.Errorf("storage: field %s.%s: invalid database type %q (a string field's, a name or schema.name)", t.Name, f.Name, f.DBType)
			}
			if r := f.References; r != nil {
				rt := s.Table(r.Table)
				if rt == nil {
					return fmt.Errorf("storage: field %s.%s references unknown table %q", t.Name, f.Name, r.Table)
				}
				if _, ok := rt.Field(r.Field); !ok {
					return fmt.Errorf("storage: field %s.%s references unknown field %s.%s", t.Name, f.Name, r.Table, r.Field)
				}
			}
		}
		if rs := t.RowSecurity; rs != nil {
			if f, ok := t.Field(rs.Field); !ok || f.Type != String {
				return fmt.Errorf("storage: table %s: row security field %q is not a String field", t.Name, rs.Field)
			}
			if !validSetting(rs.Setting) || rs.ReadAllSetting != "" && !validSetting(rs.ReadAllSetting) {
				return fmt.Errorf("storage: table %s: row security: invalid setting name", t.Name)
			}
		}
	}
	return nil
}

// Normalize converts v to the canonical Go type of a field of type t:
// string, bool, int64 or time.Time (UTC, truncated to milliseconds), or nil.
// It reports an error for a value of the wrong kind. Adapters call it on
// every value they are given.
func Normalize(t FieldType, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch t {
	case String:
		switch x := v.(type) {
		case string:
			return x, nil
		case *string:
			if x == nil {
				return nil, nil
			}
			return *x, nil
		}
	case Bool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case *bool:
			if x == nil {
				return nil, nil
			}
			return *x, nil
		}
	case Int:
		switch x := v.(type) {
		case int:
			return int64(x), nil
		case int32:
			return int64(x), nil
		case int64:
			return x, nil
		case *int64:
			if x == nil {
				return nil, nil
			}
			return *x, nil
		}
	case Date:
		switch x := v.(type) {
		case time.Time:
			return x.UTC().Truncate(time.Millisecond), nil
		case *time.Time:
			if x == nil {
				return nil, nil
			}
			return x.UTC().Truncate(time.Millisecond), nil
		}
	}
	return nil, fmt.Errorf("storage: value of type %T does not fit a %s field", v, t)
}

// Storable reports whether s can be the value of a String field: it is
// valid UTF-8 (which excludes lone surrogates) and holds no NUL byte.
// PostgreSQL refuses any other string and SQLite's text functions misread
// one, so adapters refuse to write it ([ErrInvalidValue]) and a lookup by it
// matches as described at [Where].
func Storable(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == 0:
			return false
		case c >= utf8.RuneSelf:
			return utf8.ValidString(s[i:]) && strings.IndexByte(s[i:], 0) < 0
		}
	}
	return true
}

// NormalizeList converts the value of an In / NotIn condition to a slice of
// canonical values.
func NormalizeList(t FieldType, v any) ([]any, error) {
	var raw []any
	switch x := v.(type) {
	case []any:
		raw = x
	case []string:
		for _, s := range x {
			raw = append(raw, s)
		}
	case []int64:
		for _, n := range x {
			raw = append(raw, n)
		}
	default:
		return nil, fmt.Errorf("storage: in/not_in needs a list, got %T", v)
	}
	out := make([]any, len(raw))
	for i, e := range raw {
		n, err := Normalize(t, e)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

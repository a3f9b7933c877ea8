package sqlbuild

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"

	"github.com/managarten/mana-auth/storage"
)

// maxIdentBytes is the longest index name generated (PostgreSQL's
// identifier limit, kept for SQLite so that both name indexes alike).
const maxIdentBytes = 63

// Step is one DDL statement of a migration.
type Step struct {
	// ID is the step's stable key in the migrations table.
	ID string
	// Desc describes the step, for logs and errors.
	Desc string
	// SQL is the statement.
	SQL string
	// Check marks an ADD CONSTRAINT … CHECK on an existing table, which
	// the adapter may add NOT VALID when existing rows violate it.
	Check bool
}

// Plan is what a migration would do.
type Plan struct {
	// Steps are the statements to run, in order.
	Steps []Step
	// Warnings describe what the migration cannot do.
	Warnings []string
}

// DBState is what a database already holds, as the adapter read it from
// its catalog. With [Dialect.FoldCase], every map key (table, column and
// check names) is lower-cased.
type DBState struct {
	// SchemaExists says that the dialect's Schema exists (ignored when
	// the dialect has none).
	SchemaExists bool
	// HasMigrations says that the migrations table exists.
	HasMigrations bool
	// Tables are the tables that exist, by name.
	Tables map[string]*TableState
	// Others holds the names of other tables that exist (an adapter may
	// read only the schema's tables into Tables): Plan looks there, and in
	// Tables, for a table the naming may have meant (see [Schema.Plan]).
	Others map[string]bool
}

// exists reports whether a table called key exists.
func (st *DBState) exists(key string) bool {
	return st.Tables[key] != nil || st.Others[key]
}

// TableState is what an existing table holds.
type TableState struct {
	// Columns are the table's columns, by name.
	Columns map[string]Column
	// Indexed holds the columns that lead some usable index.
	Indexed map[string]bool
	// Unique holds the columns that have a single-column unique index.
	Unique map[string]bool
	// Checks holds the names of the table's CHECK constraints.
	Checks map[string]bool
	// HasRows says that the table holds rows; it matters only with
	// [Dialect.AddNotNull], when a required column is missing.
	HasRows bool
}

// NewTableState returns an empty TableState.
func NewTableState() *TableState {
	return &TableState{Columns: map[string]Column{}, Indexed: map[string]bool{},
		Unique: map[string]bool{}, Checks: map[string]bool{}}
}

// Column is an existing column.
type Column struct {
	// NotNull says that the column is NOT NULL (or the primary key).
	NotNull bool
	// Type is its type as the adapter reads it (compared with
	// [Dialect.TypeMatches]).
	Type string
}

// NeedsRows reports whether planning a migration of the existing table t
// depends on whether it holds rows ([TableState.HasRows]): the dialect can
// add a column NOT NULL to an empty table and a required column of t is
// missing.
func (s *Schema) NeedsRows(t storage.Table, ts *TableState) bool {
	if !s.d.AddNotNull {
		return false
	}
	for _, f := range t.Fields {
		if _, ok := ts.Columns[s.d.key(f.ColumnName())]; !ok && f.Required {
			return true
		}
	}
	return false
}

// RecordMigration is the statement that records (or records again) a step
// in the migrations table; its arguments are the step's id, the schema
// version, the description, the SQL run and the time.
func (d *Dialect) RecordMigration() string {
	b := &builder{d: d}
	b.WriteString("INSERT INTO " + d.Table(MigrationsTable) + ` ("id", "version", "description", "sql", "applied_at")
VALUES (`)
	for i := 1; i <= 5; i++ {
		if i > 1 {
			b.WriteString(", ")
		}
		b.mark(i)
	}
	b.WriteString(`)
ON CONFLICT ("id") DO UPDATE SET "version" = excluded."version", "description" = excluded."description",
"sql" = excluded."sql", "applied_at" = excluded."applied_at"`)
	return b.String()
}

// Plan compares the schema with the database: it creates what is missing
// (the dialect's schema, the migrations table, tables with referenced
// tables first, columns, indexes and, where the dialect can, CHECK
// constraints) and never drops or changes anything.
func (s *Schema) Plan(st *DBState) (*Plan, error) {
	d := s.d
	p := &Plan{}
	if d.Schema != "" && !st.SchemaExists {
		p.Steps = append(p.Steps, Step{
			ID:   "create_schema:" + d.Schema,
			Desc: "create schema " + d.Schema,
			SQL:  "CREATE SCHEMA IF NOT EXISTS " + Quote(d.Schema),
		})
	}
	if !st.HasMigrations {
		p.Steps = append(p.Steps, Step{
			ID:   "create_table:" + MigrationsTable,
			Desc: "create table " + MigrationsTable,
			SQL: "CREATE TABLE IF NOT EXISTS " + d.Table(MigrationsTable) + ` (
  "id" text NOT NULL PRIMARY KEY,
  "version" integer NOT NULL,
  "description" text NOT NULL,
  "sql" text NOT NULL,
  "applied_at" ` + d.AppliedAt + `
)`,
		})
	}
	tables, err := s.sortTables()
	if err != nil {
		return nil, err
	}
	if err := s.checkNaming(st); err != nil {
		return nil, err
	}
	for _, t := range tables {
		ts := st.Tables[d.key(t.TableName())]
		if ts == nil {
			p.Steps = append(p.Steps, s.createTable(t))
			for _, f := range t.Fields {
				if f.Index && !f.Unique {
					p.Steps = append(p.Steps, s.createIndex(t, f, false))
				}
			}
			continue
		}
		for _, f := range t.Fields {
			col := d.key(f.ColumnName())
			cs, exists := ts.Columns[col]
			if !exists {
				notNull := d.AddNotNull && f.Required && !ts.HasRows
				add := " ADD COLUMN "
				if d.AddColumnIfNotExists {
					add = " ADD COLUMN IF NOT EXISTS "
				}
				p.Steps = append(p.Steps, Step{
					ID:   "add_column:" + t.TableName() + "." + f.ColumnName(),
					Desc: "add column " + t.TableName() + "." + f.ColumnName(),
					SQL:  "ALTER TABLE " + d.Table(t.TableName()) + add + s.columnDef(f, notNull, false),
				})
				if f.Required && !notNull {
					p.Warnings = append(p.Warnings, fmt.Sprintf(
						"column %s.%s is required but was added as nullable: %s",
						t.TableName(), f.ColumnName(), d.NullableReason))
				}
				switch {
				case f.Unique:
					p.Steps = append(p.Steps, s.createIndex(t, f, true))
				case f.Index:
					p.Steps = append(p.Steps, s.createIndex(t, f, false))
				}
				continue
			}
			if f.Required && !cs.NotNull {
				p.Warnings = append(p.Warnings, fmt.Sprintf(
					"column %s.%s is required but nullable in the database; existing rows may hold NULL",
					t.TableName(), f.ColumnName()))
			}
			if want, ok := s.typeMatches(f, cs.Type); !ok {
				p.Warnings = append(p.Warnings, fmt.Sprintf(
					"column %s.%s has type %s in the database, expected %s",
					t.TableName(), f.ColumnName(), cs.Type, want))
			}
			switch {
			case f.Unique && !ts.Unique[col]:
				p.Steps = append(p.Steps, s.createIndex(t, f, true))
			case f.Index && !f.Unique && !ts.Indexed[col]:
				p.Steps = append(p.Steps, s.createIndex(t, f, false))
			}
		}
		for _, c := range t.Checks {
			if c.Expr == "" || ts.Checks[d.key(c.Name)] {
				continue
			}
			if !d.AddCheck {
				p.Warnings = append(p.Warnings, fmt.Sprintf(
					"CHECK constraint %q on existing table %s is not enforced: %s", c.Name, t.TableName(), d.CheckReason))
				continue
			}
			p.Steps = append(p.Steps, Step{
				ID:    "add_check:" + t.TableName() + "." + c.Name,
				Desc:  "add check " + c.Name + " on " + t.TableName(),
				SQL:   "ALTER TABLE " + d.Table(t.TableName()) + " ADD CONSTRAINT " + Quote(c.Name) + " CHECK (" + c.Expr + ")",
				Check: true,
			})
		}
	}
	return p, nil
}

// sortTables orders the tables so that referenced tables come first,
// keeping the declaration order otherwise. Self-references are fine; cycles
// are an error.
func (s *Schema) sortTables() ([]storage.Table, error) {
	all := s.s.Tables
	n := len(all)
	done := make([]bool, n)
	out := make([]storage.Table, 0, n)
	for len(out) < n {
		progressed := false
		for i, t := range all {
			if done[i] {
				continue
			}
			ready := true
			for _, f := range t.Fields {
				if r := f.References; r != nil && r.Table != t.Name {
					for j, u := range all {
						if u.Name == r.Table && !done[j] {
							ready = false
						}
					}
				}
			}
			if ready {
				done[i] = true
				out = append(out, t)
				progressed = true
			}
		}
		if !progressed {
			var cyc []string
			for i, t := range all {
				if !done[i] {
					cyc = append(cyc, t.Name)
				}
			}
			return nil, fmt.Errorf("%s: foreign keys form a cycle between tables %s", s.d.Name, strings.Join(cyc, ", "))
		}
	}
	return out, nil
}

// createTable is the CREATE TABLE step for t.
func (s *Schema) createTable(t storage.Table) Step {
	lines := []string{`"id" text NOT NULL PRIMARY KEY`}
	for _, f := range t.Fields {
		lines = append(lines, s.columnDef(f, f.Required, f.Unique))
	}
	for _, c := range t.Checks {
		if c.Expr != "" {
			lines = append(lines, "CONSTRAINT "+Quote(c.Name)+" CHECK ("+c.Expr+")")
		}
	}
	return Step{
		ID:   "create_table:" + t.TableName(),
		Desc: "create table " + t.TableName(),
		SQL:  "CREATE TABLE IF NOT EXISTS " + s.d.Table(t.TableName()) + " (\n  " + strings.Join(lines, ",\n  ") + "\n)",
	}
}

// columnDef is the definition of f's column.
func (s *Schema) columnDef(f storage.Field, notNull, unique bool) string {
	def := Quote(f.ColumnName()) + " " + s.columnType(f)
	if notNull {
		def += " NOT NULL"
	}
	if unique {
		def += " UNIQUE"
	}
	if r := f.References; r != nil {
		rt := s.s.Table(r.Table)
		rf, _ := rt.Field(r.Field)
		def += " REFERENCES " + s.d.Table(rt.TableName()) + " (" + Quote(rf.ColumnName()) + ")"
		if a := onDelete(r.OnDelete); a != "" {
			def += " ON DELETE " + a
		}
	}
	return def
}

// onDelete is the SQL action of o ("" for the default, NO ACTION).
func onDelete(o storage.OnDelete) string {
	switch strings.ToLower(string(o)) {
	case string(storage.Cascade):
		return "CASCADE"
	case string(storage.SetNull):
		return "SET NULL"
	case string(storage.Restrict):
		return "RESTRICT"
	case "no action":
		return "NO ACTION"
	case "set default":
		return "SET DEFAULT"
	}
	return ""
}

// createIndex is the CREATE INDEX step for f.
func (s *Schema) createIndex(t storage.Table, f storage.Field, unique bool) Step {
	name := indexName(t.TableName(), f.ColumnName(), unique)
	kw := "INDEX"
	if unique {
		kw = "UNIQUE INDEX"
	}
	return Step{
		ID:   "create_index:" + name,
		Desc: "create " + strings.ToLower(kw) + " " + name,
		SQL:  "CREATE " + kw + " IF NOT EXISTS " + Quote(name) + " ON " + s.d.Table(t.TableName()) + " (" + Quote(f.ColumnName()) + ")",
	}
}

// indexName is Better Auth's name for a single-column index:
// <table>_<column>_idx (or _uidx), shortened with a hash past 63 bytes.
func indexName(table, column string, unique bool) string {
	kind := "idx"
	if unique {
		kind = "uidx"
	}
	name := table + "_" + column + "_" + kind
	if len(name) <= maxIdentBytes {
		return name
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	suffix := fmt.Sprintf("_%08x_%s", h.Sum32(), kind)
	base := name[:len(name)-len(kind)-1]
	return base[:maxIdentBytes-len(suffix)] + suffix
}

// columnType is the type of f's column: its DBType where the dialect
// honours it, else the dialect's type for f.Type.
func (s *Schema) columnType(f storage.Field) string {
	if s.d.DBTypes && f.DBType != "" {
		return QuoteType(f.DBType)
	}
	return s.d.ColumnType(f.Type)
}

// typeMatches reports whether a column of the database type typ can hold
// f, and the type expected. A DBType matches the type of the same name,
// qualified by a schema or not on either side (the catalog leaves out the
// schemas on the search path), ignoring case and quotes. Without the
// dialect's TypeMatches every type matches.
func (s *Schema) typeMatches(f storage.Field, typ string) (string, bool) {
	if s.d.DBTypes && f.DBType != "" {
		norm := func(n string) (schema, name string) {
			n = strings.ToLower(strings.ReplaceAll(n, `"`, ""))
			if i := strings.LastIndexByte(n, '.'); i >= 0 {
				return n[:i], n[i+1:]
			}
			return "", n
		}
		ws, wn := norm(f.DBType)
		gs, gn := norm(typ)
		return f.DBType, wn == gn && (ws == "" || gs == "" || ws == gs)
	}
	want := s.d.ColumnType(f.Type)
	return want, s.d.TypeMatches == nil || s.d.TypeMatches(f.Type, typ)
}

// tableVariants are the names a table might have in a database that
// Better Auth or Drizzle laid out under another naming: the logical and
// database names, and their plural and snake_case forms.
func tableVariants(names ...string) []string {
	var out []string
	for _, n := range names {
		for _, v := range []string{n, n + "s", storage.SnakeCase(n), storage.SnakeCase(n) + "s"} {
			if !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	return out
}

// checkNaming refuses to plan a migration that would create a table or
// add a column the database seems to hold under another name: a table
// the schema calls "users" is missing while "user" (its logical name, or
// a plural or snake_case form of it) exists, or a column "email_verified"
// is missing while the table has "emailVerified". Such a migration would
// leave the existing rows behind an empty table or column; the naming
// (storage.Naming: Better Auth's modelName, fields and usePlural) is
// wrong or missing. The error lists every such table and column.
func (s *Schema) checkNaming(st *DBState) error {
	d := s.d
	var problems []string
	for _, t := range s.s.Tables {
		ts := st.Tables[d.key(t.TableName())]
		if ts == nil {
			var found []string
			for _, v := range tableVariants(t.Name, t.TableName()) {
				if d.key(v) != d.key(t.TableName()) && st.exists(d.key(v)) && s.claimed(v) == "" {
					found = append(found, strconv.Quote(v))
				}
			}
			if len(found) > 0 {
				problems = append(problems, fmt.Sprintf("table %s (%q) is missing, but the database has %s",
					t.Name, t.TableName(), strings.Join(found, ", ")))
			}
			continue
		}
		cols := map[string]bool{}
		for _, f := range t.AllFields() {
			cols[d.key(f.ColumnName())] = true
		}
		for _, f := range t.Fields {
			if _, ok := ts.Columns[d.key(f.ColumnName())]; ok {
				continue
			}
			var found []string
			for _, v := range []string{f.Name, storage.SnakeCase(f.Name), storage.SnakeCase(f.ColumnName())} {
				if _, ok := ts.Columns[d.key(v)]; ok && !cols[d.key(v)] && !slices.Contains(found, strconv.Quote(v)) {
					found = append(found, strconv.Quote(v))
				}
			}
			if len(found) > 0 {
				problems = append(problems, fmt.Sprintf("column %s.%s (%q.%q) is missing, but the table has %s",
					t.Name, f.Name, t.TableName(), f.ColumnName(), strings.Join(found, ", ")))
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%s: the database seems to use other names than the schema (check the naming: storage.Naming, Better Auth's modelName, fields and usePlural); nothing was changed:\n  %s",
		d.Name, strings.Join(problems, "\n  "))
}

// claimed returns the logical name of the schema's table called name in
// the database, or "".
func (s *Schema) claimed(name string) string {
	for _, t := range s.s.Tables {
		if s.d.key(t.TableName()) == s.d.key(name) {
			return t.Name
		}
	}
	return ""
}

// Problems compares the schema with what the database holds
// ([storage.SchemaChecker]): every table and column missing, and every
// column whose type cannot hold its field.
func (s *Schema) Problems(st *DBState) []storage.SchemaProblem {
	d := s.d
	var out []storage.SchemaProblem
	for _, t := range s.s.Tables {
		ts := st.Tables[d.key(t.TableName())]
		if ts == nil {
			out = append(out, storage.SchemaProblem{Table: t.Name,
				Problem: fmt.Sprintf("table %q is missing", t.TableName())})
			continue
		}
		for _, f := range t.AllFields() {
			cs, ok := ts.Columns[d.key(f.ColumnName())]
			if !ok {
				out = append(out, storage.SchemaProblem{Table: t.Name, Field: f.Name,
					Problem: fmt.Sprintf("column %q.%q is missing", t.TableName(), f.ColumnName())})
				continue
			}
			if cs.Type == "" {
				continue // the adapter does not read types
			}
			if want, ok := s.typeMatches(f, cs.Type); !ok {
				msg := fmt.Sprintf("column %q.%q has type %s, expected %s", t.TableName(), f.ColumnName(), cs.Type, want)
				if f.Type == storage.String && f.DBType == "" && d.DBTypes {
					msg += " (for an enum, declare its type: storage.Naming.Types)"
				}
				out = append(out, storage.SchemaProblem{Table: t.Name, Field: f.Name, Problem: msg})
			}
		}
	}
	return out
}

package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/managarten/mana-auth/storage"
)

// SchemaVersion is the storage format version this package reads and
// writes. Migrate records it in mana_migrations; a database recording a
// higher version was written by a newer release and is refused with
// [ErrSchemaTooNew].
const SchemaVersion = 1

// maxIdentBytes is the longest index name generated (PostgreSQL's limit,
// kept for SQLite so that both backends name indexes alike).
const maxIdentBytes = 63

// step is one DDL statement of a migration.
type step struct {
	id   string // stable key in mana_migrations
	desc string
	sql  string
}

// migrationPlan is what a migration would do.
type migrationPlan struct {
	steps     []step
	warnings  []string
	dbVersion int64
}

// queryer is a *sql.DB, *sql.Tx or *sql.Conn.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// dbState is what a database already holds. Names are lower-cased: SQLite
// identifiers are case-insensitive.
type dbState struct {
	hasMigrations bool
	version       int64
	tables        map[string]*tableState
}

type tableState struct {
	sql     string          // CREATE TABLE statement
	columns map[string]bool // column -> NOT NULL
	indexed map[string]bool // column -> leads some index
	unique  map[string]bool // column -> has a single-column unique index
	checks  map[string]bool // lower-cased names of CHECK constraints found in sql
}

// Migrate creates the missing tables, columns and indexes of s and records
// the steps in mana_migrations, in one IMMEDIATE transaction (so that
// several processes starting together do not race). It is idempotent and
// never drops or rewrites data; see the package documentation for what
// SQLite cannot add to an existing table.
func (a *Adapter) Migrate(ctx context.Context, s storage.Schema) error {
	if a.tx != nil {
		return errors.New("sqlite: Migrate cannot run inside a transaction")
	}
	si, err := newSchemaInfo(s)
	if err != nil {
		return err
	}
	tx, err := a.c.w.BeginTx(ctx, nil) // BEGIN IMMEDIATE: takes the write lock now
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", mapErr(ctx, err))
	}
	defer func() { _ = tx.Rollback() }() // no-op after Commit
	st, err := readState(ctx, tx, si)
	if err != nil {
		return err
	}
	p, err := buildPlan(si, st)
	if err != nil {
		return err
	}
	now := time.Now().UTC().Format(DateLayout)
	record := func(id, desc, stmt string) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO "`+migrationsTable+`" ("id", "version", "description", "sql", "applied_at")
VALUES (?, ?, ?, ?, ?)
ON CONFLICT ("id") DO UPDATE SET "version" = excluded."version", "description" = excluded."description",
"sql" = excluded."sql", "applied_at" = excluded."applied_at"`, id, int64(SchemaVersion), desc, stmt, now)
		if err != nil {
			return fmt.Errorf("sqlite: migrate: record %s: %w", id, mapErr(ctx, err))
		}
		return nil
	}
	for _, s := range p.steps {
		if _, err := tx.ExecContext(ctx, s.sql); err != nil {
			return fmt.Errorf("sqlite: migrate: %s: %w", s.desc, mapErr(ctx, err))
		}
	}
	for _, s := range p.steps {
		if err := record(s.id, s.desc, s.sql); err != nil {
			return err
		}
	}
	if p.dbVersion < SchemaVersion {
		if err := record(fmt.Sprintf("schema_version:%d", SchemaVersion),
			fmt.Sprintf("storage format version %d", SchemaVersion), ""); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: migrate: commit: %w", mapErr(ctx, err))
	}
	for _, w := range p.warnings {
		a.c.log.WarnContext(ctx, "sqlite: migrate: "+w)
	}
	if len(p.steps) > 0 {
		a.c.log.InfoContext(ctx, "sqlite: migrated database", "steps", len(p.steps), "version", SchemaVersion)
	}
	return nil
}

// PlanMigration returns the DDL statements [Adapter.Migrate] would run on
// the database as it is now, without running them (a dry run). It returns
// nothing for an up-to-date database. The bookkeeping inserts into
// mana_migrations are not listed.
func (a *Adapter) PlanMigration(ctx context.Context, s storage.Schema) ([]string, error) {
	si, err := newSchemaInfo(s)
	if err != nil {
		return nil, err
	}
	var q queryer
	if a.tx != nil {
		a.tx.mu.Lock()
		defer a.tx.mu.Unlock()
		q = a.tx.tx
	} else {
		tx, err := a.c.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}) // one snapshot
		if err != nil {
			return nil, fmt.Errorf("sqlite: plan migration: %w", mapErr(ctx, err))
		}
		defer func() { _ = tx.Rollback() }()
		q = tx
	}
	st, err := readState(ctx, q, si)
	if err != nil {
		return nil, err
	}
	p, err := buildPlan(si, st)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(p.steps))
	for i, s := range p.steps {
		out[i] = s.sql
	}
	return out, nil
}

// checkVersion refuses a database migrated by a newer release.
func (a *Adapter) checkVersion(ctx context.Context) error {
	has, v, err := readVersion(ctx, a.c.r)
	if err != nil {
		return err
	}
	if has && v > SchemaVersion {
		return tooNew(v)
	}
	return nil
}

func tooNew(v int64) error {
	return fmt.Errorf("%w: the database records schema version %d, this binary supports up to %d; upgrade mana-auth",
		ErrSchemaTooNew, v, SchemaVersion)
}

// readVersion returns whether mana_migrations exists and the highest version
// it records.
func readVersion(ctx context.Context, q queryer) (bool, int64, error) {
	var has bool
	err := scanAll(ctx, q, `SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`,
		[]any{migrationsTable}, func(rows *sql.Rows) error { has = true; return nil })
	if err != nil || !has {
		return false, 0, err
	}
	var v sql.NullInt64
	err = scanAll(ctx, q, `SELECT MAX("version") FROM "`+migrationsTable+`"`, nil,
		func(rows *sql.Rows) error { return rows.Scan(&v) })
	if err != nil {
		return false, 0, err
	}
	return true, v.Int64, nil
}

// scanAll runs a query and calls fn for each row.
func scanAll(ctx context.Context, q queryer, query string, args []any, fn func(*sql.Rows) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("sqlite: inspect schema: %w", mapErr(ctx, err))
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return fmt.Errorf("sqlite: inspect schema: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: inspect schema: %w", mapErr(ctx, err))
	}
	return nil
}

// readState inspects the tables of si that exist.
func readState(ctx context.Context, q queryer, si *schemaInfo) (*dbState, error) {
	st := &dbState{tables: map[string]*tableState{}}
	var err error
	st.hasMigrations, st.version, err = readVersion(ctx, q)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, t := range si.s.Tables {
		want[strings.ToLower(t.TableName())] = true
	}
	err = scanAll(ctx, q, `SELECT name, COALESCE(sql, '') FROM sqlite_master WHERE type = 'table'`, nil,
		func(rows *sql.Rows) error {
			var name, ddl string
			if err := rows.Scan(&name, &ddl); err != nil {
				return err
			}
			if want[strings.ToLower(name)] {
				st.tables[strings.ToLower(name)] = &tableState{sql: ddl, columns: map[string]bool{},
					indexed: map[string]bool{}, unique: map[string]bool{}, checks: map[string]bool{}}
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	for name, ts := range st.tables {
		err := scanAll(ctx, q, `SELECT name, "notnull", pk FROM pragma_table_info(?)`, []any{name},
			func(rows *sql.Rows) error {
				var col string
				var notNull, pk int64
				if err := rows.Scan(&col, &notNull, &pk); err != nil {
					return err
				}
				ts.columns[strings.ToLower(col)] = notNull != 0 || pk != 0
				return nil
			})
		if err != nil {
			return nil, err
		}
		type index struct {
			name   string
			unique bool
		}
		var idxs []index
		err = scanAll(ctx, q, `SELECT name, "unique", partial FROM pragma_index_list(?)`, []any{name},
			func(rows *sql.Rows) error {
				var n string
				var u, partial int64
				if err := rows.Scan(&n, &u, &partial); err != nil {
					return err
				}
				if partial == 0 {
					idxs = append(idxs, index{n, u != 0})
				}
				return nil
			})
		if err != nil {
			return nil, err
		}
		for _, ix := range idxs {
			var cols []string
			err := scanAll(ctx, q, `SELECT COALESCE(name, '') FROM pragma_index_info(?) ORDER BY seqno`, []any{ix.name},
				func(rows *sql.Rows) error {
					var c string
					if err := rows.Scan(&c); err != nil {
						return err
					}
					cols = append(cols, strings.ToLower(c))
					return nil
				})
			if err != nil {
				return nil, err
			}
			if len(cols) == 0 || cols[0] == "" {
				continue // expression index
			}
			ts.indexed[cols[0]] = true
			if ix.unique && len(cols) == 1 {
				ts.unique[cols[0]] = true
			}
		}
		lower := strings.ToLower(ts.sql)
		for _, t := range si.s.Tables {
			if strings.ToLower(t.TableName()) != name {
				continue
			}
			for _, c := range t.Checks {
				n := strings.ToLower(c.Name)
				if strings.Contains(lower, `constraint "`+n+`"`) || strings.Contains(lower, "constraint "+n+" ") ||
					strings.Contains(lower, "constraint `"+n+"`") || strings.Contains(lower, "constraint ["+n+"]") {
					ts.checks[n] = true
				}
			}
		}
	}
	return st, nil
}

// buildPlan compares the schema with the database.
func buildPlan(si *schemaInfo, st *dbState) (*migrationPlan, error) {
	if st.version > SchemaVersion {
		return nil, tooNew(st.version)
	}
	p := &migrationPlan{dbVersion: st.version}
	if !st.hasMigrations {
		p.steps = append(p.steps, step{
			id:   "create_table:" + migrationsTable,
			desc: "create table " + migrationsTable,
			sql: `CREATE TABLE IF NOT EXISTS "` + migrationsTable + `" (
  "id" text NOT NULL PRIMARY KEY,
  "version" integer NOT NULL,
  "description" text NOT NULL,
  "sql" text NOT NULL,
  "applied_at" text NOT NULL
)`,
		})
	}
	tables, err := sortTables(si.s)
	if err != nil {
		return nil, err
	}
	for _, t := range tables {
		ts := st.tables[strings.ToLower(t.TableName())]
		if ts == nil {
			p.steps = append(p.steps, createTable(si, t))
			for _, f := range t.Fields {
				if f.Index && !f.Unique {
					p.steps = append(p.steps, createIndex(t, f, false))
				}
			}
			continue
		}
		for _, f := range t.Fields {
			col := strings.ToLower(f.ColumnName())
			notNull, exists := ts.columns[col]
			if !exists {
				p.steps = append(p.steps, step{
					id:   "add_column:" + t.TableName() + "." + f.ColumnName(),
					desc: "add column " + t.TableName() + "." + f.ColumnName(),
					sql:  "ALTER TABLE " + quote(t.TableName()) + " ADD COLUMN " + columnDef(si, f, false),
				})
				if f.Required {
					p.warnings = append(p.warnings, fmt.Sprintf(
						"column %s.%s is required but was added as nullable: SQLite cannot add a NOT NULL column without a default to an existing table (the adapter still rejects missing values)",
						t.TableName(), f.ColumnName()))
				}
				switch {
				case f.Unique:
					p.steps = append(p.steps, createIndex(t, f, true))
				case f.Index:
					p.steps = append(p.steps, createIndex(t, f, false))
				}
				continue
			}
			if f.Required && !notNull {
				p.warnings = append(p.warnings, fmt.Sprintf(
					"column %s.%s is required but nullable in the database; existing rows may hold NULL",
					t.TableName(), f.ColumnName()))
			}
			switch {
			case f.Unique && !ts.unique[col]:
				p.steps = append(p.steps, createIndex(t, f, true))
			case f.Index && !f.Unique && !ts.indexed[col]:
				p.steps = append(p.steps, createIndex(t, f, false))
			}
		}
		for _, c := range t.Checks {
			if c.Expr != "" && !ts.checks[strings.ToLower(c.Name)] {
				p.warnings = append(p.warnings, fmt.Sprintf(
					"CHECK constraint %q on existing table %s is not enforced: SQLite cannot add a CHECK constraint to an existing table",
					c.Name, t.TableName()))
			}
		}
	}
	return p, nil
}

// sortTables orders tables so that referenced tables come first, keeping
// the declaration order otherwise. Self-references are fine; cycles are an
// error.
func sortTables(s storage.Schema) ([]storage.Table, error) {
	n := len(s.Tables)
	done := make([]bool, n)
	out := make([]storage.Table, 0, n)
	for len(out) < n {
		progressed := false
		for i, t := range s.Tables {
			if done[i] {
				continue
			}
			ready := true
			for _, f := range t.Fields {
				if r := f.References; r != nil && r.Table != t.Name {
					for j, u := range s.Tables {
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
			for i, t := range s.Tables {
				if !done[i] {
					cyc = append(cyc, t.Name)
				}
			}
			return nil, fmt.Errorf("sqlite: foreign keys form a cycle between tables %s", strings.Join(cyc, ", "))
		}
	}
	return out, nil
}

// createTable is the CREATE TABLE step for t.
func createTable(si *schemaInfo, t storage.Table) step {
	lines := []string{`"id" text NOT NULL PRIMARY KEY`}
	for _, f := range t.Fields {
		lines = append(lines, columnDef(si, f, true))
	}
	for _, c := range t.Checks {
		if c.Expr != "" {
			lines = append(lines, "CONSTRAINT "+quote(c.Name)+" CHECK ("+c.Expr+")")
		}
	}
	return step{
		id:   "create_table:" + t.TableName(),
		desc: "create table " + t.TableName(),
		sql:  "CREATE TABLE IF NOT EXISTS " + quote(t.TableName()) + " (\n  " + strings.Join(lines, ",\n  ") + "\n)",
	}
}

// columnDef is the definition of f's column. A new table gets NOT NULL and
// UNIQUE inline; a column added to an existing table gets neither (SQLite
// cannot add them; uniqueness comes from a separate index).
func columnDef(si *schemaInfo, f storage.Field, newTable bool) string {
	def := quote(f.ColumnName()) + " " + sqlType(f.Type)
	if newTable && f.Required {
		def += " NOT NULL"
	}
	if newTable && f.Unique {
		def += " UNIQUE"
	}
	if r := f.References; r != nil {
		rt := si.s.Table(r.Table)
		rf, _ := rt.Field(r.Field)
		def += " REFERENCES " + quote(rt.TableName()) + " (" + quote(rf.ColumnName()) + ")"
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

func sqlType(t storage.FieldType) string {
	switch t {
	case storage.Bool, storage.Int:
		return "integer"
	}
	return "text" // String, and Date as ISO-8601 text
}

// createIndex is the CREATE INDEX step for f.
func createIndex(t storage.Table, f storage.Field, unique bool) step {
	name := indexName(t.TableName(), f.ColumnName(), unique)
	kw := "INDEX"
	if unique {
		kw = "UNIQUE INDEX"
	}
	return step{
		id:   "create_index:" + name,
		desc: "create " + strings.ToLower(kw) + " " + name,
		sql:  "CREATE " + kw + " IF NOT EXISTS " + quote(name) + " ON " + quote(t.TableName()) + " (" + quote(f.ColumnName()) + ")",
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

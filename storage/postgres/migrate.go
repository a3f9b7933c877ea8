package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/managarten/mana-auth/storage"
)

// SchemaVersion is the storage format version this package reads and
// writes. Migrate records it in mana_migrations; a database recording a
// higher version was written by a newer release and is refused with
// [ErrSchemaTooNew].
const SchemaVersion = 1

// maxIdentBytes is PostgreSQL's identifier length limit.
const maxIdentBytes = 63

// step is one DDL statement of a migration.
type step struct {
	id    string // stable key in mana_migrations
	desc  string
	sql   string
	check bool // ADD CONSTRAINT ... CHECK on an existing table: may fall back to NOT VALID
}

// migrationPlan is what a migration would do.
type migrationPlan struct {
	steps     []step
	warnings  []string
	dbVersion int64
}

// pgQuerier is a pgx.Tx, *pgx.Conn or *pgxpool.Pool.
type pgQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// dbState is what the PostgreSQL schema already holds.
type dbState struct {
	schemaExists  bool
	hasMigrations bool
	version       int64
	tables        map[string]*tableState // by table name
}

type tableState struct {
	columns map[string]colState
	indexed map[string]bool // column -> leads some valid index
	unique  map[string]bool // column -> has a single-column unique index
	checks  map[string]bool // CHECK constraint names
	hasRows bool            // only looked up when a required column is missing
}

type colState struct {
	notNull bool
	typ     string // format_type
}

// Migrate creates the missing schema, tables, columns, indexes and CHECK
// constraints of s and records the steps in mana_migrations, in one
// transaction under an advisory lock (so that instances starting together
// take turns). It is idempotent and never drops or rewrites data.
func (a *Adapter) Migrate(ctx context.Context, s storage.Schema) error {
	if a.tx != nil {
		return errors.New("postgres: Migrate cannot run inside a transaction")
	}
	si, err := newSchemaInfo(s, a.c.schema)
	if err != nil {
		return err
	}
	tx, err := a.c.pool.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", mapErr(ctx, err))
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }() // no-op after Commit
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey(a.c.schema)); err != nil {
		return fmt.Errorf("postgres: migrate: lock: %w", mapErr(ctx, err))
	}
	st, err := readState(ctx, tx, si)
	if err != nil {
		return err
	}
	p, err := buildPlan(si, st)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	record := func(id, desc, stmt string) error {
		_, err := tx.Exec(ctx, `INSERT INTO `+si.qualified(migrationsTable)+` ("id", "version", "description", "sql", "applied_at")
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT ("id") DO UPDATE SET "version" = excluded."version", "description" = excluded."description",
"sql" = excluded."sql", "applied_at" = excluded."applied_at"`, id, int64(SchemaVersion), desc, stmt, now)
		if err != nil {
			return fmt.Errorf("postgres: migrate: record %s: %w", id, mapErr(ctx, err))
		}
		return nil
	}
	ran := make([]string, len(p.steps))
	for i, s := range p.steps {
		ran[i] = s.sql
		if s.check {
			ran[i], err = addCheck(ctx, tx, s.sql)
			if ran[i] != s.sql {
				p.warnings = append(p.warnings, s.desc+": existing rows violate it, so it was added NOT VALID (enforced for new and updated rows only)")
			}
		} else {
			_, err = tx.Exec(ctx, s.sql)
		}
		if err != nil {
			return fmt.Errorf("postgres: migrate: %s: %w", s.desc, mapErr(ctx, err))
		}
	}
	// Recorded once all ran: the first steps may create mana_migrations.
	for i, s := range p.steps {
		if err := record(s.id, s.desc, ran[i]); err != nil {
			return err
		}
	}
	if p.dbVersion < SchemaVersion {
		if err := record(fmt.Sprintf("schema_version:%d", SchemaVersion),
			fmt.Sprintf("storage format version %d", SchemaVersion), ""); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: commit: %w", mapErr(ctx, err))
	}
	for _, w := range p.warnings {
		a.c.log.WarnContext(ctx, "postgres: migrate: "+w, "schema", a.c.schema)
	}
	if len(p.steps) > 0 {
		a.c.log.InfoContext(ctx, "postgres: migrated database", "schema", a.c.schema, "steps", len(p.steps), "version", SchemaVersion)
	}
	return nil
}

// addCheck adds a CHECK constraint to an existing table. If existing rows
// violate it, it is added NOT VALID instead; the statement run is returned.
func addCheck(ctx context.Context, tx pgx.Tx, stmt string) (string, error) {
	sp, err := tx.Begin(ctx) // savepoint
	if err != nil {
		return stmt, err
	}
	if _, err := sp.Exec(ctx, stmt); err != nil {
		_ = sp.Rollback(ctx)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23514" {
			stmt += " NOT VALID"
			_, err = tx.Exec(ctx, stmt)
		}
		return stmt, err
	}
	return stmt, sp.Commit(ctx)
}

// lockKey is the advisory lock key of migrations in a PostgreSQL schema.
func lockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("mana-auth/migrate/" + schema))
	return int64(h.Sum64())
}

// PlanMigration returns the DDL statements [Adapter.Migrate] would run on
// the database as it is now, without running them (a dry run). It returns
// nothing for an up-to-date database. The bookkeeping inserts into
// mana_migrations are not listed, and a CHECK constraint that existing rows
// violate would be added NOT VALID.
func (a *Adapter) PlanMigration(ctx context.Context, s storage.Schema) ([]string, error) {
	si, err := newSchemaInfo(s, a.c.schema)
	if err != nil {
		return nil, err
	}
	var q pgQuerier
	if a.tx != nil {
		a.tx.mu.Lock()
		defer a.tx.mu.Unlock()
		q = a.tx.tx
	} else {
		tx, err := a.c.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
		if err != nil {
			return nil, fmt.Errorf("postgres: plan migration: %w", mapErr(ctx, err))
		}
		defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
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
	has, v, err := readVersion(ctx, a.c.pool, a.c.schema)
	if err != nil {
		return err
	}
	if has && v > SchemaVersion {
		return tooNew(a.c.schema, v)
	}
	return nil
}

func tooNew(schema string, v int64) error {
	return fmt.Errorf("%w: schema %q records schema version %d, this binary supports up to %d; upgrade mana-auth",
		ErrSchemaTooNew, schema, v, SchemaVersion)
}

// scanAll runs a query and calls fn for each row.
func scanAll(ctx context.Context, q pgQuerier, query string, args []any, fn func(pgx.Rows) error) error {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("postgres: inspect schema: %w", mapErr(ctx, err))
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return fmt.Errorf("postgres: inspect schema: %w", mapErr(ctx, err))
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: inspect schema: %w", mapErr(ctx, err))
	}
	return nil
}

// readVersion returns whether mana_migrations exists in schema and the
// highest version it records.
func readVersion(ctx context.Context, q pgQuerier, schema string) (bool, int64, error) {
	var has bool
	err := scanAll(ctx, q, `SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p'))`, []any{schema, migrationsTable},
		func(rows pgx.Rows) error { return rows.Scan(&has) })
	if err != nil || !has {
		return false, 0, err
	}
	var v int64
	err = scanAll(ctx, q, `SELECT COALESCE(MAX("version"), 0)::bigint FROM `+quote(schema)+"."+quote(migrationsTable), nil,
		func(rows pgx.Rows) error { return rows.Scan(&v) })
	if err != nil {
		return false, 0, err
	}
	return true, v, nil
}

// readState inspects the PostgreSQL schema of si.
func readState(ctx context.Context, q pgQuerier, si *schemaInfo) (*dbState, error) {
	st := &dbState{tables: map[string]*tableState{}}
	err := scanAll(ctx, q, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, []any{si.pg},
		func(rows pgx.Rows) error { return rows.Scan(&st.schemaExists) })
	if err != nil || !st.schemaExists {
		return st, err
	}
	st.hasMigrations, st.version, err = readVersion(ctx, q, si.pg)
	if err != nil {
		return nil, err
	}
	err = scanAll(ctx, q, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')`, []any{si.pg}, func(rows pgx.Rows) error {
		var name string
		if err := rows.Scan(&name); err != nil {
			return err
		}
		st.tables[name] = &tableState{columns: map[string]colState{}, indexed: map[string]bool{},
			unique: map[string]bool{}, checks: map[string]bool{}}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = scanAll(ctx, q, `SELECT c.relname, a.attname, a.attnotnull, format_type(a.atttypid, a.atttypmod)
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped`, []any{si.pg},
		func(rows pgx.Rows) error {
			var table, col, typ string
			var notNull bool
			if err := rows.Scan(&table, &col, &notNull, &typ); err != nil {
				return err
			}
			if ts := st.tables[table]; ts != nil {
				ts.columns[col] = colState{notNull: notNull, typ: typ}
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	err = scanAll(ctx, q, `SELECT c.relname, a.attname, i.indisunique, i.indnatts::int
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
WHERE n.nspname = $1 AND i.indpred IS NULL AND i.indisvalid`, []any{si.pg},
		func(rows pgx.Rows) error {
			var table, col string
			var unique bool
			var natts int
			if err := rows.Scan(&table, &col, &unique, &natts); err != nil {
				return err
			}
			if ts := st.tables[table]; ts != nil {
				ts.indexed[col] = true
				if unique && natts == 1 {
					ts.unique[col] = true
				}
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	err = scanAll(ctx, q, `SELECT c.relname, con.conname FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND con.contype = 'c'`, []any{si.pg}, func(rows pgx.Rows) error {
		var table, name string
		if err := rows.Scan(&table, &name); err != nil {
			return err
		}
		if ts := st.tables[table]; ts != nil {
			ts.checks[name] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Whether a required column can be added NOT NULL depends on the rows.
	for _, t := range si.s.Tables {
		ts := st.tables[t.TableName()]
		if ts == nil {
			continue
		}
		for _, f := range t.Fields {
			if _, ok := ts.columns[f.ColumnName()]; !ok && f.Required {
				err := scanAll(ctx, q, `SELECT EXISTS (SELECT 1 FROM `+si.qualified(t.TableName())+`)`, nil,
					func(rows pgx.Rows) error { return rows.Scan(&ts.hasRows) })
				if err != nil {
					return nil, err
				}
				break
			}
		}
	}
	return st, nil
}

// buildPlan compares the schema with the database.
func buildPlan(si *schemaInfo, st *dbState) (*migrationPlan, error) {
	if st.version > SchemaVersion {
		return nil, tooNew(si.pg, st.version)
	}
	p := &migrationPlan{dbVersion: st.version}
	if !st.schemaExists {
		p.steps = append(p.steps, step{
			id:   "create_schema:" + si.pg,
			desc: "create schema " + si.pg,
			sql:  "CREATE SCHEMA IF NOT EXISTS " + quote(si.pg),
		})
	}
	if !st.hasMigrations {
		p.steps = append(p.steps, step{
			id:   "create_table:" + migrationsTable,
			desc: "create table " + migrationsTable,
			sql: "CREATE TABLE IF NOT EXISTS " + si.qualified(migrationsTable) + ` (
  "id" text NOT NULL PRIMARY KEY,
  "version" integer NOT NULL,
  "description" text NOT NULL,
  "sql" text NOT NULL,
  "applied_at" timestamptz NOT NULL DEFAULT now()
)`,
		})
	}
	tables, err := sortTables(si.s)
	if err != nil {
		return nil, err
	}
	for _, t := range tables {
		ts := st.tables[t.TableName()]
		if ts == nil {
			p.steps = append(p.steps, createTable(si, t))
			for _, f := range t.Fields {
				if f.Index && !f.Unique {
					p.steps = append(p.steps, createIndex(si, t, f, false))
				}
			}
			continue
		}
		for _, f := range t.Fields {
			col := f.ColumnName()
			cs, exists := ts.columns[col]
			if !exists {
				notNull := f.Required && !ts.hasRows
				p.steps = append(p.steps, step{
					id:   "add_column:" + t.TableName() + "." + col,
					desc: "add column " + t.TableName() + "." + col,
					sql:  "ALTER TABLE " + si.qualified(t.TableName()) + " ADD COLUMN IF NOT EXISTS " + columnDef(si, f, notNull, false),
				})
				if f.Required && !notNull {
					p.warnings = append(p.warnings, fmt.Sprintf(
						"column %s.%s is required but was added as nullable: the table has rows and the schema gives no default; backfill it, then SET NOT NULL (the adapter rejects missing values meanwhile)",
						t.TableName(), col))
				}
				switch {
				case f.Unique:
					p.steps = append(p.steps, createIndex(si, t, f, true))
				case f.Index:
					p.steps = append(p.steps, createIndex(si, t, f, false))
				}
				continue
			}
			if f.Required && !cs.notNull {
				p.warnings = append(p.warnings, fmt.Sprintf(
					"column %s.%s is required but nullable in the database; existing rows may hold NULL",
					t.TableName(), col))
			}
			if !typeMatches(f.Type, cs.typ) {
				p.warnings = append(p.warnings, fmt.Sprintf(
					"column %s.%s has type %s in the database, expected %s", t.TableName(), col, cs.typ, sqlType(f.Type)))
			}
			switch {
			case f.Unique && !ts.unique[col]:
				p.steps = append(p.steps, createIndex(si, t, f, true))
			case f.Index && !f.Unique && !ts.indexed[col]:
				p.steps = append(p.steps, createIndex(si, t, f, false))
			}
		}
		for _, c := range t.Checks {
			if c.Expr == "" || ts.checks[c.Name] {
				continue
			}
			p.steps = append(p.steps, step{
				id:    "add_check:" + t.TableName() + "." + c.Name,
				desc:  "add check " + c.Name + " on " + t.TableName(),
				sql:   "ALTER TABLE " + si.qualified(t.TableName()) + " ADD CONSTRAINT " + quote(c.Name) + " CHECK (" + c.Expr + ")",
				check: true,
			})
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
			return nil, fmt.Errorf("postgres: foreign keys form a cycle between tables %s", strings.Join(cyc, ", "))
		}
	}
	return out, nil
}

// createTable is the CREATE TABLE step for t.
func createTable(si *schemaInfo, t storage.Table) step {
	lines := []string{`"id" text NOT NULL PRIMARY KEY`}
	for _, f := range t.Fields {
		lines = append(lines, columnDef(si, f, f.Required, f.Unique))
	}
	for _, c := range t.Checks {
		if c.Expr != "" {
			lines = append(lines, "CONSTRAINT "+quote(c.Name)+" CHECK ("+c.Expr+")")
		}
	}
	return step{
		id:   "create_table:" + t.TableName(),
		desc: "create table " + t.TableName(),
		sql:  "CREATE TABLE IF NOT EXISTS " + si.qualified(t.TableName()) + " (\n  " + strings.Join(lines, ",\n  ") + "\n)",
	}
}

// columnDef is the definition of f's column.
func columnDef(si *schemaInfo, f storage.Field, notNull, unique bool) string {
	def := quote(f.ColumnName()) + " " + sqlType(f.Type)
	if notNull {
		def += " NOT NULL"
	}
	if unique {
		def += " UNIQUE"
	}
	if r := f.References; r != nil {
		rt := si.s.Table(r.Table)
		rf, _ := rt.Field(r.Field)
		def += " REFERENCES " + si.qualified(rt.TableName()) + " (" + quote(rf.ColumnName()) + ")"
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
	case storage.Bool:
		return "boolean"
	case storage.Int:
		return "bigint"
	case storage.Date:
		return "timestamptz"
	}
	return "text"
}

// typeMatches reports whether a column of PostgreSQL type typ (as printed
// by format_type) can hold a field of type t.
func typeMatches(t storage.FieldType, typ string) bool {
	switch t {
	case storage.String:
		return typ == "text" || strings.HasPrefix(typ, "character varying") || typ == "uuid" ||
			strings.HasPrefix(typ, "character")
	case storage.Bool:
		return typ == "boolean"
	case storage.Int:
		return typ == "bigint" || typ == "integer" || typ == "smallint"
	case storage.Date:
		return strings.HasPrefix(typ, "timestamp")
	}
	return false
}

// createIndex is the CREATE INDEX step for f.
func createIndex(si *schemaInfo, t storage.Table, f storage.Field, unique bool) step {
	name := indexName(t.TableName(), f.ColumnName(), unique)
	kw := "INDEX"
	if unique {
		kw = "UNIQUE INDEX"
	}
	return step{
		id:   "create_index:" + name,
		desc: "create " + strings.ToLower(kw) + " " + name,
		sql:  "CREATE " + kw + " IF NOT EXISTS " + quote(name) + " ON " + si.qualified(t.TableName()) + " (" + quote(f.ColumnName()) + ")",
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

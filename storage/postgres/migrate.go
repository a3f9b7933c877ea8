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
	"github.com/managarten/mana-auth/storage/internal/sqlbuild"
)

// SchemaVersion is the storage format version this package reads and
// writes. Migrate records it in mana_migrations; a database recording a
// higher version was written by a newer release and is refused with
// [ErrSchemaTooNew].
const SchemaVersion = 1

// pgQuerier is a pgx.Tx, *pgx.Conn or *pgxpool.Pool.
type pgQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Migrate creates the missing schema, tables, columns, indexes and CHECK
// constraints of s and records the steps in mana_migrations, in one
// transaction under an advisory lock (so that instances starting together
// take turns). It is idempotent and never drops or rewrites data.
func (a *Adapter) Migrate(ctx context.Context, s storage.Schema) error {
	if a.tx != nil {
		return errors.New("postgres: Migrate cannot run inside a transaction")
	}
	si, err := sqlbuild.Bind(a.c.d, s)
	if err != nil {
		return err
	}
	tx, err := a.c.pool.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", MapError(ctx, err))
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }() // no-op after Commit
	if err := LockMigrations(ctx, tx, a.c.schema); err != nil {
		return fmt.Errorf("postgres: migrate: lock: %w", MapError(ctx, err))
	}
	p, version, err := a.plan(ctx, tx, si)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	insert := a.c.d.RecordMigration()
	record := func(id, desc, stmt string) error {
		_, err := tx.Exec(ctx, insert, id, int64(SchemaVersion), desc, stmt, now)
		if err != nil {
			return fmt.Errorf("postgres: migrate: record %s: %w", id, MapError(ctx, err))
		}
		return nil
	}
	ran := make([]string, len(p.Steps))
	for i, s := range p.Steps {
		ran[i] = s.SQL
		if s.Check {
			ran[i], err = addCheck(ctx, tx, s.SQL)
			if ran[i] != s.SQL {
				p.Warnings = append(p.Warnings, s.Desc+": existing rows violate it, so it was added NOT VALID (enforced for new and updated rows only)")
			}
		} else {
			_, err = tx.Exec(ctx, s.SQL)
		}
		if err != nil {
			return fmt.Errorf("postgres: migrate: %s: %w", s.Desc, MapError(ctx, err))
		}
	}
	// Recorded once all ran: the first steps may create mana_migrations.
	for i, s := range p.Steps {
		if err := record(s.ID, s.Desc, ran[i]); err != nil {
			return err
		}
	}
	if version < SchemaVersion {
		if err := record(fmt.Sprintf("schema_version:%d", SchemaVersion),
			fmt.Sprintf("storage format version %d", SchemaVersion), ""); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: commit: %w", MapError(ctx, err))
	}
	for _, w := range p.Warnings {
		a.c.log.WarnContext(ctx, "postgres: migrate: "+w, "schema", a.c.schema)
	}
	a.warnBypass(ctx, si)
	if len(p.Steps) > 0 {
		a.c.log.InfoContext(ctx, "postgres: migrated database", "schema", a.c.schema, "steps", len(p.Steps), "version", SchemaVersion)
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

// LockMigrations takes the advisory lock under which [Adapter.Migrate]
// migrates the PostgreSQL schema, until tx's transaction ends, so that
// code creating tables of its own beside the adapter's (the rate-limit
// store of package ratelimit/postgres) takes turns with the instances'
// migrations.
func LockMigrations(ctx context.Context, tx pgx.Tx, schema string) error {
	h := fnv.New64a()
	h.Write([]byte("mana-auth/migrate/" + schema))
	_, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(h.Sum64()))
	return err
}

// PlanMigration returns the DDL statements [Adapter.Migrate] would run on
// the database as it is now, without running them (a dry run). It returns
// nothing for an up-to-date database. The bookkeeping inserts into
// mana_migrations are not listed, and a CHECK constraint that existing rows
// violate would be added NOT VALID.
func (a *Adapter) PlanMigration(ctx context.Context, s storage.Schema) (out []string, err error) {
	err = a.inSnapshot(ctx, s, "plan migration", func(q pgQuerier, si *sqlbuild.Schema) error {
		p, _, err := a.plan(ctx, q, si)
		if err != nil {
			return err
		}
		out = make([]string, len(p.Steps))
		for i, s := range p.Steps {
			out[i] = s.SQL
		}
		return nil
	})
	return out, err
}

// CheckSchema compares s with the PostgreSQL schema without changing
// anything ([storage.SchemaChecker]): every table and column of s that is
// missing, and every column whose type cannot hold its field (a
// [storage.Field.DBType] names the type expected), is a problem.
func (a *Adapter) CheckSchema(ctx context.Context, s storage.Schema) (problems []storage.SchemaProblem, err error) {
	err = a.inSnapshot(ctx, s, "check schema", func(q pgQuerier, si *sqlbuild.Schema) error {
		st, _, err := readState(ctx, q, a.c.schema, si)
		if err != nil {
			return err
		}
		problems = si.Problems(st)
		return nil
	})
	return problems, err
}

// inSnapshot binds s and calls fn with it and one consistent snapshot of
// the database: the adapter's transaction, or a read-only repeatable-read
// one of its own (op names the operation in its error).
func (a *Adapter) inSnapshot(ctx context.Context, s storage.Schema, op string, fn func(pgQuerier, *sqlbuild.Schema) error) error {
	si, err := sqlbuild.Bind(a.c.d, s)
	if err != nil {
		return err
	}
	if a.tx != nil {
		a.tx.mu.Lock()
		defer a.tx.mu.Unlock()
		return fn(a.tx.tx, si)
	}
	tx, err := a.c.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("postgres: %s: %w", op, MapError(ctx, err))
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	return fn(tx, si)
}

// plan reads the state of the PostgreSQL schema and compares si with it. It
// also returns the schema version the database records.
func (a *Adapter) plan(ctx context.Context, q pgQuerier, si *sqlbuild.Schema) (*sqlbuild.Plan, int64, error) {
	st, version, err := readState(ctx, q, a.c.schema, si)
	if err != nil {
		return nil, 0, err
	}
	if version > SchemaVersion {
		return nil, 0, tooNew(a.c.schema, version)
	}
	p, err := si.Plan(st)
	if err != nil {
		return nil, 0, err
	}
	rls, err := rowSecuritySteps(ctx, q, a.c.schema, si)
	if err != nil {
		return nil, 0, err
	}
	p.Steps = append(p.Steps, rls...)
	return p, version, nil
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
		return fmt.Errorf("postgres: inspect schema: %w", MapError(ctx, err))
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return fmt.Errorf("postgres: inspect schema: %w", MapError(ctx, err))
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: inspect schema: %w", MapError(ctx, err))
	}
	return nil
}

// readVersion returns whether mana_migrations exists in schema and the
// highest version it records.
func readVersion(ctx context.Context, q pgQuerier, schema string) (bool, int64, error) {
	var has bool
	err := scanAll(ctx, q, `SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p'))`, []any{schema, sqlbuild.MigrationsTable},
		func(rows pgx.Rows) error { return rows.Scan(&has) })
	if err != nil || !has {
		return false, 0, err
	}
	var v int64
	err = scanAll(ctx, q, `SELECT COALESCE(MAX("version"), 0)::bigint FROM `+quote(schema)+"."+quote(sqlbuild.MigrationsTable), nil,
		func(rows pgx.Rows) error { return rows.Scan(&v) })
	if err != nil {
		return false, 0, err
	}
	return true, v, nil
}

// readState inspects the PostgreSQL schema pg holding the tables of si,
// and returns the schema version it records.
func readState(ctx context.Context, q pgQuerier, pg string, si *sqlbuild.Schema) (*sqlbuild.DBState, int64, error) {
	st := &sqlbuild.DBState{Tables: map[string]*sqlbuild.TableState{}}
	err := scanAll(ctx, q, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, []any{pg},
		func(rows pgx.Rows) error { return rows.Scan(&st.SchemaExists) })
	if err != nil || !st.SchemaExists {
		return st, 0, err
	}
	var version int64
	st.HasMigrations, version, err = readVersion(ctx, q, pg)
	if err != nil {
		return nil, 0, err
	}
	err = scanAll(ctx, q, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')`, []any{pg}, func(rows pgx.Rows) error {
		var name string
		if err := rows.Scan(&name); err != nil {
			return err
		}
		st.Tables[name] = sqlbuild.NewTableState()
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	err = scanAll(ctx, q, `SELECT c.relname, a.attname, a.attnotnull, format_type(a.atttypid, a.atttypmod)
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped`, []any{pg},
		func(rows pgx.Rows) error {
			var table, col, typ string
			var notNull bool
			if err := rows.Scan(&table, &col, &notNull, &typ); err != nil {
				return err
			}
			if ts := st.Tables[table]; ts != nil {
				ts.Columns[col] = sqlbuild.Column{NotNull: notNull, Type: typ}
			}
			return nil
		})
	if err != nil {
		return nil, 0, err
	}
	err = scanAll(ctx, q, `SELECT c.relname, a.attname, i.indisunique, i.indnatts::int
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
WHERE n.nspname = $1 AND i.indpred IS NULL AND i.indisvalid`, []any{pg},
		func(rows pgx.Rows) error {
			var table, col string
			var unique bool
			var natts int
			if err := rows.Scan(&table, &col, &unique, &natts); err != nil {
				return err
			}
			if ts := st.Tables[table]; ts != nil {
				ts.Indexed[col] = true
				if unique && natts == 1 {
					ts.Unique[col] = true
				}
			}
			return nil
		})
	if err != nil {
		return nil, 0, err
	}
	err = scanAll(ctx, q, `SELECT c.relname, con.conname FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND con.contype = 'c'`, []any{pg}, func(rows pgx.Rows) error {
		var table, name string
		if err := rows.Scan(&table, &name); err != nil {
			return err
		}
		if ts := st.Tables[table]; ts != nil {
			ts.Checks[name] = true
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	// Whether a required column can be added NOT NULL depends on the rows.
	for _, t := range si.Tables() {
		ts := st.Tables[t.TableName()]
		if ts == nil || !si.NeedsRows(t, ts) {
			continue
		}
		err := scanAll(ctx, q, `SELECT EXISTS (SELECT 1 FROM `+quote(pg)+"."+quote(t.TableName())+`)`, nil,
			func(rows pgx.Rows) error { return rows.Scan(&ts.HasRows) })
		if err != nil {
			return nil, 0, err
		}
	}
	return st, version, nil
}

// sqlType is the column type of a field type.
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

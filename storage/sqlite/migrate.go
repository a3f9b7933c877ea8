package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/internal/sqlbuild"
)

// SchemaVersion is the storage format version this package reads and
// writes. Migrate records it in mana_migrations; a database recording a
// higher version was written by a newer release and is refused with
// [ErrSchemaTooNew].
const SchemaVersion = 1

// queryer is a *sql.DB, *sql.Tx or *sql.Conn.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
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
	si, err := sqlbuild.Bind(dialect, s)
	if err != nil {
		return err
	}
	tx, err := a.c.w.BeginTx(ctx, nil) // BEGIN IMMEDIATE: takes the write lock now
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", mapErr(ctx, err))
	}
	defer func() { _ = tx.Rollback() }() // no-op after Commit
	p, version, err := plan(ctx, tx, si)
	if err != nil {
		return err
	}
	now := time.Now().UTC().Format(DateLayout)
	insert := dialect.RecordMigration()
	record := func(id, desc, stmt string) error {
		_, err := tx.ExecContext(ctx, insert, id, int64(SchemaVersion), desc, stmt, now)
		if err != nil {
			return fmt.Errorf("sqlite: migrate: record %s: %w", id, mapErr(ctx, err))
		}
		return nil
	}
	for _, s := range p.Steps {
		if _, err := tx.ExecContext(ctx, s.SQL); err != nil {
			return fmt.Errorf("sqlite: migrate: %s: %w", s.Desc, mapErr(ctx, err))
		}
	}
	for _, s := range p.Steps {
		if err := record(s.ID, s.Desc, s.SQL); err != nil {
			return err
		}
	}
	if version < SchemaVersion {
		if err := record(fmt.Sprintf("schema_version:%d", SchemaVersion),
			fmt.Sprintf("storage format version %d", SchemaVersion), ""); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: migrate: commit: %w", mapErr(ctx, err))
	}
	for _, w := range p.Warnings {
		a.c.log.WarnContext(ctx, "sqlite: migrate: "+w)
	}
	if len(p.Steps) > 0 {
		a.c.log.InfoContext(ctx, "sqlite: migrated database", "steps", len(p.Steps), "version", SchemaVersion)
	}
	return nil
}

// PlanMigration returns the DDL statements [Adapter.Migrate] would run on
// the database as it is now, without running them (a dry run). It returns
// nothing for an up-to-date database. The bookkeeping inserts into
// mana_migrations are not listed.
func (a *Adapter) PlanMigration(ctx context.Context, s storage.Schema) (out []string, err error) {
	err = a.inSnapshot(ctx, s, "plan migration", func(q queryer, si *sqlbuild.Schema) error {
		p, _, err := plan(ctx, q, si)
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

// CheckSchema compares s with the database without changing anything
// ([storage.SchemaChecker]): every table and column of s that is missing
// is a problem. (SQLite columns take any type: types are not compared.)
func (a *Adapter) CheckSchema(ctx context.Context, s storage.Schema) (problems []storage.SchemaProblem, err error) {
	err = a.inSnapshot(ctx, s, "check schema", func(q queryer, si *sqlbuild.Schema) error {
		st, _, err := readState(ctx, q, si)
		if err != nil {
			return err
		}
		problems = si.Problems(st)
		return nil
	})
	return problems, err
}

// inSnapshot binds s and calls fn with it and one read-only snapshot of
// the database: the adapter's transaction, or a read-only one of its own
// (op names the operation in its error).
func (a *Adapter) inSnapshot(ctx context.Context, s storage.Schema, op string, fn func(queryer, *sqlbuild.Schema) error) error {
	si, err := sqlbuild.Bind(dialect, s)
	if err != nil {
		return err
	}
	if a.tx != nil {
		a.tx.mu.Lock()
		defer a.tx.mu.Unlock()
		return fn(a.tx.tx, si)
	}
	tx, err := a.c.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}) // one snapshot
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, mapErr(ctx, err))
	}
	defer func() { _ = tx.Rollback() }()
	return fn(tx, si)
}

// plan reads the state of the database and compares si with it. It also
// returns the schema version the database records.
func plan(ctx context.Context, q queryer, si *sqlbuild.Schema) (*sqlbuild.Plan, int64, error) {
	st, version, err := readState(ctx, q, si)
	if err != nil {
		return nil, 0, err
	}
	if version > SchemaVersion {
		return nil, 0, tooNew(version)
	}
	p, err := si.Plan(st)
	return p, version, err
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
		[]any{sqlbuild.MigrationsTable}, func(rows *sql.Rows) error { has = true; return nil })
	if err != nil || !has {
		return false, 0, err
	}
	var v sql.NullInt64
	err = scanAll(ctx, q, `SELECT MAX("version") FROM "`+sqlbuild.MigrationsTable+`"`, nil,
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

// readState inspects the tables of si that exist, and returns the schema
// version the database records. Names are lower-cased: SQLite identifiers
// are case-insensitive.
func readState(ctx context.Context, q queryer, si *sqlbuild.Schema) (*sqlbuild.DBState, int64, error) {
	st := &sqlbuild.DBState{Tables: map[string]*sqlbuild.TableState{}}
	var err error
	var version int64
	st.HasMigrations, version, err = readVersion(ctx, q)
	if err != nil {
		return nil, 0, err
	}
	want := map[string]bool{}
	for _, t := range si.Tables() {
		want[strings.ToLower(t.TableName())] = true
	}
	ddls := map[string]string{} // CREATE TABLE statements
	err = scanAll(ctx, q, `SELECT name, COALESCE(sql, '') FROM sqlite_master WHERE type = 'table'`, nil,
		func(rows *sql.Rows) error {
			var name, ddl string
			if err := rows.Scan(&name, &ddl); err != nil {
				return err
			}
			if want[strings.ToLower(name)] {
				st.Tables[strings.ToLower(name)] = sqlbuild.NewTableState()
				ddls[strings.ToLower(name)] = ddl
			} else {
				if st.Others == nil {
					st.Others = map[string]bool{}
				}
				st.Others[strings.ToLower(name)] = true
			}
			return nil
		})
	if err != nil {
		return nil, 0, err
	}
	for name, ts := range st.Tables {
		err := scanAll(ctx, q, `SELECT name, "notnull", pk FROM pragma_table_info(?)`, []any{name},
			func(rows *sql.Rows) error {
				var col string
				var notNull, pk int64
				if err := rows.Scan(&col, &notNull, &pk); err != nil {
					return err
				}
				ts.Columns[strings.ToLower(col)] = sqlbuild.Column{NotNull: notNull != 0 || pk != 0}
				return nil
			})
		if err != nil {
			return nil, 0, err
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
			return nil, 0, err
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
				return nil, 0, err
			}
			if len(cols) == 0 || cols[0] == "" {
				continue // expression index
			}
			ts.Indexed[cols[0]] = true
			if ix.unique && len(cols) == 1 {
				ts.Unique[cols[0]] = true
			}
		}
		lower := strings.ToLower(ddls[name])
		for _, t := range si.Tables() {
			if strings.ToLower(t.TableName()) != name {
				continue
			}
			for _, c := range t.Checks {
				n := strings.ToLower(c.Name)
				if strings.Contains(lower, `constraint "`+n+`"`) || strings.Contains(lower, "constraint "+n+" ") ||
					strings.Contains(lower, "constraint `"+n+"`") || strings.Contains(lower, "constraint ["+n+"]") {
					ts.Checks[n] = true
				}
			}
		}
	}
	return st, version, nil
}

// sqlType is the column type of a field type.
func sqlType(t storage.FieldType) string {
	switch t {
	case storage.Bool, storage.Int:
		return "integer"
	}
	return "text" // String, and Date as ISO-8601 text
}

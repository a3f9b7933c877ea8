package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/internal/sqlgolden"
	"github.com/managarten/mana-auth/storage/sqlite"
)

// TestGoldenSQL pins the text of every statement shape the adapter
// generates (see package sqlgolden), read from the statement cache.
func TestGoldenSQL(t *testing.T) {
	ctx := context.Background()
	db := openPath(t, sqlite.MemoryPath, nil)
	s := sqlgolden.Schema()
	if err := db.Bind(s); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx, s); err != nil {
		t.Fatal(err)
	}
	got := sqlgolden.Run(t, db, func() []string { return sqlite.TakeStatements(db) })
	sqlgolden.Check(t, "sql", got)
}

// TestGoldenMigration pins the migration statements and warnings for a
// fresh database and for an upgrade of a database holding rows.
func TestGoldenMigration(t *testing.T) {
	ctx := context.Background()
	logger, logs := sqlgolden.Logger()
	db := openPath(t, filepath.Join(t.TempDir(), "golden.db"), logger)
	m := sqlgolden.NewMigrations(t, logs)
	plan := func(s storage.Schema) func() ([]string, error) {
		return func() ([]string, error) { return db.PlanMigration(ctx, s) }
	}
	migrate := func(s storage.Schema) func() ([]string, error) {
		return func() ([]string, error) { return nil, db.Migrate(ctx, s) }
	}
	m.Step("fresh", plan(sqlgolden.Schema()), migrate(sqlgolden.Schema()))
	if err := db.Bind(sqlgolden.Schema()); err != nil {
		t.Fatal(err)
	}
	sqlgolden.Run(t, db, func() []string { return nil })
	m.Step("upgrade", plan(sqlgolden.Upgraded()), migrate(sqlgolden.Upgraded()))
	m.Step("up to date", plan(sqlgolden.Upgraded()), nil)
	sqlgolden.Check(t, "migration", m.String())
}

package sqlite_test

import (
	"context"
	"path/filepath"
	"strings"
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
	var b strings.Builder
	step := func(title string, s storage.Schema, migrate bool) {
		plan, err := db.PlanMigration(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("-- plan: " + title + "\n")
		for _, q := range plan {
			b.WriteString(q + ";\n")
		}
		if !migrate {
			return
		}
		if err := db.Migrate(ctx, s); err != nil {
			t.Fatal(err)
		}
		b.WriteString("-- warnings\n")
		for _, l := range logs() {
			b.WriteString(l + "\n")
		}
	}
	step("fresh", sqlgolden.Schema(), true)
	if err := db.Bind(sqlgolden.Schema()); err != nil {
		t.Fatal(err)
	}
	sqlgolden.Run(t, db, func() []string { return nil })
	step("upgrade", sqlgolden.Upgraded(), true)
	step("up to date", sqlgolden.Upgraded(), false)
	sqlgolden.Check(t, "migration", b.String())
}

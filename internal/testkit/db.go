package testkit

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/managarten/mana-auth/internal/testpg"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
	"github.com/managarten/mana-auth/storage/postgres"
	"github.com/managarten/mana-auth/storage/sqlite"
)

// OpenDB returns a fresh database of the kind ("sqlite", "postgres", or
// anything else for the memory adapter), closed with the test: SQLite in
// the test's temporary directory, PostgreSQL in a throwaway schema named
// after prefix (the test is skipped when PostgreSQL is not reachable).
func OpenDB(t testing.TB, kind, prefix string) storage.Adapter {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	switch kind {
	case "sqlite":
		db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "auth.db"), Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	case "postgres":
		testpg.Require(t)
		db, err := postgres.Open(context.Background(), postgres.Options{URL: testpg.URL(), Schema: testpg.SchemaName(t, prefix), Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	return memory.New()
}

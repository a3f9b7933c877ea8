package postgres_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/managarten/mana-auth/internal/testpg"
	storagepg "github.com/managarten/mana-auth/storage/postgres"
)

// open returns an adapter on a fresh schema (unless opts names one),
// closed when the test ends.
func open(t *testing.T, opts storagepg.Options) *storagepg.Adapter {
	t.Helper()
	if opts.Schema == "" {
		opts.Schema = testpg.SchemaName(t, "rl_")
	}
	opts.URL = testpg.URL()
	if opts.MaxConns == 0 {
		opts.MaxConns = 4
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	db, err := storagepg.Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() }) // runs before the schema is dropped
	return db
}

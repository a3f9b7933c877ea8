package postgres_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

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

// raw returns a connection for inspecting the database directly.
func raw(t *testing.T) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testpg.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// tracedPool returns a pool of the caller's whose statements tr sees.
func tracedPool(t *testing.T, tr pgx.QueryTracer) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(testpg.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 2
	cfg.ConnConfig.Tracer = tr
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

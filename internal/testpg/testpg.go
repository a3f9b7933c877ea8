// Package testpg gives tests throwaway PostgreSQL schemas on the server at
// TEST_DATABASE_URL (default DefaultURL).
//
// Tests that need PostgreSQL skip when no server answers, except in CI
// (CI=true), where they fail.
package testpg

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultURL is the server used when TEST_DATABASE_URL is not set.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// URL returns TEST_DATABASE_URL, or DefaultURL when it is not set.
func URL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

var (
	reachOnce sync.Once
	reachErr  error
)

// Reachable connects to URL() and pings it, once per process, and returns
// the error (nil when the server answered).
func Reachable() error {
	reachOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, URL())
		if err != nil {
			reachErr = err
			return
		}
		reachErr = conn.Ping(ctx)
		_ = conn.Close(ctx)
	})
	return reachErr
}

// Require skips tb when no PostgreSQL server answers at URL(), or fails it
// when CI=true.
func Require(tb testing.TB) {
	tb.Helper()
	if err := Reachable(); err != nil {
		msg := fmt.Sprintf("PostgreSQL not reachable at TEST_DATABASE_URL (default %s): %v", DefaultURL, err)
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
}

// SchemaName calls Require and returns a fresh schema name, prefix followed
// by 12 random hex digits. The schema is not created (migrations create
// it); it is dropped, if it exists, when tb ends — after the cleanups
// registered later, such as closing a pool on it.
func SchemaName(tb testing.TB, prefix string) string {
	tb.Helper()
	Require(tb)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := prefix + hex.EncodeToString(b)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, URL())
		if err != nil {
			tb.Errorf("drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS "`+name+`" CASCADE`); err != nil {
			tb.Errorf("drop schema %s: %v", name, err)
		}
	})
	return name
}

// Schema is SchemaName that also creates the (empty) schema. It returns the
// server URL and the schema name.
func Schema(tb testing.TB, prefix string) (url, schema string) {
	tb.Helper()
	schema = SchemaName(tb, prefix)
	url = URL()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA "`+schema+`"`); err != nil {
		tb.Fatal(err)
	}
	return url, schema
}

// Conn calls Require and returns a connection to URL() for inspecting the
// database directly, closed when tb ends.
func Conn(tb testing.TB) *pgx.Conn {
	tb.Helper()
	Require(tb)
	conn, err := pgx.Connect(context.Background(), URL())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// TracedPool calls Require and returns a small pool (two connections) on
// URL() whose statements tr sees, and so do those of any pool derived from
// its configuration; it is closed when tb ends.
func TracedPool(tb testing.TB, tr pgx.QueryTracer) *pgxpool.Pool {
	tb.Helper()
	Require(tb)
	cfg, err := pgxpool.ParseConfig(URL())
	if err != nil {
		tb.Fatal(err)
	}
	cfg.MaxConns = 2
	cfg.ConnConfig.Tracer = tr
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

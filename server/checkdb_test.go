package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/storage/sqlite"
)

// check-db on SQLite: a fresh database lacks every table (exit status
// non-zero, each named with its feature); after the migration it matches.
func TestCheckDB(t *testing.T) {
	cfg, err := fromEnv(func(k string) string {
		return map[string]string{"AUTH_SECRET": goodSecret, "DATA_DIR": t.TempDir()}[k]
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var out bytes.Buffer
	err = CheckDB(context.Background(), cfg, log, &out)
	if err == nil || !strings.Contains(err.Error(), "the server cannot run on this database") {
		t.Errorf("fresh database: err %v", err)
	}
	for _, want := range []string{
		`PROBLEM user: table "user" is missing (needed by the core (sign-up, sign-in, sessions); the migration adds it)`,
		`PROBLEM twoFactor: table "twoFactor" is missing (needed by two-factor;`,
		`PROBLEM securityEvent: table "securityEvent" is missing (needed by mana (security log);`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if _, err := Migrate(context.Background(), cfg, log, false); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := CheckDB(context.Background(), cfg, log, &out); err != nil || !strings.Contains(out.String(), "OK: the database matches the schema") {
		t.Errorf("migrated database: err %v\n%s", err, out.String())
	}
}

func TestFeatureOf(t *testing.T) {
	for _, tc := range [][3]string{
		{"user", "email", "the core (sign-up, sign-in, sessions)"},
		{"user", "banned", "admin"},
		{"session", "activeOrganizationId", "organization"},
		{"jwks", "alg", "jwt"},
		{"somethingElse", "", "the plugin that declares somethingElse"},
	} {
		if got := featureOf(tc[0], tc[1]); got != tc[2] {
			t.Errorf("featureOf(%q, %q) = %q, want %q", tc[0], tc[1], got, tc[2])
		}
	}
}

// A server that does not migrate finds a database without its tables
// before serving (cmd/mana-auth stops the start on it).
func TestCheckSchemaWithoutMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "empty.db"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cfg := Config{BaseURL: "http://localhost:3001", Secret: "a-check-schema-test-secret-of-enough-length", DataDir: t.TempDir()}
	s, err := NewWithStorage(ctx, cfg, db, Deps{Mailer: auth.Mailer(nil)}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.CheckSchema(ctx)
	if err == nil || !strings.Contains(err.Error(), "user") {
		t.Fatalf("CheckSchema on an empty database: %v", err)
	}
	if err := s.auth.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckSchema(ctx); err != nil {
		t.Fatalf("after the migration: %v", err)
	}
}

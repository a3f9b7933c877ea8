package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
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

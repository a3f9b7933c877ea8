package server

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/managarten/mana-auth/storage/memory"
)

// The upstream preset names tables and fields the server has, and the
// server starts with it.
func TestUpstreamPresetApplies(t *testing.T) {
	cfg, err := fromEnv(func(k string) string {
		return map[string]string{"AUTH_SECRET": goodSecret, "MANA_SCHEMA": "upstream"}[k]
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DatabaseSchema != "auth" {
		t.Errorf("DatabaseSchema = %q, want auth", cfg.DatabaseSchema)
	}
	s, err := NewWithStorage(context.Background(), cfg, memory.New(), Deps{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sc := s.auth.Schema()
	for logical, want := range map[string]string{"user": "users", "securityEvent": "security_events", "loginAttempt": "login_attempts", "twoFactor": "two_factor_auth"} {
		if got := sc.Table(logical).TableName(); got != want {
			t.Errorf("%s: table %q, want %q", logical, got, want)
		}
	}
	f, _ := sc.Table("user").Field("accessTier")
	if f.ColumnName() != "access_tier" || f.DBType != "auth.access_tier" {
		t.Errorf("user.accessTier: column %q type %q", f.ColumnName(), f.DBType)
	}
}

// The preset leaves out the tables and fields of plugins not mounted.
func TestUpstreamPresetWithoutPlugins(t *testing.T) {
	cfg, err := fromEnv(func(k string) string {
		return map[string]string{"AUTH_SECRET": goodSecret, "MANA_SCHEMA": "upstream", "DISABLED_PLUGINS": "admin,username",
			"BASE_URL": "http://127.0.0.1:3001"}[k]
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewWithStorage(context.Background(), cfg, memory.New(), Deps{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if sc := s.auth.Schema(); sc.Table("passkey") != nil || sc.Table("user").TableName() != "users" {
		t.Errorf("passkey table %v, user table %q", sc.Table("passkey"), sc.Table("user").TableName())
	}
}

func TestSchemaVariablesRefused(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"table": {"user": "users"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	unknown := filepath.Join(dir, "unknown.json")
	if err := os.WriteFile(unknown, []byte(`{"fields": {"user": {"nope": "x"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"MANA_SCHEMA": "upsteam"}, `MANA_SCHEMA: "upsteam" is not a schema preset`},
		{map[string]string{"MANA_SCHEMA": "upstream", "SCHEMA_MAPPING_FILE": bad}, "SCHEMA_MAPPING_FILE: cannot be combined"},
		{map[string]string{"SCHEMA_MAPPING_FILE": filepath.Join(dir, "missing.json")}, "SCHEMA_MAPPING_FILE: open"},
		{map[string]string{"SCHEMA_MAPPING_FILE": bad}, `unknown field "table"`},
	} {
		_, err := fromEnv(func(k string) string { return tc.env[k] }, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.env, err, tc.want)
		}
	}
	// A file naming a field the schema lacks is refused at start.
	cfg, err := fromEnv(func(k string) string {
		return map[string]string{"AUTH_SECRET": goodSecret, "SCHEMA_MAPPING_FILE": unknown}[k]
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewWithStorage(context.Background(), cfg, memory.New(), Deps{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), `table "user" has no field "nope"`) {
		t.Errorf("unknown field: err = %v", err)
	}
}

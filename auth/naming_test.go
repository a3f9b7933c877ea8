package auth_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
	"github.com/managarten/mana-auth/storage/sqlite"
)

// notesPlugin declares a table of its own and a field on user, so that a
// naming covers a plugin's tables and the fields it adds to the core's.
type notesPlugin struct{}

func (notesPlugin) ID() string { return "notes" }

func (notesPlugin) Schema() storage.Schema {
	return storage.Schema{Tables: []storage.Table{
		{Name: "user", Fields: []storage.Field{{Name: "favoriteColor", Type: storage.String}}},
		{Name: "note", Fields: []storage.Field{
			{Name: "userId", Type: storage.String, Required: true, Index: true,
				References: &storage.Reference{Table: "user", Field: "id", OnDelete: storage.Cascade}},
			{Name: "body", Type: storage.String, Required: true},
		}},
	}}
}

// snakeNaming renames every field of the Auth's tables to snake_case and,
// with plural, every table to its plural.
func snakeNaming(t *testing.T, plural bool, plugins ...auth.Plugin) storage.Naming {
	t.Helper()
	a, err := auth.New(testConfig("http://localhost:3000"), memory.New(), plugins...)
	if err != nil {
		t.Fatal(err)
	}
	n := storage.Naming{Plural: plural, Fields: map[string]map[string]string{}}
	for _, tb := range a.Schema().Tables {
		n.Fields[tb.Name] = map[string]string{}
		for _, f := range tb.Fields {
			n.Fields[tb.Name][f.Name] = storage.SnakeCase(f.Name)
		}
	}
	return n
}

// TestNaming: under a naming of the core's and a plugin's tables, a user
// signs up, in and out, on SQLite whose tables and columns carry the
// mapped names; the schema reports them.
func TestNaming(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "named.db")
	db, err := sqlite.Open(ctx, sqlite.Options{Path: path, Logger: discardLogger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	cfg := testConfig("http://localhost:3000")
	cfg.Naming = snakeNaming(t, true, notesPlugin{})
	cfg.Naming.Tables = map[string]string{"verification": "verification"}
	cfg.Naming.Fields["rateLimit"] = map[string]string{"lastRequest": "last_request"} // the rate-limit store's
	a, err := auth.New(cfg, db, notesPlugin{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.CheckSchema(ctx); err == nil {
		t.Error("CheckSchema on an empty database: no error")
	} else if me := (*auth.SchemaMismatchError)(nil); !errors.As(err, &me) || !strings.Contains(err.Error(), `user: table "users" is missing`) {
		t.Errorf("CheckSchema on an empty database = %v", err)
	}
	if err := a.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.CheckSchema(ctx); err != nil {
		t.Errorf("CheckSchema after Migrate: %v", err)
	}
	s := a.Schema()
	for logical, want := range map[string]string{"user": "users", "session": "sessions", "account": "accounts",
		"verification": "verification", "note": "notes"} {
		if got := s.Table(logical).TableName(); got != want {
			t.Errorf("table %s is called %q, want %q", logical, got, want)
		}
	}
	if f, _ := s.Table("user").Field("favoriteColor"); f.ColumnName() != "favorite_color" {
		t.Errorf("user.favoriteColor is column %q", f.ColumnName())
	}

	res, err := a.SignUpEmail(ctx, auth.SignUpInput{Name: "N", Email: "n@example.com", Password: "password-123"})
	if err != nil {
		t.Fatal(err)
	}
	in, err := a.SignInEmail(ctx, auth.SignInInput{Email: "n@example.com", Password: "password-123"})
	if err != nil || in.User.ID != res.User.ID {
		t.Fatalf("SignInEmail = %v, %v", in, err)
	}
	sd, err := a.GetSession(ctx, in.Token())
	if err != nil || sd == nil || sd.User.Email != "n@example.com" {
		t.Fatalf("GetSession = %+v, %v", sd, err)
	}
	if err := a.Host().DB().Create(ctx, "note", storage.Record{"id": "n1", "userId": res.User.ID, "body": "hi"}); err != nil {
		t.Fatal(err)
	}

	// What the file holds, read with plain SQL.
	raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var email string
	var verified int
	if err := raw.QueryRow(`SELECT u.email, u.email_verified FROM users u JOIN sessions s ON s.user_id = u.id
JOIN accounts a ON a.user_id = u.id AND a.provider_id = 'credential' JOIN notes n ON n.user_id = u.id LIMIT 1`).Scan(&email, &verified); err != nil {
		t.Fatalf("the mapped tables and columns: %v", err)
	}
	if email != "n@example.com" {
		t.Errorf("users.email = %q", email)
	}
	rows, err := raw.Query(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		_ = rows.Scan(&n)
		tables = append(tables, n)
	}
	for _, unwanted := range []string{"user", "session", "account", "note", "rateLimit", "rateLimits"} {
		if slices.Contains(tables, unwanted) {
			t.Errorf("table %q exists (tables %q)", unwanted, tables)
		}
	}
}

// TestNamingRefused: a bad naming fails auth.New, naming the table and
// field, before anything is bound.
func TestNamingRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*auth.Config)
		want   []string
	}{
		{"duplicate column", func(c *auth.Config) {
			c.Naming.Fields = map[string]map[string]string{"user": {"emailVerified": "verified", "image": "verified"}}
		}, []string{`fields emailVerified, image all map to column "verified"`}},
		{"column of another field", func(c *auth.Config) {
			c.Naming.Fields = map[string]map[string]string{"session": {"userId": "token"}}
		}, []string{`table session (session): fields token, userId all map to column "token"`}},
		{"unknown field", func(c *auth.Config) {
			c.Naming.Fields = map[string]map[string]string{"user": {"email_verified": "email_verified"}}
		}, []string{`table "user" has no field "email_verified"`}},
		{"a plugin's table without the plugin", func(c *auth.Config) {
			c.Naming.Tables = map[string]string{"twoFactor": "two_factor_auth"}
		}, []string{`unknown table "twoFactor"`}},
		{"two tables one name", func(c *auth.Config) {
			c.Naming.Tables = map[string]string{"session": "sessions", "account": "sessions"}
		}, []string{`tables session, account all map to table "sessions"`}},
		{"empty names", func(c *auth.Config) {
			c.Naming.Tables = map[string]string{"user": ""}
			c.Naming.Fields = map[string]map[string]string{"user": {"name": ""}}
		}, []string{`table "user": empty name`, `user.name: empty column name`}},
		{"type of a bool", func(c *auth.Config) {
			c.Naming.Types = map[string]map[string]string{"user": {"emailVerified": "auth.flag"}}
		}, []string{`types: user.emailVerified: a database type can only be given to a string field, not a bool`}},
		{"TableNames against Naming", func(c *auth.Config) {
			c.TableNames = map[string]string{"user": "users"}
			c.Naming.Tables = map[string]string{"user": "app_users"}
		}, []string{`TableNames and Naming.Tables name table "user" differently`}},
		{"a rate-limit field is the store's, a type still checked", func(c *auth.Config) {
			c.Naming.Fields = map[string]map[string]string{"rateLimit": {"nope": "x"}, "user": {"nope": "x"}}
		}, []string{`table "user" has no field "nope"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig("http://localhost:3000")
			tt.mutate(&cfg)
			_, err := auth.New(cfg, memory.New(), notesPlugin{})
			if err == nil {
				t.Fatal("auth.New: no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("auth.New error %q does not say %s", err, w)
				}
			}
		})
	}
	// TableNames alone, and agreeing with Naming, still work.
	cfg := testConfig("http://localhost:3000")
	cfg.TableNames = map[string]string{"user": "users"}
	cfg.Naming = storage.Naming{Plural: true, Tables: map[string]string{"user": "users"}}
	a, err := auth.New(cfg, memory.New())
	if err != nil {
		t.Fatal(err)
	}
	sch := a.Schema()
	if got := sch.Table("session").TableName(); got != "sessions" {
		t.Errorf("session is %q under Plural", got)
	}
}

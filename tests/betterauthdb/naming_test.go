package betterauthdb_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testpg"
	"github.com/managarten/mana-auth/internal/testproc"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/postgres"
)

// namedResult is what ba-naming.mjs prints: ba-migrate.mjs's fields, the
// mode and the naming Better Auth was given, in storage.Naming's JSON form
// (what an operator writes from the Better Auth configuration).
type namedResult struct {
	baResult
	Mode   string         `json:"mode"`
	Naming storage.Naming `json:"naming"`
}

// runBetterAuthNamed runs ba-naming.mjs in mode on a fresh PostgreSQL
// schema and returns its result and the schema.
func runBetterAuthNamed(t *testing.T, node, mode string) (namedResult, string) {
	t.Helper()
	requirePostgres(t)
	_, schema := testpg.Schema(t, "ba_")
	ensureModules(t, &compatModules, compatDir(t), npmTimeout,
		"node_modules/better-auth/package.json", "node_modules/pg/package.json")
	ctx, cancel := context.WithTimeout(context.Background(), nodeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(hereDir(t), "ba-naming.mjs"), mode, testpg.URL(), schema, testSecret, testBaseURL)
	cmd.Dir = hereDir(t)
	cmd.Env = append(os.Environ(), "BETTER_AUTH_TELEMETRY=0")
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ba-naming.mjs %s: %v\nstdout:\n%s\nstderr:\n%s", mode, err, stdout.String(), stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var res namedResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("ba-naming.mjs output: %v\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	if res.Versions["better-auth"] != "1.7.25" || res.Mode != mode {
		t.Fatalf("ba-naming.mjs ran better-auth %q in mode %q, want 1.7.25 %s", res.Versions["better-auth"], res.Mode, mode)
	}
	if res.CookieValue == "" || res.UserID == "" || !scryptHash.MatchString(res.PasswordHash) {
		t.Fatalf("ba-naming.mjs output incomplete: %+v", res)
	}
	t.Logf("Better Auth %s (%s) migration:\n%s", res.Versions["better-auth"], mode, res.MigrationSQL)
	return res, schema
}

// TestBetterAuthNamedDatabase serves databases Better Auth 1.7.25 created
// and filled under its naming options — Drizzle-style snake_case `fields`,
// and the adapter's `usePlural` — with storage/postgres and the matching
// storage.Naming (the one Better Auth was given, decoded from its JSON
// form): Better Auth's session cookie is accepted, the password it hashed
// signs in, our migration only adds, and the rows stay as Better Auth
// wrote them. Without the naming, Migrate refuses the database, naming
// the tables or columns it holds under other names, and CheckSchema lists
// what is missing: a clear start-up error, not a 500 on requests.
func TestBetterAuthNamedDatabase(t *testing.T) {
	for _, tc := range []struct {
		mode string
		// tables are Better Auth's tables as created; wrong is what
		// Migrate without the naming says of them.
		tables []string
		wrong  []string
		raw    string // a query on Better Auth's user and session rows by token
	}{
		{"snake", []string{"user", "session", "account", "verification"},
			[]string{`column user.emailVerified ("user"."emailVerified") is missing, but the table has "email_verified"`,
				`column session.userId ("session"."userId") is missing, but the table has "user_id"`},
			`SELECT u."email_verified"::text, s."expires_at"::text FROM %s."user" u JOIN %s."session" s ON s."user_id" = u.id WHERE s.token = $1`},
		{"plural", []string{"users", "sessions", "accounts", "verifications"},
			[]string{`table user ("user") is missing, but the database has "users"`,
				`table verification ("verification") is missing, but the database has "verifications"`},
			`SELECT u."emailVerified"::text, s."expiresAt"::text FROM %s."users" u JOIN %s."sessions" s ON s."userId" = u.id WHERE s.token = $1`},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			node := requireNode(t)
			res, schema := runBetterAuthNamed(t, node, tc.mode)
			if diff := cmp.Diff(tc.tables, res.TablesCreated); diff != "" {
				t.Fatalf("tables Better Auth created (-want +got):\n%s", diff)
			}
			// Drizzle's snake_case is storage.SnakeCase.
			for table, fields := range res.Naming.Fields {
				for f, col := range fields {
					if got := storage.SnakeCase(f); got != col {
						t.Errorf("%s.%s: Better Auth's column %q, storage.SnakeCase %q", table, f, col, got)
					}
				}
			}
			ctx := context.Background()
			conn := testpg.Conn(t)
			q := strings.ReplaceAll(tc.raw, "%s", `"`+schema+`"`)
			var verified, expires string
			if err := conn.QueryRow(ctx, q, res.SessionToken).Scan(&verified, &expires); err != nil {
				t.Fatalf("Better Auth's rows under its names: %v", err)
			}
			t.Logf("stored by Better Auth: emailVerified=%s expiresAt=%s", verified, expires)

			logs := &testproc.Buffer{}
			log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
			t.Cleanup(func() {
				if s := logs.String(); s != "" {
					t.Logf("adapter logs:\n%s", s)
				}
			})
			open := func() *postgres.Adapter {
				db, err := postgres.Open(ctx, postgres.Options{URL: testpg.URL(), Schema: schema, MaxConns: 4, Logger: log})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = db.Close() })
				return db
			}
			newAuth := func(db storage.Adapter, n storage.Naming) *auth.Auth {
				a, err := auth.New(auth.Config{BaseURL: testBaseURL, Secret: testSecret, Logger: log,
					RateLimit: auth.RateLimitConfig{Disabled: true}, Naming: n}, db)
				if err != nil {
					t.Fatal(err)
				}
				return a
			}

			// Without the naming: refused at start, nothing changed.
			plain := newAuth(open(), storage.Naming{})
			err := plain.Migrate(ctx)
			for _, w := range tc.wrong {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("Migrate without the naming: error %v does not say %s", err, w)
				}
			}
			var mismatch *auth.SchemaMismatchError
			if err := plain.CheckSchema(ctx); !errors.As(err, &mismatch) || len(mismatch.Problems) == 0 {
				t.Errorf("CheckSchema without the naming = %v, want a SchemaMismatchError", err)
			} else {
				t.Logf("CheckSchema without the naming:\n%v", err)
			}
			var n int
			if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = $1`, schema).Scan(&n); err != nil || n != len(tc.tables) {
				t.Errorf("the refused migration changed the schema: %d tables, %v", n, err)
			}

			// With the naming Better Auth was given.
			db := open()
			a := newAuth(db, res.Naming)
			if err := a.CheckSchema(ctx); err != nil {
				t.Errorf("CheckSchema with the naming, before Migrate: %v", err)
			}
			h := a.Handler()
			baCookie := res.CookieName + "=" + res.CookieValue
			wantSession := &getSessionJSON{
				Session: &sessionJSON{ID: res.SessionID, Token: res.SessionToken, UserID: res.UserID, ExpiresAt: res.SessionExpiresAt},
				User:    &userJSON{ID: res.UserID, Email: res.Email, Name: res.Name, EmailVerified: false, CreatedAt: res.UserCreatedAt},
			}
			check := func(stage string) {
				t.Helper()
				if diff := cmp.Diff(wantSession, getSession(t, h, baCookie)); diff != "" {
					t.Errorf("%s: get-session with Better Auth's cookie (-want +got):\n%s", stage, diff)
				}
				for _, tt := range []struct {
					password string
					status   int
					userID   string
				}{{res.Password, http.StatusOK, res.UserID}, {res.Password + "!", http.StatusUnauthorized, ""}} {
					status, id, cookie := signIn(t, h, "better-auth.session_token", res.Email, tt.password)
					if status != tt.status || id != tt.userID {
						t.Errorf("%s: sign-in: status %d user %q, want %d %q", stage, status, id, tt.status, tt.userID)
						continue
					}
					if tt.status == http.StatusOK {
						if got := getSession(t, h, cookie); got == nil || got.User.ID != res.UserID {
							t.Errorf("%s: get-session with our new cookie = %+v", stage, got)
						}
					}
				}
			}
			before := takeSnapshot(t, db, res.baResult)
			if got := before.Session.Time("expiresAt"); !got.Equal(res.SessionExpiresAt) {
				t.Errorf("session.expiresAt read as %v, Better Auth wrote %v", got, res.SessionExpiresAt)
			}
			check("before Migrate")

			plan, err := db.PlanMigration(ctx, a.Schema())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("our PlanMigration under the naming (%d statements):\n%s", len(plan), strings.Join(plan, ";\n"))
			for _, p := range checkNonDestructive(plan, res.TablesCreated) {
				t.Error(p)
			}
			if err := a.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if again, err := db.PlanMigration(ctx, a.Schema()); err != nil || len(again) != 0 {
				t.Errorf("PlanMigration after Migrate = %q, %v; want nothing", again, err)
			}
			if err := a.CheckSchema(ctx); err != nil {
				t.Errorf("CheckSchema after Migrate: %v", err)
			}
			if diff := cmp.Diff(before, takeSnapshot(t, db, res.baResult)); diff != "" {
				t.Errorf("Migrate changed Better Auth's rows (-before +after):\n%s", diff)
			}
			check("after Migrate")
			// Our sign-ins wrote their sessions under Better Auth's names.
			var sessions int
			if err := conn.QueryRow(ctx, strings.ReplaceAll(`SELECT count(*) FROM %s.`+pgx.Identifier{tc.tables[1]}.Sanitize(), "%s", `"`+schema+`"`)).Scan(&sessions); err != nil || sessions < 3 {
				t.Errorf("sessions in %s: %d, %v; want Better Auth's and ours", tc.tables[1], sessions, err)
			}
		})
	}
}

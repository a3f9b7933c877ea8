// Package betterauthdb_test opens databases that Better Auth 1.7.25 itself
// created and filled, with our storage adapters.
//
// For each backend (PostgreSQL, SQLite) tests/compat/ba-migrate.mjs runs
// Better Auth's own migration (getMigrations from better-auth/db/migration,
// Kysely over `pg` or `better-sqlite3`) and signs a user up through Better
// Auth, so the user, its credential account (scrypt hash) and its session are
// rows Better Auth wrote. The test then opens that database with
// storage/postgres or storage/sqlite and checks, through auth.New with the
// same secret and Better Auth's default cookie prefix:
//
//   - GET /api/auth/get-session with Better Auth's session cookie returns
//     that user and session (dates included);
//   - sign-in with the password works (the hash was made by Better Auth), and
//     a wrong password is refused;
//   - our migration on that database only creates, never drops or alters:
//     the plan is logged and every statement is checked, Better Auth's rows
//     are unchanged after Migrate, and a second plan is empty;
//   - the reference server (server.Migrate, then server.New with all its
//     plugins) migrates the same database without touching Better Auth's
//     rows and signs the user in.
//
// TestBetterAuthNamedDatabase (naming_test.go) does the same on PostgreSQL
// for databases Better Auth created under its naming options
// (ba-naming.mjs: snake_case `fields`, and the adapter's `usePlural`),
// served with the matching storage.Naming; without it, Migrate and
// CheckSchema refuse the database at start.
//
// Node 20+ and npm are needed (node_modules are installed with `npm ci` on
// first use); without them the tests skip, unless CI=true, where they fail.
// The SQLite case also needs better-sqlite3, which compiles from source here
// (tests/betterauthdb/package.json, kept apart from tests/compat so that the
// compat tests do not wait for the compiler).
package betterauthdb_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testpg"
	"github.com/managarten/mana-auth/internal/testproc"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/server"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/postgres"
	"github.com/managarten/mana-auth/storage/sqlite"
)

const (
	testSecret  = "mana-auth-betterauthdb-secret-0123456789abcdef"
	testBaseURL = "http://localhost:3000"

	npmTimeout       = 5 * time.Minute
	sqliteNPMTimeout = 20 * time.Minute // better-sqlite3 compiles SQLite from source
	nodeTimeout      = 2 * time.Minute
)

func inCI() bool { return os.Getenv("CI") == "true" }

// skipOrFail skips outside CI and fails in CI.
func skipOrFail(t *testing.T, msg string) {
	t.Helper()
	if inCI() {
		t.Fatal(msg)
	}
	t.Skip(msg + "; skipping outside CI")
}

// ---------------------------------------------------------------- node side

func compatDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.Abs(filepath.Join("..", "compat"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func hereDir(t *testing.T) string {
	t.Helper()
	d, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func requireNode(t *testing.T) string {
	t.Helper()
	return testproc.RequireNode(t, "Better Auth database test")
}

type npmInstall struct {
	once sync.Once
	err  error
}

var (
	compatModules npmInstall
	sqliteModules npmInstall
)

// ensureModules runs `npm ci` in dir once per process unless every marker
// file exists, under the same lock file as tests/compat (so concurrent go test
// processes do not install over each other).
func ensureModules(t *testing.T, inst *npmInstall, dir string, timeout time.Duration, markers ...string) {
	t.Helper()
	inst.once.Do(func() { inst.err = testproc.NPMInstall(dir, timeout, markers...) })
	if inst.err != nil {
		skipOrFail(t, inst.err.Error())
	}
}

// baResult is what ba-migrate.mjs prints.
type baResult struct {
	Versions         map[string]string `json:"versions"`
	MigrationSQL     string            `json:"migrationSQL"`
	TablesCreated    []string          `json:"tablesCreated"`
	Email            string            `json:"email"`
	Password         string            `json:"password"`
	Name             string            `json:"name"`
	UserID           string            `json:"userId"`
	SessionID        string            `json:"sessionId"`
	SessionToken     string            `json:"sessionToken"`
	SessionExpiresAt time.Time         `json:"sessionExpiresAt"`
	UserCreatedAt    time.Time         `json:"userCreatedAt"`
	CookieName       string            `json:"cookieName"`
	CookieValue      string            `json:"cookieValue"`
	PasswordHash     string            `json:"passwordHash"`
}

// runBetterAuth runs ba-migrate.mjs with args and decodes its output.
func runBetterAuth(t *testing.T, node string, args ...string) baResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), nodeTimeout)
	defer cancel()
	dir := compatDir(t)
	cmd := exec.CommandContext(ctx, node, append([]string{filepath.Join(dir, "ba-migrate.mjs")}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "BETTER_AUTH_TELEMETRY=0")
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ba-migrate.mjs %s: %v\nstdout:\n%s\nstderr:\n%s", args[0], err, stdout.String(), stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var res baResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("ba-migrate.mjs output: %v\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	if res.Versions["better-auth"] != "1.7.25" {
		t.Fatalf("ba-migrate.mjs ran better-auth %q, want 1.7.25", res.Versions["better-auth"])
	}
	if res.CookieName != "better-auth.session_token" || res.CookieValue == "" || res.UserID == "" || res.PasswordHash == "" {
		t.Fatalf("ba-migrate.mjs output incomplete: %+v", res)
	}
	t.Logf("Better Auth %s (node %s) migration:\n%s", res.Versions["better-auth"], res.Versions["node"], res.MigrationSQL)
	return res
}

// ---------------------------------------------------------------- postgres

func requirePostgres(t *testing.T) {
	t.Helper()
	if err := testpg.Reachable(); err != nil {
		skipOrFail(t, fmt.Sprintf("PostgreSQL not reachable at TEST_DATABASE_URL (default %s): %v", testpg.DefaultURL, err))
	}
}

// ---------------------------------------------------------------- backends

// backend is one database kind: how Better Auth creates it, how we open it,
// and how the reference server is pointed at it.
type backend struct {
	name string
	// create makes the database with Better Auth and returns the result
	// plus the server environment that names the same database.
	create func(t *testing.T, node string) (baResult, map[string]string)
	// open opens the database with our adapter.
	open func(t *testing.T, env map[string]string, log *slog.Logger) storage.Adapter
	// rawDates returns the stored text/timestamp of user.createdAt and
	// session.expiresAt as the database holds them, for the log and, on
	// SQLite, the ISO-text check.
	rawDates func(t *testing.T, env map[string]string, res baResult) (created, expires string)
}

var backends = []backend{
	{
		name: "postgres",
		create: func(t *testing.T, node string) (baResult, map[string]string) {
			requirePostgres(t)
			_, schema := testpg.Schema(t, "ba_")
			ensureModules(t, &compatModules, compatDir(t), npmTimeout,
				"node_modules/better-auth/package.json", "node_modules/pg/package.json")
			res := runBetterAuth(t, node, "postgres", testpg.URL(), schema, testSecret, testBaseURL)
			return res, map[string]string{"DATABASE_URL": testpg.URL(), "DATABASE_SCHEMA": schema}
		},
		open: func(t *testing.T, env map[string]string, log *slog.Logger) storage.Adapter {
			db, err := postgres.Open(context.Background(), postgres.Options{
				URL: env["DATABASE_URL"], Schema: env["DATABASE_SCHEMA"], MaxConns: 4, Logger: log})
			if err != nil {
				t.Fatalf("postgres.Open on Better Auth's schema: %v", err)
			}
			t.Cleanup(func() { _ = db.Close() })
			return db
		},
		rawDates: func(t *testing.T, env map[string]string, res baResult) (string, string) {
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, env["DATABASE_URL"])
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			s := `"` + env["DATABASE_SCHEMA"] + `"`
			var created, expires string
			if err := conn.QueryRow(ctx, `SELECT u."createdAt"::text, s."expiresAt"::text FROM `+s+`."user" u JOIN `+s+`."session" s ON s."userId" = u.id WHERE s.token = $1`,
				res.SessionToken).Scan(&created, &expires); err != nil {
				t.Fatal(err)
			}
			return created, expires
		},
	},
	{
		name: "sqlite",
		create: func(t *testing.T, node string) (baResult, map[string]string) {
			// better-sqlite3 compiles SQLite from source here (minutes on
			// this 2-core machine), too slow for every CI run: opt in.
			if os.Getenv("BETTERAUTH_SQLITE") != "1" && !sqliteModulesInstalled(t) {
				t.Skip("set BETTERAUTH_SQLITE=1 to build better-sqlite3 and run Better Auth's own SQLite migration (takes minutes)")
			}
			ensureModules(t, &compatModules, compatDir(t), npmTimeout,
				"node_modules/better-auth/package.json", "node_modules/pg/package.json")
			ensureModules(t, &sqliteModules, hereDir(t), sqliteNPMTimeout,
				"node_modules/better-sqlite3/build/Release/better_sqlite3.node")
			dir := t.TempDir()
			res := runBetterAuth(t, node, "sqlite", filepath.Join(dir, "mana-auth.db"), hereDir(t), testSecret, testBaseURL)
			return res, map[string]string{"DATA_DIR": dir}
		},
		open: func(t *testing.T, env map[string]string, log *slog.Logger) storage.Adapter {
			db, err := sqlite.Open(context.Background(), sqlite.Options{
				Path: filepath.Join(env["DATA_DIR"], "mana-auth.db"), Logger: log})
			if err != nil {
				t.Fatalf("sqlite.Open on Better Auth's file: %v", err)
			}
			t.Cleanup(func() { _ = db.Close() })
			return db
		},
		rawDates: func(t *testing.T, env map[string]string, res baResult) (string, string) {
			// The modernc driver is registered by storage/sqlite.
			db, err := sql.Open("sqlite", "file:"+filepath.Join(env["DATA_DIR"], "mana-auth.db")+"?mode=ro")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var created, expires, tc, te string
			if err := db.QueryRow(`SELECT u."createdAt", typeof(u."createdAt"), s."expiresAt", typeof(s."expiresAt")
FROM "user" u JOIN "session" s ON s."userId" = u.id WHERE s.token = ?`, res.SessionToken).Scan(&created, &tc, &expires, &te); err != nil {
				t.Fatal(err)
			}
			if tc != "text" || te != "text" {
				t.Errorf("Better Auth stored dates as %s/%s, expected text (Kysely SQLite)", tc, te)
			}
			return created, expires
		},
	},
}

// ---------------------------------------------------------------- checks

// ddlRule classifies one migration statement.
type ddlRule struct {
	re   *regexp.Regexp
	kind string
}

var (
	allowedDDL = []ddlRule{
		{regexp.MustCompile(`(?is)^CREATE SCHEMA IF NOT EXISTS `), "create schema"},
		{regexp.MustCompile(`(?is)^CREATE TABLE IF NOT EXISTS ("[^"]+"\.)?"([^"]+)" \(`), "create table"},
		{regexp.MustCompile(`(?is)^CREATE (UNIQUE )?INDEX IF NOT EXISTS "[^"]+" ON ("[^"]+"\.)?"([^"]+)" \(`), "create index"},
		{regexp.MustCompile(`(?is)^ALTER TABLE ("[^"]+"\.)?"([^"]+)" ADD COLUMN (IF NOT EXISTS )?"[^"]+" `), "add column"},
		{regexp.MustCompile(`(?is)^ALTER TABLE ("[^"]+"\.)?"([^"]+)" ADD CONSTRAINT "[^"]+" CHECK \(`), "add check"},
		// Row-level security (storage.RowSecurity): only on our own tables.
		{regexp.MustCompile(`(?is)^ALTER TABLE ("[^"]+"\.)?"([^"]+)" (ENABLE|FORCE) ROW LEVEL SECURITY$`), "row-level security"},
		{regexp.MustCompile(`(?is)^CREATE POLICY "[^"]+" ON ("[^"]+"\.)?"([^"]+)" `), "row-level security"},
	}
	// destructiveDDL must not appear in a statement once its foreign-key
	// actions (fkAction) are taken out; a ";" would smuggle in a second
	// statement.
	destructiveDDL = regexp.MustCompile(`(?i)\bDROP\b|\bDELETE\b|\bUPDATE\b|\bTRUNCATE\b|\bRENAME\b|\bALTER\s+COLUMN\b|\bSET\s+DATA\s+TYPE\b|\bOR\s+REPLACE\b|\bINSERT\b|;`)
	fkAction       = regexp.MustCompile(`(?i)\bON\s+(DELETE|UPDATE)\s+(CASCADE|SET\s+NULL|SET\s+DEFAULT|RESTRICT|NO\s+ACTION)\b`)
	createdTable   = regexp.MustCompile(`(?is)^CREATE TABLE IF NOT EXISTS (?:"[^"]+"\.)?"([^"]+)"`)
)

// checkNonDestructive returns a problem for every statement that is not a
// pure addition, or that re-creates one of Better Auth's tables (which would
// mean we did not recognise it).
func checkNonDestructive(stmts []string, betterAuthTables []string) []string {
	var problems []string
	for _, s := range stmts {
		s = strings.TrimSpace(s)
		known := false
		for _, r := range allowedDDL {
			if m := r.re.FindStringSubmatch(s); m != nil {
				known = true
				if r.kind == "row-level security" && slices.ContainsFunc(betterAuthTables, func(bt string) bool { return strings.EqualFold(m[2], bt) }) {
					problems = append(problems, "row-level security on Better Auth's table "+m[2]+": "+s)
				}
				break
			}
		}
		if !known {
			problems = append(problems, "not an additive statement: "+s)
			continue
		}
		if m := destructiveDDL.FindString(fkAction.ReplaceAllString(s, "")); m != "" {
			problems = append(problems, fmt.Sprintf("destructive keyword %q in: %s", m, s))
		}
		if m := createdTable.FindStringSubmatch(s); m != nil {
			for _, bt := range betterAuthTables {
				if strings.EqualFold(m[1], bt) {
					problems = append(problems, "re-creates Better Auth's table "+bt+": "+s)
				}
			}
		}
	}
	return problems
}

func TestCheckNonDestructive(t *testing.T) {
	ba := []string{"user", "session", "account", "verification"}
	tests := []struct {
		name string
		stmt string
		bad  bool
	}{
		{"create migrations table", `CREATE TABLE IF NOT EXISTS "s"."mana_migrations" ("id" text)`, false},
		{"create sqlite table", `CREATE TABLE IF NOT EXISTS "jwks" ("id" text)`, false},
		{"create index", `CREATE INDEX IF NOT EXISTS "session_userId_idx" ON "s"."session" ("userId")`, false},
		{"create unique index", `CREATE UNIQUE INDEX IF NOT EXISTS "user_email_uidx" ON "user" ("email")`, false},
		{"add column pg", `ALTER TABLE "s"."user" ADD COLUMN IF NOT EXISTS "role" text`, false},
		{"add column sqlite", `ALTER TABLE "user" ADD COLUMN "role" text`, false},
		{"add check", `ALTER TABLE "s"."x" ADD CONSTRAINT "c" CHECK ("a" > 0)`, false},
		{"enable row-level security", `ALTER TABLE "s"."x" ENABLE ROW LEVEL SECURITY`, false},
		{"force row-level security", `ALTER TABLE "s"."x" FORCE ROW LEVEL SECURITY`, false},
		{"create policy", `CREATE POLICY "x_user_isolation" ON "s"."x" USING ("user_id" = current_setting('app.current_user_id', true))`, false},
		{"row-level security on a better auth table", `ALTER TABLE "s"."session" ENABLE ROW LEVEL SECURITY`, true},
		{"policy on a better auth table", `CREATE POLICY "p" ON "s"."user" USING (true)`, true},
		{"disable row-level security", `ALTER TABLE "s"."x" DISABLE ROW LEVEL SECURITY`, true},
		{"drop table", `DROP TABLE "user"`, true},
		{"drop column", `ALTER TABLE "user" DROP COLUMN "image"`, true},
		{"alter type", `ALTER TABLE "s"."user" ALTER COLUMN "createdAt" TYPE text`, true},
		{"rename", `ALTER TABLE "user" RENAME TO "users"`, true},
		{"update", `UPDATE "user" SET "name" = ''`, true},
		{"delete", `DELETE FROM "session"`, true},
		{"re-create better auth table", `CREATE TABLE IF NOT EXISTS "s"."user" ("id" text)`, true},
		{"foreign key actions", `CREATE TABLE IF NOT EXISTS "x" ("u" text REFERENCES "user" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)`, false},
		{"add column smuggling a drop", `ALTER TABLE "user" ADD COLUMN "x" text; DROP TABLE "session"`, true},
		{"add column smuggling a delete", `ALTER TABLE "user" ADD COLUMN "x" text DEFAULT (DELETE)`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := checkNonDestructive([]string{tt.stmt}, ba)
			if bad := len(got) > 0; bad != tt.bad {
				t.Errorf("checkNonDestructive(%q) = %q, want bad=%v", tt.stmt, got, tt.bad)
			}
		})
	}
}

// ---------------------------------------------------------------- HTTP

type userJSON struct {
	ID            string    `json:"id"`
	Email         string    `json:"email"`
	Name          string    `json:"name"`
	EmailVerified bool      `json:"emailVerified"`
	CreatedAt     time.Time `json:"createdAt"`
}

type sessionJSON struct {
	ID        string    `json:"id"`
	Token     string    `json:"token"`
	UserID    string    `json:"userId"`
	ExpiresAt time.Time `json:"expiresAt"`
}

type getSessionJSON struct {
	Session *sessionJSON `json:"session"`
	User    *userJSON    `json:"user"`
}

func do(t *testing.T, h http.Handler, method, path, cookie string, body any) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, testBaseURL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Origin", testBaseURL)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// getSession reads the session behind cookie; nil for "no session".
func getSession(t *testing.T, h http.Handler, cookie string) *getSessionJSON {
	t.Helper()
	rec := do(t, h, http.MethodGet, "/api/auth/get-session", cookie, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("get-session: status %d: %s", rec.Code, rec.Body.String())
	}
	var out *getSessionJSON
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("get-session body %q: %v", rec.Body.String(), err)
	}
	return out
}

// signIn signs in and returns the status, the user id answered and the
// session cookie (name=value) set.
func signIn(t *testing.T, h http.Handler, cookieName, email, password string) (int, string, string) {
	t.Helper()
	rec := do(t, h, http.MethodPost, "/api/auth/sign-in/email", "", map[string]any{"email": email, "password": password})
	var out struct {
		User *userJSON `json:"user"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	var cookie string
	for _, c := range rec.Result().Cookies() {
		if c.Name == cookieName && c.Value != "" {
			cookie = c.Name + "=" + c.Value
		}
	}
	id := ""
	if out.User != nil {
		id = out.User.ID
	}
	return rec.Code, id, cookie
}

// snapshot is Better Auth's rows for the user, as our adapter reads them.
type snapshot struct {
	User     storage.Record
	Accounts []storage.Record
	Session  storage.Record
}

func takeSnapshot(t *testing.T, db storage.Adapter, res baResult) snapshot {
	t.Helper()
	ctx := context.Background()
	u, err := db.FindOne(ctx, plugin.TableUser, storage.W("id", res.UserID))
	if err != nil {
		t.Fatalf("reading Better Auth's user: %v", err)
	}
	accs, err := db.FindMany(ctx, plugin.TableAccount, storage.Query{Where: []storage.Where{storage.W("userId", res.UserID)}})
	if err != nil {
		t.Fatalf("reading Better Auth's account: %v", err)
	}
	s, err := db.FindOne(ctx, plugin.TableSession, storage.W("token", res.SessionToken))
	if err != nil {
		t.Fatalf("reading Better Auth's session: %v", err)
	}
	return snapshot{User: u, Accounts: accs, Session: s}
}

var scryptHash = regexp.MustCompile(`^[0-9a-f]{32}:[0-9a-f]{128}$`)

// ---------------------------------------------------------------- the test

func TestBetterAuthDatabase(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			node := requireNode(t)
			res, env := be.create(t, node)
			ctx := context.Background()
			logs := &testproc.Buffer{}
			log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
			t.Cleanup(func() {
				if s := logs.String(); s != "" {
					t.Logf("adapter and server logs:\n%s", s)
				}
			})

			db := be.open(t, env, log)
			a, err := auth.New(auth.Config{
				BaseURL:   testBaseURL,
				Secret:    testSecret,
				Logger:    log,
				RateLimit: auth.RateLimitConfig{Disabled: true}, // several sign-ins from one address
			}, db)
			if err != nil {
				t.Fatal(err)
			}
			h := a.Handler()
			baCookie := res.CookieName + "=" + res.CookieValue

			// What Better Auth stored, and that our adapter reads it.
			rawCreated, rawExpires := be.rawDates(t, env, res)
			t.Logf("stored by Better Auth: user.createdAt=%q session.expiresAt=%q", rawCreated, rawExpires)
			before := takeSnapshot(t, db, res)
			if got := before.User.Time("createdAt"); !got.Equal(res.UserCreatedAt) {
				t.Errorf("user.createdAt read as %v, Better Auth wrote %v (stored %q)", got, res.UserCreatedAt, rawCreated)
			}
			if got := before.Session.Time("expiresAt"); !got.Equal(res.SessionExpiresAt) {
				t.Errorf("session.expiresAt read as %v, Better Auth wrote %v (stored %q)", got, res.SessionExpiresAt, rawExpires)
			}
			var cred storage.Record
			for _, acc := range before.Accounts {
				if acc.String("providerId") == "credential" {
					cred = acc
				}
			}
			if cred == nil {
				t.Fatalf("no credential account among %v", before.Accounts)
			}
			if got := cred.String("password"); got != res.PasswordHash || !scryptHash.MatchString(got) {
				t.Errorf("credential password = %q, Better Auth made %q (want <saltHex>:<keyHex>)", got, res.PasswordHash)
			}

			wantSession := &getSessionJSON{
				Session: &sessionJSON{ID: res.SessionID, Token: res.SessionToken, UserID: res.UserID, ExpiresAt: res.SessionExpiresAt},
				User:    &userJSON{ID: res.UserID, Email: res.Email, Name: res.Name, EmailVerified: false, CreatedAt: res.UserCreatedAt},
			}
			checkSession := func(t *testing.T, stage string) {
				t.Helper()
				got := getSession(t, h, baCookie)
				if diff := cmp.Diff(wantSession, got); diff != "" {
					t.Errorf("%s: get-session with Better Auth's cookie (-want +got):\n%s", stage, diff)
				}
			}
			checkSignIn := func(t *testing.T, h http.Handler, cookieName, stage string) {
				t.Helper()
				tests := []struct {
					name     string
					password string
					status   int
					userID   string
				}{
					{"Better Auth's password", res.Password, http.StatusOK, res.UserID},
					{"wrong password", res.Password + "!", http.StatusUnauthorized, ""},
				}
				for _, tt := range tests {
					status, id, cookie := signIn(t, h, cookieName, res.Email, tt.password)
					if status != tt.status || id != tt.userID {
						t.Errorf("%s: sign-in with %s: status %d user %q, want %d %q", stage, tt.name, status, id, tt.status, tt.userID)
						continue
					}
					if tt.status != http.StatusOK {
						continue
					}
					if cookie == "" {
						t.Errorf("%s: sign-in set no %s cookie", stage, cookieName)
						continue
					}
					got := getSession(t, h, cookie)
					if got == nil || got.User == nil || got.User.ID != res.UserID {
						t.Errorf("%s: get-session with our new cookie = %+v, want user %s", stage, got, res.UserID)
					}
				}
			}

			// 1. Straight on Better Auth's database, before any migration.
			checkSession(t, "before Migrate")
			checkSignIn(t, h, "better-auth.session_token", "before Migrate")
			if got := getSession(t, h, res.CookieName+"=tampered."+strings.SplitN(res.CookieValue, ".", 2)[1]); got != nil {
				t.Errorf("get-session with a tampered cookie = %+v, want null", got)
			}

			// 2. Our migration on it: additive only, and Better Auth's rows untouched.
			planner, ok := db.(storage.MigrationPlanner)
			if !ok {
				t.Fatalf("%T does not plan migrations", db)
			}
			plan, err := planner.PlanMigration(ctx, a.Schema())
			if err != nil {
				t.Fatalf("PlanMigration on Better Auth's database: %v", err)
			}
			t.Logf("our PlanMigration on Better Auth's database (%d statements):\n%s", len(plan), strings.Join(plan, ";\n"))
			for _, p := range checkNonDestructive(plan, res.TablesCreated) {
				t.Error(p)
			}
			if err := a.Migrate(ctx); err != nil {
				t.Fatalf("Migrate on Better Auth's database: %v", err)
			}
			if again, err := planner.PlanMigration(ctx, a.Schema()); err != nil || len(again) != 0 {
				t.Errorf("PlanMigration after Migrate = %q, %v; want nothing", again, err)
			}
			after := takeSnapshot(t, db, res)
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("Migrate changed Better Auth's rows (-before +after):\n%s", diff)
			}
			checkSession(t, "after Migrate")
			checkSignIn(t, h, "better-auth.session_token", "after Migrate")

			// 3. The reference server with all its plugins on the same database.
			get := func(k string) string {
				switch k {
				case "BASE_URL":
					return testBaseURL
				case "AUTH_SECRET":
					return testSecret
				}
				return env[k]
			}
			cfg, err := server.FromEnv(get)
			if err != nil {
				t.Fatal(err)
			}
			splan, err := server.Migrate(ctx, cfg, log, true)
			if err != nil {
				t.Fatalf("server.Migrate -dry-run on Better Auth's database: %v", err)
			}
			t.Logf("server.Migrate -dry-run on Better Auth's database (%d statements):\n%s", len(splan), strings.Join(splan, ";\n"))
			for _, p := range checkNonDestructive(splan, res.TablesCreated) {
				t.Error(p)
			}
			if _, err := server.Migrate(ctx, cfg, log, false); err != nil {
				t.Fatalf("server.Migrate on Better Auth's database: %v", err)
			}
			if again, err := server.Migrate(ctx, cfg, log, true); err != nil || len(again) != 0 {
				t.Errorf("server.Migrate -dry-run after migrating = %q, %v; want nothing", again, err)
			}
			srv, err := server.New(ctx, cfg, log)
			if err != nil {
				t.Fatalf("server.New on Better Auth's database: %v", err)
			}
			t.Cleanup(func() { _ = srv.Close() })
			checkSignIn(t, srv.Handler(), "mana.session_token", "reference server")
			final := takeSnapshot(t, db, res)
			if diff := cmp.Diff(before, final); diff != "" {
				t.Errorf("the server's migration changed Better Auth's rows (-before +after):\n%s", diff)
			}
		})
	}
}

// sqliteModulesInstalled reports whether better-sqlite3 is already built
// in this folder (then the SQLite case runs without opting in).
func sqliteModulesInstalled(t *testing.T) bool {
	_, err := os.Stat(filepath.Join(hereDir(t), "node_modules/better-sqlite3/build/Release/better_sqlite3.node"))
	return err == nil
}

// Package upstreamdb_test serves a database made like upstream mana-auth's
// (upstream.sql: its Drizzle schema and sql/*.sql at 7b362066b, schema
// auth) with MANA_SCHEMA=upstream, after the one-off conversions of
// convert.sql that docs/MIGRATING.md prescribes: an existing user signs
// in with the scrypt hash Better Auth wrote, an existing session cookie
// is accepted, `migrate -dry-run` plans additive statements only, and
// `mana-auth check-db` reports nothing missing — and names a column
// dropped from it.
package upstreamdb_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testpg"
	"github.com/managarten/mana-auth/server"
)

const (
	secret   = "upstream-test-secret-0123456789abcdef-0123"
	email    = "anna@example.com"
	password = "correct horse battery staple"
	userID   = "u_upstream_anna"
	token    = "upstreamSessionToken0123456789ab"
)

// database creates a throwaway PostgreSQL database (upstream names its
// enums auth.user_role and auth.access_tier, so the schema must be
// "auth"), runs the SQL files on it in order and returns its URL.
func database(t *testing.T, files ...string) string {
	t.Helper()
	testpg.Require(t)
	ctx := context.Background()
	admin := testpg.Conn(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "upstream_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, `CREATE DATABASE "`+name+`"`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(context.Background(), `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(testpg.URL())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, f := range files {
		sql, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, string(sql)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	return u.String()
}

// seed writes a user, its credential account and a session as Better
// Auth (through upstream's Drizzle adapter) writes them.
func seed(t *testing.T, dbURL string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	hash, err := auth.ScryptHasher{}.Hash(password)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO auth.users (id, name, email, email_verified, role, access_tier, created_at, updated_at)
			VALUES ($1, 'Anna', $2, true, 'user', 'beta', $3, $3)`, []any{userID, email, now}},
		{`INSERT INTO auth.accounts (id, account_id, provider_id, user_id, password, created_at, updated_at)
			VALUES ('acc_anna', $1, 'credential', $1, $2, $3, $3)`, []any{userID, hash, now}},
		{`INSERT INTO auth.sessions (id, expires_at, token, created_at, updated_at, ip_address, user_agent, user_id)
			VALUES ('ses_anna', $1, $2, $3, $3, '203.0.113.7', 'upstream', $4)`, []any{now.Add(6 * 24 * time.Hour), token, now, userID}},
	} {
		if _, err := conn.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
}

// signedCookie is Better Auth's signed cookie value: the token, ".", the
// standard base64 of its HMAC-SHA256 under the secret, URL-encoded.
func signedCookie(v string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(v))
	return url.QueryEscape(v + "." + base64.StdEncoding.EncodeToString(m.Sum(nil)))
}

func config(t *testing.T, dbURL, baseURL string, extra ...string) server.Config {
	t.Helper()
	env := append([]string{"DATABASE_URL=" + dbURL, "MANA_SCHEMA=upstream", "AUTH_SECRET=" + secret,
		"BASE_URL=" + baseURL, "RATE_LIMIT_ENABLED=false"}, extra...)
	cfg, err := server.FromEnviron(env)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func checkDB(t *testing.T, cfg server.Config) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := server.CheckDB(context.Background(), cfg, quiet, &out)
	return out.String(), err
}

// additive matches the statements a migration may run on upstream's
// database: it adds, never drops, renames or retypes.
var additive = regexp.MustCompile(`^(CREATE (UNIQUE )?INDEX|CREATE TABLE|ALTER TABLE \S+ ADD (COLUMN|CONSTRAINT)|CREATE POLICY|INSERT INTO \S+mana_migrations)`)

func TestUpstreamDatabase(t *testing.T) {
	dbURL := database(t, "upstream.sql")
	seed(t, dbURL)
	// Before the conversions, check-db names what MIGRATING's SQL fixes.
	out, err := checkDB(t, config(t, dbURL, "http://localhost:3001"))
	if err == nil || !strings.Contains(out, `column "login_attempts"."id" has type integer`) || !strings.Contains(out, `column "two_factor_auth"."id" is missing`) {
		t.Fatalf("check-db before convert.sql: err %v\n%s", err, out)
	}
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	sql, err := os.ReadFile("convert.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(context.Background(), string(sql)); err != nil {
		t.Fatalf("convert.sql: %v", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	baseURL := "http://" + ln.Addr().String()
	cfg := config(t, dbURL, baseURL)

	stmts, err := server.Migrate(context.Background(), cfg, quiet, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stmts {
		if !additive.MatchString(strings.TrimSpace(s)) {
			t.Errorf("migrate -dry-run plans a statement that is not additive: %s", s)
		}
	}
	t.Logf("migrate -dry-run: %d additive statements", len(stmts))

	srv, err := server.New(context.Background(), cfg, quiet) // MIGRATE_ON_START applies them
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()

	if out, err := checkDB(t, cfg); err != nil || !strings.Contains(out, "OK: the database matches the schema") {
		t.Errorf("check-db after migrate: err %v\n%s", err, out)
	}
	if stmts, err := server.Migrate(context.Background(), cfg, quiet, true); err != nil || len(stmts) != 0 {
		t.Errorf("migrate -dry-run after migrate: %v %q", err, stmts)
	}

	// The existing session cookie is accepted.
	req, _ := http.NewRequest("GET", baseURL+"/api/auth/get-session", nil)
	req.Header.Set("Cookie", "mana.session_token="+signedCookie(token))
	var sess struct {
		User    struct{ ID, Email, AccessTier string } `json:"user"`
		Session struct{ Token string }                 `json:"session"`
	}
	if code := doJSON(t, req, &sess); code != 200 || sess.User.ID != userID || sess.User.Email != email {
		t.Errorf("get-session with the upstream cookie: %d %+v", code, sess)
	}
	if sess.User.AccessTier != "beta" {
		t.Errorf("accessTier read through auth.access_tier = %q, want beta", sess.User.AccessTier)
	}

	// The user signs in with the password Better Auth hashed.
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	req, _ = http.NewRequest("POST", baseURL+"/api/auth/sign-in/email", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", baseURL)
	var in struct{ User struct{ ID string } }
	if code := doJSON(t, req, &in); code != 200 || in.User.ID != userID {
		t.Errorf("sign-in with the upstream password: %d %+v", code, in)
	}
	// The security log and the lockout write upstream's tables.
	var events int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM auth.security_events WHERE user_id = $1`, userID).Scan(&events); err != nil {
		t.Fatal(err)
	}
	if events == 0 {
		t.Errorf("no row in auth.security_events after sign-in")
	}

	// A column dropped: check-db fails and names it.
	if _, err := conn.Exec(context.Background(), `ALTER TABLE auth.sessions DROP COLUMN user_agent`); err != nil {
		t.Fatal(err)
	}
	out, err = checkDB(t, cfg)
	if err == nil || !strings.Contains(out, `session.userAgent: column "sessions"."user_agent" is missing`) {
		t.Errorf("check-db with sessions.user_agent dropped: err %v\n%s", err, out)
	}
}

func doJSON(t *testing.T, req *http.Request, v any) int {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode == 200 {
		if err := json.Unmarshal(b, v); err != nil {
			t.Errorf("%s %s: %v\n%s", req.Method, req.URL.Path, err, b)
		}
	} else {
		t.Logf("%s %s: %d %s", req.Method, req.URL.Path, res.StatusCode, b)
	}
	return res.StatusCode
}

// docs/MIGRATING.md quotes convert.sql's statements, as they are.
func TestMigratingQuotesConvertSQL(t *testing.T) {
	doc, err := os.ReadFile("../../docs/MIGRATING.md")
	if err != nil {
		t.Fatal(err)
	}
	sql, err := os.ReadFile("convert.sql")
	if err != nil {
		t.Fatal(err)
	}
	_, body, _ := strings.Cut(string(sql), "BEGIN;")
	body, _, _ = strings.Cut(body, "COMMIT;")
	if !strings.Contains(string(doc), strings.Trim(body, "\n")) {
		t.Error("docs/MIGRATING.md does not quote tests/upstreamdb/convert.sql (between BEGIN; and COMMIT;)")
	}
}

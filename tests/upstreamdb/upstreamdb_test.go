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
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
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
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testpg"
	"github.com/managarten/mana-auth/keyring"
	"github.com/managarten/mana-auth/server"
	"github.com/managarten/mana-auth/twofactor"
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
		// Ben has two-factor on: the TOTP secret and the backup codes
		// sealed under the secret as Better Auth seals them.
		{`INSERT INTO auth.users (id, name, email, email_verified, two_factor_enabled, created_at, updated_at)
			VALUES ($1, 'Ben', $2, true, true, $3, $3)`, []any{benID, benEmail, now}},
		{`INSERT INTO auth.accounts (id, account_id, provider_id, user_id, password, created_at, updated_at)
			VALUES ('acc_ben', $1, 'credential', $1, $2, $3, $3)`, []any{benID, hash, now}},
		{`INSERT INTO auth.two_factor_auth (user_id, secret, enabled, backup_codes, created_at, enabled_at)
			VALUES ($1, $2, true, $3, $4, $4)`, []any{benID, keyring.Encrypt(secret, totpSecret), keyring.Encrypt(secret, `["AAAAA-11111","BBBBB-22222"]`), now}},
		// The JWT plugin's key, its private JWK sealed under the secret.
		{`INSERT INTO auth.jwks (id, public_key, private_key, created_at) VALUES ($1, $2, $3, $4)`,
			[]any{kid, jwkPublic(), keyring.Encrypt(secret, jwkPrivate()), now}},
		// An organization Anna owns, with an invitation.
		{`INSERT INTO auth.organizations (id, name, slug, metadata, created_at, updated_at)
			VALUES ('org_up', 'Upstream GmbH', 'upstream', '{"plan": "team"}', $1, $1)`, []any{now}},
		{`INSERT INTO auth.members (id, organization_id, user_id, role, created_at) VALUES ('mem_anna', 'org_up', $1, 'owner', $2)`, []any{userID, now}},
		{`INSERT INTO auth.invitations (id, organization_id, email, role, status, expires_at, inviter_id, created_at)
			VALUES ('inv_carl', 'org_up', 'carl@example.com', 'member', 'pending', $1, $2, $3)`, []any{now.Add(48 * time.Hour), userID, now}},
		// Anna's vault, wrapped under the KEK as upstream wraps it
		// (AES-256-GCM, standard base64).
		{`INSERT INTO auth.encryption_vaults (user_id, wrapped_mk, wrap_iv, format_version, kek_id, created_at)
			VALUES ($1, $2, $3, 1, 'env-v1', $4)`, append([]any{userID}, wrapMK(t)...)},
		// Cleo's vault in zero-knowledge mode, as upstream's
		// enableZeroKnowledge leaves it: the KEK wrap nulled, kek_id
		// untouched, the recovery wrap (the client's AES-GCM of the master
		// key under its recovery key, standard base64) the only copy.
		{`INSERT INTO auth.users (id, name, email, email_verified, created_at, updated_at)
			VALUES ($1, 'Cleo', 'cleo@example.com', true, $2, $2)`, []any{cleoID, now}},
		{`INSERT INTO auth.sessions (id, expires_at, token, created_at, updated_at, user_id)
			VALUES ('ses_cleo', $1, $2, $3, $3, $4)`, []any{now.Add(6 * 24 * time.Hour), cleoToken, now, cleoID}},
		{`INSERT INTO auth.encryption_vaults (user_id, wrapped_mk, wrap_iv, format_version, kek_id,
				recovery_wrapped_mk, recovery_iv, recovery_format_version, recovery_set_at, zero_knowledge, created_at)
			VALUES ($1, NULL, NULL, 1, 'env-v1', $2, $3, 1, $4, true, $5)`, append([]any{cleoID}, append(recoveryWrap(t), recoverySetAt, now)...)},
		// Dan's vault in the default mode with a recovery wrap set (as
		// upstream's setRecoveryWrap writes it): both wraps of one key.
		{`INSERT INTO auth.users (id, name, email, email_verified, created_at, updated_at)
			VALUES ($1, 'Dan', 'dan@example.com', true, $2, $2)`, []any{danID, now}},
		{`INSERT INTO auth.sessions (id, expires_at, token, created_at, updated_at, user_id)
			VALUES ('ses_dan', $1, $2, $3, $3, $4)`, []any{now.Add(6 * 24 * time.Hour), danToken, now, danID}},
		{`INSERT INTO auth.encryption_vaults (user_id, wrapped_mk, wrap_iv, format_version, kek_id, created_at,
				recovery_wrapped_mk, recovery_iv, recovery_format_version, recovery_set_at)
			VALUES ($1, $2, $3, 1, 'env-v1', $4, $5, $6, 1, $7)`, append(append([]any{danID}, wrapMK(t)...), append(recoveryWrap(t), recoverySetAt)...)},
		// Ben's service key as upstream stored it: the hex SHA-256.
		{`INSERT INTO auth.api_keys (id, user_id, name, key_prefix, key_hash, scopes, created_at)
			VALUES ('key_ben', $1, 'speech', 'sk_live_abcd', $2, '["stt"]', $3)`, []any{benID, hexSHA256(serviceKey), now}},
		// Anna's passkey as upstream stored it (transports as CSV, sql/007).
		{`INSERT INTO auth.passkeys (id, user_id, credential_id, public_key, counter, device_type, backed_up, transports, name, created_at)
			VALUES ('pk_anna', $1, 'Y3JlZGVudGlhbC1hbm5h', 'pQECAyYgASFYIA', 3, 'multiDevice', true, 'internal,hybrid', 'Laptop', $2)`, []any{userID, now}},
		{`INSERT INTO auth.security_events (user_id, event_type, ip_address, metadata, created_at)
			VALUES ($1, 'LOGIN_SUCCESS', '203.0.113.7', '{"method": "password"}', $2)`, []any{userID, now}},
	} {
		if _, err := conn.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
}

var (
	kek        = bytes.Repeat([]byte{3}, 32)
	masterKey  = bytes.Repeat([]byte{9}, 32)
	kekEnvLine = "MANA_AUTH_KEK=" + base64.StdEncoding.EncodeToString(kek)
)

// wrapMK returns masterKey wrapped under kek: wrapped_mk and wrap_iv.
func wrapMK(t *testing.T) []any {
	block, err := aes.NewCipher(kek)
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	iv := bytes.Repeat([]byte{5}, 12)
	return []any{base64.StdEncoding.EncodeToString(gcm.Seal(nil, iv, masterKey, nil)), base64.StdEncoding.EncodeToString(iv), time.Now().UTC()}
}

const (
	cleoID    = "u_upstream_cleo"
	cleoToken = "upstreamCleoSessionToken01234567"
	danID     = "u_upstream_dan"
	danToken  = "upstreamDanSessionToken012345678"
)

var (
	recoveryKey   = bytes.Repeat([]byte{4}, 32)
	recoveryIV    = bytes.Repeat([]byte{6}, 12)
	recoverySetAt = time.Date(2026, 3, 14, 15, 9, 26, 535000000, time.UTC)
)

// recoveryWrap returns masterKey wrapped under recoveryKey as upstream's
// client sends it (AES-256-GCM, standard base64): recovery_wrapped_mk
// and recovery_iv.
func recoveryWrap(t *testing.T) []any {
	block, err := aes.NewCipher(recoveryKey)
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return []any{base64.StdEncoding.EncodeToString(gcm.Seal(nil, recoveryIV, masterKey, nil)), base64.StdEncoding.EncodeToString(recoveryIV)}
}

const serviceKey = "sk_live_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH"

func hexSHA256(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

const (
	benID      = "u_upstream_ben"
	benEmail   = "ben@example.com"
	totpSecret = "upstreamTotpSecret0123456789abcd"
	kid        = "upstreamKid0001"
)

// jwtKey is the Ed25519 key of the seeded jwks row.
var jwtKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func jwkPublic() string {
	return `{"crv":"Ed25519","x":"` + b64(jwtKey.Public().(ed25519.PublicKey)) + `","kty":"OKP"}`
}

func jwkPrivate() string {
	return `{"crv":"Ed25519","d":"` + b64(jwtKey.Seed()) + `","x":"` + b64(jwtKey.Public().(ed25519.PublicKey)) + `","kty":"OKP"}`
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
		"BASE_URL=" + baseURL, "RATE_LIMIT_ENABLED=false", kekEnvLine, "WEBAUTHN_RP_ID=localhost"}, extra...)
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

	annaCookie := "mana.session_token=" + signedCookie(token)
	get := func(path string, v any) int {
		req, _ := http.NewRequest("GET", baseURL+path, nil)
		req.Header.Set("Cookie", annaCookie)
		return doJSON(t, req, v)
	}

	// The existing JWKS key is published and signs; its JWTs verify.
	var jwks struct{ Keys []struct{ Kid, X string } }
	if code := get("/api/auth/jwks", &jwks); code != 200 || len(jwks.Keys) == 0 || jwks.Keys[0].Kid != kid {
		t.Errorf("jwks: %d %+v, want the upstream kid %s", code, jwks, kid)
	}
	var tok struct{ Token string }
	if code := get("/api/auth/token", &tok); code != 200 {
		t.Errorf("token: %d", code)
	} else if parts := strings.Split(tok.Token, "."); len(parts) != 3 {
		t.Errorf("token %q", tok.Token)
	} else {
		hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		if !strings.Contains(string(hdr), `"kid":"`+kid+`"`) || !ed25519.Verify(jwtKey.Public().(ed25519.PublicKey), []byte(parts[0]+"."+parts[1]), sig) {
			t.Errorf("JWT not signed by the upstream key: header %s", hdr)
		}
	}

	// Organizations list their members and invitations.
	var full struct {
		ID      string
		Members []struct {
			UserID string
			Role   string
		}
		Invitations []struct{ Email string }
	}
	if code := get("/api/auth/organization/get-full-organization?organizationId=org_up", &full); code != 200 || full.ID != "org_up" ||
		len(full.Members) != 1 || full.Members[0].UserID != userID || full.Members[0].Role != "owner" ||
		len(full.Invitations) != 1 || full.Invitations[0].Email != "carl@example.com" {
		t.Errorf("get-full-organization: %d %+v", code, full)
	}

	// Two-factor with the stored secret.
	jar, _ := cookiejar.New(nil)
	ben := &http.Client{Jar: jar}
	body, _ = json.Marshal(map[string]string{"email": benEmail, "password": password})
	req, _ = http.NewRequest("POST", baseURL+"/api/auth/sign-in/email", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", baseURL)
	var first struct{ TwoFactorRedirect bool }
	if code := doJSONWith(t, ben, req, &first); code != 200 || !first.TwoFactorRedirect {
		t.Errorf("sign-in with two-factor: %d %+v", code, first)
	}
	code, err := twofactor.TOTPCode(totpSecret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	body, _ = json.Marshal(map[string]string{"code": code})
	req, _ = http.NewRequest("POST", baseURL+"/api/auth/two-factor/verify-totp", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", baseURL)
	var second struct{ User struct{ ID string } }
	if status := doJSONWith(t, ben, req, &second); status != 200 || second.User.ID != benID {
		t.Errorf("verify-totp with the upstream secret: %d %+v", status, second)
	}
	// And with one of the stored backup codes.
	jar, _ = cookiejar.New(nil)
	ben = &http.Client{Jar: jar}
	body, _ = json.Marshal(map[string]string{"email": benEmail, "password": password})
	req, _ = http.NewRequest("POST", baseURL+"/api/auth/sign-in/email", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", baseURL)
	if code := doJSONWith(t, ben, req, &first); code != 200 || !first.TwoFactorRedirect {
		t.Errorf("second sign-in with two-factor: %d %+v", code, first)
	}
	body, _ = json.Marshal(map[string]string{"code": "BBBBB-22222"})
	req, _ = http.NewRequest("POST", baseURL+"/api/auth/two-factor/verify-backup-code", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", baseURL)
	second.User.ID = ""
	if status := doJSONWith(t, ben, req, &second); status != 200 || second.User.ID != benID {
		t.Errorf("verify-backup-code with an upstream code: %d %+v", status, second)
	}

	// Upstream's passkey is listed.
	var pks []struct {
		ID           string
		CredentialID string `json:"credentialID"`
		Name         string
	}
	if code := get("/api/auth/passkey/list-user-passkeys", &pks); code != 200 || len(pks) != 1 || pks[0].CredentialID != "Y3JlZGVudGlhbC1hbm5h" || pks[0].Name != "Laptop" {
		t.Errorf("list-user-passkeys: %d %+v", code, pks)
	}

	bearer := func(method, path string, v any) int {
		req, _ := http.NewRequest(method, baseURL+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		req.Header.Set("Origin", baseURL)
		return doJSON(t, req, v)
	}
	// The vault returns the master key upstream wrapped.
	var vk struct {
		MasterKey string
		KEKID     string `json:"kekId"`
	}
	if code := bearer("GET", "/api/v1/me/encryption-vault/key", &vk); code != 200 || vk.MasterKey != base64.StdEncoding.EncodeToString(masterKey) {
		t.Errorf("vault key: %d %+v", code, vk)
	}

	// Vaults in upstream's other modes, over the users' session cookies.
	as := func(tok, method, path string, v any) int {
		req, _ := http.NewRequest(method, baseURL+path, nil)
		req.Header.Set("Cookie", "mana.session_token="+signedCookie(tok))
		req.Header.Set("Origin", baseURL)
		return doJSON(t, req, v)
	}
	type vaultStatus struct {
		VaultExists     bool
		HasRecoveryWrap bool
		ZeroKnowledge   bool
		RecoverySetAt   *string
	}
	wantSetAt := "2026-03-14T15:09:26.535Z"
	rw := recoveryWrap(t)
	// Zero-knowledge: the status says so; GET key answers not the master
	// key (the server holds no KEK wrap) but the recovery wrap upstream
	// stored, for the client to open with its recovery code.
	var st vaultStatus
	if code := as(cleoToken, "GET", "/api/v1/me/encryption-vault/status", &st); code != 200 || !st.VaultExists || !st.HasRecoveryWrap ||
		!st.ZeroKnowledge || st.RecoverySetAt == nil || *st.RecoverySetAt != wantSetAt {
		t.Errorf("zero-knowledge vault status: %d %+v", code, st)
	}
	var zk struct {
		MasterKey            *string
		RequiresRecoveryCode bool
		RecoveryWrappedMK    string `json:"recoveryWrappedMk"`
		RecoveryIV           string `json:"recoveryIv"`
		FormatVersion        int
	}
	if code := as(cleoToken, "GET", "/api/v1/me/encryption-vault/key", &zk); code != 200 || zk.MasterKey != nil || !zk.RequiresRecoveryCode ||
		zk.RecoveryWrappedMK != rw[0] || zk.RecoveryIV != rw[1] || zk.FormatVersion != 1 {
		t.Errorf("zero-knowledge vault key: %d %+v", code, zk)
	}
	// The recovery wrap it answers opens to the master key.
	if block, err := aes.NewCipher(recoveryKey); err != nil {
		t.Fatal(err)
	} else if gcm, err := cipher.NewGCM(block); err != nil {
		t.Fatal(err)
	} else if ct, err := base64.StdEncoding.DecodeString(zk.RecoveryWrappedMK); err != nil {
		t.Errorf("recoveryWrappedMk %q: %v", zk.RecoveryWrappedMK, err)
	} else if mk, err := gcm.Open(nil, recoveryIV, ct, nil); err != nil || !bytes.Equal(mk, masterKey) {
		t.Errorf("the zero-knowledge recovery wrap does not open to the master key: %v", err)
	}
	// Rotating, or clearing the only wrap, is refused in zero-knowledge
	// mode with the documented codes.
	refused := func(method, path string) (int, string) {
		req, _ := http.NewRequest(method, baseURL+path, nil)
		req.Header.Set("Cookie", "mana.session_token="+signedCookie(cleoToken))
		req.Header.Set("Origin", baseURL)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var e struct{ Error, Code string }
		_ = json.NewDecoder(res.Body).Decode(&e)
		return res.StatusCode, e.Code
	}
	if code, ecode := refused("POST", "/api/v1/me/encryption-vault/rotate"); code != 409 || ecode != "ZK_ROTATE_FORBIDDEN" {
		t.Errorf("rotate a zero-knowledge vault: %d %q, want 409 ZK_ROTATE_FORBIDDEN", code, ecode)
	}
	if code, ecode := refused("DELETE", "/api/v1/me/encryption-vault/recovery-wrap"); code != 409 || ecode != "ZK_ACTIVE" {
		t.Errorf("clear a zero-knowledge vault's recovery wrap: %d %q, want 409 ZK_ACTIVE", code, ecode)
	}
	var left struct{ WrappedMK, RecoveryWrappedMK *string }
	if err := conn.QueryRow(context.Background(), `SELECT wrapped_mk, recovery_wrapped_mk FROM auth.encryption_vaults WHERE user_id = $1`, cleoID).Scan(&left.WrappedMK, &left.RecoveryWrappedMK); err != nil {
		t.Fatal(err)
	} else if left.WrappedMK != nil || left.RecoveryWrappedMK == nil || *left.RecoveryWrappedMK != rw[0] {
		t.Errorf("the refused requests changed the zero-knowledge vault: wrapped_mk %v, recovery_wrapped_mk %v", left.WrappedMK, left.RecoveryWrappedMK)
	}
	// A recovery wrap in the default mode: the status reports it; GET key
	// still answers the master key, unwrapped under the KEK.
	st = vaultStatus{}
	if code := as(danToken, "GET", "/api/v1/me/encryption-vault/status", &st); code != 200 || !st.VaultExists || !st.HasRecoveryWrap ||
		st.ZeroKnowledge || st.RecoverySetAt == nil || *st.RecoverySetAt != wantSetAt {
		t.Errorf("recovery-wrapped vault status: %d %+v", code, st)
	}
	var dk struct {
		MasterKey            string
		FormatVersion        int
		KEKID                string `json:"kekId"`
		RequiresRecoveryCode bool
	}
	if code := as(danToken, "GET", "/api/v1/me/encryption-vault/key", &dk); code != 200 || dk.MasterKey != base64.StdEncoding.EncodeToString(masterKey) ||
		dk.FormatVersion != 1 || dk.KEKID != "env-v1" || dk.RequiresRecoveryCode {
		t.Errorf("recovery-wrapped vault key: %d %+v", code, dk)
	}

	// GDPR: the export holds the upstream rows; erasure removes them.
	var export map[string]any
	if code := bearer("GET", "/api/v1/me/data/export", &export); code != 200 {
		t.Errorf("export: %d", code)
	} else if b, _ := json.Marshal(export); !strings.Contains(string(b), email) || !strings.Contains(string(b), "LOGIN_SUCCESS") {
		t.Errorf("export lacks the user or its security events: %s", b)
	}
	var erased map[string]any
	if code := bearer("DELETE", "/api/v1/me/data", &erased); code != 200 {
		t.Errorf("erasure: %d %v", code, erased)
	}
	for _, table := range []string{"users", "sessions", "accounts", "encryption_vaults", "security_events", "members"} {
		col := "user_id"
		if table == "users" {
			col = "id"
		}
		var n int
		if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM auth.`+table+` WHERE `+col+` = $1`, userID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("after erasure auth.%s holds %d rows of the user", table, n)
		}
	}

	// A sign-up writes role and access_tier through upstream's enums.
	body, _ = json.Marshal(map[string]string{"email": "dora@example.com", "password": password, "name": "Dora"})
	req, _ = http.NewRequest("POST", baseURL+"/api/auth/sign-up/email", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", baseURL)
	var up struct{ User struct{ ID string } }
	if code := doJSON(t, req, &up); code != 200 {
		t.Errorf("sign-up: %d", code)
	}
	var role, tier, kind string
	if err := conn.QueryRow(context.Background(), `SELECT role::text, access_tier::text, kind::text FROM auth.users WHERE email = 'dora@example.com'`).Scan(&role, &tier, &kind); err != nil {
		t.Errorf("the signed-up user: %v", err)
	} else if role != "user" || tier != "public" || kind != "human" {
		t.Errorf("signed-up user: role %q, access_tier %q, kind %q; want user, public, human", role, tier, kind)
	}
	// mana-auth admin grant writes auth.user_role (to a verified address).
	if _, err := conn.Exec(context.Background(), `UPDATE auth.users SET email_verified = true WHERE email = 'dora@example.com'`); err != nil {
		t.Fatal(err)
	}
	if err := server.SetAdmin(context.Background(), cfg, quiet, "dora@example.com", true); err != nil {
		t.Errorf("admin grant: %v", err)
	} else if err := conn.QueryRow(context.Background(), `SELECT role::text FROM auth.users WHERE email = 'dora@example.com'`).Scan(&role); err != nil || role != "admin" {
		t.Errorf("after admin grant: role %q, %v", role, err)
	}
	// A failed sign-in is a row of upstream's login_attempts.
	body, _ = json.Marshal(map[string]string{"email": "nobody@example.com", "password": "wrong password 123"})
	req, _ = http.NewRequest("POST", baseURL+"/api/auth/sign-in/email", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", baseURL)
	if code := doJSON(t, req, &struct{}{}); code != 401 {
		t.Errorf("sign-in with a wrong password: %d, want 401", code)
	}
	var attempts int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM auth.login_attempts WHERE email = 'nobody@example.com' AND NOT successful`).Scan(&attempts); err != nil || attempts != 1 {
		t.Errorf("login_attempts rows of the failure: %d, %v", attempts, err)
	}

	// Upstream's service key validates, with its scopes.
	body, _ = json.Marshal(map[string]string{"apiKey": serviceKey, "scope": "stt"})
	req, _ = http.NewRequest("POST", baseURL+"/api/v1/api-keys/validate", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	var valid struct {
		Valid  bool
		UserID string
		Scopes []string
	}
	if code := doJSON(t, req, &valid); code != 200 || !valid.Valid || valid.UserID != benID || len(valid.Scopes) != 1 || valid.Scopes[0] != "stt" {
		t.Errorf("validate the upstream service key: %d %+v", code, valid)
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
	return doJSONWith(t, http.DefaultClient, req, v)
}

func doJSONWith(t *testing.T, c *http.Client, req *http.Request, v any) int {
	t.Helper()
	res, err := c.Do(req)
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

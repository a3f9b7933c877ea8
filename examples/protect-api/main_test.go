package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/jwt"
	"github.com/managarten/mana-auth/jwt/verify"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
)

const audience = "example-api"

// rolePlugin gives users a "role" field: "admin" for the listed emails,
// else "user". The jwt plugin's default payload copies it into the token's
// role claim. (The reference server's mana plugin does the same.)
type rolePlugin struct{ admins []string }

func (p rolePlugin) ID() string { return "role" }

func (p rolePlugin) Schema() storage.Schema {
	return storage.Schema{Tables: []storage.Table{{Name: plugin.TableUser, Fields: []storage.Field{
		{Name: "role", Type: storage.String},
	}}}}
}

func (p rolePlugin) Hooks() plugin.Hooks {
	return plugin.Hooks{BeforeUserCreate: func(ctx context.Context, u *auth.User) error {
		if u.Extra == nil {
			u.Extra = map[string]any{}
		}
		u.Extra["role"] = "user"
		if slices.Contains(p.admins, u.Email) {
			u.Extra["role"] = "admin"
		}
		return nil
	}}
}

// startIssuer runs a real auth server (memory storage, jwt plugin) on a
// loopback port and returns its base URL.
func startIssuer(t *testing.T) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	baseURL := "http://" + srv.Listener.Addr().String()
	a, err := auth.New(auth.Config{
		BaseURL: baseURL,
		Secret:  "protect-api-example-test-secret-0123456789",
		Hasher:  auth.Argon2idHasher{Memory: 64, Time: 1}, // cheap: fast under -race
	}, memory.New(), jwt.New(jwt.Options{Audience: audience}), rolePlugin{admins: []string{"boss@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = a.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	return baseURL
}

// token signs a user up on the issuer and fetches their access token from
// GET /api/auth/token, as a client would.
func token(t *testing.T, issuer, email string) string {
	t.Helper()
	resp, err := http.Post(issuer+"/api/auth/sign-up/email", "application/json",
		strings.NewReader(`{"name":"T","email":"`+email+`","password":"correct horse battery"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("sign-up %s: %d", email, resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", issuer+"/api/auth/token", nil)
	for _, c := range resp.Cookies() {
		req.AddCookie(c)
	}
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Token == "" {
		t.Fatalf("GET /token: %d %v", resp.StatusCode, err)
	}
	return body.Token
}

type result struct {
	status int
	body   map[string]any
	header http.Header
}

func get(t *testing.T, url, bearer string) result {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := result{status: resp.StatusCode, header: resp.Header}
	if err := json.Unmarshal(b, &r.body); err != nil {
		t.Fatalf("GET %s: %d, not JSON: %q", url, resp.StatusCode, b)
	}
	return r
}

func TestProtectAPI(t *testing.T) {
	issuer := startIssuer(t)
	userToken := token(t, issuer, "ada@example.com")
	adminToken := token(t, issuer, "boss@example.com")

	// The service knows only the issuer's JWKS URL.
	v, err := verify.New(issuer+"/api/auth/jwks", verify.WithIssuer(issuer), verify.WithAudience(audience))
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(newAPI(v))
	defer api.Close()

	if r := get(t, api.URL+"/healthz", ""); r.status != 200 {
		t.Fatalf("/healthz: %d", r.status)
	}

	// 401 without a token or with a bad one, with RFC 6750's header.
	r := get(t, api.URL+"/api/profile", "")
	if r.status != 401 || r.body["code"] != "MISSING_TOKEN" || r.header.Get("WWW-Authenticate") != "Bearer" {
		t.Fatalf("no token: %d %v %v", r.status, r.body, r.header)
	}
	r = get(t, api.URL+"/api/profile", "not-a-jwt")
	if r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("bad token: %d %v", r.status, r.body)
	}
	tampered := []byte(userToken)
	tampered[len(tampered)-5] ^= 1
	if r = get(t, api.URL+"/api/profile", string(tampered)); r.status != 401 {
		t.Fatalf("tampered token: %d %v", r.status, r.body)
	}

	// 200 with the claims for any valid token.
	r = get(t, api.URL+"/api/profile", userToken)
	if r.status != 200 || r.body["email"] != "ada@example.com" || r.body["role"] != "user" || r.body["userId"] == "" {
		t.Fatalf("profile: %d %v", r.status, r.body)
	}
	if r = get(t, api.URL+"/api/profile", adminToken); r.status != 200 || r.body["role"] != "admin" {
		t.Fatalf("admin profile: %d %v", r.status, r.body)
	}

	// The admin route: 403 for role user, 200 for role admin.
	r = get(t, api.URL+"/api/admin/report", userToken)
	if r.status != 403 || r.body["code"] != "INSUFFICIENT_ROLE" {
		t.Fatalf("user on the admin route: %d %v", r.status, r.body)
	}
	r = get(t, api.URL+"/api/admin/report", adminToken)
	if r.status != 200 || r.body["requestedBy"] != "boss@example.com" {
		t.Fatalf("admin on the admin route: %d %v", r.status, r.body)
	}

	// Tokens of another issuer (other keys) are refused.
	otherToken := token(t, startIssuer(t), "eve@example.com")
	if r = get(t, api.URL+"/api/profile", otherToken); r.status != 401 {
		t.Fatalf("foreign token: %d %v", r.status, r.body)
	}

	// A service expecting another audience refuses these tokens.
	v2, _ := verify.New(issuer+"/api/auth/jwks", verify.WithIssuer(issuer), verify.WithAudience("another-api"))
	api2 := httptest.NewServer(newAPI(v2))
	defer api2.Close()
	if r = get(t, api2.URL+"/api/profile", userToken); r.status != 401 || r.body["code"] != "INVALID_AUDIENCE" {
		t.Fatalf("wrong audience: %d %v", r.status, r.body)
	}

	// Tokens expire (15 minutes by default): seen from an hour later, 401.
	v3, _ := verify.New(issuer+"/api/auth/jwks", verify.WithIssuer(issuer), verify.WithAudience(audience),
		verify.WithNow(func() time.Time { return time.Now().Add(time.Hour) }))
	api3 := httptest.NewServer(newAPI(v3))
	defer api3.Close()
	if r = get(t, api3.URL+"/api/profile", userToken); r.status != 401 || r.body["code"] != "TOKEN_EXPIRED" {
		t.Fatalf("expired token: %d %v", r.status, r.body)
	}
}

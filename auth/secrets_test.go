package auth_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/keyring"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
)

// rotationRun is what TestRotationSigning reads of
// keyring/testdata/betterauth-rotation.json (written by
// tests/compat/gen-rotation.mjs with Better Auth 1.7.25).
type rotationRun struct {
	Secrets struct{ S0, S1, S2 string } `json:"secrets"`
	Phases  map[string]struct {
		Secret  string     `json:"secret"`
		Secrets []baSecret `json:"secrets"`
	} `json:"phases"`
	Runtime struct {
		GetSessionWithCookieOf     map[string]bool `json:"getSessionWithCookieOf"`
		VerifyEmailTokenSignedWith map[string]struct {
			Status int `json:"status"`
		} `json:"verifyEmailTokenSignedWith"`
	} `json:"runtime"`
}

// NewKeyring (and so auth.New) refuses bad secrets with messages that name
// the entry and never quote a secret.
func TestNewKeyringErrors(t *testing.T) {
	t.Parallel()
	good := strings.Repeat("g", 32)
	tests := []struct {
		name     string
		secret   string
		versions []keyring.Version
		want     string
	}{
		{"no secret at all", "", nil, "Config.Secret must be at least 32 characters"},
		{"short single secret", "short-secret-value", nil, "Config.Secret must be at least 32 characters"},
		{"short current", "", []keyring.Version{{Version: 2, Value: "short-secret-value"}}, "Config.Secrets[0] (version 2) is the current secret and must be at least 32"},
		{"negative version", "", []keyring.Version{{Version: 2, Value: good}, {Version: -1, Value: good}}, "Config.Secrets[1]: version -1 is out of range"},
		{"version beyond 2^53-1", "", []keyring.Version{{Version: 1 << 53, Value: good}}, "Config.Secrets[0]: version 9007199254740992 is out of range"},
		{"empty value", "", []keyring.Version{{Version: 2, Value: good}, {Version: 1, Value: ""}}, "Config.Secrets[1] (version 1): empty secret"},
		{"empty current", "", []keyring.Version{{Version: 2, Value: ""}}, "Config.Secrets[0] (version 2): empty secret"},
		{"duplicate version", "", []keyring.Version{{Version: 2, Value: good}, {Version: 1, Value: good + "x"}, {Version: 2, Value: "short-secret-value"}}, "Config.Secrets[2]: version 2 appears twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k, err := keyring.New(tt.secret, tt.versions)
			if err == nil || k != nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewKeyring = %v, %v; want an error containing %q", k, err, tt.want)
			}
			if strings.Contains(err.Error(), "short-secret-value") || strings.Contains(err.Error(), good) {
				t.Errorf("error quotes a secret: %v", err)
			}
			cfg := testConfig("http://localhost:3000")
			cfg.Secret, cfg.Secrets = tt.secret, tt.versions
			if _, err := auth.New(cfg, memory.New()); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("auth.New = %v; want an error containing %q", err, tt.want)
			}
		})
	}
	// Accepted: gaps, version 0, a short retired secret or legacy secret.
	for _, vs := range [][]keyring.Version{{{Version: 3, Value: good}, {Version: 1, Value: good}}, {{Version: 0, Value: good}}, {{Version: 2, Value: good}, {Version: 1, Value: "x"}}} {
		if _, err := keyring.New("short legacy", vs); err != nil {
			t.Errorf("NewKeyring(%v) = %v", len(vs), err)
		}
	}
}

func hs256(secret string, claims map[string]any) string {
	enc := base64.RawURLEncoding
	p, _ := json.Marshal(claims)
	in := enc.EncodeToString([]byte(`{"alg":"HS256"}`)) + "." + enc.EncodeToString(p)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(in))
	return in + "." + enc.EncodeToString(m.Sum(nil))
}

// After a rotation, as in Better Auth (the fixture's runtime checks):
// session cookies and email-verification tokens signed with an earlier
// secret are refused, even while that secret is still configured; the
// current secret signs and verifies. The sessions themselves survive (a
// bearer token still finds them).
func TestRotationSigning(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../keyring/testdata/betterauth-rotation.json")
	if err != nil {
		t.Fatal(err)
	}
	var f rotationRun
	if err := json.Unmarshal(b, &f); err != nil || len(f.Phases) != 3 {
		t.Fatalf("rotation fixture: %v", err)
	}
	if f.Runtime.GetSessionWithCookieOf["A"] || f.Runtime.GetSessionWithCookieOf["B"] || !f.Runtime.GetSessionWithCookieOf["C"] {
		t.Fatalf("Better Auth's cookie verification changed: %v", f.Runtime.GetSessionWithCookieOf)
	}
	for s, r := range f.Runtime.VerifyEmailTokenSignedWith {
		if (r.Status == 200) != (s == "S2") {
			t.Fatalf("Better Auth's email-token verification changed: %s → %d", s, r.Status)
		}
	}

	ctx := context.Background()
	db := memory.New()
	phases := map[string]*auth.Auth{}
	for _, ph := range []string{"A", "B", "C"} {
		p := f.Phases[ph]
		cfg := testConfig("http://localhost:3000")
		cfg.Secret, cfg.Secrets, cfg.Bearer = p.Secret, versionsOf(p.Secrets), true
		a, err := auth.New(cfg, db)
		if err != nil {
			t.Fatal(err)
		}
		if ph == "A" {
			if err := a.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
		}
		phases[ph] = a
	}
	c := phases["C"]
	if c.Host().Secret() != f.Secrets.S2 {
		t.Fatalf("Secret() = %q, want the current (version 2) secret", c.Host().Secret())
	}
	users := map[string]*auth.AuthResult{}
	for _, ph := range []string{"A", "B", "C"} {
		res, err := phases[ph].SignUpEmail(ctx, auth.SignUpInput{Name: ph, Email: strings.ToLower(ph) + "@example.com", Password: "password123"})
		if err != nil {
			t.Fatal(err)
		}
		users[ph] = res
	}
	got := map[string]bool{}
	for ph, res := range users {
		r := newRequest()
		r.AddCookie(res.Cookies[0])
		sd, err := c.Session(r)
		got[ph] = err == nil && sd != nil
		// The bearer plugin behaviour signs a raw token itself: the session is still there.
		rb := newRequest()
		rb.Header.Set("Authorization", "Bearer "+res.Token())
		if sd, err := c.Session(rb); err != nil || sd == nil {
			t.Errorf("bearer token of phase %s: %v, %v", ph, sd, err)
		}
	}
	if d := cmp.Diff(f.Runtime.GetSessionWithCookieOf, got); d != "" {
		t.Errorf("cookie of phase X accepted after rotation (-Better Auth +ours):\n%s", d)
	}
	want := plugin.SignCookieValue(f.Secrets.S2, users["A"].Token())
	if got := c.Host().SignedCookie(plugin.CookieSessionToken, users["A"].Token(), 60).Value; got != want {
		t.Errorf("SignedCookie = %q, want the current secret's %q", got, want)
	}

	// Email-verification tokens: only the current secret's.
	u := users["A"].User
	for name, secret := range map[string]string{"S0": f.Secrets.S0, "S1": f.Secrets.S1, "S2": f.Secrets.S2} {
		tok := hs256(secret, map[string]any{"email": u.Email, "userId": u.ID, "iat": c.Host().Now().Unix(), "exp": c.Host().Now().Unix() + 3600})
		_, err := c.VerifyEmail(ctx, tok, "", "")
		if (err == nil) != (f.Runtime.VerifyEmailTokenSignedWith[name].Status == 200) {
			t.Errorf("token signed with %s: %v (Better Auth answered %d)", name, err, f.Runtime.VerifyEmailTokenSignedWith[name].Status)
		}
	}
	if n := rowCount(t, c, "user", storage.W("emailVerified", true)); n != 1 {
		t.Errorf("%d verified users, want 1", n)
	}
}

func newRequest() *http.Request {
	return httptest.NewRequest("GET", "http://localhost:3000/api/auth/get-session", nil)
}

// baSecret is an entry of Better Auth's `secrets` option.
type baSecret struct {
	Version int    `json:"version"`
	Value   string `json:"value"`
}

func versionsOf(in []baSecret) []keyring.Version {
	var out []keyring.Version
	for _, s := range in {
		out = append(out, keyring.Version{Version: s.Version, Value: s.Value})
	}
	return out
}

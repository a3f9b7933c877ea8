package compat_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/jwt"
	"github.com/managarten/mana-auth/jwt/verify"
)

// TestJoseVerifiesOurJWT runs jwt-verify.mjs (npm `jose`:
// createRemoteJWKSet + jwtVerify with issuer and audience) against our
// server's GET /jwks, for tokens from GET /token and the set-auth-jwt
// header, before and after a key rotation, and checks that jose sees the
// same payload our Verifier does and refuses a tampered token.
func TestJoseVerifiesOurJWT(t *testing.T) {
	node := requireNode(t)
	dir := compatDir(t)
	ensureNodeModules(t, dir)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "jose", "package.json")); err != nil {
		t.Fatalf("node_modules/jose is missing (package.json pins it; run `npm ci` in tests/compat): %v", err)
	}

	// The new key of the rotation below signs at once (as Better Auth's
	// does), not after the default activation delay of 2 minutes.
	p := jwt.New(jwt.Options{KeyActivationDelay: -1})
	baseURL := startAuthServer(t, auth.Config{Secret: testSecret, RateLimit: auth.RateLimitConfig{Disabled: true}}, nil, p)

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	call := func(method, path, body string) *http.Response {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, baseURL+"/api/auth"+path, rd)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return resp
	}
	tokenRoute := func() string {
		t.Helper()
		resp := call("GET", "/token", "")
		defer resp.Body.Close()
		var r struct{ Token string }
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.Token == "" {
			t.Fatalf("GET /token: %v", err)
		}
		return r.Token
	}

	call("POST", "/sign-up/email", `{"name":"Jo","email":"jo@example.com","password":"correct horse battery"}`).Body.Close()
	tok1 := tokenRoute()
	resp := call("GET", "/get-session", "")
	resp.Body.Close()
	header := resp.Header.Get("set-auth-jwt")
	if header == "" {
		t.Fatal("get-session has no set-auth-jwt header")
	}
	if _, err := p.RotateKeys(context.Background()); err != nil {
		t.Fatal(err)
	}
	tok2 := tokenRoute()
	tampered := tok2[:len(tok2)-20] + strings.Repeat("A", 20)

	tokens := []string{tok1, header, tok2, tampered}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	jwksURL := baseURL + "/api/auth/jwks"
	cmd := exec.CommandContext(ctx, node, append([]string{"jwt-verify.mjs", jwksURL, baseURL, baseURL}, tokens...)...)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("jwt-verify.mjs: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	type result struct {
		OK      bool           `json:"ok"`
		Code    string         `json:"code"`
		Message string         `json:"message"`
		Payload map[string]any `json:"payload"`
		Header  map[string]any `json:"header"`
	}
	var results []result
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var r result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("jwt-verify.mjs output %q: %v", sc.Text(), err)
		}
		results = append(results, r)
	}
	if len(results) != len(tokens) {
		t.Fatalf("jwt-verify.mjs printed %d results for %d tokens:\n%s\n%s", len(results), len(tokens), stdout.String(), stderr.String())
	}

	v, err := verify.New(jwksURL, verify.WithIssuer(baseURL), verify.WithAudience(baseURL))
	if err != nil {
		t.Fatal(err)
	}
	for i, tok := range tokens[:3] {
		r := results[i]
		if !r.OK {
			t.Errorf("token %d: jose refused it: %s %s", i, r.Code, r.Message)
			continue
		}
		c, err := v.Verify(ctx, tok)
		if err != nil {
			t.Fatalf("token %d: our Verifier: %v", i, err)
		}
		if diff := cmp.Diff(c.Raw, r.Payload); diff != "" {
			t.Errorf("token %d: payload (-ours +jose):\n%s", i, diff)
		}
		if diff := cmp.Diff(map[string]any{"alg": "EdDSA", "kid": c.KeyID}, r.Header); diff != "" {
			t.Errorf("token %d: header (-want +jose):\n%s", i, diff)
		}
		t.Logf("jose verified token %d: sub=%v kid=%v", i, r.Payload["sub"], r.Header["kid"])
	}
	if r := results[3]; r.OK || r.Code != "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" {
		t.Errorf("tampered token: jose said %+v", r)
	}
	if results[0].Header["kid"] == results[2].Header["kid"] {
		t.Error("rotation did not change the kid")
	}
}

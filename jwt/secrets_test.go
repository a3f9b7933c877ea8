package jwt

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/managarten/mana-auth/internal/testkit"
	"github.com/managarten/mana-auth/jwt/verify"
	"github.com/managarten/mana-auth/keyring"
	"github.com/managarten/mana-auth/storage"
)

// Secrets of the rotation tests: s0 is the single secret before versions,
// then version 1 and version 2 are introduced in turn.
var (
	rotS0 = "jwt-rotation-secret-zero-0123456789abcdef"
	rotV1 = keyring.Version{Version: 1, Value: "jwt-rotation-secret-one-0123456789abcdef"}
	rotV2 = keyring.Version{Version: 2, Value: "jwt-rotation-secret-two-0123456789abcdef"}
)

func privateKeyColumn(t *testing.T, e *env, kid string) string {
	t.Helper()
	r, err := e.db.FindOne(context.Background(), TableJWKS, storage.W("id", kid))
	if err != nil || r == nil {
		t.Fatalf("jwks row %s: %v", kid, err)
	}
	return r.String("privateKey")
}

// TestKeyReadableAfterSecretRotation: a signing key sealed before a
// rotation keeps signing after it, keys minted afterwards are sealed under
// the current version, and a key whose secret is removed fails with
// ErrSecretNotConfigured (500 over HTTP), not a panic.
func TestKeyReadableAfterSecretRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newMemory()
	clk := testkit.NewClock(time.Date(2031, 3, 1, 0, 0, 0, 0, time.UTC))

	// 1. One secret: the key is sealed as bare hex.
	e0 := newEnv(t, envConfig{db: db, secret: rotS0, clock: clk})
	e0.signUp("zero@example.com")
	kid0 := kidOf(t, e0.token())
	if col := privateKeyColumn(t, e0, kid0); strings.Contains(col, "$ba$") {
		t.Fatalf("key sealed without versions: %s", col)
	}

	// 2. Version 1 introduced, s0 kept as the legacy secret: the old key
	// still signs (and is not rewritten); a new key is sealed under 1.
	e1 := newEnv(t, envConfig{db: db, secret: rotS0, secrets: []keyring.Version{rotV1}, clock: clk})
	e1.signUp("one@example.com")
	if kid := kidOf(t, e1.token()); kid != kid0 {
		t.Fatalf("after adding version 1 the token is signed by %s, want the existing key %s", kid, kid0)
	}
	kid1, err := e1.p.RotateKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if col := privateKeyColumn(t, e1, kid1); !strings.HasPrefix(col, `"$ba$1$`) {
		t.Fatalf("key minted under version 1 stored as %.20s…", col)
	}
	clk.Advance(defaultActivation) // the new key signs from now on
	if kid := kidOf(t, e1.token()); kid != kid1 {
		t.Fatalf("token signed by %s, want %s", kid, kid1)
	}

	// 3. Version 2 current, 1 kept, s0 dropped: the version-1 key signs,
	// new keys are sealed under 2.
	e2 := newEnv(t, envConfig{db: db, secrets: []keyring.Version{rotV2, rotV1}, clock: clk})
	e2.signUp("two@example.com")
	if kid := kidOf(t, e2.token()); kid != kid1 {
		t.Fatalf("after adding version 2 the token is signed by %s, want %s", kid, kid1)
	}
	k := e2.a.Host().Keyring()
	for kid, want := range map[string]error{kid0: keyring.ErrNotConfigured, kid1: nil} {
		if _, err := OpenColumn(k, privateKeyColumn(t, e2, kid)); !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("OpenColumn(key %s) = %v, want %v", kid, err, want)
		}
	}

	// 4. Version 1 removed while its key is still the signing key: a clear
	// error, over Go and HTTP.
	e3 := newEnv(t, envConfig{db: db, secrets: []keyring.Version{rotV2}, clock: clk})
	e3.signUp("three@example.com")
	_, err = e3.p.signer(ctx, clk.Now())
	if !errors.Is(err, keyring.ErrNotConfigured) || !strings.Contains(err.Error(), "secret version 1, which is not configured") {
		t.Fatalf("signer with version 1 removed: %v, want ErrSecretNotConfigured naming version 1", err)
	}
	resp, body := e3.do("GET", "/token", nil)
	if resp.StatusCode != http.StatusInternalServerError || strings.Contains(string(body), "jwt-rotation-secret") {
		t.Fatalf("GET /token with version 1 removed: %d %s", resp.StatusCode, body)
	}
	// Rotating the keys recovers: the new key is sealed under 2, and signs
	// at once since the key it replaces cannot.
	kid3, err := e3.p.RotateKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if col := privateKeyColumn(t, e3, kid3); !strings.HasPrefix(col, `"$ba$2$`) {
		t.Fatalf("key minted under version 2 stored as %.20s…", col)
	}
	if kid := kidOf(t, e3.token()); kid != kid3 {
		t.Fatalf("token signed by %s, want %s", kid, kid3)
	}
}

// TestBetterAuthRotatedJWKS: the jwks rows Better Auth wrote before versions
// (bare hex under its secret) and after (under version 2) open with the
// same configuration here, and sign.
func TestBetterAuthRotatedJWKS(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../keyring/testdata/betterauth-rotation.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		BaseURL string `json:"baseURL"`
		Phases  map[string]struct {
			Secret  string            `json:"secret"`
			Secrets []keyring.Version `json:"secrets"`
		} `json:"phases"`
		Rows struct {
			JWKS []struct {
				ID         string `json:"id"`
				PublicKey  string `json:"publicKey"`
				PrivateKey string `json:"privateKey"`
				CreatedAt  string `json:"createdAt"`
				Alg        string `json:"alg"`
				Crv        string `json:"crv"`
			} `json:"jwks"`
		} `json:"rows"`
		Users []struct {
			Phase string `json:"phase"`
			Token string `json:"token"`
		} `json:"users"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Rows.JWKS) != 2 {
		t.Fatalf("fixture has %d jwks rows, want 2", len(f.Rows.JWKS))
	}
	c := f.Phases["C"]
	clk := testkit.NewClock(time.Unix(int64(decodeSegment(t, f.Users[0].Token, 1)["iat"].(float64)), 0))
	e := newEnv(t, envConfig{base: f.BaseURL, secret: c.Secret, secrets: c.Secrets, clock: clk})
	ctx := context.Background()
	var newest time.Time
	for i, r := range f.Rows.JWKS {
		if want := []string{`"`, `"$ba$2$`}[i]; !strings.HasPrefix(r.PrivateKey, want) || (i == 0 && strings.Contains(r.PrivateKey, "$")) {
			t.Errorf("row %d privateKey %.12s…, want it to start %s", i, r.PrivateKey, want)
		}
		plain, err := OpenColumn(e.a.Host().Keyring(), r.PrivateKey)
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		priv, err := parsePrivateJWK(plain)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := verify.ParseJWK([]byte(r.PublicKey))
		if err != nil || !pub.Equal(priv.Public()) {
			t.Fatalf("row %d: private key does not match publicKey (%v)", i, err)
		}
		created, err := time.Parse(time.RFC3339Nano, r.CreatedAt)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.db.Create(ctx, TableJWKS, storage.Record{"id": r.ID, "publicKey": r.PublicKey, "privateKey": r.PrivateKey,
			"createdAt": created, "alg": r.Alg, "crv": r.Crv}); err != nil {
			t.Fatal(err)
		}
		newest = created
	}
	// The newest key (Better Auth's, under version 2) signs here, once it
	// has been published for the activation delay (Better Auth signs with
	// it at once).
	clk.Set(newest.Add(defaultActivation))
	s, err := e.p.signer(ctx, clk.Now())
	if err != nil || s.id != f.Rows.JWKS[1].ID {
		t.Fatalf("signer = %v, %v; want Better Auth's version-2 key %s", s, err, f.Rows.JWKS[1].ID)
	}
	// Better Auth's tokens from every phase verify against our JWKS.
	for _, u := range f.Users {
		if _, err := e.p.Verify(ctx, u.Token); err != nil {
			t.Errorf("token of phase %s: %v", u.Phase, err)
		}
	}
}

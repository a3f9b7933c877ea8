package compat_test

// Independent checks that the committed Better Auth fixtures
// (auth/testdata/betterauth-*.json, produced by gen-vectors.mjs and
// gen-golden.mjs) agree with the algorithms in the wire spec, using only the
// standard library and x/crypto, x/text. They need neither Node nor our auth
// package's internals.

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/scrypt"
	"golang.org/x/text/unicode/norm"
)

func readFixture(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "auth", "testdata", name))
	if err != nil {
		t.Fatalf("reading fixture (regenerate with `node tests/compat/gen-vectors.mjs` / gen-golden.mjs): %v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// encodeURIComponent as in JavaScript: keeps A-Z a-z 0-9 - _ . ! ~ * ' ( ).
func encodeURIComponent(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			strings.IndexByte("-_.!~*'()", c) >= 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func hmacB64(secret, value string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(value))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func scryptHex(t *testing.T, password, salt string) string {
	t.Helper()
	k, err := scrypt.Key([]byte(norm.NFKC.String(password)), []byte(salt), 16384, 16, 1, 64)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(k)
}

func verifyHash(t *testing.T, hash, password string) bool {
	t.Helper()
	salt, key, ok := strings.Cut(hash, ":")
	if !ok || len(salt) != 32 || len(key) != 128 {
		t.Fatalf("malformed hash %q", hash)
	}
	return scryptHex(t, password, salt) == key
}

type vectorsFile struct {
	CookieSigning []struct {
		Source, Secret, Value, CookieValue, SetCookie, SetAuthToken, Signature string
	} `json:"cookieSigning"`
	PasswordHashes []struct {
		Label, Password, NFKC, Hash string
		Verifies                    []struct {
			Password string
			OK       bool
		}
	} `json:"passwordHashes"`
	DontRemember struct {
		Secret, Value, CookieValue, SetCookie string
	} `json:"dontRemember"`
	Session struct {
		Secret, Password, Token, CookieValue, SetAuthToken string
		DB                                                 struct {
			User, Account, Session []map[string]any
		} `json:"db"`
	} `json:"session"`
	SymmetricEncryption []struct {
		Key, Plaintext, CiphertextHex string
	} `json:"symmetricEncryption"`
	HS256 struct {
		Secret, Token string
	} `json:"hs256Jwt"`
	JWTPlugin struct {
		Secret  string
		JWKSRow map[string]any `json:"jwksRow"`
		Token   string
	} `json:"jwtPlugin"`
}

const specSecret = "0123456789abcdef0123456789abcdef-secret-xyz"

func TestVectorsCookieSigning(t *testing.T) {
	var v vectorsFile
	readFixture(t, "betterauth-vectors.json", &v)
	if len(v.CookieSigning) < 3 {
		t.Fatalf("only %d cookieSigning vectors", len(v.CookieSigning))
	}
	sawSpec := false
	for _, c := range v.CookieSigning {
		signed := c.Value + "." + hmacB64(c.Secret, c.Value)
		if got := encodeURIComponent(signed); got != c.CookieValue {
			t.Errorf("%s %q: cookie value %q, want %q", c.Source, c.Value, got, c.CookieValue)
		}
		if c.SetAuthToken != "" && c.SetAuthToken != signed {
			t.Errorf("%q: set-auth-token %q, want %q", c.Value, c.SetAuthToken, signed)
		}
		if c.Value == "kqV1utL0iY7KAYxWIXz1Qib3nvv2VUYw" && c.Secret == specSecret {
			sawSpec = true
			if want := "kqV1utL0iY7KAYxWIXz1Qib3nvv2VUYw.FIb5WQfEBG3Gt%2BlMqEG3et783N3H1FCeMThc%2FQ7tVaA%3D"; c.CookieValue != want {
				t.Errorf("spec §2.2 vector: %q, want %q", c.CookieValue, want)
			}
		}
	}
	if !sawSpec {
		t.Error("the spec §2.2 token is missing from cookieSigning")
	}
	d := v.DontRemember
	if got := encodeURIComponent("true." + hmacB64(d.Secret, "true")); got != d.CookieValue {
		t.Errorf("dont_remember %q, want %q", got, d.CookieValue)
	}
	if !strings.HasPrefix(d.SetCookie, "better-auth.dont_remember="+d.CookieValue+"; ") || strings.Contains(d.SetCookie, "Max-Age") {
		t.Errorf("dont_remember Set-Cookie %q", d.SetCookie)
	}
}

func TestVectorsPasswordHashes(t *testing.T) {
	var v vectorsFile
	readFixture(t, "betterauth-vectors.json", &v)
	for _, p := range v.PasswordHashes {
		if norm.NFKC.String(p.Password) != p.NFKC {
			t.Errorf("%s: Go NFKC %q, JS NFKC %q", p.Label, norm.NFKC.String(p.Password), p.NFKC)
		}
		for _, c := range p.Verifies {
			if got := verifyHash(t, p.Hash, c.Password); got != c.OK {
				t.Errorf("%s: verify(%q) = %v, Better Auth said %v", p.Label, c.Password, got, c.OK)
			}
		}
	}
	// Spec §4 vector.
	if !verifyHash(t, "dd7c69da4f2b2a38a72c893c13205523:7085272caa5bf2ee23574faa12491268984d422dfe9dd8fc5d7828144e99c4908024fbd44785cec2ee5956842abf95f0d1d798c97ef7be2cd7d22f998bb6f44e", "correct horse") {
		t.Error("spec §4 password vector does not verify")
	}
}

func TestVectorsSession(t *testing.T) {
	var v vectorsFile
	readFixture(t, "betterauth-vectors.json", &v)
	s := v.Session
	if len(s.DB.User) != 1 || len(s.DB.Account) != 1 || len(s.DB.Session) != 1 {
		t.Fatalf("want one user/account/session row, got %d/%d/%d", len(s.DB.User), len(s.DB.Account), len(s.DB.Session))
	}
	if s.DB.Session[0]["token"] != s.Token {
		t.Errorf("session row token %v, want %s", s.DB.Session[0]["token"], s.Token)
	}
	if got := encodeURIComponent(s.Token + "." + hmacB64(s.Secret, s.Token)); got != s.CookieValue {
		t.Errorf("session cookie %q, want %q", got, s.CookieValue)
	}
	acc := s.DB.Account[0]
	if acc["providerId"] != "credential" || acc["accountId"] != s.DB.User[0]["id"] || acc["userId"] != s.DB.User[0]["id"] {
		t.Errorf("credential account row %v", acc)
	}
	if !verifyHash(t, acc["password"].(string), s.Password) {
		t.Error("account.password does not verify with the sign-up password")
	}
}

func TestVectorsSymmetricAndJWT(t *testing.T) {
	var v vectorsFile
	readFixture(t, "betterauth-vectors.json", &v)
	decrypt := func(secret, hexData string) (string, error) {
		key := sha256.Sum256([]byte(secret))
		aead, err := chacha20poly1305.NewX(key[:])
		if err != nil {
			return "", err
		}
		raw, err := hex.DecodeString(hexData)
		if err != nil {
			return "", err
		}
		if len(raw) < aead.NonceSize() {
			return "", fmt.Errorf("short ciphertext")
		}
		pt, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], nil)
		return string(pt), err
	}
	for _, c := range v.SymmetricEncryption {
		if pt, err := decrypt(c.Key, c.CiphertextHex); err != nil || pt != c.Plaintext {
			t.Errorf("symmetric %q: got %q, %v", c.Plaintext, pt, err)
		}
	}
	if pt, err := decrypt(specSecret, "365f53a53103de006208cb65c28033fce9e0e2dba3c1fa1ef112de5cb41c3275597d9d92e33e5ca3cdbc83454e6f3ae7167ddf5e42a414"); err != nil || pt != "hello-plaintext" {
		t.Errorf("spec §7 XChaCha vector: %q, %v", pt, err)
	}

	// HS256 (email verification style).
	parts := strings.Split(v.HS256.Token, ".")
	if len(parts) != 3 {
		t.Fatalf("hs256 token %q", v.HS256.Token)
	}
	m := hmac.New(sha256.New, []byte(v.HS256.Secret))
	m.Write([]byte(parts[0] + "." + parts[1]))
	if base64.RawURLEncoding.EncodeToString(m.Sum(nil)) != parts[2] {
		t.Error("HS256 JWT signature mismatch")
	}

	// JWT plugin: EdDSA token verifies with the stored public key, and the
	// encrypted private key decrypts to the matching private JWK.
	var pub struct{ X string }
	if err := json.Unmarshal([]byte(v.JWTPlugin.JWKSRow["publicKey"].(string)), &pub); err != nil {
		t.Fatal(err)
	}
	x, err := base64.RawURLEncoding.DecodeString(pub.X)
	if err != nil || len(x) != ed25519.PublicKeySize {
		t.Fatalf("public key x: %v", err)
	}
	jp := strings.Split(v.JWTPlugin.Token, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(jp[2])
	if !ed25519.Verify(ed25519.PublicKey(x), []byte(jp[0]+"."+jp[1]), sig) {
		t.Error("jwt plugin token does not verify with jwks publicKey")
	}
	var quoted string
	if err := json.Unmarshal([]byte(v.JWTPlugin.JWKSRow["privateKey"].(string)), &quoted); err != nil {
		t.Fatalf("privateKey is not a JSON string: %v", err)
	}
	priv, err := decrypt(v.JWTPlugin.Secret, quoted)
	if err != nil {
		t.Fatalf("decrypting jwks privateKey: %v", err)
	}
	var jwk struct{ D, X string }
	if err := json.Unmarshal([]byte(priv), &jwk); err != nil {
		t.Fatal(err)
	}
	d, _ := base64.RawURLEncoding.DecodeString(jwk.D)
	if jwk.X != pub.X || len(d) != ed25519.SeedSize ||
		!ed25519.NewKeyFromSeed(d).Public().(ed25519.PublicKey).Equal(ed25519.PublicKey(x)) {
		t.Error("decrypted private JWK does not match the public key")
	}
}

// TestGoldenShape sanity-checks the golden transcript: every step has a
// status, Set-Cookie lines parse, and every note's claim still held when it
// was generated.
func TestGoldenShape(t *testing.T) {
	var g struct {
		Notes []struct {
			Kind, Text string
			Verified   bool
		}
		Steps []struct {
			Name     string
			Response struct {
				Status    int
				SetCookie []string `json:"setCookie"`
			}
		}
	}
	readFixture(t, "betterauth-golden.json", &g)
	if len(g.Steps) < 50 {
		t.Fatalf("only %d golden steps", len(g.Steps))
	}
	for _, s := range g.Steps {
		if s.Response.Status < 200 || s.Response.Status > 599 {
			t.Errorf("%s: status %d", s.Name, s.Response.Status)
		}
		for _, l := range s.Response.SetCookie {
			if !strings.Contains(l, "; Path=/; HttpOnly; SameSite=Lax") {
				t.Errorf("%s: unexpected cookie attributes in %q", s.Name, l)
			}
		}
	}
	for _, n := range g.Notes {
		if !n.Verified {
			t.Errorf("golden note no longer verified: %s", n.Text)
		}
	}
}

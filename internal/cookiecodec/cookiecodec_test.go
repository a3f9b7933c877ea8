package cookiecodec

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// betterAuthCookie is a session_data value Better Auth (or jose, for the
// JWE without kid) made.
type betterAuthCookie struct {
	Source       string `json:"source"`
	Strategy     string `json:"strategy"`
	Secret       string `json:"secret"`
	Value        string `json:"value"`
	Now          int64  `json:"now"` // seconds: when it was made
	SessionToken string `json:"sessionToken"`
	UserName     string `json:"userName"`
}

// betterAuthCookies returns the values of testdata/betterauth-cookiecache.json
// (tests/compat/gen-codec-vectors.mjs: compact and jwe session_data cookies
// of a Better Auth server, a JWE without kid) and the jwt one of
// internal/hs256's vectors (same generator).
func betterAuthCookies(t *testing.T) []betterAuthCookie {
	t.Helper()
	var own struct {
		Cookies []betterAuthCookie `json:"cookies"`
	}
	readJSON(t, filepath.Join("testdata", "betterauth-cookiecache.json"), &own)
	var hs struct {
		Tokens []struct {
			Source string `json:"source"`
			Secret string `json:"secret"`
			Token  string `json:"token"`
			Iat    int64  `json:"iat"`
			Claims struct {
				Session struct {
					Token string `json:"token"`
				} `json:"session"`
				User struct {
					Name string `json:"name"`
				} `json:"user"`
			} `json:"claims"`
		} `json:"tokens"`
	}
	readJSON(t, filepath.Join("..", "hs256", "testdata", "betterauth-hs256.json"), &hs)
	for _, v := range hs.Tokens {
		if strings.Contains(v.Source, "cookie-cache") {
			own.Cookies = append(own.Cookies, betterAuthCookie{Source: v.Source, Strategy: "jwt", Secret: v.Secret,
				Value: v.Token, Now: v.Iat, SessionToken: v.Claims.Session.Token, UserName: v.Claims.User.Name})
		}
	}
	strategies := map[string]int{}
	for _, c := range own.Cookies {
		strategies[c.Strategy]++
	}
	if d := cmp.Diff(map[string]int{"compact": 1, "jwt": 1, "jwe": 2}, strategies); d != "" {
		t.Fatalf("Better Auth cookies per strategy (-want +got):\n%s", d)
	}
	return own.Cookies
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// decode opens a cache value with the strategy's decoder; keys are the
// secrets it knows (the first the current one).
func decode(strategy, value string, now time.Time, secrets ...string) ([]byte, float64, bool) {
	switch strategy {
	case "compact":
		return DecodeCompact([]byte(secrets[0]), value)
	case "jwt":
		return DecodeJWT([]byte(secrets[0]), value, now)
	}
	var keys []JWEKey
	for _, s := range secrets {
		keys = append(keys, NewJWEKey([]byte(s)))
	}
	return DecodeJWE(keys, value, now)
}

const otherSecret = "another-secret-0123456789abcdef-0123456789"

// TestBetterAuthCookies: every cache Better Auth made opens with its
// secret (a JWE also among other secrets: by its kid, or tried under each
// without one) and holds the session and user Better Auth put in it; it
// does not open under another secret alone. The compact cache is written
// byte for byte as Better Auth writes it.
func TestBetterAuthCookies(t *testing.T) {
	t.Parallel()
	for _, v := range betterAuthCookies(t) {
		t.Run(v.Source, func(t *testing.T) {
			t.Parallel()
			now := time.Unix(v.Now, 0)
			for _, secrets := range [][]string{{v.Secret}, {otherSecret, v.Secret}} {
				if v.Strategy != "jwe" && len(secrets) > 1 {
					continue
				}
				payload, expiresAt, ok := decode(v.Strategy, v.Value, now, secrets...)
				if !ok {
					t.Fatalf("refused under %d secrets", len(secrets))
				}
				p, ok := ParsePayload(payload)
				if !ok || p.Session["token"] != v.SessionToken || p.User["name"] != v.UserName || p.Version != "1" {
					t.Fatalf("payload %s: token %v, name %q, version %q", payload, p.Session["token"], p.User["name"], p.Version)
				}
				if want := float64(now.Add(300 * time.Second).UnixMilli()); v.Strategy != "compact" && expiresAt != want {
					t.Errorf("expiresAt %v, want %v", expiresAt, want)
				}
			}
			if _, _, ok := decode(v.Strategy, v.Value, now, otherSecret); ok {
				t.Error("opens under another secret")
			}
			if v.Strategy != "compact" {
				return
			}
			// Byte for byte: Payload rebuilds the payload from its
			// session and user, EncodeCompact the cookie.
			payload, expiresAt, _ := DecodeCompact([]byte(v.Secret), v.Value)
			var parts struct {
				Session, User json.RawMessage
				UpdatedAt     int64
				Version       string
			}
			if err := json.Unmarshal(payload, &parts); err != nil {
				t.Fatal(err)
			}
			if got := Payload(parts.Session, parts.User, parts.UpdatedAt, parts.Version); !bytes.Equal(got, payload) {
				t.Errorf("Payload = %s\nBetter Auth %s", got, payload)
			}
			if got := EncodeCompact([]byte(v.Secret), payload, int64(expiresAt)); got != v.Value {
				t.Errorf("EncodeCompact = %s\nBetter Auth     %s", got, v.Value)
			}
		})
	}
}

// TestBetterAuthJWETime: Better Auth's JWE opens up to 15 s past its exp
// (jose's clockTolerance; the caller then finds expiresAt passed), and
// not from then on.
func TestBetterAuthJWETime(t *testing.T) {
	t.Parallel()
	for _, v := range betterAuthCookies(t) {
		if v.Strategy != "jwe" {
			continue
		}
		exp := time.Unix(v.Now+300, 0)
		for _, tt := range []struct {
			now  time.Time
			want bool
		}{
			{exp.Add(-time.Second), true},
			{exp, true},
			{exp.Add(14 * time.Second), true},
			{exp.Add(15 * time.Second), false},
		} {
			_, expiresAt, ok := decode("jwe", v.Value, tt.now, v.Secret)
			if ok != tt.want || ok && expiresAt != float64(exp.UnixMilli()) {
				t.Errorf("%s at exp%+v: %v, expiresAt %v; want %v", v.Source, tt.now.Sub(exp), ok, expiresAt, tt.want)
			}
		}
	}
}

// TestTamperedBetterAuthCookies: changing, dropping or adding one
// character of a Better Auth cache makes it refused, unless the change
// leaves every part decoding to the same bytes (a lenient base64 decoder
// ignores the unused bits of a last character, as Better Auth's does).
func TestTamperedBetterAuthCookies(t *testing.T) {
	t.Parallel()
	for _, v := range betterAuthCookies(t) {
		now := time.Unix(v.Now, 0)
		for i := range len(v.Value) {
			for _, tampered := range []string{
				v.Value[:i] + string(other(v.Value[i])) + v.Value[i+1:],
				v.Value[:i] + v.Value[i+1:],
				v.Value[:i] + "A" + v.Value[i:],
			} {
				if sameDecoding(tampered, v.Value) {
					continue
				}
				if p, _, ok := decode(v.Strategy, tampered, now, v.Secret); ok {
					t.Fatalf("%s: tampered at %d: %q opens as %s", v.Source, i, tampered, p)
				}
			}
		}
	}
}

// other returns another base64url character.
func other(c byte) byte {
	if c == 'A' {
		return 'B'
	}
	return 'A'
}

// sameDecoding reports whether a and b have the same "."-separated parts,
// each decoding (as lenient base64url) to the same bytes.
func sameDecoding(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	if len(pa) != len(pb) {
		return false
	}
	for i := range pa {
		x, errx := base64.RawURLEncoding.DecodeString(pa[i])
		y, erry := base64.RawURLEncoding.DecodeString(pb[i])
		if errx != nil || erry != nil || !bytes.Equal(x, y) {
			return false
		}
	}
	return true
}

// trickyPayload is a payload with every character encoding/json and
// JSON.stringify write differently.
func trickyPayload() []byte {
	s, _ := json.Marshal(map[string]any{"token": "t0k3n", "expiresAt": "2030-01-02T03:04:05.000Z", "n": 12345678901234567})
	u, _ := json.Marshal(map[string]any{"id": "u1", "name": "<b>Tom & \"Jerry\"</b> \u2028\u2029 \U0001F600 é \\ \x7f \x01", "bad": "\xff"})
	return Payload(s, u, 1893553445123, "v\u20282")
}

// TestRoundTrip: each seal opens what it sealed, unchanged, with its
// expiry in ms; a JWE carries a kid, iat, exp and a version 4 UUID jti.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	secret := []byte("0123456789abcdef0123456789abcdef-secret-xyz")
	now := time.Date(2030, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	payload := trickyPayload()
	exp := float64(now.Add(5*time.Minute).Unix()) * 1000

	c := EncodeCompact(secret, payload, now.Add(5*time.Minute).UnixMilli())
	if got, e, ok := DecodeCompact(secret, c); !ok || !bytes.Equal(got, payload) || e != float64(now.Add(5*time.Minute).UnixMilli()) {
		t.Errorf("compact: %s, %v, %v", got, e, ok)
	}
	j := EncodeJWT(secret, payload, now, 5*time.Minute)
	if got, e, ok := DecodeJWT(secret, j, now); !ok || !bytes.HasPrefix(got, payload[:len(payload)-1]) || e != exp {
		t.Errorf("jwt: %s, %v, %v", got, e, ok)
	}
	k := NewJWEKey(secret)
	w, err := EncodeJWE(k, payload, now, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	got, e, ok := DecodeJWE([]JWEKey{k}, w, now)
	if !ok || e != exp {
		t.Fatalf("jwe: %s, %v, %v", got, e, ok)
	}
	var claims struct {
		Iat, Exp int64
		Jti      string
	}
	if err := json.Unmarshal(got, &claims); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(got, payload[:len(payload)-1]) || claims.Iat != now.Unix() || claims.Exp != now.Unix()+300 ||
		!regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(claims.Jti) {
		t.Errorf("jwe claims %s", got)
	}
	hb, _ := base64.RawURLEncoding.DecodeString(strings.Split(w, ".")[0])
	var hdr map[string]string
	if err := json.Unmarshal(hb, &hdr); err != nil || hdr["alg"] != "dir" || hdr["enc"] != "A256CBC-HS512" || hdr["kid"] != k.kid {
		t.Errorf("jwe header %s", hb)
	}
	if w2, _ := EncodeJWE(k, payload, now, 5*time.Minute); w2 == w {
		t.Error("two JWEs of the same payload are equal")
	}
}

// TestNewJWEKey: Better Auth's key derivation, against a key and kid
// computed by Better Auth's own code (@noble/hashes hkdf and jose's
// calculateJwkThumbprint) for its test secret.
func TestNewJWEKey(t *testing.T) {
	t.Parallel()
	k := NewJWEKey([]byte("0123456789abcdef0123456789abcdef-secret-xyz"))
	if len(k.key) != 64 {
		t.Fatalf("key of %d bytes", len(k.key))
	}
	// The kid is what Better Auth's JWE cookie names (its vector).
	for _, v := range betterAuthCookies(t) {
		if v.Strategy != "jwe" || v.Secret != "0123456789abcdef0123456789abcdef-secret-xyz" {
			continue
		}
		hb, _ := base64.RawURLEncoding.DecodeString(strings.Split(v.Value, ".")[0])
		var hdr map[string]string
		_ = json.Unmarshal(hb, &hdr)
		if kid, ok := hdr["kid"]; ok && kid != k.kid {
			t.Errorf("kid %s, Better Auth's %s", k.kid, kid)
		}
	}
}

// TestJSJSON: what encoding/json escapes and JSON.stringify does not comes
// back as the character; every other escape stays.
func TestJSJSON(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{`{"a":"\u003cb\u003e \u0026"}`, `{"a":"<b> &"}`},
		{`{"a":"\u2028\u2029"}`, "{\"a\":\"\u2028\u2029\"}"},
		{`{"a":"\ufffd"}`, "{\"a\":\"\ufffd\"}"},
		{`{"a":"\"\\\/\b\f\n\r\t\u0001\u007f"}`, `{"a":"\"\\\/\b\f\n\r\t\u0001\u007f"}`},
		{`{"a":"\\u003c"}`, `{"a":"\\u003c"}`}, // an escaped backslash, then text
		{`{"\u003c":1,"b":[true,null,"\u0026"]}`, `{"<":1,"b":[true,null,"&"]}`},
		{`{"a":"x\u00e9"}`, `{"a":"x\u00e9"}`},
	} {
		if got := string(jsJSON([]byte(tt.in))); got != tt.want {
			t.Errorf("jsJSON(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
	// What encoding/json writes for Better Auth's vector name is what
	// JSON.stringify wrote.
	for _, v := range betterAuthCookies(t) {
		b, _ := json.Marshal(v.UserName)
		payload, _, _ := decode(v.Strategy, v.Value, time.Unix(v.Now, 0), v.Secret)
		if !bytes.Contains(payload, jsJSON(b)) {
			t.Errorf("%s: %s not in %s", v.Source, jsJSON(b), payload)
		}
	}
}

// TestParsePayload: Better Auth's cookieCachePayloadSchema.
func TestParsePayload(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want Parsed
		ok   bool
	}{
		{`{"session":{"n":12345678901234567},"user":{},"updatedAt":1,"version":"2"}`,
			Parsed{Session: map[string]any{"n": json.Number("12345678901234567")}, User: map[string]any{}, UpdatedAt: 1, Version: "2"}, true},
		{`{"session":{},"user":{},"updatedAt":1.5}`, Parsed{Session: map[string]any{}, User: map[string]any{}, UpdatedAt: 1.5, Version: "1"}, true},
		{`{"updatedAt":1}`, Parsed{UpdatedAt: 1, Version: "1"}, true},
		{`{"session":{},"user":{},"updatedAt":"1"}`, Parsed{}, false},
		{`{"session":{},"user":{}}`, Parsed{}, false},
		{`{"session":{},"user":{},"updatedAt":1,"version":2}`, Parsed{}, false},
		{`{"session":[],"user":{},"updatedAt":1}`, Parsed{}, false},
		{`[]`, Parsed{}, false},
		{``, Parsed{}, false},
	} {
		got, ok := ParsePayload([]byte(tt.in))
		if d := cmp.Diff(tt.want, got); ok != tt.ok || d != "" {
			t.Errorf("ParsePayload(%s) = %v (-want +got):\n%s", tt.in, ok, d)
		}
	}
}

const fuzzSecret = "fuzz-secret-0123456789abcdef-0123456789abcdef"

var fuzzNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// FuzzDecodeCompact: the compact decoder never panics; what it accepts is
// a JSON object payload sealed under the secret (it does not open under
// another), and sealing that payload again opens to the same payload and
// expiry.
func FuzzDecodeCompact(f *testing.F) {
	secret := []byte(fuzzSecret)
	good := EncodeCompact(secret, trickyPayload(), fuzzNow.UnixMilli())
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(strings.NewReplacer("-", "+", "_", "/").Replace(good) + "==")
	f.Add(EncodeCompact([]byte("another"), trickyPayload(), 1))
	f.Add(EncodeCompact(secret, []byte(`{}`), 1))
	for _, s := range []string{"", "e30", "eyJzZXNzaW9uIjp7fX0", "=", "%", "!!!!"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		payload, expiresAt, ok := DecodeCompact(secret, value)
		if !ok {
			if payload != nil || expiresAt != 0 {
				t.Fatalf("refused %q with payload %q, expiresAt %v", value, payload, expiresAt)
			}
			return
		}
		var obj map[string]any
		if json.Unmarshal(payload, &obj) != nil {
			t.Fatalf("accepted %q with payload %q, not a JSON object", value, payload)
		}
		if _, _, ok := DecodeCompact([]byte("another-secret"), value); ok {
			t.Fatalf("%q opens under another secret", value)
		}
		if expiresAt == float64(int64(expiresAt)) {
			p, e, ok := DecodeCompact(secret, EncodeCompact(secret, payload, int64(expiresAt)))
			if !ok || !bytes.Equal(p, payload) || e != expiresAt {
				t.Fatalf("%q: sealing %q again opens as %q, %v, %v", value, payload, p, e, ok)
			}
		}
	})
}

// FuzzDecodeJWE: the JWE decoder never panics; what it accepts opens
// under the key only, with a JSON object payload whose exp (returned in
// ms) is within the leeway of now.
func FuzzDecodeJWE(f *testing.F) {
	k := NewJWEKey([]byte(fuzzSecret))
	good, err := EncodeJWE(k, trickyPayload(), fuzzNow, 5*time.Minute)
	if err != nil {
		f.Fatal(err)
	}
	expired, _ := EncodeJWE(k, trickyPayload(), fuzzNow.Add(-time.Hour), 5*time.Minute)
	other, _ := EncodeJWE(NewJWEKey([]byte("another")), trickyPayload(), fuzzNow, 5*time.Minute)
	for _, s := range []string{good, expired, other, good[:len(good)-2], "....", "e30....", "", good + "."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		payload, expiresAt, ok := DecodeJWE([]JWEKey{k}, value, fuzzNow)
		if !ok {
			if payload != nil || expiresAt != 0 {
				t.Fatalf("refused %q with payload %q, expiresAt %v", value, payload, expiresAt)
			}
			return
		}
		var c struct {
			Exp *float64 `json:"exp"`
		}
		if json.Unmarshal(payload, &c) != nil || c.Exp == nil || *c.Exp*1000 != expiresAt ||
			*c.Exp <= float64(fuzzNow.Add(-jweClockTolerance).Unix()) {
			t.Fatalf("accepted %q: payload %q, expiresAt %v", value, payload, expiresAt)
		}
		if _, _, ok := DecodeJWE([]JWEKey{NewJWEKey([]byte("another"))}, value, fuzzNow); ok {
			t.Fatalf("%q opens under another key", value)
		}
	})
}

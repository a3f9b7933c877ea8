package hs256

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// betterAuthToken is an HS256 JWT Better Auth made.
type betterAuthToken struct {
	Source string         `json:"source"`
	Secret string         `json:"secret"`
	Token  string         `json:"token"`
	Iat    int64          `json:"iat"`
	Exp    int64          `json:"exp"`
	Claims map[string]any `json:"claims"`
}

// betterAuthTokens returns the tokens of testdata/betterauth-hs256.json
// (tests/compat/gen-codec-vectors.mjs: email-verification links and a
// cookie-cache JWT from real Better Auth routes, signJWT under a non-ASCII
// secret) and the email-verification vector of
// auth/testdata/betterauth-vectors.json (tests/compat/gen-vectors.mjs).
func betterAuthTokens(t *testing.T) []betterAuthToken {
	t.Helper()
	var own struct {
		Tokens []betterAuthToken `json:"tokens"`
	}
	readJSON(t, filepath.Join("testdata", "betterauth-hs256.json"), &own)
	var shared struct {
		HS256 struct {
			Description string         `json:"description"`
			Secret      string         `json:"secret"`
			Token       string         `json:"token"`
			Decoded     map[string]any `json:"decoded"`
		} `json:"hs256Jwt"`
	}
	readJSON(t, filepath.Join("..", "..", "auth", "testdata", "betterauth-vectors.json"), &shared)
	v := shared.HS256
	own.Tokens = append(own.Tokens, betterAuthToken{Source: v.Description, Secret: v.Secret, Token: v.Token,
		Iat: int64(v.Decoded["iat"].(float64)), Exp: int64(v.Decoded["exp"].(float64)), Claims: v.Decoded})
	if len(own.Tokens) < 6 {
		t.Fatalf("%d Better Auth tokens, want at least 6", len(own.Tokens))
	}
	return own.Tokens
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

// TestBetterAuthTokens: every token Better Auth made verifies with its
// secret until its exp (with the claims Better Auth wrote), is expired from
// exp on, and fails under another secret; Sign writes the same token
// byte for byte from the same claims and time.
func TestBetterAuthTokens(t *testing.T) {
	t.Parallel()
	for _, v := range betterAuthTokens(t) {
		t.Run(v.Source, func(t *testing.T) {
			t.Parallel()
			key := []byte(v.Secret)
			for _, now := range []time.Time{time.Unix(v.Iat, 0), time.Unix(v.Exp-1, 999_999_999)} {
				claims, exp, err := Verify(key, v.Token, now)
				if err != nil {
					t.Fatalf("Verify at %v: %v", now, err)
				}
				var got map[string]any
				if err := json.Unmarshal(claims, &got); err != nil {
					t.Fatal(err)
				}
				if d := cmp.Diff(v.Claims, got); d != "" || exp != float64(v.Exp) {
					t.Errorf("claims (-Better Auth +ours):\n%s\nexp %v, want %d", d, exp, v.Exp)
				}
			}
			if _, _, err := Verify(key, v.Token, time.Unix(v.Exp, 0)); !errors.Is(err, ErrExpired) {
				t.Errorf("Verify at exp: %v, want ErrExpired", err)
			}
			if _, _, err := Verify([]byte(v.Secret+"x"), v.Token, time.Unix(v.Iat, 0)); !errors.Is(err, ErrInvalid) {
				t.Errorf("Verify under another secret: %v, want ErrInvalid", err)
			}
			// Better Auth's claims are {...payload, iat, exp}: Sign of the
			// payload at iat for exp-iat seconds is the same token.
			raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(v.Token, ".")[1])
			suffix := `,"iat":` + strconv.FormatInt(v.Iat, 10) + `,"exp":` + strconv.FormatInt(v.Exp, 10) + `}`
			payload, ok := bytes.CutSuffix(raw, []byte(suffix))
			if !ok {
				t.Fatalf("claims %s do not end with %s", raw, suffix)
			}
			payload = append(payload, '}')
			if got := Sign(key, payload, time.Unix(v.Iat, 0), time.Duration(v.Exp-v.Iat)*time.Second); got != v.Token {
				t.Errorf("Sign = %s\nBetter Auth  %s", got, v.Token)
			}
		})
	}
}

// TestTamperedBetterAuthTokens: changing any one character of a Better
// Auth token, dropping one, or adding one makes it invalid.
func TestTamperedBetterAuthTokens(t *testing.T) {
	t.Parallel()
	for _, v := range betterAuthTokens(t) {
		key, now := []byte(v.Secret), time.Unix(v.Iat, 0)
		for i := range len(v.Token) {
			for _, tampered := range []string{
				v.Token[:i] + string(flip(v.Token[i])) + v.Token[i+1:],
				v.Token[:i] + v.Token[i+1:],
				v.Token[:i] + "A" + v.Token[i:],
			} {
				if tampered == v.Token {
					continue
				}
				if c, _, err := Verify(key, tampered, now); !errors.Is(err, ErrInvalid) || c != nil {
					t.Fatalf("%s: tampered at %d: %q verifies (%v)", v.Source, i, tampered, err)
				}
			}
		}
	}
}

// flip returns another base64url character (or "." for "." and back).
func flip(c byte) byte {
	switch c {
	case '.':
		return 'A'
	case 'A':
		return 'B'
	}
	return 'A'
}

const testKey = "fuzz-secret-0123456789abcdef-0123456789abcdef"

var testNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// token signs the given header and claims segments (JSON texts, encoded
// here) with testKey.
func token(header, claims string) string {
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
	return input + "." + enc.EncodeToString(mac([]byte(testKey), input))
}

// TestVerifyRules holds Verify to each rule of the package documentation:
// the accepted cases are the edges of what is allowed, each refused case
// breaks exactly one rule.
func TestVerifyRules(t *testing.T) {
	t.Parallel()
	now := testNow.Unix()
	exp := strconv.FormatInt(now+60, 10)
	good := `{"email":"a@example.com","iat":` + strconv.FormatInt(now, 10) + `,"exp":` + exp + `}`
	valid := token(`{"alg":"HS256"}`, good)
	h, p, s := func() (string, string, string) { x := strings.Split(valid, "."); return x[0], x[1], x[2] }()
	// otherSpelling is the signature with an unused bit of its last
	// character set: the same bytes for a lenient decoder.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	otherSpelling := s[:len(s)-1] + string(alphabet[strings.IndexByte(alphabet, s[len(s)-1])|1])
	sigBytes, _ := base64.RawURLEncoding.DecodeString(s)
	if b, err := base64.RawURLEncoding.DecodeString(otherSpelling); err != nil || !bytes.Equal(b, sigBytes) || otherSpelling == s {
		t.Fatalf("otherSpelling %s does not decode to the signature (%v)", otherSpelling, err)
	}
	tests := []struct {
		name  string
		token string
		want  error // nil: accepted
	}{
		{"Better Auth's form", valid, nil},
		{"typ and kid ignored", token(`{"alg":"HS256","typ":"JWT","kid":"k"}`, good), nil},
		{"alg escaped in JSON", token(`{"alg":"HS\u0032\u0035\u0036"}`, good), nil},
		{"exp only", token(`{"alg":"HS256"}`, `{"exp":`+exp+`}`), nil},
		{"exp fractional", token(`{"alg":"HS256"}`, `{"exp":`+strconv.FormatInt(now, 10)+`.5}`), nil},
		{"nbf now", token(`{"alg":"HS256"}`, `{"nbf":`+strconv.FormatInt(now, 10)+`,"exp":`+exp+`}`), nil},
		{"iat in the future", token(`{"alg":"HS256"}`, `{"iat":`+strconv.FormatInt(now+3600, 10)+`,"exp":`+exp+`}`), nil},
		{"claims with spaces", token(`{"alg":"HS256"}`, ` { "exp" : `+exp+` } `), nil},

		{"two segments", h + "." + p, ErrInvalid},
		{"four segments", valid + ".x", ErrInvalid},
		{"empty", "", ErrInvalid},
		{"dots", "..", ErrInvalid},
		{"padded signature", valid + "=", ErrInvalid},
		{"other spelling of the signature", h + "." + p + "." + otherSpelling, ErrInvalid},
		{"line break in the signature", h + "." + p + "." + s[:10] + "\n" + s[10:], ErrInvalid},
		{"CR in the claims", h + "." + p[:4] + "\r" + p[4:] + "." + s, ErrInvalid},
		{"standard alphabet", h + "." + p + "." + strings.NewReplacer("-", "+", "_", "/").Replace(s), ErrInvalid},
		{"signature of another key", h + "." + p + "." + base64.RawURLEncoding.EncodeToString(mac([]byte("other"), h+"."+p)), ErrInvalid},
		{"no signature", h + "." + p + ".", ErrInvalid},
		{"alg none", token(`{"alg":"none"}`, good), ErrInvalid},
		{"alg lower case", token(`{"alg":"hs256"}`, good), ErrInvalid},
		{"alg HS512", token(`{"alg":"HS512"}`, good), ErrInvalid},
		{"alg not a string", token(`{"alg":["HS256"]}`, good), ErrInvalid},
		{"ALG", token(`{"ALG":"HS256"}`, good), ErrInvalid},
		{"no alg", token(`{"typ":"JWT"}`, good), ErrInvalid},
		{"crit b64", token(`{"alg":"HS256","crit":["b64"],"b64":true}`, good), ErrInvalid},
		{"crit null", token(`{"alg":"HS256","crit":null}`, good), ErrInvalid},
		{"crit other", token(`{"alg":"HS256","crit":["exp"],"exp":1}`, good), ErrInvalid},
		{"b64 without crit", token(`{"alg":"HS256","b64":true}`, good), ErrInvalid},
		{"header null", token(`null`, good), ErrInvalid},
		{"header array", token(`["HS256"]`, good), ErrInvalid},
		{"header not JSON", token(`{"alg":"HS256"`, good), ErrInvalid},
		{"header invalid UTF-8", token("{\"alg\":\"HS256\",\"x\":\"\xff\"}", good), ErrInvalid},
		{"claims null", token(`{"alg":"HS256"}`, `null`), ErrInvalid},
		{"claims array", token(`{"alg":"HS256"}`, `[`+exp+`]`), ErrInvalid},
		{"claims string", token(`{"alg":"HS256"}`, `"x"`), ErrInvalid},
		{"claims trailing data", token(`{"alg":"HS256"}`, `{"exp":`+exp+`}x`), ErrInvalid},
		{"claims invalid UTF-8", token(`{"alg":"HS256"}`, "{\"exp\":"+exp+",\"x\":\"\xff\"}"), ErrInvalid},
		{"no exp", token(`{"alg":"HS256"}`, `{"email":"a@example.com"}`), ErrInvalid},
		{"empty claims", token(`{"alg":"HS256"}`, `{}`), ErrInvalid},
		{"exp a string", token(`{"alg":"HS256"}`, `{"exp":"`+exp+`"}`), ErrInvalid},
		{"exp null", token(`{"alg":"HS256"}`, `{"exp":null}`), ErrInvalid},
		{"exp 1e999", token(`{"alg":"HS256"}`, `{"exp":1e999}`), ErrInvalid},
		{"EXP", token(`{"alg":"HS256"}`, `{"EXP":`+exp+`}`), ErrInvalid},
		{"iat a string", token(`{"alg":"HS256"}`, `{"iat":"0","exp":`+exp+`}`), ErrInvalid},
		{"iat null", token(`{"alg":"HS256"}`, `{"iat":null,"exp":`+exp+`}`), ErrInvalid},
		{"nbf in the future", token(`{"alg":"HS256"}`, `{"nbf":`+strconv.FormatInt(now+1, 10)+`,"exp":`+exp+`}`), ErrInvalid},
		{"nbf null", token(`{"alg":"HS256"}`, `{"nbf":null,"exp":`+exp+`}`), ErrInvalid},
		{"nbf in the future and expired", token(`{"alg":"HS256"}`, `{"nbf":`+strconv.FormatInt(now+1, 10)+`,"exp":1}`), ErrInvalid},

		{"expired at exp", token(`{"alg":"HS256"}`, `{"exp":`+strconv.FormatInt(now, 10)+`}`), ErrExpired},
		{"expired long ago", token(`{"alg":"HS256"}`, `{"exp":0}`), ErrExpired},
		{"expired, negative", token(`{"alg":"HS256"}`, `{"exp":-1e300}`), ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			claims, _, err := Verify([]byte(testKey), tt.token, testNow.Add(999*time.Millisecond))
			if err != tt.want {
				t.Fatalf("Verify(%q) = %v, want %v", tt.token, err, tt.want)
			}
			if (claims != nil) != (tt.want == nil) {
				t.Errorf("claims %q with error %v", claims, err)
			}
		})
	}
}

// TestCheckClaimsLeeway: leeway widens nbf and exp by the same amount on
// both sides, as jose's clockTolerance.
func TestCheckClaimsLeeway(t *testing.T) {
	t.Parallel()
	now := testNow.Unix()
	for _, tt := range []struct {
		claims string
		want   error
	}{
		{`{"exp":` + strconv.FormatInt(now-14, 10) + `}`, nil},
		{`{"exp":` + strconv.FormatInt(now-15, 10) + `}`, ErrExpired},
		{`{"nbf":` + strconv.FormatInt(now+15, 10) + `,"exp":` + strconv.FormatInt(now+60, 10) + `}`, nil},
		{`{"nbf":` + strconv.FormatInt(now+16, 10) + `,"exp":` + strconv.FormatInt(now+60, 10) + `}`, ErrInvalid},
	} {
		if _, err := CheckClaims([]byte(tt.claims), testNow, 15*time.Second); err != tt.want {
			t.Errorf("CheckClaims(%s, 15s) = %v, want %v", tt.claims, err, tt.want)
		}
	}
}

// TestSign: Sign appends iat and exp in whole seconds to any JSON object,
// the empty one included, and its tokens verify until exp.
func TestSign(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 2, 3, 4, 5, 700_000_000, time.UTC)
	for _, tt := range []struct {
		claims, want string
		ttl          time.Duration
	}{
		{`{"email":"a@example.com"}`, `{"email":"a@example.com","iat":1893553445,"exp":1893557045}`, time.Hour},
		{`{}`, `{"iat":1893553445,"exp":1893553745}`, 5 * time.Minute},
		{` { } `, `{"iat":1893553445,"exp":1893553746}`, 300*time.Second + 300*time.Millisecond},
		{`{"a":{"b":[1]} }`, `{"a":{"b":[1]},"iat":1893553445,"exp":1893553446}`, time.Second},
	} {
		tok := Sign([]byte(testKey), []byte(tt.claims), now, tt.ttl)
		claims, exp, err := Verify([]byte(testKey), tok, now)
		if err != nil || string(claims) != tt.want || int64(exp) != now.Add(tt.ttl).Unix() {
			t.Errorf("Sign(%s, %v) verifies as %s, %v, %v; want %s", tt.claims, tt.ttl, claims, exp, err, tt.want)
		}
		if !strings.HasPrefix(tok, "eyJhbGciOiJIUzI1NiJ9.") {
			t.Errorf("header of %s is not {\"alg\":\"HS256\"}", tok)
		}
	}
}

// FuzzVerify: Verify never panics, and accepts only tokens that meet every
// rule: three canonical base64url segments, a header whose alg is HS256
// without crit or b64, the HMAC of the first two segments, claims that are
// a JSON object with a numeric exp after now. (The seeds in
// testdata/fuzz/FuzzVerify were FuzzHS256's in package auth.)
func FuzzVerify(f *testing.F) {
	key := []byte(testKey)
	good := Sign(key, []byte(`{"email":"a@example.com"}`), testNow, time.Hour)
	parts := strings.Split(good, ".")
	enc := base64.RawURLEncoding
	f.Add(good)
	f.Add(Sign(key, []byte(`{"email":"a@example.com"}`), testNow.Add(-2*time.Hour), time.Hour)) // expired
	f.Add(Sign([]byte("another-secret"), []byte(`{"email":"a@example.com"}`), testNow, time.Hour))
	f.Add(enc.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + ".")
	f.Add(enc.EncodeToString([]byte(`{"alg":"HS256","crit":["b64"]}`)) + "." + parts[1] + "." + parts[2])
	f.Add(parts[0] + "." + parts[1])
	f.Add("..")
	f.Fuzz(func(t *testing.T, tok string) {
		claims, exp, err := Verify(key, tok, testNow)
		if err != nil {
			if claims != nil || exp != 0 || err != ErrInvalid && err != ErrExpired {
				t.Fatalf("error %v with claims %q, exp %v", err, claims, exp)
			}
			return
		}
		p := strings.Split(tok, ".")
		if len(p) != 3 {
			t.Fatalf("accepted %q with %d segments", tok, len(p))
		}
		var seg [3][]byte
		for i, s := range p {
			b, err := enc.DecodeString(s)
			if err != nil || enc.EncodeToString(b) != s {
				t.Fatalf("accepted segment %d %q, not canonical base64url", i, s)
			}
			seg[i] = b
		}
		m := hmac.New(sha256.New, key)
		m.Write([]byte(p[0] + "." + p[1]))
		if !hmac.Equal(seg[2], m.Sum(nil)) {
			t.Fatalf("accepted %q without a valid signature", tok)
		}
		var hdr map[string]any
		if json.Unmarshal(seg[0], &hdr) != nil || hdr["alg"] != "HS256" || hdr["crit"] != nil || hdr["b64"] != nil {
			t.Fatalf("accepted header %s", seg[0])
		}
		var c map[string]any
		if json.Unmarshal(seg[1], &c) != nil || !bytes.Equal(claims, seg[1]) {
			t.Fatalf("accepted claims %s, returned %s", seg[1], claims)
		}
		if e, ok := c["exp"].(float64); !ok || e != exp || e <= float64(testNow.Unix()) {
			t.Fatalf("accepted exp %v (returned %v) at %d", c["exp"], exp, testNow.Unix())
		}
	})
}

// TestAppendMembers: {...obj, members} for any object, the empty one and
// surrounding space included.
func TestAppendMembers(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ obj, want string }{
		{`{"a":1}`, `{"a":1,"x":2}`},
		{`{}`, `{"x":2}`},
		{` { } `, `{"x":2}`},
		{`{"a":{"b":1} }`, `{"a":{"b":1},"x":2}`},
	} {
		if got := string(AppendMembers([]byte(tt.obj), `"x":2`)); got != tt.want {
			t.Errorf("AppendMembers(%s) = %s, want %s", tt.obj, got, tt.want)
		}
	}
}

package plugin_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"

	"github.com/managarten/mana-auth/plugin"
)

const (
	specSecret = "0123456789abcdef0123456789abcdef-secret-xyz"
	specToken  = "kqV1utL0iY7KAYxWIXz1Qib3nvv2VUYw"
	specCookie = "kqV1utL0iY7KAYxWIXz1Qib3nvv2VUYw.FIb5WQfEBG3Gt%2BlMqEG3et783N3H1FCeMThc%2FQ7tVaA%3D"
)

// TestSignCookieValueSpecVector is the vector of spec §2.2.
func TestSignCookieValueSpecVector(t *testing.T) {
	t.Parallel()
	if got := plugin.SignCookieValue(specSecret, specToken); got != specCookie {
		t.Errorf("SignCookieValue = %q, want %q", got, specCookie)
	}
	got, ok := plugin.VerifyCookieValue(specSecret, specCookie)
	if !ok || got != specToken {
		t.Errorf("VerifyCookieValue = %q, %v; want %q, true", got, ok, specToken)
	}
}

func TestVerifyCookieValueRejects(t *testing.T) {
	t.Parallel()
	dec, _ := url.PathUnescape(specCookie) // value.sig with raw + / =
	sig := dec[strings.LastIndexByte(dec, '.')+1:]
	tests := []struct {
		name, secret, cookie string
	}{
		{"tampered value", specSecret, changeByte(specCookie, 3)},
		{"value with extra char", specSecret, "x" + specCookie},
		{"tampered signature", specSecret, specToken + "." + url.QueryEscape(changeByte(sig, 5))},
		{"truncated signature", specSecret, specToken + "." + url.PathEscape(sig[:43])},
		{"truncated encoded cookie", specSecret, specCookie[:len(specCookie)-3]},
		{"signature one char too long", specSecret, specToken + "." + "A" + sig},
		{"missing dot", specSecret, strings.Replace(specCookie, ".", "", 1)},
		{"dot at index 0", specSecret, "." + sig},
		{"only a dot", specSecret, "."},
		{"empty", specSecret, ""},
		{"signature without trailing =", specSecret, specToken + "." + sig[:43] + "A"},
		{"signature without =, 44 chars", specSecret, specToken + "." + strings.TrimSuffix(sig, "=") + "x"},
		{"wrong secret", "another-secret-with-enough-entropy-0123456789", specCookie},
		{"secret differs in case", strings.ToUpper(specSecret), specCookie},
		{"invalid percent-encoding", specSecret, specToken + ".%zz" + sig[3:]},
		{"truncated percent escape", specSecret, specCookie + "%"},
		{"url-safe base64 signature", specSecret, specToken + "." + strings.NewReplacer("+", "-", "/", "_").Replace(sig)},
		{"signature of another value", specSecret, "other." + sig},
		{"signature only, no value", specSecret, sig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got, ok := plugin.VerifyCookieValue(tt.secret, tt.cookie); ok {
				t.Errorf("VerifyCookieValue(%q) = %q, true; want refusal", tt.cookie, got)
			}
		})
	}
}

func TestVerifyCookieValueAccepts(t *testing.T) {
	t.Parallel()
	dec, _ := url.PathUnescape(specCookie)
	tests := []struct{ name, cookie, want string }{
		{"encoded", specCookie, specToken},
		{"not encoded (raw + / =)", dec, specToken},
		{"lower-case percent escapes", strings.NewReplacer("%2B", "%2b", "%2F", "%2f", "%3D", "%3d").Replace(specCookie), specToken},
		{"value with dots splits at the last dot", plugin.SignCookieValue(specSecret, "a.b.c"), "a.b.c"},
		{"empty-looking value with spaces", plugin.SignCookieValue(specSecret, " x "), " x "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := plugin.VerifyCookieValue(specSecret, tt.cookie)
			if !ok || got != tt.want {
				t.Errorf("VerifyCookieValue(%q) = %q, %v; want %q, true", tt.cookie, got, ok, tt.want)
			}
		})
	}
}

// TestSignCookieValueEncoding checks encodeURIComponent's alphabet: only
// A-Z a-z 0-9 - _ . ! ~ * ' ( ) stay as they are.
func TestSignCookieValueEncoding(t *testing.T) {
	t.Parallel()
	var all strings.Builder
	for c := 0x20; c < 0x7f; c++ {
		all.WriteByte(byte(c))
	}
	all.WriteString("é🔑")
	value := all.String()
	signed := plugin.SignCookieValue(specSecret, value)
	enc := signed[:strings.LastIndex(signed, ".")]
	const want = "%20!%22%23%24%25%26'()*%2B%2C-.%2F0123456789%3A%3B%3C%3D%3E%3F%40ABCDEFGHIJKLMNOPQRSTUVWXYZ%5B%5C%5D%5E_%60abcdefghijklmnopqrstuvwxyz%7B%7C%7D~%C3%A9%F0%9F%94%91"
	if enc != want {
		t.Errorf("encoded value\n got %s\nwant %s", enc, want)
	}
	if got, ok := plugin.VerifyCookieValue(specSecret, signed); !ok || got != value {
		t.Errorf("round trip = %q, %v", got, ok)
	}
}

func TestRandomString(t *testing.T) {
	t.Parallel()
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	for _, n := range []int{0, 1, 7, 32, 100, 1000} {
		for _, alphabet := range []string{"", "ab", "0123456789", "xyz"} {
			s := plugin.RandomString(n, alphabet)
			if len(s) != n {
				t.Errorf("RandomString(%d, %q) has length %d", n, alphabet, len(s))
			}
			allowed := alphabet
			if allowed == "" {
				allowed = alnum
			}
			for _, r := range s {
				if !strings.ContainsRune(allowed, r) {
					t.Fatalf("RandomString(%d, %q) = %q holds %q", n, alphabet, s, r)
				}
			}
		}
	}
	if a, b := plugin.RandomString(32, ""), plugin.RandomString(32, ""); a == b {
		t.Errorf("two random strings are equal: %q", a)
	}
}

// TestRandomStringUniform checks that every symbol turns up about equally
// often, for the default alphabet (62, not a power of two, so rejection
// sampling matters) and a 3-symbol one. The bounds are more than 6 standard
// deviations wide: a failure means bias, not bad luck.
func TestRandomStringUniform(t *testing.T) {
	t.Parallel()
	tests := []struct {
		alphabet string
		size     int // alphabet size
		perSym   int
		tol      float64
	}{
		{"", 62, 2000, 0.15},
		{"abc", 3, 20000, 0.04},
	}
	for _, tt := range tests {
		n := tt.size * tt.perSym
		s := plugin.RandomString(n, tt.alphabet)
		counts := map[rune]int{}
		for _, r := range s {
			counts[r]++
		}
		if len(counts) != tt.size {
			t.Errorf("alphabet %q: %d distinct symbols, want %d", tt.alphabet, len(counts), tt.size)
		}
		lo, hi := int(float64(tt.perSym)*(1-tt.tol)), int(float64(tt.perSym)*(1+tt.tol))
		for r, c := range counts {
			if c < lo || c > hi {
				t.Errorf("alphabet %q: symbol %q drawn %d times, want %d..%d", tt.alphabet, r, c, lo, hi)
			}
		}
	}
	// A 200-symbol single-byte alphabet: without rejection sampling the first
	// 56 symbols would be drawn twice as often as the others.
	var b strings.Builder
	for i := 0; i < 200; i++ {
		b.WriteByte(byte(i))
	}
	s := plugin.RandomString(200*500, b.String())
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	low, high := 0, 0
	for i := 0; i < 56; i++ {
		low += counts[i]
	}
	for i := 56; i < 112; i++ {
		high += counts[i]
	}
	// Each group expects 56*500 = 28000 draws (sd ~160); bias would make it 2:1.
	if r := float64(low) / float64(high); r < 0.95 || r > 1.05 {
		t.Errorf("first 56 symbols drawn %d times vs next 56 %d times (ratio %.3f): modulo bias", low, high, r)
	}
}

func TestNewID(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := plugin.NewID()
		if len(id) != 32 {
			t.Fatalf("NewID %q has length %d", id, len(id))
		}
		for _, r := range id {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				t.Fatalf("NewID %q holds %q", id, r)
			}
		}
		if seen[id] {
			t.Fatalf("NewID repeated %q", id)
		}
		seen[id] = true
	}
}

func TestSecureEqual(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want bool
	}{
		{"", "", true},
		{"abc", "abc", true},
		{"abc", "abd", false},
		{"abc", "ab", false},
		{"ab", "abc", false},
		{"", "a", false},
		{"ABC", "abc", false},
		{"é", "é", true},
		{"e\u0301", "é", false}, // no normalisation
		{specCookie, specCookie, true},
	}
	for _, tt := range tests {
		if got := plugin.SecureEqual(tt.a, tt.b); got != tt.want {
			t.Errorf("SecureEqual(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

// changeByte returns s with the byte at i replaced by another.
func changeByte(s string, i int) string {
	c := byte('X')
	if s[i] == c {
		c = 'Y'
	}
	return s[:i] + string(c) + s[i+1:]
}

func BenchmarkSignCookie(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if plugin.SignCookieValue(specSecret, specToken) != specCookie {
			b.Fatal("wrong value")
		}
	}
}

func BenchmarkVerifyCookie(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if v, ok := plugin.VerifyCookieValue(specSecret, specCookie); !ok || v != specToken {
			b.Fatal("not verified")
		}
	}
}

func BenchmarkRandomString(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if len(plugin.RandomString(32, "")) != 32 {
			b.Fatal("length")
		}
	}
}

// verifyPlain is VerifyCookieValue as it was written first, allocations
// and all: the reference the pooled version is held to.
func verifyPlain(secret, s string) (string, bool) {
	if strings.Contains(s, "%") {
		d, err := url.PathUnescape(s)
		if err != nil {
			return "", false
		}
		s = d
	}
	i := strings.LastIndexByte(s, '.')
	if i < 1 {
		return "", false
	}
	value, sig := s[:i], s[i+1:]
	if len(sig) != 44 || sig[43] != '=' {
		return "", false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(value))
	want := base64.StdEncoding.EncodeToString(m.Sum(nil))
	if subtle.ConstantTimeCompare([]byte(sig), []byte(want)) != 1 {
		return "", false
	}
	return value, true
}

var signedSeeds = func() []string {
	const secret = "read-path-secret-0123456789abcdef-0123"
	good := plugin.SignCookieValue(secret, "AbCdEfGhIjKlMnOpQrStUvWxYz012345")
	other := plugin.SignCookieValue("another-secret-0123456789abcdef-01234", "AbCdEfGhIjKlMnOpQrStUvWxYz012345")
	dotted := plugin.SignCookieValue(secret, "a.b.c")
	raw := strings.ReplaceAll(good, "%3D", "=")
	return []string{good, other, dotted, raw, "", ".", "x.", ".sig", "no-dot", "%zz", good + "x",
		strings.Replace(raw, "=", "A", 1), raw[:len(raw)-1], strings.ToUpper(raw), "%2E" + raw,
		strings.Replace(good, "%2B", "+", -1), strings.Replace(raw, "+", "-", -1)}
}()

// FuzzVerifyCookieValue: the pooled VerifyCookieValue answers as the plain
// version does, and a state keyed with another secret in the same pool
// never verifies a value the first secret signed.
func FuzzVerifyCookieValue(f *testing.F) {
	for _, s := range signedSeeds {
		f.Add(s)
	}
	const secret = "read-path-secret-0123456789abcdef-0123"
	f.Fuzz(func(t *testing.T, s string) {
		wantV, wantOK := verifyPlain(secret, s)
		gotV, gotOK := plugin.VerifyCookieValue(secret, s)
		if gotV != wantV || gotOK != wantOK {
			t.Fatalf("VerifyCookieValue(%q) = %q, %v; the plain version says %q, %v", s, gotV, gotOK, wantV, wantOK)
		}
		// Another secret through the same pool: never its value.
		if _, ok := plugin.VerifyCookieValue("another-secret-0123456789abcdef-01234", s); ok && wantOK {
			t.Fatalf("%q verifies under two secrets", s)
		}
	})
}

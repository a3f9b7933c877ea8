package auth

// Fuzz targets of the parsers that see untrusted input. The seeds in
// testdata/fuzz/<FuzzName>/ and those added here run as ordinary tests;
// explore with, e.g., go test -run x -fuzz FuzzVerifyCookieValue -fuzztime 1m ./auth
// (docs/FUZZING.md lists every target).

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage/memory"
)

const fuzzSecret = "fuzz-secret-0123456789abcdef-0123456789abcdef"

// FuzzVerifyCookieValue: the signed-cookie parser (session token cookie,
// dont_remember, and with anyBase64 the signed bearer token) never panics
// and accepts only value.base64(HMAC(secret, value)) (after
// percent-decoding); a value signed by SignCookieValue round-trips.
func FuzzVerifyCookieValue(f *testing.F) {
	for _, s := range []string{
		plugin.SignCookieValue(fuzzSecret, "token123"),
		rawSigned("token123"), // value.sig before URL encoding
		plugin.SignCookieValue(fuzzSecret, "a.b.c"),
		plugin.SignCookieValue("other-secret-0123456789abcdef-0123456789", "token123"),
		"token123." + strings.Repeat("A", 43) + "=",
		"%zz.", "%", ".", "", "x.%3D", "token%2Esig",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cookie string) {
		for _, anyB64 := range []bool{false, true} {
			v, ok := plugin.VerifyCookieValue(fuzzSecret, cookie)
			if anyB64 {
				v, ok = verifyBearer(fuzzSecret, cookie)
			}
			if !ok {
				if v != "" {
					t.Fatalf("refused %q but returned %q", cookie, v)
				}
				continue
			}
			s := cookie
			if strings.Contains(s, "%") {
				d, err := url.PathUnescape(s)
				if err != nil {
					t.Fatalf("accepted undecodable %q", cookie)
				}
				s = d
			}
			sig := s[len(v)+1:]
			if anyB64 {
				sig = strings.NewReplacer("-", "+", "_", "/").Replace(sig)
			}
			m := hmac.New(sha256.New, []byte(fuzzSecret))
			m.Write([]byte(v))
			if v == "" || s[:len(v)] != v || s[len(v)] != '.' || sig != base64.StdEncoding.EncodeToString(m.Sum(nil)) {
				t.Fatalf("accepted %q (anyBase64 %v) as %q without a valid signature", cookie, anyB64, v)
			}
		}
		// Whatever the value, signing it round-trips.
		if cookie != "" {
			if v, ok := plugin.VerifyCookieValue(fuzzSecret, plugin.SignCookieValue(fuzzSecret, cookie)); !ok || v != cookie {
				t.Fatalf("SignCookieValue(%q) verifies as %q, %v", cookie, v, ok)
			}
		}
	})
}

// rawSigned is value signed with fuzzSecret as Better Auth signs cookies,
// before URL encoding: value + "." + base64(HMAC-SHA256(secret, value)).
func rawSigned(value string) string {
	m := hmac.New(sha256.New, []byte(fuzzSecret))
	m.Write([]byte(value))
	return value + "." + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// fuzzHasher skips scrypt so that the handler fuzzer runs fast.
type fuzzHasher struct{}

func (fuzzHasher) Hash(p string) (string, error)    { return "plain:" + p, nil }
func (fuzzHasher) Verify(h, p string) (bool, error) { return h == "plain:"+p, nil }

// fuzzServer is an Auth on a memory store with a signed-in user, rebuilt
// every so many requests so that the store stays small.
type fuzzServer struct {
	mu     sync.Mutex
	a      *Auth
	cookie string
	n      int
	routes []string // "METHOD /path"
}

func (fs *fuzzServer) get(tb testing.TB) (*Auth, string) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.a != nil && fs.n < 500 {
		fs.n++
		return fs.a, fs.cookie
	}
	a, err := New(Config{
		BaseURL: "http://localhost:3000", Secret: fuzzSecret, Hasher: fuzzHasher{}, Bearer: true,
		RateLimit: RateLimitConfig{Disabled: true}, Logger: slog.New(slog.DiscardHandler),
		User: UserConfig{DeleteEnabled: true, ChangeEmailEnabled: true},
	}, memory.New())
	if err != nil {
		tb.Fatal(err)
	}
	if err := a.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	res, err := a.SignUpEmail(context.Background(), SignUpInput{Name: "Fuzz", Email: "fuzz@example.com", Password: "password123"})
	if err != nil || res.Session == nil {
		tb.Fatalf("sign-up: %v", err)
	}
	var ck []string
	for _, c := range res.Cookies {
		ck = append(ck, c.Name+"="+c.Value)
	}
	fs.a, fs.cookie, fs.n = a, strings.Join(ck, "; "), 0
	if fs.routes == nil {
		for _, rt := range a.Routes() { // "METHOD /api/auth/path"
			method, p, _ := strings.Cut(rt, " ")
			fs.routes = append(fs.routes, method+" "+strings.ReplaceAll(strings.TrimPrefix(p, a.Config().BasePath), "/:", "/x"))
		}
		sort.Strings(fs.routes)
	}
	return fs.a, fs.cookie
}

// FuzzReadBody: request decoding (readBody: JSON or form, by Content-Type)
// and the whole pipeline behind it (query and body validation, handlers,
// with or without a session) never panic and never answer 5xx, whatever
// the route, query, body and Content-Type; a decoded JSON body is exactly
// one JSON value, and JSON responses are valid JSON.
func FuzzReadBody(f *testing.F) {
	// Routes by index (sorted): 5 GET /verify-email, 6 change-email,
	// 7 change-password, 11 reset-password, 16 sign-in/email,
	// 18 sign-up/email, 19 update-user, 20 verify-password.
	f.Add(uint8(16), "application/json", "", []byte(`{"email":"fuzz@example.com","password":"password123"}`), false)
	f.Add(uint8(18), "application/json; charset=utf-8", "", []byte(`{"email":"new@example.com","password":"password123","name":"N"}`), false)
	f.Add(uint8(16), "application/x-www-form-urlencoded", "", []byte(`email=a%40b.c&password=x&rememberMe=on`), false)
	f.Add(uint8(19), "application/json", "", []byte(`{"name":{"$ne":1},"image":[1,2]}`), true)
	f.Add(uint8(7), "text/plain", "", []byte(`{}`), true)
	f.Add(uint8(20), "application/json", "", []byte(`{} {}`), true)
	f.Add(uint8(11), "application/json", "", []byte(`{"token":1e999,"newPassword":"password456"}`), false)
	f.Add(uint8(18), "multipart/form-data; boundary=x", "", []byte("--x\r\n\r\n--x--"), false)
	f.Add(uint8(6), "", "", []byte(`{"newEmail":"\ud800@example.com"}`), true)
	f.Add(uint8(7), "application/json", "", []byte(`{"newPassword":"password456","currentPassword":"password123","revokeOtherSessions":"yes"}`), true)
	f.Add(uint8(5), "", "token=eyJhbGciOiJIUzI1NiJ9.e30.x&callbackURL=%2F", []byte(nil), false)
	f.Add(uint8(4), "", "callbackURL=https://evil.example/", []byte(nil), false)
	fs := &fuzzServer{}
	f.Fuzz(func(t *testing.T, route uint8, contentType, query string, body []byte, withSession bool) {
		a, cookie := fs.get(t)

		// readBody alone.
		r := httptest.NewRequest("POST", "/api/auth/x", bytes.NewReader(body))
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		v, raw, present, err := a.readBody(httptest.NewRecorder(), r, true)
		switch {
		case err != nil:
			if v != nil || present {
				t.Fatalf("error %v with a body", err)
			}
			if e := plugin.AsError(err); e.Status >= 500 || e.Status < 400 {
				t.Fatalf("readBody error status %d: %v", e.Status, err)
			}
		case present && raw != nil && strings.Contains(contentType, "json") && !json.Valid(raw):
			t.Fatalf("accepted invalid JSON %q", raw)
		}

		// The whole pipeline.
		rt := fs.routes[int(route)%len(fs.routes)]
		method, path, _ := strings.Cut(rt, " ")
		req := httptest.NewRequest(method, "/api/auth"+path, bytes.NewReader(body))
		req.URL.RawQuery = query
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if withSession {
			req.Header.Set("Cookie", cookie)
			req.Header.Set("Origin", "http://localhost:3000")
		}
		w := httptest.NewRecorder()
		a.Handler().ServeHTTP(w, req)
		if w.Code >= 500 {
			b, _ := io.ReadAll(w.Body)
			t.Fatalf("%s?%s with Content-Type %q body %q: %d %s", rt, query, contentType, body, w.Code, b)
		}
		// (Redirects carry Content-Type application/json and no body.)
		if ct := w.Header().Get("Content-Type"); strings.HasPrefix(ct, "application/json") && w.Body.Len() > 0 && !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%s: invalid JSON response %q", rt, w.Body.String())
		}
	})
}

// FuzzCookieCache: the cookie cache reader (every strategy: base64url
// JSON with HMAC, HS256 JWT, dir/A256CBC-HS512 JWE) never panics, accepts
// only a cache for the session token it is asked about, and get-session
// with any session_data cookie beside a valid session answers that
// session, never a 5xx.
func FuzzCookieCache(f *testing.F) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	order := []CookieCacheStrategy{CookieCacheCompact, CookieCacheJWT, CookieCacheJWE}
	type server struct {
		a      *Auth
		token  string
		cookie string // the session token cookie
	}
	var servers []server
	for i, s := range order {
		a, err := New(Config{
			BaseURL: "http://localhost:3000", Secret: fuzzSecret, Hasher: fuzzHasher{},
			RateLimit: RateLimitConfig{Disabled: true}, Logger: slog.New(slog.DiscardHandler),
			Now:     func() time.Time { return now },
			Session: SessionConfig{CookieCache: CookieCacheConfig{Enabled: true, Strategy: s}},
		}, memory.New())
		if err != nil {
			f.Fatal(err)
		}
		if err := a.Migrate(context.Background()); err != nil {
			f.Fatal(err)
		}
		res, err := a.SignUpEmail(context.Background(), SignUpInput{Name: "Fuzz <&>", Email: "fuzz@example.com", Password: "password123"})
		if err != nil {
			f.Fatal(err)
		}
		srv := server{a: a, token: res.Token()}
		for _, c := range res.Cookies {
			switch c.Name {
			case a.Host().CookieName(plugin.CookieSessionToken):
				srv.cookie = c.Name + "=" + c.Value
			case a.Host().CookieName(plugin.CookieSessionData):
				f.Add(uint8(i), c.Value)
				f.Add(uint8(i+1), c.Value) // under another strategy
				f.Add(uint8(i), c.Value[:len(c.Value)/2])
			}
		}
		servers = append(servers, srv)
	}
	for _, s := range []string{"", "e30", "eyJzZXNzaW9uIjp7fX0", "..", "a.b.c.d.e", "%", "=", "e30.e30.e30"} {
		f.Add(uint8(0), s)
	}
	f.Fuzz(func(t *testing.T, which uint8, value string) {
		srv := servers[int(which)%len(servers)]
		for _, tok := range []string{srv.token, "another-token"} {
			sd := srv.a.sessionFromCache(value, tok)
			if sd != nil && (sd.Session.Token != tok || sd.Session.ExpiresAt.Before(now)) {
				t.Fatalf("accepted a cache of %q for %q", sd.Session.Token, tok)
			}
		}
		r := httptest.NewRequest("GET", "/api/auth/get-session", nil)
		r.Header.Set("Cookie", srv.cookie+"; better-auth.session_data="+value)
		w := httptest.NewRecorder()
		srv.a.Handler().ServeHTTP(w, r)
		if w.Code != 200 || !strings.Contains(w.Body.String(), srv.token) {
			t.Fatalf("get-session with session_data %q: %d %s", value, w.Code, w.Body)
		}
	})
}

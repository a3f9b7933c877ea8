package auth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
)

type failingHasher struct{}

func (failingHasher) Hash(string) (string, error)         { return "", errors.New("hasher broken") }
func (failingHasher) Verify(string, string) (bool, error) { return false, errors.New("hasher broken") }

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*auth.Config)
		want   string // substring of the error
	}{
		{"missing BaseURL", func(c *auth.Config) { c.BaseURL = "" }, "BaseURL is required"},
		{"BaseURL without scheme", func(c *auth.Config) { c.BaseURL = "localhost:3000" }, "BaseURL"},
		{"BaseURL ftp", func(c *auth.Config) { c.BaseURL = "ftp://example.com" }, "BaseURL"},
		{"BaseURL without host", func(c *auth.Config) { c.BaseURL = "https://" }, "BaseURL"},
		{"BaseURL relative", func(c *auth.Config) { c.BaseURL = "/auth" }, "BaseURL"},
		{"empty Secret", func(c *auth.Config) { c.Secret = "" }, "Secret"},
		{"Secret of 31 characters", func(c *auth.Config) { c.Secret = strings.Repeat("s", 31) }, "Secret"},
		{"BasePath without slash", func(c *auth.Config) { c.BasePath = "api/auth" }, "BasePath"},
		{"BasePath with trailing slash", func(c *auth.Config) { c.BasePath = "/api/auth/" }, "BasePath"},
		{"TrustedProxies not an IP", func(c *auth.Config) { c.TrustedProxies = []string{"proxy.internal"} }, "TrustedProxies"},
		{"TrustedProxies bad CIDR", func(c *auth.Config) { c.TrustedProxies = []string{"10.0.0.0/33"} }, "TrustedProxies"},
		{"TrustedProxies with port", func(c *auth.Config) { c.TrustedProxies = []string{"10.0.0.1:80"} }, "TrustedProxies"},
		{"TrustedOrigins not a URL", func(c *auth.Config) { c.TrustedOrigins = []string{"app.example.com"} }, "trusted origin"},
		{"TrustedOrigins without host", func(c *auth.Config) { c.TrustedOrigins = []string{"https://"} }, "trusted origin"},
		{"TrustedOrigins without a scheme", func(c *auth.Config) { c.TrustedOrigins = []string{"localhost:5173"} }, "write scheme://host[:port]"},
		{"TableNames unknown table", func(c *auth.Config) { c.TableNames = map[string]string{"nope": "x"} }, "unknown table"},
		{"TableNames bad name", func(c *auth.Config) { c.TableNames = map[string]string{"user": "users; drop"} }, "invalid table name"},
		{"session over 400 days", func(c *auth.Config) { c.Session.ExpiresIn = 401 * oneDay }, "400-day"},
		{"session under a second", func(c *auth.Config) { c.Session.ExpiresIn = time.Millisecond }, "session"},
		{"negative UpdateAge", func(c *auth.Config) { c.Session.UpdateAge = -time.Second }, "session"},
		{"password bounds inverted", func(c *auth.Config) { c.EmailPassword.MinPasswordLength, c.EmailPassword.MaxPasswordLength = 20, 10 }, "password length"},
		{"negative min password", func(c *auth.Config) { c.EmailPassword.MinPasswordLength = -1 }, "password length"},
		{"broken hasher", func(c *auth.Config) { c.Hasher = failingHasher{} }, "hasher"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig("http://localhost:3000")
			tt.mutate(&cfg)
			a, err := auth.New(cfg, memory.New())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("auth.New = %v, %v; want an error containing %q", a, err, tt.want)
			}
		})
	}
	if _, err := auth.New(testConfig("http://localhost:3000"), nil); err == nil {
		t.Error("auth.New without an adapter succeeded")
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	a := newAuth(t, func(c *auth.Config) {
		c.Secret = strings.Repeat("s", 32) // exactly the minimum
		c.HashConcurrency = 3
		c.RateLimit = auth.RateLimitConfig{}
		c.Logger = nil
	})
	cfg := a.Config()
	got := map[string]any{
		"BasePath": cfg.BasePath, "AppName": cfg.AppName, "IPHeaders": cfg.IPHeaders,
		"Prefix": cfg.Cookies.Prefix, "Secure": *cfg.Cookies.Secure, "Domain": cfg.Cookies.Domain,
		"ExpiresIn": cfg.Session.ExpiresIn, "UpdateAge": cfg.Session.UpdateAge, "FreshAge": cfg.Session.FreshAge,
		"Window": cfg.RateLimit.Window, "Max": cfg.RateLimit.Max, "RateLimitDisabled": cfg.RateLimit.Disabled,
		"MinPassword": cfg.EmailPassword.MinPasswordLength, "MaxPassword": cfg.EmailPassword.MaxPasswordLength,
		"HashQueue": cfg.HashQueue, "HashMaxWait": cfg.HashMaxWait, "MaxBodyBytes": cfg.MaxBodyBytes,
		"MailQueue": cfg.MailQueue, "MailConcurrency": cfg.MailConcurrency, "MailTimeout": cfg.MailTimeout,
		"LoggerSet": cfg.Logger != nil, "NowSet": cfg.Now != nil,
	}
	want := map[string]any{
		"BasePath": "/api/auth", "AppName": "Better Auth", "IPHeaders": []string{"X-Forwarded-For"},
		"Prefix": "better-auth", "Secure": false, "Domain": "",
		"ExpiresIn": oneWeek, "UpdateAge": oneDay, "FreshAge": oneDay,
		"Window": 10 * time.Second, "Max": 100, "RateLimitDisabled": false,
		"MinPassword": 8, "MaxPassword": 128,
		"HashQueue": 3 * 64, "HashMaxWait": 5 * time.Second, "MaxBodyBytes": int64(64 << 10),
		"MailQueue": 1000, "MailConcurrency": 16, "MailTimeout": 10 * time.Second,
		"LoggerSet": true, "NowSet": true,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("defaults (-want +got):\n%s", d)
	}
	if a.Host().Secret() != strings.Repeat("s", 32) || a.Host().Logger() == nil {
		t.Error("accessors")
	}
	if now := a.Host().Now(); now.Location() != time.UTC || now.Nanosecond()%int(time.Millisecond) != 0 {
		t.Errorf("Now() = %v, want UTC at millisecond precision", now)
	}
}

// signUpRecorder signs up through the handler directly (no network, so
// secure cookies need no TLS) and returns the recorder.
func signUpRecorder(t *testing.T, a *auth.Auth, path string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("POST", path, strings.NewReader(`{"name":"C","email":"cookie@example.com","password":"password-123"}`))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	a.Handler().ServeHTTP(w, r)
	if w.Code != 200 {
		t.Fatalf("sign-up at %s: %d %s", path, w.Code, w.Body)
	}
	return w
}

func getSessionRecorder(a *auth.Auth, path, cookie string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", path, nil)
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	w := httptest.NewRecorder()
	a.Handler().ServeHTTP(w, r)
	return w
}

// TestCookieNaming: the session cookie's name and attributes per config.
func TestCookieNaming(t *testing.T) {
	t.Parallel()
	yes, no := true, false
	tests := []struct {
		name   string
		mutate func(*auth.Config)
		want   string // Set-Cookie of sign-up with the value replaced by V
	}{
		{"http: plain", nil,
			"better-auth.session_token=V; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax"},
		{"https: __Secure- and Secure", func(c *auth.Config) { c.BaseURL = "https://auth.example.com" },
			"__Secure-better-auth.session_token=V; Max-Age=604800; Path=/; HttpOnly; Secure; SameSite=Lax"},
		{"https, Secure forced off", func(c *auth.Config) { c.BaseURL = "https://auth.example.com"; c.Cookies.Secure = &no },
			"better-auth.session_token=V; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax"},
		{"http, Secure forced on", func(c *auth.Config) { c.Cookies.Secure = &yes },
			"__Secure-better-auth.session_token=V; Max-Age=604800; Path=/; HttpOnly; Secure; SameSite=Lax"},
		{"prefix mana", func(c *auth.Config) { c.Cookies.Prefix = "mana" },
			"mana.session_token=V; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax"},
		{"prefix mana, https", func(c *auth.Config) { c.Cookies.Prefix = "mana"; c.BaseURL = "https://auth.example.com" },
			"__Secure-mana.session_token=V; Max-Age=604800; Path=/; HttpOnly; Secure; SameSite=Lax"},
		{"cross-subdomain, BaseURL host", func(c *auth.Config) { c.BaseURL = "https://auth.example.com:8443"; c.Cookies.CrossSubDomain = true },
			"__Secure-better-auth.session_token=V; Max-Age=604800; Domain=auth.example.com; Path=/; HttpOnly; Secure; SameSite=Lax"},
		{"cross-subdomain, explicit domain", func(c *auth.Config) {
			c.BaseURL = "https://auth.example.com"
			c.Cookies.CrossSubDomain, c.Cookies.Domain = true, "example.com"
		}, "__Secure-better-auth.session_token=V; Max-Age=604800; Domain=example.com; Path=/; HttpOnly; Secure; SameSite=Lax"},
		{"custom ExpiresIn", func(c *auth.Config) { c.Session.ExpiresIn = 30 * oneDay },
			"better-auth.session_token=V; Max-Age=2592000; Path=/; HttpOnly; SameSite=Lax"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newAuth(t, tt.mutate)
			w := signUpRecorder(t, a, "/api/auth/sign-up/email")
			sc := w.Header().Values("Set-Cookie")
			if len(sc) != 1 {
				t.Fatalf("Set-Cookie %q", sc)
			}
			name, rest, _ := strings.Cut(sc[0], "=")
			value, attrs, _ := strings.Cut(rest, ";")
			if got := name + "=V;" + attrs; got != tt.want {
				t.Errorf("Set-Cookie\n got %s\nwant %s", got, tt.want)
			}
			if name != a.Host().CookieName(plugin.CookieSessionToken) {
				t.Errorf("cookie %q, CookieName says %q", name, a.Host().CookieName(plugin.CookieSessionToken))
			}
			// The cookie is read back under the same name, and only that one.
			if body := getSessionRecorder(a, "/api/auth/get-session", name+"="+value).Body.String(); body == "null" {
				t.Error("own cookie not accepted")
			}
			for _, other := range []string{"better-auth.session_token", "__Secure-better-auth.session_token", "mana.session_token", "__Secure-mana.session_token"} {
				if other == name {
					continue
				}
				if body := getSessionRecorder(a, "/api/auth/get-session", other+"="+value).Body.String(); body != "null" {
					t.Errorf("cookie under the name %q accepted", other)
				}
			}
			// Deletions carry the same attributes.
			res, err := a.SignOut(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			del := setCookieLines(res)[0]
			if want := strings.Replace(strings.Replace(tt.want, "=V;", "=;", 1), "Max-Age="+strings.Split(strings.Split(tt.want, "Max-Age=")[1], ";")[0], "Max-Age=0", 1); del != want {
				t.Errorf("deletion\n got %s\nwant %s", del, want)
			}
		})
	}
}

// TestBasePath: routes live under BasePath only.
func TestBasePath(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		basePath, prefix string
	}{
		{"/auth", "/auth"},
		{"/v1/identity", "/v1/identity"},
		{"/", ""},
	} {
		a := newAuth(t, func(c *auth.Config) { c.BasePath = tt.basePath })
		if got := a.Config().BasePath; got != tt.prefix {
			t.Errorf("BasePath %q normalised to %q, want %q", tt.basePath, got, tt.prefix)
		}
		w := signUpRecorder(t, a, tt.prefix+"/sign-up/email")
		ck := strings.Split(w.Header().Get("Set-Cookie"), ";")[0]
		if body := getSessionRecorder(a, tt.prefix+"/get-session", ck).Body.String(); !strings.Contains(body, "cookie@example.com") {
			t.Errorf("%s: get-session %s", tt.basePath, body)
		}
		if tt.prefix != "" {
			if w := getSessionRecorder(a, "/api/auth/get-session", ck); w.Code != 404 {
				t.Errorf("%s: default path answers %d", tt.basePath, w.Code)
			}
		}
		routes := a.Routes()
		for _, r := range routes {
			if _, path, _ := strings.Cut(r, " "); !strings.HasPrefix(path, tt.prefix+"/") {
				t.Errorf("%s: route %q outside BasePath", tt.basePath, r)
			}
		}
	}
}

// TestHandlerMounted: the handler works mounted in a larger mux.
func TestHandlerMounted(t *testing.T) {
	t.Parallel()
	a := newAuth(t, nil)
	mux := http.NewServeMux()
	mux.Handle("/api/auth/", a.Handler())
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("app")) })
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", "/api/auth/ok", nil))
	if w.Body.String() != `{"ok":true}` {
		t.Errorf("mounted: %s", w.Body)
	}
	w = httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", "/elsewhere", nil))
	if w.Body.String() != "app" {
		t.Errorf("app route: %s", w.Body)
	}
	w = httptest.NewRecorder()
	a.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/elsewhere", nil))
	if w.Code != 404 {
		t.Errorf("outside BasePath: %d", w.Code)
	}
}

// TestTableNames: renamed tables are used by every operation.
func TestTableNames(t *testing.T) {
	t.Parallel()
	a := newAuth(t, func(c *auth.Config) { c.TableNames = map[string]string{"user": "users", "session": "sessions"} })
	s := a.Schema()
	if s.Table("user").TableName() != "users" || s.Table("session").TableName() != "sessions" || s.Table("account").TableName() != "account" {
		t.Errorf("table names %+v", s.Tables)
	}
	res, err := a.SignUpEmail(context.Background(), auth.SignUpInput{Name: "T", Email: "t@example.com", Password: "password-123"})
	if err != nil {
		t.Fatal(err)
	}
	if n := rowCount(t, a, "user", storage.W("id", res.User.ID)); n != 1 {
		t.Errorf("user rows %d", n)
	}
}

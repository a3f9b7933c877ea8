package multisession_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testkit"
	"github.com/managarten/mana-auth/magiclink"
	"github.com/managarten/mana-auth/mail"
	"github.com/managarten/mana-auth/multisession"
	"github.com/managarten/mana-auth/plugin/plugintest"
)

func TestNew(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		max, want int
		err       bool
	}{
		{0, 5, false}, {1, 1, false}, {5, 5, false}, {100, 100, false},
		{-1, 0, true}, {101, 0, true},
	} {
		p, err := multisession.New(multisession.Options{MaximumSessions: tc.max})
		if tc.err {
			if err == nil || !strings.Contains(err.Error(), "MaximumSessions") {
				t.Errorf("MaximumSessions %d: error %v, want one naming MaximumSessions", tc.max, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("MaximumSessions %d: %v", tc.max, err)
		}
		if got := p.Options().MaximumSessions; got != tc.want {
			t.Errorf("MaximumSessions %d: in effect %d, want %d", tc.max, got, tc.want)
		}
	}
}

// TestErrorCodes checks ErrorCodes against every error the package
// declares.
func TestErrorCodes(t *testing.T) {
	t.Parallel()
	p, err := multisession.New(multisession.Options{})
	if err != nil {
		t.Fatal(err)
	}
	plugintest.CheckErrorCodes(t, p, ".", []plugintest.ErrorCase{
		{Name: "ErrInvalidSessionToken", Err: multisession.ErrInvalidSessionToken, Decl: multisession.ErrInvalidSessionToken},
	})
	if e := multisession.ErrInvalidSessionToken; e.Status != 401 || e.Message != "Invalid session token" {
		t.Errorf("ErrInvalidSessionToken = %d %q, want Better Auth's 401 \"Invalid session token\"", e.Status, e.Message)
	}
}

// header returns the Set-Cookie header of the cookie name, with the name
// replaced by NAME, so that two cookies' attributes and values compare.
func header(r reply, name string) string {
	for _, h := range r.setCk {
		if v, ok := strings.CutPrefix(h, name+"="); ok {
			return "NAME=" + v
		}
	}
	return ""
}

// TestSignInSetsMultiCookie: every sign-in sets the multi-session cookie
// named by the token lower-cased, with the session cookie's signed value
// and attributes.
func TestSignInSetsMultiCookie(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		e := newEnv(t, envOpts{db: db})
		for _, tc := range []struct {
			name   string
			signIn func(b *browser) reply
			maxAge string
		}{
			{"sign-up", func(b *browser) reply {
				return b.post("/sign-up/email", map[string]any{"email": "new@example.com", "password": password, "name": "New"})
			}, "; Max-Age=604800"},
			{"sign-in remembered", func(b *browser) reply {
				return b.post("/sign-in/email", map[string]any{"email": "new@example.com", "password": password})
			}, "; Max-Age=604800"},
			// The multi-session cookie of a session that ends with the
			// browser ends with it too (Better Auth's keeps Max-Age).
			{"sign-in not remembered", func(b *browser) reply {
				return b.post("/sign-in/email", map[string]any{"email": "new@example.com", "password": password, "rememberMe": false})
			}, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				b := e.browser()
				r := tc.signIn(b)
				if r.status != 200 {
					t.Fatalf("%d %s", r.status, r.raw)
				}
				token := b.tokenOf(r)
				if token == strings.ToLower(token) {
					t.Logf("token %s has no upper-case letter", token)
				}
				want := "NAME=" + signedValue(token) + tc.maxAge + "; Path=/; HttpOnly; SameSite=Lax"
				if diff := cmp.Diff(want, header(r, sessionCk)); diff != "" {
					t.Errorf("session cookie (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(want, header(r, multiCookie(token))); diff != "" {
					t.Errorf("multi-session cookie (-want +got):\n%s\nall: %q", diff, r.setCk)
				}
				if got := r.multiSet(); len(got) != 1 {
					t.Errorf("multi-session cookies set: %q, want one", got)
				}
			})
		}
	})
}

// TestSwitchBetweenUsers: two users signed in in one browser, switching
// with set-active, with the cookie cache off and on (the cache cookie must
// follow the switch, or get-session would serve the other user).
func TestSwitchBetweenUsers(t *testing.T) {
	t.Parallel()
	for _, cache := range []bool{false, true} {
		t.Run(fmt.Sprintf("cookieCache=%v", cache), func(t *testing.T) {
			t.Parallel()
			forEachDB(t, func(t *testing.T, db string) {
				e := newEnv(t, envOpts{db: db, authCfg: func(c *auth.Config) { c.Session.CookieCache.Enabled = cache }})
				b := e.browser()
				ta := b.signUp("alice@example.com")
				tb := b.signUp("bob@example.com")
				if got := b.current(); got != "bob@example.com" {
					t.Fatalf("active after two sign-ups: %q, want bob", got)
				}
				want := []string{"alice@example.com " + ta, "bob@example.com " + tb}
				if diff := cmp.Diff(want, b.devices()); diff != "" {
					t.Fatalf("device sessions (-want +got):\n%s", diff)
				}
				for _, step := range []struct{ token, email string }{
					{ta, "alice@example.com"}, {tb, "bob@example.com"}, {ta, "alice@example.com"},
				} {
					r := b.post("/multi-session/set-active", map[string]any{"sessionToken": step.token})
					if r.status != 200 || r.user() != step.email {
						t.Fatalf("set-active %s: %d %s", step.email, r.status, r.raw)
					}
					if s, _ := r.body["session"].(map[string]any); s["token"] != step.token {
						t.Errorf("set-active %s: session %v", step.email, s)
					}
					if got := r.sets(sessionCk); got != signedValue(step.token) {
						t.Errorf("set-active %s: session cookie %q, want the signed token", step.email, got)
					}
					if cache && r.sets(prefix+".session_data") == "" {
						t.Errorf("set-active %s with the cookie cache: no session_data cookie in %q", step.email, r.setCk)
					}
					if len(r.multiSet()) != 0 {
						t.Errorf("set-active %s set multi-session cookies %q", step.email, r.multiSet())
					}
					if got := b.current(); got != step.email {
						t.Errorf("get-session after set-active %s: %q", step.email, got)
					}
					if r := b.do("GET", "/get-session?disableCookieCache=true", nil); r.user() != step.email {
						t.Errorf("get-session from the database after set-active %s: %s", step.email, r.raw)
					}
				}
				if diff := cmp.Diff(want, b.devices()); diff != "" {
					t.Errorf("device sessions after switching (-want +got):\n%s", diff)
				}

				// Better Auth's client may hold only the multi-session cookies.
				only := e.browser()
				u, _ := url.Parse(e.srv.URL)
				only.jar.SetCookies(u, []*http.Cookie{{Name: multiCookie(tb), Value: b.jarCookie(multiCookie(tb)), Path: "/"}})
				if r := only.post("/multi-session/set-active", map[string]any{"sessionToken": tb}); r.status != 200 || r.user() != "bob@example.com" {
					t.Errorf("set-active with the multi-session cookie alone: %d %s", r.status, r.raw)
				}
				if got := only.current(); got != "bob@example.com" {
					t.Errorf("get-session after that: %q", got)
				}
			})
		})
	}
}

// TestSameUserReplaces: signing in again as a user the browser holds a
// device session of replaces that session (deleted, its cookie expired);
// the other users' sessions and the user's sessions in other browsers
// stay.
func TestSameUserReplaces(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		e := newEnv(t, envOpts{db: db})
		b := e.browser()
		t1 := b.signUp("alice@example.com")
		tb := b.signUp("bob@example.com")
		other := e.browser()
		to := other.signIn("alice@example.com", true)

		r := b.post("/sign-in/email", map[string]any{"email": "alice@example.com", "password": password})
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		t2 := b.tokenOf(r)
		if !r.expires(multiCookie(t1)) {
			t.Errorf("the older cookie is not expired: %q", r.setCk)
		}
		if got := r.sets(multiCookie(t2)); got != signedValue(t2) {
			t.Errorf("new multi-session cookie %q", got)
		}
		alive := map[string]bool{"alice's older session": e.sessionAlive(t1), "bob's": e.sessionAlive(tb),
			"alice's in another browser": e.sessionAlive(to), "alice's new one": e.sessionAlive(t2)}
		if diff := cmp.Diff(map[string]bool{"alice's older session": false, "bob's": true,
			"alice's in another browser": true, "alice's new one": true}, alive); diff != "" {
			t.Errorf("sessions alive (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"bob@example.com " + tb, "alice@example.com " + t2}, b.devices()); diff != "" {
			t.Errorf("device sessions (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{multiCookie(tb), multiCookie(t2)}, b.multiNames()); diff != "" {
			t.Errorf("multi-session cookies in the browser (-want +got):\n%s", diff)
		}
	})
}

// TestMaximumSessions: no multi-session cookie beyond the maximum (the
// sign-in itself succeeds), a same-user sign-in at the maximum still
// replaces, and a cookie whose session ended elsewhere no longer counts.
func TestMaximumSessions(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		for _, max := range []int{1, 2, 5} {
			t.Run(fmt.Sprint("max=", max), func(t *testing.T) {
				e := newEnv(t, envOpts{db: db, ms: multisession.Options{MaximumSessions: max}})
				b := e.browser()
				var want []string
				var toks []string
				for i := range max + 2 {
					email := fmt.Sprintf("u%d@example.com", i)
					r := b.post("/sign-up/email", map[string]any{"email": email, "password": password, "name": "U"})
					if r.status != 200 {
						t.Fatalf("%s: %d %s", email, r.status, r.raw)
					}
					tok := b.tokenOf(r)
					toks = append(toks, tok)
					if got, wantSet := len(r.multiSet()) == 1, i < max; got != wantSet {
						t.Errorf("sign-up %d of %d: multi-session cookie set %v, want %v", i+1, max+2, got, wantSet)
					}
					if i < max {
						want = append(want, email+" "+tok)
					}
				}
				if diff := cmp.Diff(want, b.devices()); diff != "" {
					t.Errorf("device sessions (-want +got):\n%s", diff)
				}
				if got, last := b.current(), fmt.Sprintf("u%d@example.com", max+1); got != last {
					t.Errorf("active session %q, want %s's (signed in beyond the maximum)", got, last)
				}

				// At the maximum, u0 signing in again replaces its own.
				t0 := b.signIn("u0@example.com", true)
				if e.sessionAlive(toks[0]) || len(b.multiNames()) != max || b.jarCookie(multiCookie(t0)) == "" {
					t.Errorf("same-user sign-in at the maximum: old alive %v, cookies %q", e.sessionAlive(toks[0]), b.multiNames())
				}

				// A device session ended elsewhere frees its place.
				if max > 1 {
					if err := e.a.RevokeSession(t.Context(), mustUser(t, e, "u1@example.com"), toks[1]); err != nil {
						t.Fatal(err)
					}
					r := b.post("/sign-in/email", map[string]any{"email": fmt.Sprintf("u%d@example.com", max), "password": password})
					tok := b.tokenOf(r)
					if !r.expires(multiCookie(toks[1])) || r.sets(multiCookie(tok)) == "" {
						t.Errorf("sign-in after a device session ended: %q", r.setCk)
					}
					if got := len(b.devices()); got != max {
						t.Errorf("%d device sessions, want %d", got, max)
					}
				}
			})
		}
	})
}

func mustUser(t *testing.T, e *env, email string) string {
	t.Helper()
	u, err := e.a.Host().FindUserByEmail(t.Context(), email)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// TestListDeviceSessions: no cookies give [], one entry per user,
// unsigned cookies and ended sessions left out.
func TestListDeviceSessions(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		e := newEnv(t, envOpts{db: db})
		if r := e.browser().do("GET", "/multi-session/list-device-sessions", nil); r.status != 200 || r.raw != "[]" {
			t.Errorf("no cookies: %d %s, want 200 []", r.status, r.raw)
		}
		b := e.browser()
		ta := b.signUp("alice@example.com")
		tb := b.signUp("bob@example.com")
		tc := b.signUp("carol@example.com")
		// alice's session of another browser, its cookie copied here: the
		// list shows alice once (the first cookie's).
		other := e.browser()
		ta2 := other.signIn("alice@example.com", true)
		victim := e.browser()
		tv := victim.signUp("victim@example.com")
		b.extra = []*http.Cookie{
			{Name: multiCookie(ta2), Value: signedValue(ta2)},
			{Name: multiCookie(tv), Value: tv},                              // unsigned
			{Name: multiCookie(tv) + "x", Value: tv + ".x"},                 // tampered
			{Name: "better-auth.other_multi-" + tv, Value: signedValue(tv)}, // not a multi-session cookie of this prefix
		}
		if err := e.a.RevokeSession(t.Context(), mustUser(t, e, "carol@example.com"), tc); err != nil {
			t.Fatal(err)
		}
		want := []string{"alice@example.com " + ta2, "bob@example.com " + tb}
		if diff := cmp.Diff(want, b.devices()); diff != "" {
			t.Errorf("device sessions (-want +got):\n%s", diff)
		}
		b.extra = nil
		if diff := cmp.Diff([]string{"alice@example.com " + ta, "bob@example.com " + tb}, b.devices()); diff != "" {
			t.Errorf("device sessions without the extra cookies (-want +got):\n%s", diff)
		}
		// The list reads, it never changes the cookies.
		if r := b.do("GET", "/multi-session/list-device-sessions", nil); len(r.setCk) != 0 {
			t.Errorf("list-device-sessions set cookies: %q", r.setCk)
		}
	})
}

// TestOtherSignInRoutes: the hook reads the answer's cookies, so routes it
// knows nothing of get the cookie too: another plugin's sign-in (a magic
// link, answered with a redirect) and a core route that starts a new
// session (change-password revoking the other sessions).
func TestOtherSignInRoutes(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		box := &mail.Recorder{}
		e := newEnv(t, envOpts{db: db, plugins: []auth.Plugin{magiclink.New(magiclink.Options{})},
			authCfg: func(c *auth.Config) { c.Mailer = box }})
		b := e.browser()
		old := b.signUp("alice@example.com")

		r := b.post("/change-password", map[string]any{"currentPassword": password, "newPassword": "another good password", "revokeOtherSessions": true})
		if r.status != 200 {
			t.Fatalf("change-password: %d %s", r.status, r.raw)
		}
		tok := b.tokenOf(r)
		if tok == old {
			t.Fatal("change-password kept the session")
		}
		if r.sets(multiCookie(tok)) != signedValue(tok) || !r.expires(multiCookie(old)) {
			t.Errorf("change-password's new session: %q", r.setCk)
		}

		if r := b.post("/sign-in/magic-link", map[string]any{"email": "bob@example.com"}); r.status != 200 {
			t.Fatalf("magic link: %d %s", r.status, r.raw)
		}
		// The link leaves in the background (the host's mail queue).
		var sent []auth.Email
		for deadline := time.Now().Add(10 * time.Second); len(sent) == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			sent = box.Sent()
		}
		if len(sent) == 0 {
			t.Fatal("no magic-link mail")
		}
		link, _ := url.Parse(sent[len(sent)-1].URL)
		r = b.do("GET", strings.TrimPrefix(link.RequestURI(), "/api/auth"), nil)
		if r.status != http.StatusFound {
			t.Fatalf("magic-link verify: %d %s", r.status, r.raw)
		}
		bob := b.tokenOf(r)
		if r.sets(multiCookie(bob)) != signedValue(bob) {
			t.Errorf("magic-link sign-in: %q", r.setCk)
		}
		if diff := cmp.Diff([]string{"alice@example.com " + tok, "bob@example.com " + bob}, b.devices()); diff != "" {
			t.Errorf("device sessions (-want +got):\n%s", diff)
		}
	})
}

// TestCookieNames: with secure cookies the name has the __Secure- prefix,
// and a custom prefix with capitals is kept as is; set-active, the list
// and sign-out find the cookies by those names.
func TestCookieNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		base, prefix, want string
		secure             bool
	}{
		{"https://auth.example.com", "", "__Secure-better-auth.session_token_multi-", true},
		{"http://auth.example.com", "ManaApp", "ManaApp.session_token_multi-", false},
	} {
		t.Run(tc.want, func(t *testing.T) {
			t.Parallel()
			p, err := multisession.New(multisession.Options{})
			if err != nil {
				t.Fatal(err)
			}
			a, err := auth.New(auth.Config{BaseURL: tc.base, Secret: testSecret, Cookies: auth.CookieConfig{Prefix: tc.prefix},
				RateLimit: auth.RateLimitConfig{Disabled: true}, Hasher: testkit.FastHasher{}}, openDB(t, "memory"), p)
			if err != nil {
				t.Fatal(err)
			}
			jar := map[string]string{}
			send := func(method, path, body string) *http.Response {
				req, _ := http.NewRequest(method, tc.base+"/api/auth"+path, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Origin", tc.base)
				for n, v := range jar {
					req.AddCookie(&http.Cookie{Name: n, Value: v})
				}
				w := httptest.NewRecorder()
				a.Handler().ServeHTTP(w, req)
				res := w.Result()
				for _, c := range res.Cookies() {
					if c.MaxAge < 0 {
						delete(jar, c.Name)
					} else {
						jar[c.Name] = c.Value
					}
					if strings.Contains(c.Name, "_multi-") && c.Secure != tc.secure {
						t.Errorf("%s: Secure %v", c.Name, c.Secure)
					}
				}
				return res
			}
			var tokens []string
			for _, email := range []string{"a@example.com", "b@example.com"} {
				res := send("POST", "/sign-up/email", `{"email":"`+email+`","password":"`+password+`","name":"N"}`)
				if res.StatusCode != 200 {
					t.Fatalf("sign-up: %d", res.StatusCode)
				}
				tokens = append(tokens, tokenFrom(t, res, p.CookieName("")))
			}
			for _, tok := range tokens {
				if name := p.CookieName(tok); jar[name] == "" || !strings.HasPrefix(name, tc.want) || name != tc.want+strings.ToLower(tok) {
					t.Errorf("multi-session cookie %q of %s missing from %v", name, tok, jar)
				}
			}
			if res := send("POST", "/multi-session/set-active", `{"sessionToken":"`+tokens[0]+`"}`); res.StatusCode != 200 {
				t.Errorf("set-active: %d", res.StatusCode)
			}
			res := send("POST", "/sign-out", `{}`)
			if res.StatusCode != 200 {
				t.Fatalf("sign-out: %d", res.StatusCode)
			}
			for n := range jar {
				if strings.Contains(n, "_multi-") || strings.Contains(n, "session_token") {
					t.Errorf("cookie %s left after sign-out", n)
				}
			}
			for _, tok := range tokens {
				if _, err := a.GetSession(t.Context(), tok); err == nil {
					t.Errorf("session %s alive after sign-out", tok)
				}
			}
		})
	}
}

// tokenFrom returns the session token of the multi-session cookie the
// answer sets (namePrefix is the cookie names' common prefix).
func tokenFrom(t *testing.T, res *http.Response, namePrefix string) string {
	t.Helper()
	for _, c := range res.Cookies() {
		if strings.HasPrefix(c.Name, namePrefix) && c.MaxAge >= 0 {
			v, _ := url.PathUnescape(c.Value)
			return v[:strings.LastIndexByte(v, '.')]
		}
	}
	t.Fatalf("no multi-session cookie in %q", res.Header.Values("Set-Cookie"))
	return ""
}

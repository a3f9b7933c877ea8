package auth_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// TestBadSignUpInput: malformed, mistyped and hostile sign-up bodies are
// answered 4xx with a stable code (never 500, never a panic) and create
// no user.
func TestBadSignUpInput(t *testing.T) {
	t.Parallel()
	a, srv := newTestServer(t, func(c *auth.Config) { c.MaxBodyBytes = 4096 })
	c := newClient(t, a, srv)
	ok := func(extra map[string]any) map[string]any {
		m := map[string]any{"name": "Ada", "email": "ada@example.com", "password": "password-123"}
		for k, v := range extra {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	const undef = "expected object, received undefined"
	deep := strings.Repeat("[", 3000) + strings.Repeat("]", 3000)
	tests := []struct {
		name    string
		body    any
		ct      string // Content-Type; "" = application/json
		status  int
		code    string
		message string // substring, optional
	}{
		{"malformed JSON", `{"name":`, "", 400, "BAD_REQUEST", "Invalid JSON in request body"},
		{"trailing garbage", `{"name":"a"} x`, "", 400, "BAD_REQUEST", "Invalid JSON"},
		{"two objects", `{} {}`, "", 400, "BAD_REQUEST", "Invalid JSON"},
		{"deeply nested", deep, "", 400, "", ""},
		{"invalid UTF-8 JSON token", "{\"name\":\xff}", "", 400, "BAD_REQUEST", ""},
		{"JSON array", `[]`, "", 400, "VALIDATION_ERROR", "[body] Invalid input: expected object, received array"},
		{"JSON string", `"hello"`, "", 400, "VALIDATION_ERROR", "received string"},
		{"JSON number", `42`, "", 400, "VALIDATION_ERROR", "received number"},
		{"JSON null", `null`, "", 400, "VALIDATION_ERROR", "received null"},
		{"JSON true", `true`, "", 400, "VALIDATION_ERROR", "received boolean"},
		{"empty body", ``, "", 400, "VALIDATION_ERROR", undef},
		{"whitespace body", "  \n ", "", 400, "VALIDATION_ERROR", undef},
		{"empty object", `{}`, "", 400, "VALIDATION_ERROR", "[body.name] Invalid input: expected string, received undefined; [body.email] Invalid input: expected string, received undefined; [body.password] Invalid input: expected string, received undefined"},
		{"email as number", ok(map[string]any{"email": 12}), "", 400, "VALIDATION_ERROR", "[body.email] Invalid input: expected string, received number"},
		{"password as object", ok(map[string]any{"password": map[string]any{"$ne": ""}}), "", 400, "VALIDATION_ERROR", "[body.password] Invalid input: expected string, received object"},
		{"password as array", ok(map[string]any{"password": []any{"a"}}), "", 400, "VALIDATION_ERROR", "received array"},
		{"name as bool", ok(map[string]any{"name": true}), "", 400, "VALIDATION_ERROR", "[body.name] Invalid input: expected string, received boolean"},
		{"name null", ok(map[string]any{"name": "\x00"}), "", 400, "INVALID_NAME", ""},
		{"rememberMe as string", ok(map[string]any{"rememberMe": "false"}), "", 400, "VALIDATION_ERROR", "[body.rememberMe] Invalid input: expected boolean, received string"},
		{"rememberMe as number", ok(map[string]any{"rememberMe": 0}), "", 400, "VALIDATION_ERROR", "expected boolean, received number"},
		{"image as number", ok(map[string]any{"image": 1}), "", 400, "VALIDATION_ERROR", "[body.image]"},
		{"image with control chars", ok(map[string]any{"image": "https://x/\n"}), "", 400, "INVALID_IMAGE", ""},
		{"image too long", ok(map[string]any{"image": "https://x/" + strings.Repeat("a", 2050)}), "", 400, "INVALID_IMAGE", ""},
		{"missing email", ok(map[string]any{"email": nil}), "", 400, "VALIDATION_ERROR", "[body.email] Invalid input: expected string, received undefined"},
		{"missing password", ok(map[string]any{"password": nil}), "", 400, "VALIDATION_ERROR", "[body.password]"},
		{"missing name", ok(map[string]any{"name": nil}), "", 400, "VALIDATION_ERROR", "[body.name]"},
		{"huge body", ok(map[string]any{"name": strings.Repeat("a", 5000)}), "", 413, "PAYLOAD_TOO_LARGE", ""},
		{"name with NUL", ok(map[string]any{"name": "Ada\x00Lovelace"}), "", 400, "INVALID_NAME", ""},
		{"name with newline", ok(map[string]any{"name": "Ada\nLovelace"}), "", 400, "INVALID_NAME", ""},
		{"name with DEL", ok(map[string]any{"name": "Ada\x7f"}), "", 400, "INVALID_NAME", ""},
		{"name with NEL (C1)", ok(map[string]any{"name": "Ada\u0085"}), "", 400, "INVALID_NAME", ""},
		{"name with escape sequence", ok(map[string]any{"name": "\x1b[31mred"}), "", 400, "INVALID_NAME", ""},
		{"name with invalid UTF-8", "{\"name\":\"Ada\xff\",\"email\":\"ada@example.com\",\"password\":\"password-123\"}", "", 400, "INVALID_NAME", ""},
		{"name of 257 characters", ok(map[string]any{"name": strings.Repeat("n", 257)}), "", 400, "INVALID_NAME", ""},
		{"email without @", ok(map[string]any{"email": "ada.example.com"}), "", 400, "VALIDATION_ERROR", "[body.email] Invalid email address"},
		{"email with two @", ok(map[string]any{"email": "ada@b@example.com"}), "", 400, "VALIDATION_ERROR", "Invalid email address"},
		{"email with a space inside", ok(map[string]any{"email": "ada lovelace@example.com"}), "", 400, "VALIDATION_ERROR", "Invalid email address"},
		{"email with a newline", ok(map[string]any{"email": "ada@example.com\nBcc: x@y.z"}), "", 400, "VALIDATION_ERROR", "Invalid email address"},
		{"email without dot", ok(map[string]any{"email": "ada@localhost"}), "", 400, "VALIDATION_ERROR", "Invalid email address"},
		{"email with display name", ok(map[string]any{"email": "Ada <ada@example.com>"}), "", 400, "VALIDATION_ERROR", "Invalid email address"},
		{"empty email", ok(map[string]any{"email": ""}), "", 400, "VALIDATION_ERROR", "Invalid email address"},
		{"email over 254 characters", ok(map[string]any{"email": strings.Repeat("a", 60) + "@" + strings.Repeat("b", 60) + "." + strings.Repeat("c", 60) + "." + strings.Repeat("d", 60) + ".example.com"}), "", 400, "VALIDATION_ERROR", "Invalid email address"},
		{"password too short", ok(map[string]any{"password": "1234567"}), "", 400, "PASSWORD_TOO_SHORT", "Password too short"},
		{"password too long", ok(map[string]any{"password": strings.Repeat("p", 129)}), "", 400, "PASSWORD_TOO_LONG", "Password too long"},
		{"password too long in UTF-16 units", ok(map[string]any{"password": strings.Repeat("🔑", 65)}), "", 400, "PASSWORD_TOO_LONG", ""},
		{"text/plain", `{"name":"Ada","email":"ada@example.com","password":"password-123"}`, "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE", ""},
		{"multipart", `--x`, "multipart/form-data; boundary=x", 415, "UNSUPPORTED_MEDIA_TYPE", ""},
		{"garbage content type", `{}`, "not a media type", 415, "UNSUPPORTED_MEDIA_TYPE", ""},
		{"bad form encoding", `name=%zz`, "application/x-www-form-urlencoded", 400, "BAD_REQUEST", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.ct != "" {
				hdr["Content-Type"] = tt.ct
			}
			r := c.do("POST", "/sign-up/email", tt.body, hdr)
			if tt.code == "" {
				if r.Status < 400 || r.Status >= 500 {
					t.Errorf("status %d, want 4xx; body %s", r.Status, r.Body)
				}
			} else {
				e := wantError(t, r, tt.status, tt.code)
				if !strings.Contains(e.Message, tt.message) {
					t.Errorf("message %q, want it to contain %q", e.Message, tt.message)
				}
			}
			if n := rowCount(t, a, "user"); n != 0 {
				t.Fatalf("%d users created", n)
			}
		})
	}
}

// TestSignUpNoContentType: a body without Content-Type is 415.
func TestSignUpNoContentType(t *testing.T) {
	t.Parallel()
	_, srv := newTestServer(t, nil)
	req, _ := http.NewRequest("POST", srv.URL+"/api/auth/sign-up/email", strings.NewReader(`{"name":"a"}`))
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 415 {
		t.Errorf("status %d, want 415", resp.StatusCode)
	}
}

// TestGoodSignUpInput: accepted variations.
func TestGoodSignUpInput(t *testing.T) {
	t.Parallel()
	a, srv := newTestServer(t, nil)
	tests := []struct {
		name      string
		body      any
		ct        string
		wantEmail string
		wantName  string
	}{
		{"unknown fields are ignored", map[string]any{"name": "X", "email": "extra@example.com", "password": "password-123", "role": "admin", "emailVerified": true, "id": "chosen"}, "", "extra@example.com", "X"},
		{"email trimmed and lower-cased", map[string]any{"name": "Case", "email": "  Ada.Lovelace@EXAMPLE.Com \t", "password": "password-123"}, "", "ada.lovelace@example.com", "Case"},
		{"unicode name", map[string]any{"name": "Zoë Ñandú 李小龍 🦀 عربي", "email": "uni@example.com", "password": "password-123"}, "", "uni@example.com", "Zoë Ñandú 李小龍 🦀 عربي"},
		{"zero-width joiner emoji name", map[string]any{"name": "👩‍💻", "email": "zwj@example.com", "password": "password-123"}, "", "zwj@example.com", "👩‍💻"},
		{"name of 256 characters", map[string]any{"name": strings.Repeat("n", 256), "email": "long@example.com", "password": "password-123"}, "", "long@example.com", strings.Repeat("n", 256)},
		{"password of 128 UTF-16 units", map[string]any{"name": "P", "email": "pw@example.com", "password": strings.Repeat("🔑", 64)}, "", "pw@example.com", "P"},
		{"JSON with charset", map[string]any{"name": "C", "email": "charset@example.com", "password": "password-123"}, "application/json; charset=utf-8", "charset@example.com", "C"},
		{"JSON media type in capitals", map[string]any{"name": "U", "email": "upper@example.com", "password": "password-123"}, "Application/JSON", "upper@example.com", "U"},
		{"form-encoded", "name=Form&email=Form%40Example.com&password=password-123&rememberMe=false", "application/x-www-form-urlencoded", "form@example.com", "Form"},
		{"plus-addressing", map[string]any{"name": "P", "email": "ada+tag@example.co.uk", "password": "password-123"}, "", "ada+tag@example.co.uk", "P"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, a, srv)
			hdr := map[string]string{}
			if tt.ct != "" {
				hdr["Content-Type"] = tt.ct
			}
			r := c.do("POST", "/sign-up/email", tt.body, hdr)
			if r.Status != 200 {
				t.Fatalf("status %d; body %s", r.Status, r.Body)
			}
			u, _ := r.Object(t)["user"].(map[string]any)
			if u["email"] != tt.wantEmail || u["name"] != tt.wantName || u["emailVerified"] != false {
				t.Errorf("user %v", u)
			}
			stored, err := a.Host().FindUserByEmail(context.Background(), tt.wantEmail)
			if err != nil || stored.Email != tt.wantEmail || stored.ID == "chosen" || stored.EmailVerified {
				t.Errorf("stored user %+v, %v", stored, err)
			}
		})
	}
	// Sign-in looks the email up normalised too; form sign-in works.
	c := newClient(t, a, srv)
	r := c.do("POST", "/sign-in/email", "email=%20ADA.LOVELACE%40example.com&password=password-123&rememberMe=false",
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if r.Status != 200 {
		t.Fatalf("form sign-in: %d %s", r.Status, r.Body)
	}
	if _, ok := r.SetCookie(dontRememberCookie); !ok {
		t.Errorf("form rememberMe=false ignored: %q", r.SetCookies())
	}
	// Form bodies are only for sign-in and sign-up.
	wantError(t, c.do("POST", "/change-password", "newPassword=x", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}), 415, "UNSUPPORTED_MEDIA_TYPE")
}

func TestBadSignInInput(t *testing.T) {
	t.Parallel()
	a, srv := newTestServer(t, nil)
	c := newClient(t, a, srv)
	c.signUp("in@example.com", "password-123")
	tests := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"email without @", map[string]any{"email": "in.example.com", "password": "password-123"}, 400, "INVALID_EMAIL"},
		{"email with space", map[string]any{"email": "in @example.com", "password": "password-123"}, 400, "INVALID_EMAIL"},
		{"email as number", map[string]any{"email": 1, "password": "password-123"}, 400, "VALIDATION_ERROR"},
		{"password as object", map[string]any{"email": "in@example.com", "password": map[string]any{}}, 400, "VALIDATION_ERROR"},
		{"password as null", map[string]any{"email": "in@example.com", "password": nil}, 400, "VALIDATION_ERROR"},
		{"missing password", map[string]any{"email": "in@example.com"}, 400, "VALIDATION_ERROR"},
		{"empty password", map[string]any{"email": "in@example.com", "password": ""}, 401, "INVALID_EMAIL_OR_PASSWORD"},
		{"wrong password", map[string]any{"email": "in@example.com", "password": "password-124"}, 401, "INVALID_EMAIL_OR_PASSWORD"},
		{"password in another case", map[string]any{"email": "in@example.com", "password": "PASSWORD-123"}, 401, "INVALID_EMAIL_OR_PASSWORD"},
		{"rememberMe as string", map[string]any{"email": "in@example.com", "password": "password-123", "rememberMe": "yes"}, 400, "VALIDATION_ERROR"},
		{"array body", `[{"email":"in@example.com"}]`, 400, "VALIDATION_ERROR"},
		{"malformed", `{"email":`, 400, "BAD_REQUEST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.post("/sign-in/email", tt.body)
			wantError(t, r, tt.status, tt.code)
			if len(r.SetCookies()) != 0 {
				t.Errorf("failed sign-in set cookies: %q", r.SetCookies())
			}
		})
	}
	if n := rowCount(t, a, "session"); n != 1 {
		t.Errorf("%d sessions, want only the sign-up's", n)
	}
}

// TestBadSessionCookies: any unusable cookie is no session (200 null),
// never an error.
func TestBadSessionCookies(t *testing.T) {
	t.Parallel()
	a, srv := newTestServer(t, nil)
	res, err := a.SignUpEmail(context.Background(), auth.SignUpInput{Name: "C", Email: "c@example.com", Password: "password-123"})
	if err != nil {
		t.Fatal(err)
	}
	good := plugin.SignCookieValue(testSecret, res.Token())
	tests := []struct {
		name        string
		cookie      string
		wantExpired bool // a well-signed token whose session is gone expires the cookies
	}{
		{"tampered token", changeByte(good, 0), false},
		{"tampered signature", changeByte(good, 40), false},
		{"truncated", good[:len(good)-5], false},
		{"unsigned token", res.Token(), false},
		{"garbage", "%%%garbage%%%", false},
		{"empty", "", false},
		{"only a dot", ".", false},
		{"overlong", plugin.SignCookieValue(testSecret, strings.Repeat("t", 4000)), false},
		{"signed with another secret", plugin.SignCookieValue("some-other-secret-some-other-secret!", res.Token()), false},
		{"signed unknown token", plugin.SignCookieValue(testSecret, "unknownunknownunknownunknown1234"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sendRaw(t, srv, "GET", "/api/auth/get-session", "", map[string]string{"Cookie": sessCookie + "=" + tt.cookie})
			if r.Status != 200 || string(r.Body) != "null" {
				t.Errorf("get-session: %d %s, want 200 null", r.Status, r.Body)
			}
			if tt.wantExpired {
				wantCookiesExpired(t, r)
			}
		})
	}
	// Like better-call's parser: the first of duplicate cookies counts, and
	// a double-quoted value is unquoted.
	for _, tt := range []struct {
		name, header string
		ok           bool
	}{
		{"garbage first", sessCookie + "=garbage; " + sessCookie + "=" + good, false},
		{"good first", sessCookie + "=" + good + "; " + sessCookie + "=garbage", true},
		{"quoted", sessCookie + `="` + good + `"`, true},
	} {
		r := sendRaw(t, srv, "GET", "/api/auth/get-session", "", map[string]string{"Cookie": tt.header})
		if got := strings.Contains(string(r.Body), res.Token()); got != tt.ok {
			t.Errorf("%s: %s, want session %v", tt.name, r.Body, tt.ok)
		}
	}
	// The good cookie still works after all that.
	r := sendRaw(t, srv, "GET", "/api/auth/get-session", "", map[string]string{"Cookie": sessCookie + "=" + good})
	if !strings.Contains(string(r.Body), res.Token()) {
		t.Errorf("good cookie: %s", r.Body)
	}
	// A stray session_data cookie is expired (no cookie cache here).
	r = sendRaw(t, srv, "GET", "/api/auth/get-session", "", map[string]string{"Cookie": sessCookie + "=" + good + "; " + sessionDataCookie + "=stale"})
	if line, _ := r.SetCookie(sessionDataCookie); !strings.Contains(line, "Max-Age=0") {
		t.Errorf("stray session_data not expired: %q", r.SetCookies())
	}
}

// TestProtectedRoutesWithoutSession: 401 without a valid session.
func TestProtectedRoutesWithoutSession(t *testing.T) {
	t.Parallel()
	clk := newClock()
	a, srv := newTestServer(t, func(c *auth.Config) { c.Now = clk.Now; c.User.DeleteEnabled = true })
	c := newClient(t, a, srv)
	c.signUp("p@example.com", "password-123")
	cookie := c.cookie(sessCookie)
	routes := []struct{ method, path, body string }{
		{"GET", "/list-sessions", ""},
		{"POST", "/revoke-session", `{"token":"x"}`},
		{"POST", "/revoke-sessions", ""},
		{"POST", "/revoke-other-sessions", ""},
		{"POST", "/update-user", `{"name":"x"}`},
		{"POST", "/change-password", `{"currentPassword":"password-123","newPassword":"password-456"}`},
		{"POST", "/verify-password", `{"password":"password-123"}`},
		{"POST", "/delete-user", `{"password":"password-123"}`},
	}
	states := []struct {
		name  string
		setup func() string // returns the Cookie header
	}{
		{"no cookie", func() string { return "" }},
		{"garbage cookie", func() string { return sessCookie + "=garbage" }},
		{"revoked session", func() string {
			u, _ := a.Host().FindUserByEmail(context.Background(), "p@example.com")
			if err := a.RevokeSessions(context.Background(), u.ID); err != nil {
				t.Fatal(err)
			}
			return sessCookie + "=" + cookie
		}},
		{"expired session", func() string {
			res, err := a.SignInEmail(context.Background(), auth.SignInInput{Email: "p@example.com", Password: "password-123"})
			if err != nil {
				t.Fatal(err)
			}
			clk.Advance(8 * oneDay)
			return cookieHeader(res.Cookies)
		}},
	}
	for _, st := range states {
		ck := st.setup()
		for _, rt := range routes {
			hdr := map[string]string{"Origin": a.Config().BaseURL}
			if ck != "" {
				hdr["Cookie"] = ck
			}
			r := sendRaw(t, srv, rt.method, "/api/auth"+rt.path, rt.body, hdr)
			if r.Status != 401 || !strings.Contains(string(r.Body), `"code":"UNAUTHORIZED"`) {
				t.Errorf("%s, %s %s: %d %s, want 401 UNAUTHORIZED", st.name, rt.method, rt.path, r.Status, r.Body)
			}
		}
	}
	if n := rowCount(t, a, "user"); n != 1 {
		t.Errorf("%d users, want 1", n)
	}
}

// TestRouting: unknown paths, wrong methods, trailing slashes, "//", HEAD
// and OPTIONS are 404 with an empty body.
func TestRouting(t *testing.T) {
	t.Parallel()
	_, srv := newTestServer(t, nil)
	tests := []struct{ method, path string }{
		{"GET", "/api/auth/nope"},
		{"GET", "/api/auth/get-session/"},
		{"GET", "/api/auth//get-session"},
		{"GET", "//api/auth/get-session"},
		{"GET", "/api/auth"},
		{"GET", "/api/auth/"},
		{"GET", "/api/authget-session"},
		{"GET", "/other/get-session"},
		{"HEAD", "/api/auth/get-session"},
		{"OPTIONS", "/api/auth/get-session"},
		{"OPTIONS", "/api/auth/sign-in/email"},
		{"PUT", "/api/auth/sign-in/email"},
		{"GET", "/api/auth/sign-in/email"},
		{"DELETE", "/api/auth/get-session"},
		{"GET", "/api/auth/GET-SESSION"},
	}
	for _, tt := range tests {
		r := sendRaw(t, srv, tt.method, tt.path, "", nil)
		if r.Status != 404 || len(r.Body) != 0 {
			t.Errorf("%s %s: %d %q, want 404 empty", tt.method, tt.path, r.Status, r.Body)
		}
	}
	wantError(t, sendRaw(t, srv, "POST", "/api/auth/get-session", "", nil), 405, "METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED")
	if r := sendRaw(t, srv, "GET", "/api/auth/ok", "", nil); r.Status != 200 || string(r.Body) != `{"ok":true}` {
		t.Errorf("ok: %d %s", r.Status, r.Body)
	}
}

// TestDuplicateEmailRace: concurrent sign-ups with one email create one
// user; the others are told the email is taken.
func TestDuplicateEmailRace(t *testing.T) {
	t.Parallel()
	a, srv := newTestServer(t, nil)
	const n = 8
	statuses := make([]*response, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := newClient(t, a, srv)
			email := "race@example.com"
			if i%2 == 1 {
				email = "  RACE@Example.com" // normalises to the same address
			}
			<-start
			statuses[i] = c.post("/sign-up/email", map[string]any{"name": "Racer", "email": email, "password": "password-123"})
		}(i)
	}
	close(start)
	wg.Wait()
	ok, taken := 0, 0
	for _, r := range statuses {
		switch {
		case r.Status == 200:
			ok++
		case r.Status == 422 && strings.Contains(string(r.Body), `"code":"USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL"`):
			taken++
		default:
			t.Errorf("unexpected answer %d %s", r.Status, r.Body)
		}
	}
	if ok != 1 || taken != n-1 {
		t.Errorf("%d succeeded, %d told taken; want 1, %d", ok, taken, n-1)
	}
	if got := rowCount(t, a, "user"); got != 1 {
		t.Errorf("%d user rows, want 1", got)
	}
	if got := rowCount(t, a, "account", storage.W("providerId", "credential")); got != 1 {
		t.Errorf("%d credential accounts, want 1", got)
	}
	if got := rowCount(t, a, "session"); got != 1 {
		t.Errorf("%d sessions, want 1", got)
	}
}

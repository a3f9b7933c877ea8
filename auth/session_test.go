package auth_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testkit"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

const (
	sessCookie         = "better-auth.session_token"
	dontRememberCookie = "better-auth.dont_remember"
	sessionDataCookie  = "better-auth.session_data"
	oneWeek            = 7 * 24 * time.Hour
	oneDay             = 24 * time.Hour
)

// parsedCookie returns the Set-Cookie line for name, parsed.
func parsedCookie(t *testing.T, r *response, name string) *http.Cookie {
	t.Helper()
	line, ok := r.SetCookie(name)
	if !ok {
		t.Fatalf("no Set-Cookie for %s; got %q", name, r.SetCookies())
	}
	c, err := http.ParseSetCookie(line)
	if err != nil {
		t.Fatalf("Set-Cookie %q: %v", line, err)
	}
	return c
}

// wantCookiesExpired checks that r deletes every session cookie.
func wantCookiesExpired(t *testing.T, r *response) {
	t.Helper()
	for _, name := range []string{sessCookie, sessionDataCookie, dontRememberCookie} {
		line, ok := r.SetCookie(name)
		if !ok {
			t.Errorf("no deletion of %s; Set-Cookie %q", name, r.SetCookies())
			continue
		}
		if want := name + "=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"; line != want {
			t.Errorf("deletion %q, want %q", line, want)
		}
	}
}

func sessionField(t *testing.T, s map[string]any, field string) string {
	t.Helper()
	if s == nil {
		t.Fatalf("no session")
	}
	v, _ := s["session"].(map[string]any)[field].(string)
	return v
}

func sessionRow(t *testing.T, a *auth.Auth, token string) storage.Record {
	t.Helper()
	rec, err := a.Host().DB().FindOne(context.Background(), "session", storage.W("token", token))
	if err != nil {
		t.Fatalf("session row for %q: %v", token, err)
	}
	return rec
}

func newSessionServer(t *testing.T, mutate func(*auth.Config)) (*auth.Auth, *client, *testkit.Clock) {
	t.Helper()
	clk := newClock()
	a, srv := newTestServer(t, func(c *auth.Config) {
		c.Now = clk.Now
		c.User.DeleteEnabled = true
		if mutate != nil {
			mutate(c)
		}
	})
	return a, newClient(t, a, srv), clk
}

// TestSlidingRefresh: a session slides forward exactly when
// expiresAt - expiresIn + updateAge <= now, and the refresh re-issues the
// cookie with the full Max-Age.
func TestSlidingRefresh(t *testing.T) {
	t.Parallel()
	a, c, clk := newSessionServer(t, nil)
	t0 := clk.Now()
	out := c.signUp("slide@example.com", "password-123")
	token := out["token"].(string)

	clk.Advance(oneDay - time.Millisecond)
	r := c.get("/get-session")
	if sc := r.SetCookies(); len(sc) != 0 {
		t.Errorf("before updateAge: Set-Cookie %q, want none", sc)
	}
	var s map[string]any
	s, _ = r.JSON(t).(map[string]any)
	if got, want := sessionField(t, s, "expiresAt"), plugin.FormatTime(t0.Add(oneWeek)); got != want {
		t.Errorf("before updateAge: expiresAt %s, want %s", got, want)
	}

	clk.Advance(time.Millisecond) // exactly updateAge
	r = c.get("/get-session")
	ck := parsedCookie(t, r, sessCookie)
	if ck.MaxAge != 604800 {
		t.Errorf("refreshed cookie Max-Age %d, want 604800", ck.MaxAge)
	}
	if v, ok := plugin.VerifyCookieValue(testSecret, ck.Value); !ok || v != token {
		t.Errorf("refreshed cookie carries %q, %v; want the same token", v, ok)
	}
	s, _ = r.JSON(t).(map[string]any)
	now := clk.Now()
	want := map[string]string{
		"expiresAt": plugin.FormatTime(now.Add(oneWeek)),
		"updatedAt": plugin.FormatTime(now),
		"createdAt": plugin.FormatTime(t0),
		"token":     token,
	}
	got := map[string]string{}
	for k := range want {
		got[k] = sessionField(t, s, k)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("refreshed session (-want +got):\n%s", d)
	}
	rec := sessionRow(t, a, token)
	if !rec.Time("expiresAt").Equal(now.Add(oneWeek)) || !rec.Time("updatedAt").Equal(now) || !rec.Time("createdAt").Equal(t0) {
		t.Errorf("stored row not refreshed: %v", rec)
	}

	// Right after a refresh nothing is due.
	if sc := c.get("/get-session").SetCookies(); len(sc) != 0 {
		t.Errorf("right after refresh: Set-Cookie %q", sc)
	}

	// disableRefresh reads without writing.
	clk.Advance(oneDay)
	for _, q := range []string{"true", "1"} {
		r := c.get("/get-session?disableRefresh=" + q)
		if sc := r.SetCookies(); len(sc) != 0 {
			t.Errorf("disableRefresh=%s: Set-Cookie %q", q, sc)
		}
		if got := sessionField(t, r.Object(t), "expiresAt"); got != plugin.FormatTime(now.Add(oneWeek)) {
			t.Errorf("disableRefresh=%s: expiresAt %s changed", q, got)
		}
	}

	// Every session-protected route refreshes too.
	r = c.post("/revoke-other-sessions", nil)
	if r.Status != 200 {
		t.Fatalf("revoke-other-sessions: %d %s", r.Status, r.Body)
	}
	if ck := parsedCookie(t, r, sessCookie); ck.MaxAge != 604800 {
		t.Errorf("protected route refresh Max-Age %d", ck.MaxAge)
	}
	if got := sessionRow(t, a, token).Time("expiresAt"); !got.Equal(clk.Now().Add(oneWeek)) {
		t.Errorf("protected route did not refresh the row: %v", got)
	}
}

func TestDisableRefresh(t *testing.T) {
	t.Parallel()
	a, c, clk := newSessionServer(t, func(cfg *auth.Config) { cfg.Session.DisableRefresh = true })
	t0 := clk.Now()
	token := c.signUp("norefresh@example.com", "password-123")["token"].(string)
	clk.Advance(6 * oneDay)
	r := c.get("/get-session")
	if sc := r.SetCookies(); len(sc) != 0 {
		t.Errorf("Set-Cookie %q with refresh disabled", sc)
	}
	if got := sessionRow(t, a, token).Time("expiresAt"); !got.Equal(t0.Add(oneWeek)) {
		t.Errorf("expiresAt moved to %v", got)
	}
	clk.Advance(oneDay + time.Millisecond) // expired once expiresAt < now
	if s := c.session(); s != nil {
		t.Errorf("session alive after expiresIn without refresh: %v", s)
	}
}

// TestDontRemember: rememberMe:false gives a browser-session cookie, a
// signed dont_remember cookie and a one-day session that never slides.
func TestDontRemember(t *testing.T) {
	t.Parallel()
	a, c, clk := newSessionServer(t, nil)
	c.signUp("forget@example.com", "password-123")
	c.post("/sign-out", nil)

	t0 := clk.Now()
	r := c.post("/sign-in/email", map[string]any{"email": "forget@example.com", "password": "password-123", "rememberMe": false})
	if r.Status != 200 {
		t.Fatalf("sign-in: %d %s", r.Status, r.Body)
	}
	token := r.Object(t)["token"].(string)
	st, _ := r.SetCookie(sessCookie)
	if strings.Contains(st, "Max-Age") {
		t.Errorf("session cookie %q has a Max-Age", st)
	}
	if want := sessCookie + "=" + plugin.SignCookieValue(testSecret, token) + "; Path=/; HttpOnly; SameSite=Lax"; st != want {
		t.Errorf("session cookie %q, want %q", st, want)
	}
	dr, _ := r.SetCookie(dontRememberCookie)
	if want := dontRememberCookie + "=" + plugin.SignCookieValue(testSecret, "true") + "; Path=/; HttpOnly; SameSite=Lax"; dr != want {
		t.Errorf("dont_remember cookie %q, want %q", dr, want)
	}
	if got := sessionRow(t, a, token).Time("expiresAt"); !got.Equal(t0.Add(oneDay)) {
		t.Errorf("expiresAt %v, want one oneDay after sign-in (%v)", got, t0.Add(oneDay))
	}

	// Due by the refresh rule from the start, but never refreshed.
	clk.Advance(23 * time.Hour)
	r = c.get("/get-session")
	if sc := r.SetCookies(); len(sc) != 0 {
		t.Errorf("dont_remember session refreshed: Set-Cookie %q", sc)
	}
	if r.Status != 200 || string(r.Body) == "null" {
		t.Fatalf("session gone before a day: %d %s", r.Status, r.Body)
	}
	if r := c.post("/revoke-other-sessions", nil); len(r.SetCookies()) != 0 {
		t.Errorf("protected route refreshed a dont_remember session: %q", r.SetCookies())
	}
	if got := sessionRow(t, a, token).Time("expiresAt"); !got.Equal(t0.Add(oneDay)) {
		t.Errorf("expiresAt moved to %v", got)
	}

	// A profile update re-issues the cookies, still without Max-Age.
	r = c.post("/update-user", map[string]any{"name": "Renamed"})
	if r.Status != 200 {
		t.Fatalf("update-user: %d %s", r.Status, r.Body)
	}
	if st, _ := r.SetCookie(sessCookie); st == "" || strings.Contains(st, "Max-Age") {
		t.Errorf("update-user session cookie %q, want one without Max-Age", st)
	}
	if _, ok := r.SetCookie(dontRememberCookie); !ok {
		t.Errorf("update-user dropped dont_remember: %q", r.SetCookies())
	}

	clk.Advance(2 * time.Hour)
	r = c.get("/get-session")
	if string(r.Body) != "null" {
		t.Errorf("after a day: %s, want null", r.Body)
	}
	wantCookiesExpired(t, r)
	if n := rowCount(t, a, "session"); n != 0 {
		t.Errorf("%d session rows left", n)
	}
}

// TestExpiredSession: an expired session answers null, expires the cookies
// and deletes its row.
func TestExpiredSession(t *testing.T) {
	t.Parallel()
	a, c, clk := newSessionServer(t, nil)
	c.signUp("old@example.com", "password-123")
	stale := c.cookie(sessCookie)
	clk.Advance(oneWeek + time.Millisecond)
	r := c.get("/get-session")
	if r.Status != 200 || string(r.Body) != "null" {
		t.Errorf("expired session: %d %s, want 200 null", r.Status, r.Body)
	}
	wantCookiesExpired(t, r)
	if n := rowCount(t, a, "session"); n != 0 {
		t.Errorf("%d session rows left", n)
	}
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q", got)
	}
	// Protected routes answer 401 (and expire the cookies).
	c.setCookie(sessCookie, stale)
	r = c.post("/update-user", map[string]any{"name": "x"})
	wantError(t, r, 401, "UNAUTHORIZED")
	wantCookiesExpired(t, r)
}

// TestSessionExpiryBoundary: Better Auth expires a session when
// expiresAt < now (spec §2.5 step 3), so at exactly expiresAt it is alive.
func TestSessionExpiryBoundary(t *testing.T) {
	t.Parallel()
	_, c, clk := newSessionServer(t, nil)
	c.signUp("edge@example.com", "password-123")
	clk.Advance(oneWeek)
	if s := c.session(); s == nil {
		t.Error("session dead at exactly expiresAt, Better Auth keeps it (expiresAt < now)")
	}
}

// TestFreshness: list-sessions needs a session younger than FreshAge.
func TestFreshness(t *testing.T) {
	t.Parallel()
	_, c, clk := newSessionServer(t, nil)
	out := c.signUp("fresh@example.com", "password-123")
	r := c.get("/list-sessions")
	if r.Status != 200 {
		t.Fatalf("list-sessions: %d %s", r.Status, r.Body)
	}
	list, _ := r.JSON(t).([]any)
	if len(list) != 1 || list[0].(map[string]any)["token"] != out["token"] {
		t.Errorf("list-sessions = %s, want the one session with its token", r.Body)
	}
	clk.Advance(oneDay - time.Millisecond)
	if r := c.get("/list-sessions"); r.Status != 200 {
		t.Errorf("just before FreshAge: %d %s", r.Status, r.Body)
	}
	clk.Advance(time.Millisecond)
	e := wantError(t, c.get("/list-sessions"), 403, "SESSION_NOT_FRESH")
	if e.Message != "Session is not fresh" {
		t.Errorf("message %q", e.Message)
	}
	// A refresh does not make a session fresh again.
	clk.Advance(2 * oneDay)
	c.get("/get-session")
	wantError(t, c.get("/list-sessions"), 403, "SESSION_NOT_FRESH")
}

func TestFreshnessDisabled(t *testing.T) {
	t.Parallel()
	_, c, clk := newSessionServer(t, func(cfg *auth.Config) { cfg.Session.FreshAge = -1 })
	c.signUp("always@example.com", "password-123")
	clk.Advance(3 * oneDay)
	if r := c.get("/list-sessions"); r.Status != 200 {
		t.Errorf("list-sessions with FreshAge disabled: %d %s", r.Status, r.Body)
	}
	if r := c.post("/delete-user", map[string]any{}); r.Status != 200 {
		t.Errorf("delete-user without password, FreshAge disabled: %d %s", r.Status, r.Body)
	}
}

// TestDeleteUserFreshness: without a password delete-user needs a fresh
// session.
func TestDeleteUserFreshness(t *testing.T) {
	t.Parallel()
	a, c, clk := newSessionServer(t, nil)
	c.signUp("stale@example.com", "password-123")
	clk.Advance(oneDay)
	e := wantError(t, c.post("/delete-user", map[string]any{}), 400, "SESSION_EXPIRED")
	if e.Message != "Session expired. Re-authenticate to perform this action." {
		t.Errorf("message %q", e.Message)
	}
	wantError(t, c.post("/delete-user", map[string]any{"password": "wrong-password"}), 400, "INVALID_PASSWORD")
	if n := rowCount(t, a, "user"); n != 1 {
		t.Fatalf("%d users after refused deletions", n)
	}
	r := c.post("/delete-user", map[string]any{"password": "password-123"})
	if r.Status != 200 {
		t.Fatalf("delete-user with password: %d %s", r.Status, r.Body)
	}
	if d := cmp.Diff(map[string]any{"success": true, "message": "User deleted"}, r.Object(t)); d != "" {
		t.Errorf("body (-want +got):\n%s", d)
	}
	wantCookiesExpired(t, r)
	for _, table := range []string{"user", "session", "account"} {
		if n := rowCount(t, a, table); n != 0 {
			t.Errorf("%d %s rows left", n, table)
		}
	}

	// A fresh session needs no password.
	c.signUp("fresh-delete@example.com", "password-123")
	if r := c.post("/delete-user", nil); r.Status != 200 {
		t.Errorf("fresh delete-user: %d %s", r.Status, r.Body)
	}
	if n := rowCount(t, a, "user"); n != 0 {
		t.Errorf("%d users left", n)
	}
}

func TestDeleteUserDisabled(t *testing.T) {
	t.Parallel()
	a, c, _ := newSessionServer(t, func(cfg *auth.Config) { cfg.User.DeleteEnabled = false })
	c.signUp("keep@example.com", "password-123")
	r := c.post("/delete-user", map[string]any{"password": "password-123"})
	if r.Status != 404 || len(r.Body) != 0 {
		t.Errorf("delete-user disabled: %d %q, want 404 with no body", r.Status, r.Body)
	}
	if n := rowCount(t, a, "user"); n != 1 {
		t.Errorf("%d users", n)
	}
}

// TestRevokedSessions: revoked and signed-out sessions stop working at once.
func TestRevokedSessions(t *testing.T) {
	t.Parallel()
	a, srv := newTestServer(t, nil)
	c1, c2, c3 := newClient(t, a, srv), newClient(t, a, srv), newClient(t, a, srv)
	c1.signUp("multi@example.com", "password-123")
	tok2 := c2.signIn("multi@example.com", "password-123")["token"].(string)
	c3.signIn("multi@example.com", "password-123")
	other := newClient(t, a, srv)
	otherTok := other.signUp("other@example.com", "password-123")["token"].(string)

	list, _ := c1.get("/list-sessions").JSON(t).([]any)
	if len(list) != 3 {
		t.Fatalf("list-sessions shows %d sessions, want 3 (not the other user's)", len(list))
	}

	// Revoking another user's token answers true and deletes nothing.
	if r := c1.post("/revoke-session", map[string]any{"token": otherTok}); r.Status != 200 || string(r.Body) != `{"status":true}` {
		t.Errorf("revoke other user's session: %d %s", r.Status, r.Body)
	}
	if other.session() == nil {
		t.Error("revoking someone else's token killed their session")
	}

	r := c1.post("/revoke-session", map[string]any{"token": tok2})
	if r.Status != 200 || string(r.Body) != `{"status":true}` {
		t.Fatalf("revoke-session: %d %s", r.Status, r.Body)
	}
	if len(r.SetCookies()) != 0 {
		t.Errorf("revoking another session expired my cookies: %q", r.SetCookies())
	}
	if s := c2.session(); s != nil {
		t.Errorf("revoked session still answers: %v", s)
	}
	wantError(t, c2.post("/update-user", map[string]any{"name": "x"}), 401, "UNAUTHORIZED")
	if c1.session() == nil || c3.session() == nil {
		t.Fatal("revoke-session killed the wrong sessions")
	}

	// revoke-other-sessions keeps only the caller's.
	if r := c1.post("/revoke-other-sessions", nil); r.Status != 200 {
		t.Fatalf("revoke-other-sessions: %d %s", r.Status, r.Body)
	}
	if c3.session() != nil || c1.session() == nil {
		t.Error("revoke-other-sessions did not keep exactly the caller's session")
	}

	// Revoking my own token expires my cookies.
	c3.signIn("multi@example.com", "password-123")
	r = c1.post("/revoke-session", map[string]any{"token": sessionField(t, c1.session(), "token")})
	wantCookiesExpired(t, r)
	if c1.session() != nil {
		t.Error("own revoked session still answers")
	}

	// revoke-sessions ends all of them.
	r = c3.post("/revoke-sessions", nil)
	if r.Status != 200 {
		t.Fatalf("revoke-sessions: %d %s", r.Status, r.Body)
	}
	wantCookiesExpired(t, r)
	u, err := a.Host().FindUserByEmail(context.Background(), "multi@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if n := rowCount(t, a, "session", storage.W("userId", u.ID)); n != 0 {
		t.Errorf("%d sessions left after revoke-sessions", n)
	}

	// Sign-out deletes the row; replaying the old cookie gives nothing.
	c1.signIn("multi@example.com", "password-123")
	old := c1.cookie(sessCookie)
	r = c1.post("/sign-out", nil)
	if r.Status != 200 || string(r.Body) != `{"success":true}` {
		t.Errorf("sign-out: %d %s", r.Status, r.Body)
	}
	wantCookiesExpired(t, r)
	c1.setCookie(sessCookie, old)
	if s := c1.session(); s != nil {
		t.Errorf("signed-out cookie still works: %v", s)
	}
}

// TestChangePasswordRevokesOthers: revokeOtherSessions ends every other
// session and hands the caller a new one.
func TestChangePasswordRevokesOthers(t *testing.T) {
	t.Parallel()
	a, srv := newTestServer(t, nil)
	c1, c2 := newClient(t, a, srv), newClient(t, a, srv)
	oldTok := c1.signUp("pw@example.com", "password-one")["token"].(string)
	c2.signIn("pw@example.com", "password-one")

	wantError(t, c1.post("/change-password", map[string]any{"currentPassword": "wrong-one", "newPassword": "password-two"}), 400, "INVALID_PASSWORD")
	wantError(t, c1.post("/change-password", map[string]any{"currentPassword": "password-one", "newPassword": "short"}), 400, "PASSWORD_TOO_SHORT")

	// Without revoking: token null, other sessions live on.
	r := c1.post("/change-password", map[string]any{"currentPassword": "password-one", "newPassword": "password-two"})
	if r.Status != 200 {
		t.Fatalf("change-password: %d %s", r.Status, r.Body)
	}
	if tok := r.Object(t)["token"]; tok != nil {
		t.Errorf("token %v, want null without revokeOtherSessions", tok)
	}
	if c2.session() == nil {
		t.Fatal("change-password without revoking killed another session")
	}

	r = c1.post("/change-password", map[string]any{"currentPassword": "password-two", "newPassword": "password-three", "revokeOtherSessions": true})
	if r.Status != 200 {
		t.Fatalf("change-password: %d %s", r.Status, r.Body)
	}
	newTok, _ := r.Object(t)["token"].(string)
	if len(newTok) != 32 || newTok == oldTok {
		t.Fatalf("new token %q (old %q)", newTok, oldTok)
	}
	ck := parsedCookie(t, r, sessCookie)
	if v, ok := plugin.VerifyCookieValue(testSecret, ck.Value); !ok || v != newTok || ck.MaxAge != 604800 {
		t.Errorf("new session cookie %+v does not carry the new token", ck)
	}
	if got := sessionField(t, c1.session(), "token"); got != newTok {
		t.Errorf("caller's session token %q, want %q", got, newTok)
	}
	if s := c2.session(); s != nil {
		t.Errorf("other session survived revokeOtherSessions: %v", s)
	}
	if n := rowCount(t, a, "session"); n != 1 {
		t.Errorf("%d sessions, want 1", n)
	}
	if _, err := a.GetSession(context.Background(), oldTok); err == nil {
		t.Error("the caller's old session survived")
	}

	wantError(t, c2.post("/sign-in/email", map[string]any{"email": "pw@example.com", "password": "password-two"}), 401, "INVALID_EMAIL_OR_PASSWORD")
	c2.signIn("pw@example.com", "password-three")
}

// TestChangePasswordKeepsDontRemember: Better Auth's setSessionCookie reads
// the dont_remember cookie, so the new session cookie of change-password
// (revokeOtherSessions) stays a browser-session cookie (spec §2.6).
func TestChangePasswordKeepsDontRemember(t *testing.T) {
	t.Parallel()
	a, srv := newTestServer(t, nil)
	c := newClient(t, a, srv)
	c.signUp("dr@example.com", "password-one")
	c.signIn("dr@example.com", "password-one", map[string]any{"rememberMe": false})
	r := c.post("/change-password", map[string]any{"currentPassword": "password-one", "newPassword": "password-two", "revokeOtherSessions": true})
	if r.Status != 200 {
		t.Fatalf("change-password: %d %s", r.Status, r.Body)
	}
	if st, _ := r.SetCookie(sessCookie); strings.Contains(st, "Max-Age") {
		t.Errorf("session cookie %q: want no Max-Age while dont_remember is set", st)
	}
}

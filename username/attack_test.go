package username_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/twofactor"
	"github.com/managarten/mana-auth/username"
)

// attempt is what an attacker observes of a sign-in, and what it cost the
// server.
type attempt struct {
	Status           int
	Body             string
	Cookies          int
	Hashes, Verifies int64
	Checks           int // password checks the guard saw
}

func (e *env) attempt(body map[string]any) attempt {
	e.t.Helper()
	h0, v0 := e.hasher.hashes.Load(), e.hasher.verifies.Load()
	c0, _ := e.guard.seen()
	r := e.browser().post("/sign-in/username", body)
	c1, _ := e.guard.seen()
	return attempt{Status: r.status, Body: r.raw, Cookies: len(r.header.Values("Set-Cookie")),
		Hashes: e.hasher.hashes.Load() - h0, Verifies: e.hasher.verifies.Load() - v0, Checks: len(c1) - len(c0)}
}

// TestUnknownUsernameLikeWrongPassword: an unknown username, a wrong
// password and a user without a password answer alike, after the same
// hashing and the same password-check hooks.
func TestUnknownUsernameLikeWrongPassword(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		e := newEnv(t, envOpts{db: db})
		e.signUp("ada@example.com", map[string]any{"username": "ada_l"})
		// A user with a username and no password (signed up another way).
		if err := e.a.Host().CreateUser(context.Background(), &plugin.User{Name: "No Password", Email: "nopw@example.com",
			Extra: map[string]any{"username": "no_password"}}, nil); err != nil {
			t.Fatal(err)
		}
		want := attempt{Status: 401, Body: `{"message":"Invalid username or password","code":"INVALID_USERNAME_OR_PASSWORD"}`,
			Hashes: 0, Verifies: 1, Checks: 1}
		for name, body := range map[string]map[string]any{
			"wrong password":                     {"username": "ada_l", "password": "wrong-password"},
			"unknown username":                   {"username": "nobody_here", "password": "wrong-password"},
			"unknown, right password of another": {"username": "ada_x", "password": password},
			"no password":                        {"username": "no_password", "password": "wrong-password"},
		} {
			if d := cmp.Diff(want, e.attempt(body)); d != "" {
				t.Errorf("%s (-want +got):\n%s", name, d)
			}
		}
		ok := e.attempt(map[string]any{"username": "ada_l", "password": password})
		if ok.Status != 200 || ok.Verifies != 1 || ok.Hashes != 0 || ok.Checks != 1 {
			t.Errorf("right password: %+v", ok)
		}
	})
}

// TestLockout: the PasswordCheck hooks (a lockout) see username sign-ins
// as sign-ins of the user's email, counted with the email sign-ins; an
// unknown username is locked out like a known one, so the lockout tells
// nothing either.
func TestLockout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{lockAfter: 3})
	e.signUp("ada@example.com", map[string]any{"username": "ada_l"})
	b := e.browser()
	// Two failures by username and one by email lock the account.
	b.post("/sign-in/username", map[string]any{"username": "ADA_L", "password": "wrong-1"})
	b.post("/sign-in/username", map[string]any{"username": "ada_l", "password": "wrong-2"})
	b.post("/sign-in/email", map[string]any{"email": "ada@example.com", "password": "wrong-3"})
	checks, outcomes := e.guard.seen()
	if d := cmp.Diff([]string{"ada@example.com", "ada@example.com", "ada@example.com"}, checks); d != "" {
		t.Errorf("checked emails (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"INVALID_EMAIL_OR_PASSWORD", "INVALID_EMAIL_OR_PASSWORD", "INVALID_EMAIL_OR_PASSWORD"}, outcomes); d != "" {
		t.Errorf("outcomes (-want +got):\n%s", d)
	}
	locked := errBody{429, "ACCOUNT_LOCKED", "Too many attempts"}
	if d := cmp.Diff(locked, b.post("/sign-in/username", map[string]any{"username": "ada_l", "password": password}).err()); d != "" {
		t.Errorf("locked account, right password (-want +got):\n%s", d)
	}
	// An unknown username: the same three failures, then the same lock.
	for i := range 3 {
		r := b.post("/sign-in/username", map[string]any{"username": "ghost_user", "password": fmt.Sprint("wrong-", i)})
		if d := cmp.Diff(wrongSignIn, r.err()); d != "" {
			t.Errorf("unknown username, try %d (-want +got):\n%s", i, d)
		}
	}
	if d := cmp.Diff(locked, b.post("/sign-in/username", map[string]any{"username": "Ghost_User", "password": password}).err()); d != "" {
		t.Errorf("unknown username after three failures (-want +got):\n%s", d)
	}
	// Another unknown username is not locked with it.
	if d := cmp.Diff(wrongSignIn, b.post("/sign-in/username", map[string]any{"username": "ghost_two", "password": password}).err()); d != "" {
		t.Errorf("another unknown username (-want +got):\n%s", d)
	}
	checks, _ = e.guard.seen()
	for _, c := range checks[4:] { // after ada's three failures and her locked attempt
		if !strings.HasSuffix(c, "@username.invalid") || strings.Contains(c, "ghost") {
			t.Errorf("an unknown username was checked as %q", c)
		}
	}
}

// TestUsernameLikeEmail: a username is looked up among usernames only.
// Even with a validator that admits "@", naming yourself after another
// user's email signs no one into that user's account.
func TestUsernameLikeEmail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{opts: username.Options{MaxUsernameLength: 60,
		UsernameValidator: func(s string) bool { return !strings.ContainsAny(s, " ") }}})
	e.signUp("victim@example.com", map[string]any{"username": "victim"})
	e.signUp("mallory@example.com", map[string]any{"username": "Victim@Example.com"})
	r := e.browser().post("/sign-in/username", map[string]any{"username": "victim@example.com", "password": "victims-password"})
	if d := cmp.Diff(wrongSignIn, r.err()); d != "" {
		t.Errorf("the victim's email and password (-want +got):\n%s", d)
	}
	b := e.browser()
	r = b.post("/sign-in/username", map[string]any{"username": "VICTIM@example.com", "password": password})
	if r.status != 200 || b.sessionUser()["email"] != "mallory@example.com" {
		t.Errorf("%d %s: signed in as %v, want mallory", r.status, r.raw, b.sessionUser()["email"])
	}
}

// TestSignUpRace: sign-ups and updates that claim one username at once:
// exactly one wins, every other is 400 USERNAME_IS_ALREADY_TAKEN (the
// unique index decides), and nothing else is written.
func TestSignUpRace(t *testing.T) {
	t.Parallel()
	const n = 6
	forEachDB(t, func(t *testing.T, db string) {
		for _, noSession := range []bool{false, true} {
			e := newEnv(t, envOpts{db: db, authCfg: func(c *auth.Config) { c.EmailPassword.RequireEmailVerification = noSession }})
			statuses := race(n, func(i int) reply {
				return e.browser().post("/sign-up/email", map[string]any{"name": "Racer", "email": fmt.Sprintf("racer%d@example.com", i),
					"password": password, "username": []string{"Contested", "CONTESTED", "contested"}[i%3]})
			})
			checkRace(t, fmt.Sprintf("sign-up (no session %t)", noSession), statuses)
			if got := e.count(plugin.TableUser); got != 1 {
				t.Errorf("no session %t: %d users, want 1", noSession, got)
			}
			if got := e.count(plugin.TableAccount); got != 1 {
				t.Errorf("no session %t: %d accounts, want 1", noSession, got)
			}
		}

		e := newEnv(t, envOpts{db: db})
		browsers := make([]*browser, n)
		for i := range browsers {
			browsers[i] = e.signUp(fmt.Sprintf("upd%d@example.com", i), nil)
		}
		statuses := race(n, func(i int) reply {
			return browsers[i].post("/update-user", map[string]any{"username": []string{"Contested", "CONTESTED", "contested"}[i%3]})
		})
		checkRace(t, "update-user", statuses)
		if got := e.count(plugin.TableUser, storage.W("username", "contested")); got != 1 {
			t.Errorf("%d users hold the name", got)
		}
	})
}

// sessionRequest returns a request carrying b's cookies.
func sessionRequest(t *testing.T, b *browser) *http.Request {
	t.Helper()
	req, err := http.NewRequest("GET", b.e.srv.URL+"/api/auth/get-session", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range b.jar.Cookies(req.URL) {
		req.AddCookie(c)
	}
	return req
}

// race runs f(0…n-1) at once and returns the replies.
func race(n int, f func(i int) reply) []reply {
	var wg sync.WaitGroup
	start := make(chan struct{})
	out := make([]reply, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i] = f(i)
		}()
	}
	close(start)
	wg.Wait()
	return out
}

func checkRace(t *testing.T, what string, replies []reply) {
	t.Helper()
	wins := 0
	for _, r := range replies {
		switch {
		case r.status == 200:
			wins++
		case r.err() != taken:
			t.Errorf("%s: %d %s, want 200 or USERNAME_IS_ALREADY_TAKEN", what, r.status, r.raw)
		}
	}
	if wins != 1 {
		t.Errorf("%s: %d winners, want 1", what, wins)
	}
}

// TestTakeOverAttempts: a signed-in user cannot take another's username
// however it is spelled, nor reach another user's row through the body.
func TestTakeOverAttempts(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		e := newEnv(t, envOpts{db: db})
		e.signUp("victim@example.com", map[string]any{"username": "victim", "displayUsername": "Victim"})
		m := e.signUp("mallory@example.com", map[string]any{"username": "mallory"})
		for _, body := range []map[string]any{
			{"username": "victim"},
			{"username": "VICTIM"},
			{"username": "Victim", "displayUsername": "Victim"},
			{"username": "victim", "id": "x"},
			{"displayUsername": "victim", "username": "victim"},
		} {
			if d := cmp.Diff(taken, m.post("/update-user", body).err()); d != "" {
				t.Errorf("%v (-want +got):\n%s", body, d)
			}
		}
		// Unicode that lower-cases or folds to the name is no username.
		for _, name := range []string{"vıctim", "ｖｉｃｔｉｍ", "victim\u200b", "Victim\u0000"} {
			if d := cmp.Diff(invalid, m.post("/update-user", map[string]any{"username": name}).err()); d != "" {
				t.Errorf("%q (-want +got):\n%s", name, d)
			}
		}
		if n := e.count(plugin.TableUser, storage.W("username", "victim")); n != 1 {
			t.Errorf("%d users named victim", n)
		}
		if d := cmp.Diff(map[string]any{"username": "mallory", "displayUsername": "mallory"}, names(m.sessionUser())); d != "" {
			t.Errorf("mallory (-want +got):\n%s", d)
		}
	})
}

// TestLoginCSRF: sign-in by username has the core's login CSRF guard.
func TestLoginCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.signUp("ada@example.com", map[string]any{"username": "ada_l"})
	body := map[string]any{"username": "ada_l", "password": password}
	cases := []struct {
		name string
		hdr  map[string]string
		want errBody
	}{
		{"foreign origin", map[string]string{"Origin": "https://evil.example"}, errBody{403, "INVALID_ORIGIN", "Invalid origin"}},
		{"cross-site navigation", map[string]string{"Origin": "", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"},
			errBody{403, "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED", "Cross-site navigation login blocked. This request appears to be a CSRF attack."}},
	}
	for _, tc := range cases {
		r := e.browser().doH("POST", "/sign-in/username", body, tc.hdr)
		if d := cmp.Diff(tc.want, r.err()); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, d)
		}
	}
	if _, outcomes := e.guard.seen(); len(outcomes) != 0 {
		t.Errorf("refused requests reached the password check: %v", outcomes)
	}
}

// TestSecondFactor: a user with a second factor who signs in by username
// is asked for it; no session is created.
func TestSecondFactor(t *testing.T) {
	t.Parallel()
	tf := twofactor.New(twofactor.Options{OTP: true})
	e := newEnv(t, envOpts{plugins: []auth.Plugin{tf}})
	b := e.signUp("ada@example.com", map[string]any{"username": "ada_l"})
	sd, err := e.a.Host().Session(sessionRequest(t, b))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tf.Enable(context.Background(), sd, twofactor.EnableInput{Password: password, Method: twofactor.MethodOTP}); err != nil {
		t.Fatal(err)
	}
	sessions := e.count(plugin.TableSession)
	b2 := e.browser()
	r := b2.post("/sign-in/username", map[string]any{"username": "ada_l", "password": password})
	if r.status != 200 || r.body["twoFactorRedirect"] != true {
		t.Fatalf("%d %s, want twoFactorRedirect", r.status, r.raw)
	}
	if !strings.Contains(strings.Join(r.header.Values("Set-Cookie"), "\n"), "better-auth.two_factor=") {
		t.Error("no pending second-factor cookie")
	}
	if e.count(plugin.TableSession) != sessions || b2.session() != nil {
		t.Error("a session exists before the second factor")
	}
}

// TestEmailNotVerified: with RequireEmailVerification an unverified user
// is refused 403 EMAIL_NOT_VERIFIED, and sent a link when SendOnSignIn.
func TestEmailNotVerified(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{authCfg: func(c *auth.Config) {
		c.EmailPassword.RequireEmailVerification = true
		c.EmailVerification.SendOnSignIn = true
	}})
	e.signUp("ada@example.com", map[string]any{"username": "ada_l"})
	if err := e.a.Shutdown(context.Background()); err != nil { // the sign-up's own mail first
		t.Fatal(err)
	}
	before := len(e.box.Sent())
	r := e.browser().post("/sign-in/username", map[string]any{"username": "ada_l", "password": password})
	if d := cmp.Diff(errBody{403, "EMAIL_NOT_VERIFIED", "Email not verified"}, r.err()); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if err := e.a.Shutdown(context.Background()); err != nil { // the mail leaves in the background
		t.Fatal(err)
	}
	if got := len(e.box.Sent()) - before; got != 1 {
		t.Errorf("%d mails sent, want 1", got)
	}
	// A wrong password says nothing about verification.
	if d := cmp.Diff(wrongSignIn, e.browser().post("/sign-in/username", map[string]any{"username": "ada_l", "password": "nope-nope"}).err()); d != "" {
		t.Errorf("wrong password (-want +got):\n%s", d)
	}
}

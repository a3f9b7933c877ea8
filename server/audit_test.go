package server

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pquerna/otp/totp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/passkey"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/twofactor"
)

// The attacker tests of issue 17 (an outside audit), over HTTP against the
// whole reference server, on each storage.

// The audit's account pre-hijack up to the admin role: with
// MANA_ADMIN_EMAILS=admin@…, an attacker signs up admin@… first. They must
// not be answered role admin, must not reach /api/v1/admin, and must lose
// the account — password and session — when the real admin verifies the
// address through a new link, who then holds the admin role.
func TestAdminAddressPreHijack(t *testing.T) {
	t.Parallel()
	for _, requireVerified := range []bool{false, true} {
		t.Run(fmt.Sprintf("email verification required %v", requireVerified), func(t *testing.T) {
			t.Parallel()
			onEachStore(t, func(c *Config) { c.RequireEmailVerification = requireVerified }, func(t *testing.T, env *e2e) {
				const admin, attackerPW = "admin@example.com", "attacker-password"
				r := env.post(t, "/api/auth/sign-up/email", `{"name":"Mallory","email":"`+admin+`","password":"`+attackerPW+`"}`)
				want(t, "the attacker's sign-up", r, 200, "")
				if role := obj(r.body["user"])["role"]; role == RoleAdmin {
					t.Fatalf("the attacker's sign-up answered role %v", role)
				}
				attacker := cookieOf(r, "mana.session_token")
				if attacker == "" && !requireVerified {
					t.Fatalf("no session for the sign-up: %s", r.raw)
				}
				if !requireVerified {
					want(t, "the attacker on an admin route", env.get(t, "/api/v1/admin/users", "Cookie", attacker), 403, "FORBIDDEN")
					r = env.post(t, "/api/v1/auth/session-to-token", "", "Cookie", attacker)
					want(t, "session-to-token", r, 200, "")
					if c := env.verifyOffline(t, str(r.body["accessToken"])); c.Role != RoleUser {
						t.Fatalf("the attacker's access token says role %q", c.Role)
					}
				}
				// The real admin: the sign-up's mail went to their mailbox;
				// they ignore it and ask for a new link, and open it.
				env.waitMails(admin, 1)
				want(t, "resend", env.post(t, "/api/v1/auth/resend-verification", `{"email":"`+admin+`"}`), 200, "")
				mails := env.waitMails(admin, 2)
				if len(mails) < 2 {
					t.Fatalf("%d mails to %s, want 2", len(mails), admin)
				}
				r = env.get(t, strings.TrimPrefix(mails[len(mails)-1].URL, env.s.cfg.BaseURL))
				if r.status != 302 && r.status != 200 {
					t.Fatalf("verify: %d %s", r.status, r.raw)
				}
				owner := cookieOf(r, "mana.session_token")
				if owner == "" {
					t.Fatalf("no session after verifying: %v", r.header["Set-Cookie"])
				}
				want(t, "the owner on an admin route", env.get(t, "/api/v1/admin/users", "Cookie", owner), 200, "")
				// The attacker is out: password and session.
				r = env.post(t, "/api/auth/sign-in/email", `{"email":"`+admin+`","password":"`+attackerPW+`"}`)
				want(t, "the attacker's password", r, 401, "INVALID_EMAIL_OR_PASSWORD")
				if attacker != "" {
					r = env.get(t, "/api/auth/get-session", "Cookie", attacker)
					if r.status != 200 || r.raw != "null" {
						t.Fatalf("the attacker's session after the owner verified: %d %s", r.status, r.raw)
					}
				}
			})
		})
	}
}

// Every first factor the one who signed up in someone else's name set on
// the account goes when its owner takes it over through the mailbox:
// password, sessions, passkeys. Their second factor stays — the take-over
// comes from the mailbox alone, and a second factor must hold against the
// mailbox (for a real user whose mailbox is broken into, it is the last
// guard) — so a squatter's authenticator can at worst keep the owner
// waiting at the second step, never let the squatter back in.
func TestPreHijackDropsEveryFirstFactor(t *testing.T) {
	t.Parallel()
	onEachStore(t, nil, func(t *testing.T, env *e2e) {
		ctx := context.Background()
		const victim, attackerPW = "victim@example.com", "attacker-password"
		r := env.post(t, "/api/auth/sign-up/email", `{"name":"Mallory","email":"`+victim+`","password":"`+attackerPW+`"}`)
		want(t, "the attacker's sign-up", r, 200, "")
		attacker := cookieOf(r, "mana.session_token")
		id := str(obj(r.body["user"])["id"])
		r = env.post(t, "/api/auth/two-factor/enable", `{"password":"`+attackerPW+`"}`, "Cookie", attacker)
		want(t, "two-factor enable", r, 200, "")
		uri, _ := url.Parse(str(r.body["totpURI"]))
		code, err := totp.GenerateCode(uri.Query().Get("secret"), env.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		r = env.post(t, "/api/auth/two-factor/verify-totp", `{"code":"`+code+`"}`, "Cookie", attacker)
		want(t, "verify-totp", r, 200, "")
		attacker = cookieOf(r, "mana.session_token") // the session was rotated
		if err := env.s.db.Create(ctx, passkey.TablePasskey, storage.Record{"id": plugin.NewID(), "name": "mallory's key",
			"publicKey": "pk", "userId": id, "credentialID": "cred-1", "counter": int64(0), "deviceType": "singleDevice",
			"backedUp": false, "createdAt": env.clock.Now()}); err != nil {
			t.Fatal(err)
		}

		// The owner asks for a link and opens it.
		env.waitMails(victim, 1)
		want(t, "resend", env.post(t, "/api/v1/auth/resend-verification", `{"email":"`+victim+`"}`), 200, "")
		mails := env.waitMails(victim, 2)
		r = env.get(t, strings.TrimPrefix(mails[len(mails)-1].URL, env.s.cfg.BaseURL))
		if r.body["twoFactorRedirect"] != true || cookieOf(r, "mana.session_token") != "" {
			t.Fatalf("verify: %d %s %v", r.status, r.raw, r.header["Set-Cookie"])
		}
		left := map[string]int64{}
		for _, tb := range []string{plugin.TableAccount, plugin.TableSession, passkey.TablePasskey, twofactor.TableTwoFactor} {
			left[tb] = env.count(t, tb, storage.W("userId", id))
		}
		if diff := cmp.Diff(map[string]int64{plugin.TableAccount: 0, plugin.TableSession: 0, passkey.TablePasskey: 0, twofactor.TableTwoFactor: 1}, left); diff != "" {
			t.Errorf("rows of the account after the take-over (-want +got):\n%s", diff)
		}
		if u := mustFindUser(t, env, id); !u.EmailVerified {
			t.Error("the address is not verified")
		}
		want(t, "the attacker's password", env.post(t, "/api/auth/sign-in/email", `{"email":"`+victim+`","password":"`+attackerPW+`"}`), 401, "INVALID_EMAIL_OR_PASSWORD")
		if r := env.get(t, "/api/auth/get-session", "Cookie", attacker); r.raw != "null" {
			t.Errorf("the attacker's session: %d %s", r.status, r.raw)
		}
	})
}

// The role of MANA_ADMIN_EMAILS is granted at start only to verified
// addresses, and taken from unverified admins; the admin routes check the
// address too, and `admin grant` refuses an unverified one.
func TestAdminRoleOnlyForVerifiedAddresses(t *testing.T) {
	t.Parallel()
	db := testStores[1].open(t)
	env := newE2EOn(t, db, nil)
	ctx := context.Background()
	h := testPasswordHash()
	mk := func(email string, verified bool, role string) *auth.User {
		u := &auth.User{Name: "x", Email: email, EmailVerified: verified}
		if err := env.s.auth.Host().CreateUser(ctx, u, &plugin.Account{ID: plugin.NewID(), ProviderID: plugin.CredentialProvider, Password: &h}); err != nil {
			t.Fatal(err)
		}
		if _, err := env.s.db.Update(ctx, plugin.TableUser, storage.Record{"role": role}, storage.W("id", u.ID)); err != nil {
			t.Fatal(err)
		}
		return u
	}
	listed := mk("admin@example.com", false, RoleUser) // in MANA_ADMIN_EMAILS, unverified
	stale := mk("stale@example.com", false, RoleAdmin) // an admin row from before
	if err := env.s.promoteAdmins(ctx); err != nil {
		t.Fatal(err)
	}
	roles := map[string]string{}
	for _, u := range []*auth.User{listed, stale} {
		got, err := env.s.auth.Host().FindUserByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		roles[u.Email] = userRole(got)
	}
	if diff := cmp.Diff(map[string]string{"admin@example.com": RoleUser, "stale@example.com": RoleUser}, roles); diff != "" {
		t.Fatalf("roles after start (-want +got):\n%s", diff)
	}
	// A role admin written behind the server's back still opens nothing.
	if _, err := env.s.db.Update(ctx, plugin.TableUser, storage.Record{"role": RoleAdmin}, storage.W("id", stale.ID)); err != nil {
		t.Fatal(err)
	}
	s := env.session(t, stale)
	want(t, "an unverified admin", env.get(t, "/api/v1/admin/users", "Cookie", s.cookie), 403, "FORBIDDEN")
	if err := setAdmin(ctx, env.s.db, "stale@example.com", true); err == nil || !strings.Contains(err.Error(), "verified") {
		t.Fatalf("admin grant of an unverified address: %v", err)
	}
}

// Login CSRF: a page on another site must not sign the browser in to an
// account of the attacker's, through /api/v1 no more than through
// /api/auth. Refused with 403 in the v1 envelope, no cookie set.
func TestV1LoginCSRF(t *testing.T) {
	t.Parallel()
	env := newE2E(t, nil)
	u := env.seed(t, "csrf@example.com")
	for _, tc := range []struct {
		name, path, body string
		hdr              []string
		status           int
		code             string
	}{
		{"login from a foreign origin", "/api/v1/auth/login", `{"email":"` + u.email + `","password":"` + testPassword + `"}`,
			[]string{"Origin", "https://evil.example"}, 403, "INVALID_ORIGIN"},
		{"register from a foreign origin", "/api/v1/auth/register", `{"email":"new-csrf@example.com","password":"` + testPassword + `"}`,
			[]string{"Origin", "https://evil.example"}, 403, "INVALID_ORIGIN"},
		{"login by a cross-site navigation", "/api/v1/auth/login", `{"email":"` + u.email + `","password":"` + testPassword + `"}`,
			[]string{"Origin", "", "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate"}, 403, "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED"},
		{"login from a trusted origin", "/api/v1/auth/login", `{"email":"` + u.email + `","password":"` + testPassword + `"}`,
			[]string{"Origin", "https://app.mana.how"}, 200, ""},
		{"login without a browser (no Origin)", "/api/v1/auth/login", `{"email":"` + u.email + `","password":"` + testPassword + `"}`,
			[]string{"Origin", ""}, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := env.post(t, tc.path, tc.body, tc.hdr...)
			want(t, tc.name, r, tc.status, tc.code)
			if tc.status != 200 && len(r.header.Values("Set-Cookie")) > 0 {
				t.Fatalf("cookies set on a refusal: %v", r.header["Set-Cookie"])
			}
		})
	}
	if n := env.count(t, plugin.TableUser, storage.W("email", "new-csrf@example.com")); n != 0 {
		t.Fatal("the refused register created the user")
	}
}

// Logging out with the access token (the JWT /login answers with) ends its
// session; an invalid one is an error, never a success that ended nothing.
func TestV1LogoutWithAccessToken(t *testing.T) {
	t.Parallel()
	env := newE2E(t, nil)
	u := env.seed(t, "logout@example.com")
	other := env.session(t, mustFindUser(t, env, u.id)) // a second session, left alone
	want(t, "a forged token", env.post(t, "/api/v1/auth/logout", "", bearer(forgeJWT(t, u.jwt))...), 401, "UNAUTHORIZED")
	want(t, "session still there", env.get(t, "/api/v1/auth/session", bearer(u.token)...), 200, "")
	want(t, "logout with the access token", env.post(t, "/api/v1/auth/logout", "", bearer(u.jwt)...), 200, "")
	r := env.get(t, "/api/auth/get-session", bearer(u.token)...)
	if r.status != 200 || r.raw != "null" {
		t.Fatalf("the token's session after logout: %d %s", r.status, r.raw)
	}
	want(t, "the other session", env.get(t, "/api/v1/auth/session", bearer(other.token)...), 200, "")
}

// Every check of a password is counted against guessing: a stolen session
// cannot try passwords without limit on verify-password, delete-user,
// change-password, the v1 account routes or two-factor management. Five
// wrong guesses lock the email (sign-in too); a lock refuses before any
// hashing, the right password included.
func TestPasswordChecksAreCounted(t *testing.T) {
	t.Parallel()
	routes := []struct {
		name, method, path, body string
	}{
		{"verify-password", "POST", "/api/auth/verify-password", `{"password":"%s"}`},
		{"delete-user", "POST", "/api/auth/delete-user", `{"password":"%s"}`},
		{"change-password", "POST", "/api/auth/change-password", `{"currentPassword":"%s","newPassword":"another-password-1"}`},
		{"v1 change-password", "POST", "/api/v1/auth/change-password", `{"currentPassword":"%s","newPassword":"another-password-1"}`},
		{"v1 delete account", "DELETE", "/api/v1/auth/account", `{"password":"%s"}`},
		{"two-factor enable", "POST", "/api/auth/two-factor/enable", `{"password":"%s"}`},
	}
	for _, rt := range routes {
		t.Run(rt.name, func(t *testing.T) {
			t.Parallel()
			env := newE2E(t, func(c *Config) { c.Secret = "an-e2e-test-secret-of-enough-length!!" })
			u := env.seed(t, "guess-"+strings.ReplaceAll(rt.name, " ", "-")+"@example.com")
			try := func(pw string) resp {
				return env.do(t, req{method: rt.method, path: rt.path, body: strings.Replace(rt.body, "%s", pw, 1), hdr: []string{"Cookie", u.cookie}})
			}
			for i := range 5 {
				if r := try("wrong-guess-" + string(rune('a'+i))); r.status == 200 || r.status == 429 {
					t.Fatalf("wrong guess %d: %d %s", i+1, r.status, r.raw)
				}
			}
			r := try(testPassword)
			if r.status != 429 || errCode(r) != "ACCOUNT_LOCKED" {
				t.Fatalf("the right password after five wrong ones: %d %s, want 429 ACCOUNT_LOCKED", r.status, r.raw)
			}
			r = env.post(t, "/api/auth/sign-in/email", `{"email":"`+u.email+`","password":"`+testPassword+`"}`)
			want(t, "sign-in while locked", r, 429, "ACCOUNT_LOCKED")
		})
	}
}

// A trust_device cookie skips the second factor on every sign-in route
// alike: /api/v1/auth/login honours it (and rotates it) as
// /api/auth/sign-in/email does.
func TestTrustedDeviceOnEverySignInRoute(t *testing.T) {
	t.Parallel()
	env := newE2E(t, nil)
	u := env.seed(t, "trusted@example.com")
	r := env.post(t, "/api/auth/two-factor/enable", `{"password":"`+testPassword+`"}`, "Cookie", u.cookie)
	want(t, "enable", r, 200, "")
	uri, _ := url.Parse(str(r.body["totpURI"]))
	secret := uri.Query().Get("secret")
	code := func() string {
		env.clock.Advance(30 * time.Second) // each step is accepted once
		c, err := totp.GenerateCode(secret, env.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	want(t, "verify-totp", env.post(t, "/api/auth/two-factor/verify-totp", `{"code":"`+code()+`"}`, "Cookie", u.cookie), 200, "")
	r = env.post(t, "/api/v1/auth/login", `{"email":"`+u.email+`","password":"`+testPassword+`"}`)
	if r.body["twoFactorRedirect"] != true {
		t.Fatalf("login without a trusted device: %s", r.raw)
	}
	r = env.post(t, "/api/auth/two-factor/verify-totp", `{"code":"`+code()+`","trustDevice":true}`, "Cookie", cookieOf(r, "mana.two_factor"))
	want(t, "verify-totp, trusting the device", r, 200, "")
	trust := cookieOf(r, "mana.trust_device")
	if trust == "" {
		t.Fatalf("no trust_device cookie: %v", r.header["Set-Cookie"])
	}
	for _, route := range []string{"/api/v1/auth/login", "/api/auth/sign-in/email", "/api/v1/auth/login"} {
		r = env.post(t, route, `{"email":"`+u.email+`","password":"`+testPassword+`"}`, "Cookie", trust)
		want(t, route+" from the trusted device", r, 200, "")
		if r.body["twoFactorRedirect"] != nil || cookieOf(r, "mana.session_token") == "" {
			t.Fatalf("%s from the trusted device: %s %v", route, r.raw, r.header["Set-Cookie"])
		}
		next := cookieOf(r, "mana.trust_device")
		if next == "" || next == trust {
			t.Fatalf("%s: the trust_device cookie was not rotated: %v", route, r.header["Set-Cookie"])
		}
		trust = next
	}
}

// verifyAddress marks the user's address verified as its owner's click
// on the sign-up's link does.
func verifyAddress(t *testing.T, s *Server, id string) {
	t.Helper()
	u, err := s.auth.Host().FindUserByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.auth.Host().MarkEmailVerified(context.Background(), u, true); err != nil {
		t.Fatal(err)
	}
}

func mustFindUser(t *testing.T, env *e2e, id string) *auth.User {
	t.Helper()
	u, err := env.s.auth.Host().FindUserByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// The v1 routes that check a password or mail someone are as strictly
// rate-limited per IP as the /api/auth routes they wrap (3 per 10 s).
func TestV1StrictRateRules(t *testing.T) {
	t.Parallel()
	for _, rt := range []struct{ method, path, body string }{
		{"POST", "/api/v1/auth/change-email", `{"newEmail":"someone@example.com"}`},
		{"POST", "/api/v1/auth/change-password", `{"currentPassword":"wrong-password","newPassword":"another-password-1"}`},
		{"DELETE", "/api/v1/auth/account", `{"password":"wrong-password"}`},
	} {
		t.Run(rt.path, func(t *testing.T) {
			t.Parallel()
			env := newE2E(t, nil)
			u := env.seed(t, "strict@example.com")
			var got []int
			for range 4 {
				r := env.do(t, req{method: rt.method, path: rt.path, body: rt.body, hdr: []string{"Cookie", u.cookie, "X-Forwarded-For", "203.0.113.9"}})
				got = append(got, r.status)
			}
			if got[3] != 429 || slices.Contains(got[:3], 429) {
				t.Fatalf("statuses %v, want the 4th (only) to be 429", got)
			}
		})
	}
}

// TWO_FACTOR_OTP turns codes by mail on as a second factor users may
// choose; off (the default), enabling them is refused.
func TestTwoFactorOTPSwitch(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{false, true} {
		env := newE2E(t, func(c *Config) { c.TwoFactorOTP = on })
		u := env.seed(t, "otp@example.com")
		r := env.post(t, "/api/auth/two-factor/enable", `{"password":"`+testPassword+`","method":"otp"}`, "Cookie", u.cookie)
		if on {
			want(t, "enable otp, TWO_FACTOR_OTP=true", r, 200, "")
		} else {
			want(t, "enable otp, TWO_FACTOR_OTP unset", r, 400, "OTP_NOT_CONFIGURED")
		}
	}
}

package oauth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/oauth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/twofactor"
)

// oauthUser signs alice up through the provider on a new browser and
// returns it with her account's id.
func (e *env) oauthUser(t *testing.T) (*browser, string) {
	t.Helper()
	b := e.browser()
	location(t, b.flow("/api/auth/sign-in/social", map[string]any{"callbackURL": "/"}, alice))
	accs := e.accounts(alice.Email)
	if len(accs) != 1 {
		t.Fatalf("accounts %+v", accs)
	}
	return b, accs[0].ID
}

func TestListAccounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	b, u := e.passwordUser(t, alice.Email)
	location(t, b.flow("/api/auth/link-social", map[string]any{"callbackURL": "/"}, alice))
	r := b.do("GET", "/api/auth/list-accounts", nil)
	if r.status != 200 || len(r.list) != 2 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	type row struct {
		ProviderID, AccountID, UserID string
		Scopes                        []any
		Keys                          []string
	}
	var got []row
	for _, x := range r.list {
		m := x.(map[string]any)
		var keys []string
		for k := range m {
			keys = append(keys, k)
		}
		got = append(got, row{m["providerId"].(string), m["accountId"].(string), m["userId"].(string), m["scopes"].([]any), sortStrings(keys)})
	}
	keys := []string{"accountId", "createdAt", "id", "providerId", "scopes", "updatedAt", "userId"}
	want := []row{
		{"credential", u.ID, u.ID, []any{}, keys},
		{providerID, alice.ID, u.ID, []any{"openid", "email", "profile", "offline_access"}, keys},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("list-accounts (-want +got):\n%s", diff)
	}
	if strings.Contains(r.raw, "password") || strings.Contains(r.raw, "Token") {
		t.Fatalf("list-accounts leaks secrets: %s", r.raw)
	}
	if r := e.browser().do("GET", "/api/auth/list-accounts", nil); r.status != 401 || r.str("code") != "UNAUTHORIZED" {
		t.Fatalf("no session: %d %s", r.status, r.raw)
	}
}

func sortStrings(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

func TestUnlinkAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	b, oauthID := e.oauthUser(t)
	// The last account: refused first, even for an unknown id.
	for _, id := range []string{oauthID, "nope"} {
		if r := b.do("POST", "/api/auth/unlink-account", map[string]any{"accountId": id}); r.status != 400 || r.str("code") != "FAILED_TO_UNLINK_LAST_ACCOUNT" {
			t.Fatalf("unlink last (%s): %d %s", id, r.status, r.raw)
		}
	}
	if r := b.do("POST", "/api/auth/unlink-account", map[string]any{"providerId": providerID}); r.status != 400 || r.str("code") != "VALIDATION_ERROR" {
		t.Fatalf("providerId: %d %s", r.status, r.raw)
	}
	// A second account (link a second provider id of the same user).
	e2 := newEnv(t, envOpts{cfg: func(c *oauth.Config) {
		second := c.Providers[0]
		second.ID = "second"
		c.Providers = append(c.Providers, second)
	}})
	b2, first := e2.oauthUser(t)
	location(t, b2.flow("/api/auth/link-social", map[string]any{"provider": "second", "callbackURL": "/"}, alice))
	other, _ := e2.passwordUser(t, "other@example.com")
	if r := other.do("POST", "/api/auth/unlink-account", map[string]any{"accountId": first}); r.status != 400 {
		t.Fatalf("someone else's account: %d %s", r.status, r.raw)
	}
	if r := b2.do("POST", "/api/auth/unlink-account", map[string]any{"accountId": alice.ID}); r.status != 400 || r.str("code") != "ACCOUNT_NOT_FOUND" {
		t.Fatalf("the provider's account id is not the row id: %d %s", r.status, r.raw)
	}
	if r := b2.do("POST", "/api/auth/unlink-account", map[string]any{"accountId": first}); r.status != 200 || r.body["status"] != true {
		t.Fatalf("unlink: %d %s", r.status, r.raw)
	}
	if diff := cmp.Diff([]string{"second:" + alice.ID}, providersOf(e2.accounts(alice.Email))); diff != "" {
		t.Fatalf("accounts (-want +got):\n%s", diff)
	}
}

func TestAccessTokens(t *testing.T) {
	t.Parallel()
	for _, encrypt := range []bool{false, true} {
		name := "plain"
		if encrypt {
			name = "encrypted"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{cfg: func(c *oauth.Config) { c.EncryptTokens = encrypt }})
			b, id := e.oauthUser(t)
			stored := e.accounts(alice.Email)[0]

			r := b.do("POST", "/api/auth/get-access-token", map[string]any{"accountId": id})
			if r.status != 200 || r.str("accessToken") == "" || r.str("accessTokenExpiresAt") == "" || r.str("idToken") == "" {
				t.Fatalf("get-access-token: %d %s", r.status, r.raw)
			}
			first := r.str("accessToken")
			if encrypt == (first == *stored.AccessToken) {
				t.Fatalf("stored %q, answered %q: encryption at rest is %v", *stored.AccessToken, first, encrypt)
			}
			if encrypt && (strings.Contains(*stored.RefreshToken, first) || *stored.RefreshToken == "") {
				t.Fatal("refresh token not sealed")
			}
			if r := b.do("POST", "/api/auth/get-access-token", map[string]any{"accountId": id}); r.str("accessToken") != first {
				t.Fatalf("an unexpired token is answered as stored: %s", r.raw)
			}
			// Past its expiry the token is refreshed at the provider first.
			e.clock.Advance(time.Hour)
			r = b.do("POST", "/api/auth/get-access-token", map[string]any{"accountId": id})
			if r.status != 200 || r.str("accessToken") == "" || r.str("accessToken") == first {
				t.Fatalf("expired token not refreshed: %d %s", r.status, r.raw)
			}
			refreshed := r.str("accessToken")
			if got := e.accounts(alice.Email)[0]; !got.AccessTokenExpiresAt.After(e.clock.Now()) {
				t.Fatalf("refreshed expiry not stored: %v", got.AccessTokenExpiresAt)
			}
			// refresh-token always refreshes.
			r = b.do("POST", "/api/auth/refresh-token", map[string]any{"accountId": id})
			if r.status != 200 || r.str("accessToken") == refreshed || r.str("refreshToken") == "" ||
				r.str("providerId") != providerID || r.str("accountId") != id || r.str("scope") == "" {
				t.Fatalf("refresh-token: %d %s", r.status, r.raw)
			}
			// account-info reads the provider's profile with the token.
			r = b.do("GET", "/api/auth/account-info?accountId="+id, nil)
			user, _ := r.body["user"].(map[string]any)
			data, _ := r.body["data"].(map[string]any)
			acc, _ := r.body["account"].(map[string]any)
			if r.status != 200 || user["email"] != alice.Email || user["emailVerified"] != true || data["id"] != alice.ID ||
				data["sub"] != alice.ID || acc["id"] != id || acc["providerId"] != providerID || acc["accountId"] != alice.ID {
				t.Fatalf("account-info: %d %s", r.status, r.raw)
			}
		})
	}
}

func TestAccessTokenErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	b, _ := e.passwordUser(t, alice.Email)
	location(t, b.flow("/api/auth/link-social", map[string]any{"callbackURL": "/"}, alice))
	var oauthID string
	for _, a := range e.accounts(alice.Email) {
		if a.ProviderID == providerID {
			oauthID = a.ID
		}
	}
	credID := e.accounts(alice.Email)[0].ID
	other, _ := e.passwordUser(t, "other@example.com")
	for _, path := range []string{"/api/auth/get-access-token", "/api/auth/refresh-token"} {
		cases := []struct {
			b      *browser
			body   map[string]any
			status int
			code   string
		}{
			{e.browser(), map[string]any{"accountId": oauthID}, 401, ""},
			{b, map[string]any{"providerId": providerID}, 400, "VALIDATION_ERROR"},
			{b, map[string]any{"accountId": "nope"}, 400, "ACCOUNT_NOT_FOUND"},
			{other, map[string]any{"accountId": oauthID}, 400, "ACCOUNT_NOT_FOUND"},
			{b, map[string]any{"accountId": credID}, 400, "PROVIDER_NOT_SUPPORTED"},
		}
		for _, c := range cases {
			r := c.b.do("POST", path, c.body)
			if r.status != c.status || r.str("code") != c.code || (c.status == 401 && r.raw != "") {
				t.Errorf("%s %v: %d %q, want %d %s", path, c.body, r.status, r.raw, c.status, c.code)
			}
		}
	}
	if r := b.do("POST", "/api/auth/get-access-token", map[string]any{"accountId": credID}); r.str("message") != "Provider credential is not supported." {
		t.Errorf("message %q", r.str("message"))
	}
	// The provider down while the token must be refreshed.
	e.clock.Advance(time.Hour)
	e.op.SetDown(true)
	if r := b.do("POST", "/api/auth/get-access-token", map[string]any{"accountId": oauthID}); r.status != 400 || r.str("code") != "FAILED_TO_GET_ACCESS_TOKEN" {
		t.Fatalf("refresh failing: %d %s", r.status, r.raw)
	}
	if r := b.do("POST", "/api/auth/refresh-token", map[string]any{"accountId": oauthID}); r.status != 400 || r.str("code") != "FAILED_TO_REFRESH_ACCESS_TOKEN" {
		t.Fatalf("refresh failing: %d %s", r.status, r.raw)
	}
}

// TestPlainTokensStillRead: tokens stored before EncryptTokens was turned
// on are read as they are.
func TestPlainTokensStillRead(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{cfg: func(c *oauth.Config) { c.EncryptTokens = true }})
	b, id := e.oauthUser(t)
	if _, err := e.db.Update(context.Background(), plugin.TableAccount, storage.Record{"accessToken": "plain-old-token"}, storage.W("id", id)); err != nil {
		t.Fatal(err)
	}
	if r := b.do("POST", "/api/auth/get-access-token", map[string]any{"accountId": id}); r.str("accessToken") != "plain-old-token" {
		t.Fatalf("%d %s", r.status, r.raw)
	}
}

// TestSecondFactor: a user with a second factor signing in through a
// provider is asked for it; no session is created before.
func TestSecondFactor(t *testing.T) {
	t.Parallel()
	tf := twofactor.New(twofactor.Options{OTP: true})
	e := newEnv(t, envOpts{plugins: []plugin.Plugin{tf}})
	b, _ := e.passwordUser(t, alice.Email)
	sd, err := e.a.Host().Session(sessionRequest(t, b))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tf.Enable(context.Background(), sd, twofactor.EnableInput{Password: "local-password-1", Method: twofactor.MethodOTP}); err != nil {
		t.Fatal(err)
	}
	sessions := e.count(plugin.TableSession)
	b2 := e.browser()
	r := b2.flow("/api/auth/sign-in/social", map[string]any{"callbackURL": "/home"}, alice)
	loc := location(t, r)
	if loc.Path != "/home" || loc.Query().Get("twoFactorRedirect") != "true" {
		t.Fatalf("redirect %s, want /home?twoFactorRedirect=true", loc)
	}
	cookies := strings.Join(r.header.Values("Set-Cookie"), "\n")
	if !strings.Contains(cookies, "better-auth.two_factor=") {
		t.Fatalf("no pending second-factor cookie: %s", cookies)
	}
	if e.count(plugin.TableSession) != sessions || b2.session() != nil {
		t.Fatal("a session exists before the second factor")
	}
}

package oauth_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testoidc"
	"github.com/managarten/mana-auth/oauth"
	"github.com/managarten/mana-auth/plugin"
)

// passwordUser signs a verified password user up and in on a new browser.
func (e *env) passwordUser(t *testing.T, email string) (*browser, *plugin.User) {
	t.Helper()
	ctx := context.Background()
	res, err := e.a.SignUpEmail(ctx, auth.SignUpInput{Email: email, Password: "local-password-1", Name: "Local"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.Host().MarkEmailVerified(ctx, res.User, true); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	if r := b.do("POST", "/api/auth/sign-in/email", map[string]any{"email": email, "password": "local-password-1"}); r.status != 200 {
		t.Fatalf("sign-in: %d %s", r.status, r.raw)
	}
	return b, res.User
}

func providersOf(accs []*plugin.Account) []string {
	var out []string
	for _, a := range accs {
		out = append(out, a.ProviderID+":"+a.AccountID)
	}
	return out
}

func TestLinkSocial(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		user      testoidc.User // signs in at the provider
		allowDiff bool
		prelinked bool // the provider account already belongs to another user
		revoke    bool // the session that began the link ends before the callback
		wantError string
	}{
		{name: "same email", user: alice},
		{name: "different email", user: bob, wantError: "email_does_not_match"},
		{name: "different email allowed", user: bob, allowDiff: true},
		{name: "provider email unverified", user: mallory, allowDiff: true, wantError: "unable_to_link_account"},
		{name: "linked to another user", user: carol, allowDiff: true, prelinked: true, wantError: "account_already_linked_to_different_user"},
		{name: "session ended", user: alice, revoke: true, wantError: "unable_to_link_account"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{cfg: func(c *oauth.Config) { c.AccountLinking.AllowDifferentEmails = tc.allowDiff }})
			if tc.prelinked {
				location(t, e.browser().flow("/api/auth/sign-in/social", nil, carol))
			}
			b, u := e.passwordUser(t, alice.Email)
			authURL := b.start("/api/auth/link-social", map[string]any{"callbackURL": "/linked", "errorCallbackURL": "/link-error"})
			if tc.revoke {
				if r := b.do("POST", "/api/auth/revoke-sessions", map[string]any{}); r.status != 200 {
					t.Fatalf("revoke-sessions: %d %s", r.status, r.raw)
				}
			}
			sessions := e.count(plugin.TableSession)
			r := b.callback(e.op.Login(t, authURL, tc.user.ID))
			loc := location(t, r)
			if e.count(plugin.TableSession) != sessions {
				t.Fatal("a link callback created a session")
			}
			got := providersOf(e.accounts(alice.Email))
			if tc.wantError != "" {
				if loc.Path != "/link-error" || loc.Query().Get("error") != tc.wantError {
					t.Fatalf("redirect %s, want error %s", loc, tc.wantError)
				}
				if diff := cmp.Diff([]string{"credential:" + u.ID}, got); diff != "" {
					t.Fatalf("accounts changed on a refusal (-want +got):\n%s", diff)
				}
				return
			}
			if loc.String() != "/linked" {
				t.Fatalf("redirect %s", loc)
			}
			if diff := cmp.Diff([]string{"credential:" + u.ID, providerID + ":" + tc.user.ID}, got); diff != "" {
				t.Fatalf("accounts (-want +got):\n%s", diff)
			}
			// Linking again updates the account, adds none.
			location(t, b.flow("/api/auth/link-social", map[string]any{"callbackURL": "/linked"}, tc.user))
			if n := len(e.accounts(alice.Email)); n != 2 {
				t.Fatalf("%d accounts after linking twice", n)
			}
			// The linked account signs the same user in.
			b2 := e.browser()
			location(t, b2.flow("/api/auth/sign-in/social", nil, tc.user))
			if su, _ := b2.session()["user"].(map[string]any); su["id"] != u.ID {
				t.Fatalf("signed in as %v, want %s", su, u.ID)
			}
		})
	}
}

func TestLinkSocialNeedsASession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	r := e.browser().do("POST", "/api/auth/link-social", map[string]any{"provider": providerID})
	if r.status != 401 || r.str("code") != "UNAUTHORIZED" {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	b, _ := e.passwordUser(t, alice.Email)
	if r := b.do("POST", "/api/auth/link-social", map[string]any{"provider": "nope"}); r.status != 404 || r.str("code") != "PROVIDER_NOT_FOUND" {
		t.Fatalf("%d %s", r.status, r.raw)
	}
}

func TestLinkSocialIDToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	b, u := e.passwordUser(t, alice.Email)
	redirect := e.srv.URL + "/api/auth/callback/" + providerID
	bobToken, bobAccess := e.idTokenFor(t, clientID, clientSecret, redirect, bob.ID, "n1")
	if r := b.do("POST", "/api/auth/link-social", map[string]any{"provider": providerID,
		"idToken": map[string]any{"token": bobToken, "accessToken": bobAccess}}); r.status != 401 || r.str("code") != "LINKING_DIFFERENT_EMAILS_NOT_ALLOWED" {
		t.Fatalf("different email: %d %s", r.status, r.raw)
	}
	aliceToken, aliceAccess := e.idTokenFor(t, clientID, clientSecret, redirect, alice.ID, "n2")
	r := b.do("POST", "/api/auth/link-social", map[string]any{"provider": providerID,
		"idToken": map[string]any{"token": aliceToken, "accessToken": aliceAccess}})
	if r.status != 200 || r.body["status"] != true || r.body["redirect"] != false {
		t.Fatalf("link: %d %s", r.status, r.raw)
	}
	if diff := cmp.Diff([]string{"credential:" + u.ID, providerID + ":" + alice.ID}, providersOf(e.accounts(alice.Email))); diff != "" {
		t.Fatalf("accounts (-want +got):\n%s", diff)
	}
	// Another user cannot link the same provider account, even when
	// different emails are allowed.
	e2 := newEnv(t, envOpts{cfg: func(c *oauth.Config) { c.AccountLinking.AllowDifferentEmails = true }})
	location(t, e2.browser().flow("/api/auth/sign-in/social", nil, alice))
	b2, _ := e2.passwordUser(t, "someone@example.com")
	tok, access := e2.idTokenFor(t, clientID, clientSecret, e2.srv.URL+"/api/auth/callback/"+providerID, alice.ID, "n3")
	if r := b2.do("POST", "/api/auth/link-social", map[string]any{"provider": providerID,
		"idToken": map[string]any{"token": tok, "accessToken": access}}); r.status != 409 || r.str("code") != "SOCIAL_ACCOUNT_ALREADY_LINKED" {
		t.Fatalf("foreign link: %d %s", r.status, r.raw)
	}
}

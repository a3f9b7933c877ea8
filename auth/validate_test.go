package auth_test

import (
	"fmt"
	"testing"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/magiclink"
	"github.com/managarten/mana-auth/mail"
)

// TestHiddenCharactersOverHTTP: every route that takes a name answers a
// name with bidi, invisible or control characters 400 INVALID_NAME and
// stores nothing; an email address with such a character is refused as
// every other invalid address is on that route.
func TestHiddenCharactersOverHTTP(t *testing.T) {
	t.Parallel()
	box := &mail.Recorder{}
	a, srv := newTestServer(t, func(c *auth.Config) { c.Mailer = box }, magiclink.New(magiclink.Options{}))
	owner := newClient(t, a, srv)
	owner.signUp("owner@example.com", "password-123")

	names := []string{"Ada\u202e", "Ada \u202egro.elpmaxe.live\u202c", "\u2066Ada\u2069", "Ada\u200b", "Ada\u200f", "\ufeffAda", "Ada\U000E0041", "Ada\u2028", "Ada\x1b[31m"}
	for i, name := range names {
		t.Run(fmt.Sprintf("name %+q", name), func(t *testing.T) {
			email := fmt.Sprintf("n%d@example.com", i)
			c := newClient(t, a, srv)
			wantError(t, c.post("/sign-up/email", map[string]any{"name": name, "email": email, "password": "password-123"}), 400, "INVALID_NAME")
			wantError(t, c.post("/sign-in/magic-link", map[string]any{"name": name, "email": email}), 400, "INVALID_NAME")
			if n := rowCount(t, a, "user"); n != 1 {
				t.Errorf("%d users, want only the owner", n)
			}
			wantError(t, owner.post("/update-user", map[string]any{"name": name}), 400, "INVALID_NAME")
			if got := owner.session()["user"].(map[string]any)["name"]; got != "Test User" {
				t.Errorf("name after update-user = %q", got)
			}
		})
	}
	if sent := box.Sent(); len(sent) != 0 {
		t.Errorf("%d mails sent, want none", len(sent))
	}

	emails := []string{"x@example.com\u200b", "x\u200d@example.com", "x\u202e@example.com", "x\u00a0y@example.com", "\u0430da@example.com"}
	for _, email := range emails {
		t.Run(fmt.Sprintf("email %+q", email), func(t *testing.T) {
			c := newClient(t, a, srv)
			e := wantError(t, c.post("/sign-up/email", map[string]any{"name": "X", "email": email, "password": "password-123"}), 400, "VALIDATION_ERROR")
			if e.Message != "[body.email] Invalid email address" {
				t.Errorf("sign-up message %q", e.Message)
			}
			wantError(t, c.post("/sign-in/email", map[string]any{"email": email, "password": "password-123"}), 400, "INVALID_EMAIL")
			wantError(t, c.post("/sign-in/magic-link", map[string]any{"email": email}), 400, "VALIDATION_ERROR")
			if n := rowCount(t, a, "user"); n != 1 {
				t.Errorf("%d users, want only the owner", n)
			}
		})
	}
}

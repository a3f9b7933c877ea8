package magiclink_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/magiclink"
	"github.com/managarten/mana-auth/mail"
)

// TestMailNeverShowsTheRequestedName: the name in a magic-link request is
// for the account the link creates, and the requester need not own the
// mailbox, so the mail never carries it: a verified owner is greeted by
// their own name, anyone else by none. The name a new user gets is the
// requested one.
func TestMailNeverShowsTheRequestedName(t *testing.T) {
	t.Parallel()
	const injected = "Ada. Your account is suspended, confirm at https://evil.example.com/restore"
	tests := []struct {
		name     string
		setup    func(t *testing.T, a *auth.Auth) // the account at the address, if any
		greet    string                           // the name the mail may show
		wantName string                           // the user's name after the link is used
	}{
		{name: "new address", greet: "", wantName: injected},
		{name: "verified user", greet: "Owner Name", wantName: "Owner Name",
			setup: func(t *testing.T, a *auth.Auth) {
				if err := a.Host().CreateUser(context.Background(), &auth.User{Name: "Owner Name", Email: "to@example.com", EmailVerified: true}, nil); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "unverified user", greet: "", wantName: "Squatter",
			setup: func(t *testing.T, a *auth.Auth) {
				if _, err := a.SignUpEmail(context.Background(), auth.SignUpInput{Name: "Squatter", Email: "to@example.com", Password: "password123"}); err != nil {
					t.Fatal(err)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, magiclink.Options{})
			if tt.setup != nil {
				tt.setup(t, e.a)
			}
			r := e.do(t, "POST", "/api/auth/sign-in/magic-link", map[string]any{"email": "to@example.com", "name": injected})
			if r.status != 200 {
				t.Fatalf("send: %d %s", r.status, r.raw)
			}
			e.box.links() // waits for the mail queue
			sent := e.box.Sent()
			if len(sent) != 1 {
				t.Fatalf("%d mails sent", len(sent))
			}
			if sent[0].Name != tt.greet {
				t.Errorf("mail to %s has Name %q, want %q", sent[0].To, sent[0].Name, tt.greet)
			}
			msg, err := mail.Render(sent[0])
			if err != nil {
				t.Fatal(err)
			}
			for part, s := range map[string]string{"To name": msg.Name, "subject": msg.Subject, "text": msg.Text, "HTML": msg.HTML} {
				if strings.Contains(s, "suspended") || strings.Contains(s, "evil.example.com") {
					t.Errorf("the requested name is in the mail's %s:\n%s", part, s)
				}
			}
			greeting := "Hi,"
			if tt.greet != "" {
				greeting = "Hi " + tt.greet + ","
			}
			if !strings.HasPrefix(msg.Text, greeting) {
				t.Errorf("text does not start with %q:\n%s", greeting, msg.Text)
			}
			if r := e.do(t, "GET", sent[0].URL, nil); r.status != 302 || !hasSessionCookie(r.header) {
				t.Fatalf("verify: %d %s", r.status, r.raw)
			}
			u, err := e.a.Host().FindUserByEmail(context.Background(), "to@example.com")
			if err != nil || u.Name != tt.wantName || !u.EmailVerified {
				t.Errorf("user = %+v, %v; want name %q, verified", u, err, tt.wantName)
			}
		})
	}
}

// TestVerifyDropsAnUncheckedName: a link whose stored name is not a valid
// name (issued by Better Auth, which does not check it) signs the new user
// up without it.
func TestVerifyDropsAnUncheckedName(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, stored, want string }{
		{"valid", "Ada Lovelace", "Ada Lovelace"},
		{"bidi override", "Ada \u202egro.elpmaxe\u202c", ""},
		{"newline", "Ada\nLovelace", ""},
		{"isolates", "\u2066Ada\u2069", ""},
		{"409 characters", strings.Repeat("n", 409), ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, magiclink.Options{})
			token := strings.Repeat("t", 31) + string(rune('a'+i))
			val, _ := json.Marshal(map[string]string{"type": "magic-link", "email": "old@example.com", "name": tt.stored})
			if err := e.a.Host().CreateVerification(context.Background(), "magic-link:"+token, string(val), time.Minute); err != nil {
				t.Fatal(err)
			}
			if r := e.do(t, "GET", "/api/auth/magic-link/verify?token="+token+"&callbackURL=%2F", nil); r.status != 302 || !hasSessionCookie(r.header) {
				t.Fatalf("verify: %d %s", r.status, r.raw)
			}
			u, err := e.a.Host().FindUserByEmail(context.Background(), "old@example.com")
			if err != nil || u.Name != tt.want {
				t.Errorf("user = %+v, %v; want name %q", u, err, tt.want)
			}
		})
	}
}

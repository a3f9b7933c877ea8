package twofactor_test

import (
	"context"
	"testing"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/twofactor"
)

// TestOTPMailGreetsOnlyAVerifiedOwner: the name of an account whose
// address was never verified was chosen by whoever signed it up, who need
// not own the mailbox, so a code mailed to that address greets nobody by
// name.
func TestOTPMailGreetsOnlyAVerifiedOwner(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		verified bool
		want     string
	}{
		{"unverified address", false, ""},
		{"verified address", true, "Jo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{mailer: true, tf: twofactor.Options{OTP: true}})
			u := e.enrollOTP(t, "jo@example.com") // named "Jo"
			if tt.verified {
				if _, err := e.a.Host().DB().Update(context.Background(), plugin.TableUser, storage.Record{"emailVerified": true}, storage.W("id", u.id)); err != nil {
					t.Fatal(err)
				}
			}
			b := e.browser()
			b.pending(t, u)
			ok(t, b.post(t, "/two-factor/send-otp", nil))
			if got := e.box.last(t, plugin.EmailOTP).Name; got != tt.want {
				t.Errorf("OTP mail greets %q, want %q", got, tt.want)
			}
		})
	}
}

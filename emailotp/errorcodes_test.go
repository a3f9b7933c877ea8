package emailotp_test

import (
	"testing"

	"github.com/managarten/mana-auth/emailotp"
	"github.com/managarten/mana-auth/plugin/plugintest"
)

// TestErrorCodes checks ErrorCodes (plugin.ErrorSource) against every error
// the package declares: Better Auth's three. The core's codes the routes
// answer with (INVALID_EMAIL, INVALID_IMAGE, …) are built per request and
// not declared.
func TestErrorCodes(t *testing.T) {
	t.Parallel()
	p, err := emailotp.New(emailotp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	plugintest.CheckErrorCodes(t, p, ".", []plugintest.ErrorCase{
		{Name: "ErrOTPExpired", Err: emailotp.ErrOTPExpired, Decl: emailotp.ErrOTPExpired},
		{Name: "ErrInvalidOTP", Err: emailotp.ErrInvalidOTP, Decl: emailotp.ErrInvalidOTP},
		{Name: "ErrTooManyAttempts", Err: emailotp.ErrTooManyAttempts, Decl: emailotp.ErrTooManyAttempts},
	})
}

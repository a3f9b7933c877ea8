package twofactor_test

import (
	"testing"

	"github.com/managarten/mana-auth/plugin/plugintest"
	"github.com/managarten/mana-auth/twofactor"
)

// TestErrorCodes checks ErrorCodes (plugin.ErrorSource) against every error
// the package declares: Decl is the error that declares each one's code
// (itself, another of the package's, or the core's).
func TestErrorCodes(t *testing.T) {
	t.Parallel()
	plugintest.CheckErrorCodes(t, twofactor.New(twofactor.Options{}), ".", []plugintest.ErrorCase{
		{Name: "ErrOTPNotEnabled", Err: twofactor.ErrOTPNotEnabled, Decl: twofactor.ErrOTPNotEnabled},
		{Name: "ErrOTPNotConfigured", Err: twofactor.ErrOTPNotConfigured, Decl: twofactor.ErrOTPNotConfigured},
		{Name: "ErrOTPHasExpired", Err: twofactor.ErrOTPHasExpired, Decl: twofactor.ErrOTPHasExpired},
		{Name: "ErrTOTPNotEnabled", Err: twofactor.ErrTOTPNotEnabled, Decl: twofactor.ErrTOTPNotEnabled},
		{Name: "ErrTOTPAlreadyEnabled", Err: twofactor.ErrTOTPAlreadyEnabled, Decl: twofactor.ErrTOTPAlreadyEnabled},
		{Name: "ErrTOTPNotConfigured", Err: twofactor.ErrTOTPNotConfigured, Decl: twofactor.ErrTOTPNotConfigured},
		{Name: "ErrTwoFactorNotEnabled", Err: twofactor.ErrTwoFactorNotEnabled, Decl: twofactor.ErrTwoFactorNotEnabled},
		{Name: "ErrBackupCodesNotEnabled", Err: twofactor.ErrBackupCodesNotEnabled, Decl: twofactor.ErrBackupCodesNotEnabled},
		{Name: "ErrInvalidBackupCode", Err: twofactor.ErrInvalidBackupCode, Decl: twofactor.ErrInvalidBackupCode},
		{Name: "ErrInvalidCode", Err: twofactor.ErrInvalidCode, Decl: twofactor.ErrInvalidCode},
		{Name: "ErrTooManyAttempts", Err: twofactor.ErrTooManyAttempts, Decl: twofactor.ErrTooManyAttempts},
		{Name: "ErrAccountLocked", Err: twofactor.ErrAccountLocked, Decl: twofactor.ErrAccountLocked},
		{Name: "ErrInvalidTwoFactorCookie", Err: twofactor.ErrInvalidTwoFactorCookie, Decl: twofactor.ErrInvalidTwoFactorCookie},
	})
}

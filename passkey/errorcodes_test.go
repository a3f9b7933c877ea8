package passkey_test

import (
	"testing"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/passkey"
	"github.com/managarten/mana-auth/plugin/plugintest"
)

// TestErrorCodes checks ErrorCodes (plugin.ErrorSource) against every error
// the package declares: Decl is the error that declares each one's code
// (itself, another of the package's, or the core's).
func TestErrorCodes(t *testing.T) {
	t.Parallel()
	plugintest.CheckErrorCodes(t, passkey.New(passkey.Options{}), ".", []plugintest.ErrorCase{
		{Name: "ErrChallengeNotFound", Err: passkey.ErrChallengeNotFound, Decl: passkey.ErrChallengeNotFound},
		{Name: "ErrNotAllowedToRegister", Err: passkey.ErrNotAllowedToRegister, Decl: passkey.ErrNotAllowedToRegister},
		{Name: "ErrFailedToVerifyRegistration", Err: passkey.ErrFailedToVerifyRegistration, Decl: passkey.ErrFailedToVerifyRegistration},
		{Name: "ErrPasskeyNotFound", Err: passkey.ErrPasskeyNotFound, Decl: passkey.ErrPasskeyNotFound},
		{Name: "ErrPasskeyNotFoundByID", Err: passkey.ErrPasskeyNotFoundByID, Decl: passkey.ErrPasskeyNotFound},
		{Name: "ErrAuthenticationFailed", Err: passkey.ErrAuthenticationFailed, Decl: passkey.ErrAuthenticationFailed},
		{Name: "ErrInvalidSignature", Err: passkey.ErrInvalidSignature, Decl: passkey.ErrAuthenticationFailed},
		{Name: "ErrUserNotFound", Err: passkey.ErrUserNotFound, Decl: auth.ErrUserNotFound},
		{Name: "ErrFailedToUpdatePasskey", Err: passkey.ErrFailedToUpdatePasskey, Decl: passkey.ErrFailedToUpdatePasskey},
		{Name: "ErrNotOwner", Err: passkey.ErrNotOwner, Decl: auth.ErrUnauthorized},
	})
}

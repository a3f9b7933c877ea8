package passkey

import (
	"errors"
	"net/http"

	"github.com/managarten/mana-auth/plugin"
)

// The plugin's errors. Codes, messages and statuses are Better Auth's
// (PASSKEY_ERROR_CODES), except where the package doc says otherwise.
var (
	// ErrChallengeNotFound: no challenge cookie, or its challenge is
	// unknown, expired, already used or of the other ceremony.
	ErrChallengeNotFound = plugin.NewError(http.StatusBadRequest, "CHALLENGE_NOT_FOUND", "Challenge not found")
	// ErrNotAllowedToRegister: the registration challenge was issued to
	// another user, or update-passkey targets another user's passkey.
	ErrNotAllowedToRegister = plugin.NewError(http.StatusUnauthorized, "YOU_ARE_NOT_ALLOWED_TO_REGISTER_THIS_PASSKEY", "You are not allowed to register this passkey")
	// ErrFailedToVerifyRegistration: the attestation did not verify (wrong
	// origin, RP ID, challenge, malformed response, credential already
	// registered, …).
	ErrFailedToVerifyRegistration = plugin.NewError(http.StatusBadRequest, "FAILED_TO_VERIFY_REGISTRATION", "Failed to verify registration")
	// ErrPasskeyNotFound (401) answers an assertion for an unknown
	// credential.
	ErrPasskeyNotFound = plugin.NewError(http.StatusUnauthorized, "PASSKEY_NOT_FOUND", "Passkey not found")
	// ErrPasskeyNotFoundByID (404) answers update or delete of an unknown
	// passkey id.
	ErrPasskeyNotFoundByID = plugin.NewError(http.StatusNotFound, "PASSKEY_NOT_FOUND", "Passkey not found")
	// ErrAuthenticationFailed (400): the assertion did not verify (origin,
	// RP ID, challenge, flags, user handle, signature counter, …).
	ErrAuthenticationFailed = plugin.NewError(http.StatusBadRequest, "AUTHENTICATION_FAILED", "Authentication failed")
	// ErrInvalidSignature (401, code AUTHENTICATION_FAILED): the assertion
	// signature is not valid for the stored public key.
	ErrInvalidSignature = plugin.NewError(http.StatusUnauthorized, "AUTHENTICATION_FAILED", "Authentication failed")
	// ErrUserNotFound: the passkey's owner is gone.
	ErrUserNotFound = plugin.NewError(http.StatusInternalServerError, "USER_NOT_FOUND", "User not found")
	// ErrFailedToUpdatePasskey: the passkey vanished while being renamed.
	ErrFailedToUpdatePasskey = plugin.NewError(http.StatusInternalServerError, "FAILED_TO_UPDATE_PASSKEY", "Failed to update passkey")
	// ErrNotOwner: delete-passkey targets another user's passkey. The HTTP
	// route answers it as Better Auth does: 401 with an empty body.
	ErrNotOwner = plugin.NewError(http.StatusUnauthorized, "UNAUTHORIZED", "Unauthorized")
)

var _ plugin.ErrorSource = (*Plugin)(nil)

// ErrorCodes implements plugin.ErrorSource: the package's own codes, once
// each. ErrPasskeyNotFoundByID and ErrInvalidSignature are the same codes
// as ErrPasskeyNotFound and ErrAuthenticationFailed on other routes, with
// other statuses; ErrUserNotFound and ErrNotOwner carry the core's codes
// USER_NOT_FOUND and UNAUTHORIZED and are not declared here.
func (p *Plugin) ErrorCodes() []*plugin.Error {
	return []*plugin.Error{
		ErrChallengeNotFound, ErrNotAllowedToRegister, ErrFailedToVerifyRegistration,
		ErrPasskeyNotFound, ErrAuthenticationFailed, ErrFailedToUpdatePasskey,
	}
}

// Causes carried (errors.Is) by ErrAuthenticationFailed and
// ErrFailedToVerifyRegistration for Go callers; they are logged, never sent.
var (
	// ErrCounterNotIncreased: the authenticator's signature counter did not
	// exceed the stored one although one of them is non-zero — the
	// credential's private key may have been cloned.
	ErrCounterNotIncreased = errors.New("passkey: signature counter did not increase (possible cloned authenticator)")
	// ErrUserHandleMismatch: the assertion's user handle is not the one of
	// the credential's owner.
	ErrUserHandleMismatch = errors.New("passkey: user handle does not match the credential's owner")
	// ErrCredentialExists: the credential ID is already registered.
	ErrCredentialExists = errors.New("passkey: credential already registered")
	// ErrWrongUser: the authentication options were issued to a signed-in
	// user who does not own the credential.
	ErrWrongUser = errors.New("passkey: credential does not belong to the user the challenge was issued to")
)

func missingParam(name string) error {
	return plugin.NewError(http.StatusBadRequest, "", "Missing required parameter: "+name)
}

package auth

import (
	"fmt"
	"net/http"

	"github.com/managarten/mana-auth/plugin"
)

// The core errors. Codes and messages are Better Auth's.
var (
	ErrInvalidEmailOrPassword      = plugin.NewError(http.StatusUnauthorized, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password")
	ErrInvalidEmail                = plugin.NewError(http.StatusBadRequest, "INVALID_EMAIL", "Invalid email")
	ErrUserAlreadyExistsUseAnother = plugin.NewError(http.StatusUnprocessableEntity, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL", "User already exists. Use another email.")
	ErrUserAlreadyExists           = plugin.NewError(http.StatusUnprocessableEntity, "USER_ALREADY_EXISTS", "User already exists.")
	ErrFailedToCreateUser          = plugin.NewError(http.StatusUnprocessableEntity, "FAILED_TO_CREATE_USER", "Failed to create user")
	ErrPasswordTooShort            = plugin.NewError(http.StatusBadRequest, "PASSWORD_TOO_SHORT", "Password too short")
	ErrPasswordTooLong             = plugin.NewError(http.StatusBadRequest, "PASSWORD_TOO_LONG", "Password too long")
	ErrEmailNotVerified            = plugin.NewError(http.StatusForbidden, "EMAIL_NOT_VERIFIED", "Email not verified")
	ErrEmailPasswordDisabled       = plugin.NewError(http.StatusBadRequest, "EMAIL_PASSWORD_DISABLED", "Email and password is not enabled")
	ErrSignUpDisabled              = plugin.NewError(http.StatusBadRequest, "EMAIL_PASSWORD_SIGN_UP_DISABLED", "Email and password sign up is not enabled")
	ErrUnauthorized                = plugin.NewError(http.StatusUnauthorized, "UNAUTHORIZED", "Unauthorized")
	ErrSessionNotFresh             = plugin.NewError(http.StatusForbidden, "SESSION_NOT_FRESH", "Session is not fresh")
	ErrSessionExpired              = plugin.NewError(http.StatusBadRequest, "SESSION_EXPIRED", "Session expired. Re-authenticate to perform this action.")
	ErrInvalidPassword             = plugin.NewError(http.StatusBadRequest, "INVALID_PASSWORD", "Invalid password")
	ErrCredentialAccountNotFound   = plugin.NewError(http.StatusBadRequest, "CREDENTIAL_ACCOUNT_NOT_FOUND", "Credential account not found")
	ErrInvalidToken                = plugin.NewError(http.StatusBadRequest, "INVALID_TOKEN", "Invalid token")
	ErrTokenExpired                = plugin.NewError(http.StatusUnauthorized, "TOKEN_EXPIRED", "Token expired")
	ErrUserNotFound                = plugin.NewError(http.StatusBadRequest, "USER_NOT_FOUND", "User not found")
	ErrEmailCanNotBeUpdated        = plugin.NewError(http.StatusBadRequest, "EMAIL_CAN_NOT_BE_UPDATED", "Email can not be updated")
	ErrInvalidOrigin               = plugin.NewError(http.StatusForbidden, "INVALID_ORIGIN", "Invalid origin")
	ErrMissingOrNullOrigin         = plugin.NewError(http.StatusForbidden, "MISSING_OR_NULL_ORIGIN", "Missing or null Origin")
	ErrInvalidCallbackURL          = plugin.NewError(http.StatusForbidden, "INVALID_CALLBACK_URL", "Invalid callbackURL")
	ErrInvalidRedirectURL          = plugin.NewError(http.StatusForbidden, "INVALID_REDIRECT_URL", "Invalid redirectURL")
	ErrInvalidErrorCallbackURL     = plugin.NewError(http.StatusForbidden, "INVALID_ERROR_CALLBACK_URL", "Invalid errorCallbackURL")
	ErrInvalidNewUserCallbackURL   = plugin.NewError(http.StatusForbidden, "INVALID_NEW_USER_CALLBACK_URL", "Invalid newUserCallbackURL")
	ErrCrossSiteNavigation         = plugin.NewError(http.StatusForbidden, "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED", "Cross-site navigation login blocked. This request appears to be a CSRF attack.")
	ErrFailedToCreateSession       = plugin.NewError(http.StatusUnauthorized, "FAILED_TO_CREATE_SESSION", "Failed to create session")
	ErrFailedToGetSession          = plugin.NewError(http.StatusUnauthorized, "FAILED_TO_GET_SESSION", "Failed to get session")
	ErrDeferSessionRequired        = plugin.NewError(http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED", "POST method requires deferSessionRefresh to be enabled in session config")
	ErrBodyMustBeObject            = plugin.NewError(http.StatusBadRequest, "BODY_MUST_BE_AN_OBJECT", "Body must be an object")
	ErrFieldNotAllowed             = plugin.NewError(http.StatusBadRequest, "FIELD_NOT_ALLOWED", "Field is not allowed to be set")
	ErrBadRequest                  = plugin.NewError(http.StatusBadRequest, "BAD_REQUEST", "Bad request")
	ErrInvalidJSON                 = plugin.NewError(http.StatusBadRequest, "BAD_REQUEST", "Invalid JSON in request body")
	ErrUnsupportedMediaType        = plugin.NewError(http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", "Content-Type is not allowed. Allowed types: application/json")
	ErrBodyTooLarge                = plugin.NewError(http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE", "Request body is too large")
	ErrTooManyRequests             = plugin.NewError(http.StatusTooManyRequests, "", "Too many requests. Please try again later.")
	ErrBusy                        = plugin.NewError(http.StatusServiceUnavailable, "SERVICE_BUSY", "The server is busy. Please try again later.")
	ErrNotFound                    = plugin.NewError(http.StatusNotFound, "NOT_FOUND", "Not Found")
	ErrFailedToUnlinkLastAccount   = plugin.NewError(http.StatusBadRequest, "FAILED_TO_UNLINK_LAST_ACCOUNT", "You can't unlink your last account")
	ErrAccountNotFound             = plugin.NewError(http.StatusBadRequest, "ACCOUNT_NOT_FOUND", "Account not found")
)

// coreErrors are the errors of the core and of the plugin API, whose codes
// no plugin may declare with another status.
func coreErrors() []*Error {
	return []*Error{
		ErrVerificationEmailNotEnabled, ErrEmailAlreadyVerified, ErrEmailMismatch, ErrResetPasswordDisabled,
		ErrChangeEmailDisabled, ErrInvalidUser, ErrEmailSendFailed, ErrInvalidEmailOrPassword, ErrInvalidEmail,
		ErrUserAlreadyExistsUseAnother, ErrUserAlreadyExists, ErrFailedToCreateUser, ErrPasswordTooShort,
		ErrPasswordTooLong, ErrEmailNotVerified, ErrEmailPasswordDisabled, ErrSignUpDisabled, ErrUnauthorized,
		ErrSessionNotFresh, ErrSessionExpired, ErrInvalidPassword, ErrCredentialAccountNotFound, ErrInvalidToken,
		ErrTokenExpired, ErrUserNotFound, ErrEmailCanNotBeUpdated, ErrInvalidOrigin, ErrMissingOrNullOrigin,
		ErrInvalidCallbackURL, ErrInvalidRedirectURL, ErrInvalidErrorCallbackURL, ErrInvalidNewUserCallbackURL,
		ErrCrossSiteNavigation, ErrFailedToCreateSession, ErrFailedToGetSession, ErrDeferSessionRequired,
		ErrBodyMustBeObject, ErrFieldNotAllowed, ErrBadRequest, ErrInvalidJSON, ErrUnsupportedMediaType,
		ErrBodyTooLarge, ErrBusy, ErrNotFound, ErrInvalidImage, ErrFailedToUnlinkLastAccount, ErrAccountNotFound,
		plugin.ErrValidation, plugin.ErrInvalidInput, plugin.ErrUnavailable, plugin.ErrInternal, plugin.ErrInvalidName,
	}
}

// errorCodes maps each declared code to its status and declarer.
type errorCodes map[string]declaration

// declaration is who declared an error code, and with which status.
type declaration struct {
	status int
	by     string
}

// add records the codes of errs, declared by by. errors.Is matches errors
// by code, so a code declared twice must mean one error: another status
// is refused. Code-less errors are not declarations.
func (m errorCodes) add(by string, errs []*Error) error {
	for _, e := range errs {
		if e == nil || e.Code == "" {
			continue
		}
		prev, ok := m[e.Code]
		if !ok {
			m[e.Code] = declaration{e.Status, by}
		} else if prev.status != e.Status {
			return fmt.Errorf("auth: %s declares error code %s with status %d; %s declares it with %d",
				by, e.Code, e.Status, prev.by, prev.status)
		}
	}
	return nil
}

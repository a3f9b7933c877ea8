package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/managarten/mana-auth/storage"
)

// Error is the error type of every operation. Status is the HTTP status the
// handler answers with, Code a stable machine-readable code (Better Auth's
// where one exists), Message a text safe to show a user. Err, if set, holds
// debug detail that is logged but never sent to a client. RetryAfter, if
// positive, says when to try again: the handler sends it as a Retry-After
// header (whole seconds, rounded up).
type Error struct {
	Status     int
	Code       string
	Message    string
	Err        error
	RetryAfter time.Duration
}

// Error returns "CODE: message" (the user-safe message), with the
// cause in parentheses when there is one.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s (%v)", e.Code, e.Message, e.Err)
	}
	if e.Code == "" {
		return e.Message
	}
	return e.Code + ": " + e.Message
}

// Unwrap returns the debug cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is the same error: an *Error with the same
// Code, whatever its status or message (copies made by With,
// WithMessage and WithRetryAfter, a plugin's status for a route), so that
// errors.Is(err, auth.ErrInvalidEmailOrPassword) works; code-less errors
// match on status and message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	switch {
	case !ok:
		return false
	case t.Code != "":
		// The code is the identity: a plugin may answer one code with
		// another status on another route (as Better Auth does).
		return t.Code == e.Code
	default:
		// Code-less errors (Better Auth's "No fields to update", the 429)
		// are told apart by status and message.
		return e.Code == "" && t.Status == e.Status && t.Message == e.Message
	}
}

// With returns a copy of e carrying cause as debug detail.
func (e *Error) With(cause error) *Error {
	c := *e
	c.Err = cause
	return &c
}

// WithMessage returns a copy of e with another user-facing message.
func (e *Error) WithMessage(msg string) *Error {
	c := *e
	c.Message = msg
	return &c
}

// WithRetryAfter returns a copy of e that tells the client to try again
// after d.
func (e *Error) WithRetryAfter(d time.Duration) *Error {
	c := *e
	c.RetryAfter = d
	return &c
}

// RetryAfterSeconds is RetryAfter in whole seconds, rounded up (0 if unset).
func (e *Error) RetryAfterSeconds() int {
	if e.RetryAfter <= 0 {
		return 0
	}
	return int((e.RetryAfter + time.Second - 1) / time.Second)
}

// NewError returns an error with the given status, code and message.
func NewError(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

// AsError converts any error to an *Error. Errors that are not *Error become
// a 500 with code INTERNAL_SERVER_ERROR whose detail is kept in Err, except
// a refused string (storage.ErrInvalidValue: 400 INVALID_INPUT) and a
// deadline (503).
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ErrUnavailable.With(err)
	}
	if errors.Is(err, storage.ErrInvalidValue) {
		return ErrInvalidInput.With(err)
	}
	return ErrInternal.With(err)
}

// The core errors. Codes and messages are Better Auth's.
var (
	ErrInvalidEmailOrPassword      = NewError(http.StatusUnauthorized, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password")
	ErrInvalidEmail                = NewError(http.StatusBadRequest, "INVALID_EMAIL", "Invalid email")
	ErrUserAlreadyExistsUseAnother = NewError(http.StatusUnprocessableEntity, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL", "User already exists. Use another email.")
	ErrUserAlreadyExists           = NewError(http.StatusUnprocessableEntity, "USER_ALREADY_EXISTS", "User already exists.")
	ErrFailedToCreateUser          = NewError(http.StatusUnprocessableEntity, "FAILED_TO_CREATE_USER", "Failed to create user")
	ErrPasswordTooShort            = NewError(http.StatusBadRequest, "PASSWORD_TOO_SHORT", "Password too short")
	ErrPasswordTooLong             = NewError(http.StatusBadRequest, "PASSWORD_TOO_LONG", "Password too long")
	ErrEmailNotVerified            = NewError(http.StatusForbidden, "EMAIL_NOT_VERIFIED", "Email not verified")
	ErrEmailPasswordDisabled       = NewError(http.StatusBadRequest, "EMAIL_PASSWORD_DISABLED", "Email and password is not enabled")
	ErrSignUpDisabled              = NewError(http.StatusBadRequest, "EMAIL_PASSWORD_SIGN_UP_DISABLED", "Email and password sign up is not enabled")
	ErrUnauthorized                = NewError(http.StatusUnauthorized, "UNAUTHORIZED", "Unauthorized")
	ErrSessionNotFresh             = NewError(http.StatusForbidden, "SESSION_NOT_FRESH", "Session is not fresh")
	ErrSessionExpired              = NewError(http.StatusBadRequest, "SESSION_EXPIRED", "Session expired. Re-authenticate to perform this action.")
	ErrInvalidPassword             = NewError(http.StatusBadRequest, "INVALID_PASSWORD", "Invalid password")
	ErrCredentialAccountNotFound   = NewError(http.StatusBadRequest, "CREDENTIAL_ACCOUNT_NOT_FOUND", "Credential account not found")
	ErrInvalidToken                = NewError(http.StatusBadRequest, "INVALID_TOKEN", "Invalid token")
	ErrTokenExpired                = NewError(http.StatusUnauthorized, "TOKEN_EXPIRED", "Token expired")
	ErrUserNotFound                = NewError(http.StatusBadRequest, "USER_NOT_FOUND", "User not found")
	ErrEmailCanNotBeUpdated        = NewError(http.StatusBadRequest, "EMAIL_CAN_NOT_BE_UPDATED", "Email can not be updated")
	ErrInvalidOrigin               = NewError(http.StatusForbidden, "INVALID_ORIGIN", "Invalid origin")
	ErrMissingOrNullOrigin         = NewError(http.StatusForbidden, "MISSING_OR_NULL_ORIGIN", "Missing or null Origin")
	ErrInvalidCallbackURL          = NewError(http.StatusForbidden, "INVALID_CALLBACK_URL", "Invalid callbackURL")
	ErrInvalidRedirectURL          = NewError(http.StatusForbidden, "INVALID_REDIRECT_URL", "Invalid redirectURL")
	ErrInvalidErrorCallbackURL     = NewError(http.StatusForbidden, "INVALID_ERROR_CALLBACK_URL", "Invalid errorCallbackURL")
	ErrInvalidNewUserCallbackURL   = NewError(http.StatusForbidden, "INVALID_NEW_USER_CALLBACK_URL", "Invalid newUserCallbackURL")
	ErrCrossSiteNavigation         = NewError(http.StatusForbidden, "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED", "Cross-site navigation login blocked. This request appears to be a CSRF attack.")
	ErrFailedToCreateSession       = NewError(http.StatusUnauthorized, "FAILED_TO_CREATE_SESSION", "Failed to create session")
	ErrFailedToGetSession          = NewError(http.StatusUnauthorized, "FAILED_TO_GET_SESSION", "Failed to get session")
	ErrDeferSessionRequired        = NewError(http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED", "POST method requires deferSessionRefresh to be enabled in session config")
	ErrBodyMustBeObject            = NewError(http.StatusBadRequest, "BODY_MUST_BE_AN_OBJECT", "Body must be an object")
	ErrFieldNotAllowed             = NewError(http.StatusBadRequest, "FIELD_NOT_ALLOWED", "Field is not allowed to be set")
	ErrValidation                  = NewError(http.StatusBadRequest, "VALIDATION_ERROR", "Invalid request")
	ErrBadRequest                  = NewError(http.StatusBadRequest, "BAD_REQUEST", "Bad request")
	ErrInvalidInput                = NewError(http.StatusBadRequest, "INVALID_INPUT", "Invalid input: text must be valid UTF-8 without NUL characters")
	ErrInvalidJSON                 = NewError(http.StatusBadRequest, "BAD_REQUEST", "Invalid JSON in request body")
	ErrUnsupportedMediaType        = NewError(http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", "Content-Type is not allowed. Allowed types: application/json")
	ErrBodyTooLarge                = NewError(http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE", "Request body is too large")
	ErrTooManyRequests             = NewError(http.StatusTooManyRequests, "", "Too many requests. Please try again later.")
	ErrBusy                        = NewError(http.StatusServiceUnavailable, "SERVICE_BUSY", "The server is busy. Please try again later.")
	ErrUnavailable                 = NewError(http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", "Service temporarily unavailable")
	ErrNotFound                    = NewError(http.StatusNotFound, "NOT_FOUND", "Not Found")
	ErrInternal                    = NewError(http.StatusInternalServerError, "INTERNAL_SERVER_ERROR", "Internal server error")
)

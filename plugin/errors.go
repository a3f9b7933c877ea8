package plugin

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
// header (whole seconds, rounded up). Details, if not empty, is sent as
// the answer's "details" member, as Better Auth's APIError sends it (an
// API key's rate limit: {"tryAgainIn": milliseconds}); it is shared by
// the copies With and its siblings make, so treat it as read-only.
type Error struct {
	Status     int
	Code       string
	Message    string
	Err        error
	RetryAfter time.Duration
	Details    map[string]any
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

// WithDetails returns a copy of e whose answer carries details as its
// "details" member.
func (e *Error) WithDetails(details map[string]any) *Error {
	c := *e
	c.Details = details
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

// The errors of the plugin API itself: what Context.Bind, AsError and
// StorageError answer. Hosts and plugins declare their other errors with
// NewError (see ErrorSource).
var (
	ErrValidation   = NewError(http.StatusBadRequest, "VALIDATION_ERROR", "Invalid request")
	ErrInvalidInput = NewError(http.StatusBadRequest, "INVALID_INPUT", "Invalid input: text must be valid UTF-8 without NUL characters")
	ErrUnavailable  = NewError(http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", "Service temporarily unavailable")
	ErrInternal     = NewError(http.StatusInternalServerError, "INTERNAL_SERVER_ERROR", "Internal server error")
)

// StorageError maps a storage failure to an API error: unavailability is
// a 503, a refused string (storage.ErrInvalidValue) a 400 INVALID_INPUT,
// anything else a 500 whose detail is logged, never sent. Plugins use it
// for their own queries.
func StorageError(err error) error {
	if errors.Is(err, storage.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return ErrUnavailable.With(err)
	}
	if errors.Is(err, storage.ErrInvalidValue) {
		return ErrInvalidInput.With(err)
	}
	return ErrInternal.With(err)
}

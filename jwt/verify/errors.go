package verify

import (
	"errors"
	"net/http"
)

// Error is the error type of the verifier and the middleware: every error
// Verify returns is an *Error. Code is a stable machine-readable code (the
// Code of one of the Err* values); Message a short text safe to show a
// client. Err, when set, holds the underlying cause (a network error, say)
// for logs.
//
// Compare errors with errors.Is against the Err* values: a returned error
// matches the value with the same Code, whatever its Message or cause.
// It is not auth.Error, since this package does not import the SDK: a
// server maps it where it answers HTTP (Middleware answers 401, 403 or
// 503; the reference server its own shapes).
type Error struct {
	Code    string
	Message string
	Err     error
}

// Error returns "jwt: CODE: message", with the cause in parentheses
// when there is one.
func (e *Error) Error() string {
	s := "jwt: " + e.Code + ": " + e.Message
	if e.Err != nil {
		s += " (" + e.Err.Error() + ")"
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same Code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// with returns a copy of e with another message (if not empty) and cause.
func (e *Error) with(msg string, cause error) *Error {
	c := *e
	if msg != "" {
		c.Message = msg
	}
	c.Err = cause
	return &c
}

// The errors the verifier and the middleware return. Every failure is one of
// these (possibly with a more precise Message).
var (
	// ErrMissingToken: the request carried no token (middleware only).
	ErrMissingToken = &Error{Code: "MISSING_TOKEN", Message: "missing bearer token"}
	// ErrTokenTooLarge: the token exceeds the size limit; it was not parsed.
	ErrTokenTooLarge = &Error{Code: "TOKEN_TOO_LARGE", Message: "token too large"}
	// ErrMalformed: not a compact JWS with base64url parts and JSON header
	// and payload, or a header with unsupported critical extensions.
	ErrMalformed = &Error{Code: "MALFORMED_TOKEN", Message: "malformed token"}
	// ErrBadAlgorithm: the header's alg is not EdDSA / Ed25519 (for
	// example "none", HS256 or RS256).
	ErrBadAlgorithm = &Error{Code: "UNSUPPORTED_ALGORITHM", Message: "unsupported signing algorithm"}
	// ErrMissingKeyID: the header has no kid.
	ErrMissingKeyID = &Error{Code: "MISSING_KEY_ID", Message: "token has no key id"}
	// ErrUnknownKey: no Ed25519 key with the token's kid is known, even
	// after refreshing the key set (when a refresh was allowed).
	ErrUnknownKey = &Error{Code: "UNKNOWN_KEY", Message: "unknown signing key"}
	// ErrInvalidSignature: the signature does not verify.
	ErrInvalidSignature = &Error{Code: "INVALID_SIGNATURE", Message: "invalid signature"}
	// ErrInvalidClaims: a required claim (exp, sub) is missing or a
	// registered claim has the wrong type.
	ErrInvalidClaims = &Error{Code: "INVALID_CLAIMS", Message: "invalid claims"}
	// ErrTokenExpired: exp is in the past (beyond the leeway).
	ErrTokenExpired = &Error{Code: "TOKEN_EXPIRED", Message: "token expired"}
	// ErrTokenNotYetValid: nbf is in the future (beyond the leeway).
	ErrTokenNotYetValid = &Error{Code: "TOKEN_NOT_YET_VALID", Message: "token not yet valid"}
	// ErrBadIssuer: iss differs from the expected issuer.
	ErrBadIssuer = &Error{Code: "INVALID_ISSUER", Message: "unexpected issuer"}
	// ErrBadAudience: aud does not contain an expected audience.
	ErrBadAudience = &Error{Code: "INVALID_AUDIENCE", Message: "unexpected audience"}
	// ErrKeySetUnavailable: the keys could not be read, so the token was
	// not judged: the JWKS could not be fetched (network error, non-200
	// status, oversized or malformed document) and no usable key was
	// cached, or a KeyFunc failed (the jwt plugin's key table could not be
	// read). Err holds the cause. The middleware answers 503.
	ErrKeySetUnavailable = &Error{Code: "JWKS_UNAVAILABLE", Message: "signing keys unavailable"}
	// ErrInsufficientRole: the token is valid but its role is not allowed
	// (middleware with RequireRole; answered 403).
	ErrInsufficientRole = &Error{Code: "INSUFFICIENT_ROLE", Message: "insufficient role"}
)

// statusOf returns the HTTP status the middleware answers err with.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrInsufficientRole):
		return http.StatusForbidden
	case errors.Is(err, ErrKeySetUnavailable):
		return http.StatusServiceUnavailable
	}
	return http.StatusUnauthorized
}

// asError converts err to an *Error (unknown errors become
// ErrKeySetUnavailable, the only failure that is not the token's fault).
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return ErrKeySetUnavailable.with("", err)
}

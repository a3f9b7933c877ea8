package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/jwt/verify"
	"github.com/managarten/mana-auth/plugin"
)

// envelope is the error body of /api/v1/auth/*: {"error":CODE,"message",
// "status"} plus "retryAfterSec" (and a Retry-After header) when set.
type envelope struct {
	Error         string `json:"error"`
	Message       string `json:"message"`
	Status        int    `json:"status"`
	RetryAfterSec int    `json:"retryAfterSec,omitempty"`
}

func writeEnvelope(w http.ResponseWriter, status int, code, msg string, retryAfter int) {
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	}
	writeJSON(w, status, envelope{Error: code, Message: msg, Status: status, RetryAfterSec: retryAfter})
}

// authErrorCode maps an SDK error to the /api/v1/auth envelope code, as
// upstream mapped Better Auth's answers.
func authErrorCode(e *auth.Error) string {
	switch e.Code {
	case "INVALID_EMAIL_OR_PASSWORD", "INVALID_PASSWORD":
		return "INVALID_CREDENTIALS"
	case "USER_ALREADY_EXISTS", "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL":
		return "EMAIL_ALREADY_REGISTERED"
	case "PASSWORD_TOO_SHORT", "PASSWORD_TOO_LONG":
		return "WEAK_PASSWORD"
	case "INVALID_TOKEN":
		return "TOKEN_INVALID"
	case "VALIDATION_ERROR", "INVALID_EMAIL", "BAD_REQUEST", "INVALID_NAME", "INVALID_IMAGE":
		return "VALIDATION"
	case "EMAIL_NOT_VERIFIED", "TOKEN_EXPIRED", "UNAUTHORIZED", "ACCOUNT_LOCKED":
		return e.Code
	}
	switch {
	case e.Status == http.StatusTooManyRequests:
		return "RATE_LIMITED"
	case e.Status >= 500:
		return "SERVICE_UNAVAILABLE"
	case e.Status == 400 || e.Status == 422:
		return "VALIDATION"
	case e.Status == 401:
		return "UNAUTHORIZED"
	case e.Status == 403:
		if e.Code != "" {
			return e.Code
		}
		return "FORBIDDEN"
	case e.Status == 404:
		return "NOT_FOUND"
	}
	if e.Code != "" {
		return e.Code
	}
	return "INTERNAL"
}

// codeStatus is the status of the envelope codes that have one (mana-v1
// §1.3): a client sees e.g. INVALID_CREDENTIALS as 401 whether the SDK
// refused a sign-in (401) or a password check (400 INVALID_PASSWORD).
var codeStatus = map[string]int{
	"INVALID_CREDENTIALS": 401, "EMAIL_NOT_VERIFIED": 403, "EMAIL_ALREADY_REGISTERED": 409, "WEAK_PASSWORD": 400,
	"TOKEN_EXPIRED": 401, "TOKEN_INVALID": 400, "VALIDATION": 400, "UNAUTHORIZED": 401,
}

// writeAuthErr writes an SDK error in the /api/v1/auth envelope.
func (s *Server) writeAuthErr(w http.ResponseWriter, r *http.Request, err error) {
	e := plugin.AsError(err)
	status := e.Status
	msg := e.Message
	if status >= 500 {
		s.log.ErrorContext(r.Context(), "request failed", "path", r.URL.Path, "code", e.Code, "err", e.Err)
		s.sec.record(r.Context(), eventFor(r.Context(), EventServiceError, "", map[string]any{"code": e.Code, "endpoint": r.URL.Path}))
		status = http.StatusServiceUnavailable
		if e.Code == plugin.ErrInternal.Code {
			status, msg = http.StatusInternalServerError, "Internal server error"
		}
	}
	code := authErrorCode(e)
	if st, ok := codeStatus[code]; ok && status < 500 {
		status = st
	}
	// A refusal of the rate limiter (refuseV1) comes with Retry-After set;
	// a lockout refusal carries it in the error.
	retry, _ := strconv.Atoi(w.Header().Get("Retry-After"))
	if n := e.RetryAfterSeconds(); n > 0 {
		retry = n
	}
	writeEnvelope(w, status, code, msg, retry)
}

// refuseV1 answers what auth.ProtectWith refuses on /api/v1 (rate limit,
// origin) in the shape of the route: the auth envelope on /api/v1/auth/*
// (429 RATE_LIMITED with retryAfterSec), {"statusCode","message","code"}
// elsewhere.
func (s *Server) refuseV1(w http.ResponseWriter, r *http.Request, err error) {
	if strings.HasPrefix(r.URL.Path, "/api/v1/auth/") {
		s.writeAuthErr(w, r, err)
		return
	}
	s.writeStatusErr(w, r, err)
}

// readJSON decodes the body into v (an absent body leaves v alone). The
// body size is already bounded by auth.Protect.
func readJSON(r *http.Request, v any) error {
	if r.Body == nil {
		return nil
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return auth.ErrBodyTooLarge
		}
		return auth.ErrBadRequest.WithMessage("Could not read the request body")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		return auth.ErrUnsupportedMediaType
	}
	if err := json.Unmarshal(b, v); err != nil {
		return plugin.NewError(http.StatusBadRequest, "VALIDATION", "Invalid JSON body")
	}
	return nil
}

// principal is the caller of a /api/v1 route: from a bearer JWT or a
// session cookie.
type principal struct {
	UserID    string
	Email     string
	Role      string
	SessionID string
	ViaJWT    bool
}

type principalKey struct{}

func principalFrom(ctx context.Context) *principal {
	p, _ := ctx.Value(principalKey{}).(*principal)
	return p
}

var (
	errMissingAuth = plugin.NewError(http.StatusUnauthorized, "UNAUTHORIZED", "Missing or invalid Authorization header")
	errBadToken    = plugin.NewError(http.StatusUnauthorized, "INVALID_TOKEN", "Invalid or expired token")
)

// authenticate finds the caller: a bearer JWT minted by our jwt plugin,
// else a session (cookie, or bearer session token).
func (s *Server) authenticate(r *http.Request) (*principal, error) {
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		tok := strings.TrimSpace(h[7:])
		if strings.Count(tok, ".") == 2 {
			c, err := s.jwt.Verify(r.Context(), tok)
			if err != nil {
				if errors.Is(err, verify.ErrKeySetUnavailable) {
					return nil, plugin.ErrUnavailable
				}
				return nil, errBadToken
			}
			role := c.Role
			if role == "" {
				role = RoleUser
			}
			return &principal{UserID: c.Subject, Email: c.Email, Role: role, SessionID: c.SessionID, ViaJWT: true}, nil
		}
	}
	sd, err := s.auth.Session(r)
	if err != nil {
		if errors.Is(err, auth.ErrUnauthorized) {
			return nil, errMissingAuth
		}
		return nil, err
	}
	return &principal{UserID: sd.User.ID, Email: sd.User.Email, Role: userRole(sd.User), SessionID: sd.Session.ID}, nil
}

// statusBody is the error body of /me and the JWT guard:
// {"statusCode":N,"message":…,"code":…}.
type statusBody struct {
	StatusCode int    `json:"statusCode"`
	Message    string `json:"message"`
	Code       string `json:"code,omitempty"`
}

func (s *Server) writeStatusErr(w http.ResponseWriter, r *http.Request, err error) {
	e := plugin.AsError(err)
	if e.Status >= 500 {
		s.log.ErrorContext(r.Context(), "request failed", "path", r.URL.Path, "code", e.Code, "err", e.Err)
	}
	if e.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, e.Status, statusBody{StatusCode: e.Status, Message: e.Message, Code: e.Code})
}

// requireUser is middleware for routes that need a caller (JWT or session).
func (s *Server) requireUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r)
		if err != nil {
			s.writeStatusErr(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

package verify

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// MiddlewareOptions configures Middleware.
type MiddlewareOptions struct {
	// Cookie, if set, names a cookie read for the token when the request
	// has no "Authorization: Bearer" header.
	Cookie string
	// RequireRole, if set, lets through only tokens whose role is one of
	// these (see Claims.HasRole); others get 403 INSUFFICIENT_ROLE.
	RequireRole []string
	// Optional lets requests without any token through without claims
	// (ClaimsFrom returns nil). Invalid tokens are still refused.
	Optional bool
}

// Middleware returns net/http middleware that verifies the request's token
// with v and puts its claims in the request context (read them with
// ClaimsFrom).
//
// The token is read from "Authorization: Bearer <token>" (scheme
// case-insensitive), else from opts.Cookie. Failures are answered with a
// JSON body {"message","code"} (codes of the Err* values) and, as RFC 6750
// asks:
//
//   - no token: 401 with "WWW-Authenticate: Bearer" (no error code);
//   - an invalid token: 401 with `WWW-Authenticate: Bearer
//     error="invalid_token", error_description="…"`;
//   - a valid token without a required role: 403 with `WWW-Authenticate:
//     Bearer error="insufficient_scope", …`;
//   - keys unavailable (JWKS unreachable): 503 with Retry-After.
func Middleware(v *Verifier, opts MiddlewareOptions) func(http.Handler) http.Handler {
	roles := append([]string(nil), opts.RequireRole...)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token := tokenFromRequest(r, opts.Cookie)
			if token == "" {
				if opts.Optional {
					next.ServeHTTP(w, r)
					return
				}
				writeAuthError(w, ErrMissingToken)
				return
			}
			c, err := v.Verify(r.Context(), token)
			if err != nil {
				writeAuthError(w, err)
				return
			}
			if len(roles) > 0 && !c.HasRole(roles...) {
				writeAuthError(w, ErrInsufficientRole)
				return
			}
			next.ServeHTTP(w, r.WithContext(WithClaims(r.Context(), c)))
		})
	}
}

// tokenFromRequest returns the bearer token, else the cookie's value.
func tokenFromRequest(r *http.Request, cookie string) string {
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	if cookie != "" {
		if ck, err := r.Cookie(cookie); err == nil {
			return ck.Value
		}
	}
	return ""
}

type errorBody struct {
	Message string `json:"message"`
	Code    string `json:"code"`
}

func writeAuthError(w http.ResponseWriter, err error) {
	e := asError(err)
	status := statusOf(e)
	h := w.Header()
	switch {
	case errors.Is(e, ErrMissingToken):
		h.Set("WWW-Authenticate", "Bearer")
	case status == http.StatusForbidden:
		h.Set("WWW-Authenticate", `Bearer error="insufficient_scope", error_description="`+headerSafe(e.Message)+`"`)
	case status == http.StatusServiceUnavailable:
		h.Set("Retry-After", "5")
	default:
		h.Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+headerSafe(e.Message)+`"`)
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	b, _ := json.Marshal(errorBody{Message: e.Message, Code: e.Code})
	w.Write(b)
}

// headerSafe keeps the characters RFC 6750 allows in error_description
// (%x20-21 / %x23-5B / %x5D-7E).
func headerSafe(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			b = append(b, c)
		}
	}
	return string(b)
}

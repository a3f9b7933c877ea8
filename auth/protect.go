package auth

import (
	"net/http"
	"strconv"

	"github.com/managarten/mana-auth/plugin"
)

// Protect wraps a handler that is not one of the Auth's own routes (an
// app's API mounted beside it) in the same protections the auth routes
// have: the request body is limited to Config.MaxBodyBytes, requests are
// rate-limited per client IP and path (the rules of Config.RateLimit,
// matched against the full path), state-changing requests that carry
// cookies must come from a trusted origin, and the client IP (through
// trusted proxies only) and user agent are put in the request context as
// plugin.RequestInfo.
func (a *Auth) Protect(next http.Handler) http.Handler {
	return a.ProtectWith(next, a.writeError)
}

// ProtectWith is Protect with the refusals answered by refuse instead of
// the SDK's {"message", "code"} body, for an API that has an error shape
// of its own. refuse gets an *Error: ErrTooManyRequests (with the
// Retry-After and X-Retry-After headers already set) or an origin error
// (ErrInvalidOrigin and the like). A body over the limit is found later,
// when the handler reads it (a *http.MaxBytesError).
func (a *Auth) ProtectWith(next http.Handler, refuse func(http.ResponseWriter, *http.Request, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := a.clientIP(r)
		r = r.WithContext(plugin.WithRequestInfo(r.Context(), plugin.RequestInfo{IP: ip, UserAgent: r.UserAgent(), Request: r}))
		if retry, refused := a.rateLimit(r.Context(), ip, r.URL.Path); refused {
			w.Header().Set("X-Retry-After", strconv.Itoa(retry))
			w.Header().Set("Retry-After", strconv.Itoa(retry))
			refuse(w, r, ErrTooManyRequests)
			return
		}
		if err := a.CheckOrigin(r); err != nil {
			refuse(w, r, err)
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}

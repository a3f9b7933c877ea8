package server

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/managarten/mana-auth/plugin"
)

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
	route  string // the pattern of a nested mux (see routeOf)
}

// routeOf wraps a nested mux so that the pattern it matched reaches the
// access log and the metrics: the outer mux only knows its own prefix.
func routeOf(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r)
		if sw, ok := w.(*statusWriter); ok {
			sw.route = r.Pattern
		}
	})
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type requestIDKey struct{}

// RequestID returns the request id of ctx ("" if none).
func RequestID(ctx context.Context) string { s, _ := ctx.Value(requestIDKey{}).(string); return s }

// observe assigns a request id (X-Request-Id, kept from the client when it
// is short and plain), writes the access log and records metrics.
func (s *Server) observe(next http.Handler) http.Handler {
	routes := map[string]bool{}
	for _, r := range s.auth.Routes() {
		_, path, _ := strings.Cut(r, " ")
		routes[path] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 || strings.ContainsFunc(id, func(c rune) bool { return c <= ' ' || c > '~' }) {
			id = plugin.RandomString(20, "")
		}
		w.Header().Set("X-Request-Id", id)
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		route := r.Pattern
		switch {
		case sw.route != "":
			route = sw.route
		case strings.HasPrefix(r.URL.Path, "/api/v1/") && s.v1 != nil:
			// Refused before the v1 mux ran (rate limit, origin).
			_, route = s.v1.Handler(r)
		}
		if route == "" || strings.HasSuffix(route, "/") {
			switch {
			case routes[r.URL.Path]:
				route = r.URL.Path
			case strings.HasPrefix(r.URL.Path, "/api/auth/reset-password/"):
				route = "/api/auth/reset-password/:token"
			default:
				route = "other"
			}
		}
		d := time.Since(start)
		s.metrics.observe(route, r.Method, sw.status, d)
		s.log.LogAttrs(r.Context(), levelFor(sw.status), "request",
			slog.String("id", id), slog.String("method", r.Method), slog.String("path", logPath(r.URL.Path)), slog.Int("status", sw.status),
			slog.Int("bytes", sw.bytes), slog.Duration("duration", d), slog.String("ip", s.host.ClientIP(r)))
	})
}

// cors answers for trusted origins with credentials (the browser apps of
// *.mana.how call the API cross-origin) and handles pre-flight requests.
func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" && s.auth.TrustedOrigin(origin) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Add("Vary", "Origin")
			for _, name := range []string{"set-auth-token", "set-auth-jwt", "Retry-After", "X-Retry-After"} {
				plugin.AddExposedHeader(h, name) // a script may read them (a 429's wait)
			}
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS")
				h.Set("Access-Control-Allow-Headers", "Content-Type, Authorization, X-Service-Key, X-App-Id, X-Request-Id")
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		} else if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			// Loud, so that a missing TRUSTED_ORIGINS entry is found at once.
			s.log.WarnContext(r.Context(), "CORS preflight refused: the origin is not trusted (add it to TRUSTED_ORIGINS as scheme://host:port)",
				"origin", origin, "trusted_origins", s.trustedOriginsList())
			w.WriteHeader(http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// trustedOriginsList is BASE_URL's origin and TRUSTED_ORIGINS, for logs.
func (s *Server) trustedOriginsList() string {
	list := s.cfg.BaseURL
	for _, o := range s.cfg.TrustedOrigins {
		list += "," + o
	}
	return list
}

func levelFor(status int) slog.Level {
	if status >= 500 {
		return slog.LevelError
	}
	return slog.LevelInfo
}

// signInPaths are the SDK routes whose refusals are sign-in failures.
var signInPaths = map[string]bool{
	"/sign-in/email": true, "/sign-in/magic-link": true, "/magic-link/verify": true,
	"/sign-in/username": true, "/sign-in/email-otp": true,
	"/passkey/verify-authentication": true, "/two-factor/verify-totp": true,
	"/two-factor/verify-otp": true, "/two-factor/verify-backup-code": true,
}

// logAuthFailures writes refused sign-ins on the SDK routes to the security
// log (successes are written by the mana plugin's after-hook, which knows
// the user).
func (s *Server) logAuthFailures(next http.Handler) http.Handler {
	base := s.auth.Config().BasePath
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := strings.TrimPrefix(r.URL.Path, base)
		if !signInPaths[path] {
			next.ServeHTTP(w, r)
			return
		}
		note := &signInNote{}
		r = r.WithContext(context.WithValue(r.Context(), signInNoteKey{}, note))
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == http.StatusUnauthorized || sw.status == http.StatusForbidden {
			info := plugin.RequestInfo{IP: s.host.ClientIP(r), UserAgent: r.UserAgent()}
			meta := map[string]any{"route": path, "status": sw.status}
			if note.email != "" {
				meta["email"] = note.email
			}
			s.sec.record(r.Context(), securityEvent{Type: EventLoginFailure, IP: info.IP, UserAgent: info.UserAgent,
				Metadata: meta})
			outcome := "invalid_credentials"
			if sw.status == http.StatusForbidden {
				outcome = "forbidden"
			}
			s.metrics.signIn(outcome)
		}
	})
}

// signInNote carries what a sign-in learned about itself to
// logAuthFailures, which never reads the body: the PasswordCheck hook
// notes the email, so a LOGIN_FAILURE from /api/auth/sign-in/email names
// it as the /api/v1/auth/login one does.
type signInNote struct{ email string }

type signInNoteKey struct{}

// noteSignIn records email in the request's sign-in note, if it has one.
func noteSignIn(ctx context.Context, email string) {
	if n, ok := ctx.Value(signInNoteKey{}).(*signInNote); ok {
		n.email = email
	}
}

// logPath is the path as the access log shows it: tokens carried in the
// path (password-reset links) are replaced, so logs hold no secrets.
func logPath(p string) string {
	if strings.HasPrefix(p, "/api/auth/reset-password/") {
		return "/api/auth/reset-password/:token"
	}
	return p
}

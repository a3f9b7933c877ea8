// Command protect-api is a service with no database that trusts the access
// tokens (JWTs) of a mana-auth server: it verifies them against the
// server's JWKS with verify.New and verify.Middleware, reads the claims
// from the request context, and requires role "admin" on one route. It
// imports only package jwt/verify (the standard library and go-jose), not
// the SDK.
//
// Start a mana-auth server and this service:
//
//	go run ./cmd/mana-auth         # the issuer, on :3001
//	go run ./examples/protect-api  # this service, on :8081
//
// then get a token (GET /api/auth/token with a session cookie, or the
// set-auth-jwt header of GET /api/auth/get-session) and call
//
//	curl -H "Authorization: Bearer $TOKEN" localhost:8081/api/profile
//
// Configuration (environment): JWKS_URL (default
// http://localhost:3001/api/auth/jwks), JWT_ISSUER (default
// http://localhost:3001, the server's BASE_URL), JWT_AUDIENCE (default
// "mana", the reference server's JWT_AUDIENCE), ADDR (default
// localhost:8081).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/managarten/mana-auth/jwt/verify"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, env("ADDR", "localhost:8081"), env("JWKS_URL", "http://localhost:3001/api/auth/jwks"),
		env("JWT_ISSUER", "http://localhost:3001"), env("JWT_AUDIENCE", "mana"))
	if err != nil {
		log.Fatal(err)
	}
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// run serves the API on addr until ctx ends.
func run(ctx context.Context, addr, jwksURL, issuer, audience string) error {
	v, err := verify.New(jwksURL, verify.WithIssuer(issuer), verify.WithAudience(audience))
	if err != nil {
		return err
	}
	// Fetching the keys now is optional (the first request would): it
	// reports a wrong URL at start-up.
	if err := v.Refresh(ctx); err != nil {
		log.Printf("JWKS not reachable yet (%v); requests will retry", err)
	}
	srv := &http.Server{Addr: addr, Handler: newAPI(v), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	log.Printf("listening on %s, trusting tokens of %s", addr, issuer)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newAPI returns the service's routes:
//
//	GET /healthz           public
//	GET /api/profile       any valid token → the caller's claims
//	GET /api/admin/report  a valid token with role "admin" (403 otherwise)
func newAPI(v *verify.Verifier) http.Handler {
	signedIn := verify.Middleware(v, verify.MiddlewareOptions{})
	admin := verify.Middleware(v, verify.MiddlewareOptions{RequireRole: []string{"admin"}})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]string{"status": "ok"})
	})
	mux.Handle("GET /api/profile", signedIn(http.HandlerFunc(profile)))
	mux.Handle("GET /api/admin/report", admin(http.HandlerFunc(report)))
	return mux
}

// profile answers the caller's identity, straight from the token: no
// database, no call to the auth server.
func profile(w http.ResponseWriter, r *http.Request) {
	c := verify.ClaimsFrom(r.Context())
	writeJSON(w, map[string]any{
		"userId":    c.Subject,
		"email":     c.Email,
		"role":      c.Role,
		"sessionId": c.SessionID,
		// The auth server's date format: milliseconds, always three digits.
		"expiresAt": c.ExpiresAt.UTC().Format("2006-01-02T15:04:05.000Z"),
	})
}

// report is for admins only: the middleware already refused other roles.
func report(w http.ResponseWriter, r *http.Request) {
	c := verify.ClaimsFrom(r.Context())
	writeJSON(w, map[string]any{"report": "all systems nominal", "requestedBy": c.Email})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}

// Command embed is a small net/http application that embeds the mana-auth
// SDK:
//
//   - the Better Auth routes under /api/auth (sign-up, sign-in, sessions, …),
//     stored in SQLite and created by a.Migrate;
//   - GET /api/me, a JSON route protected by a.RequireSession;
//   - POST /login, a server-side login form that calls a.SignInEmail, the
//     same operation POST /api/auth/sign-in/email runs, and so sets the very
//     same cookies (the one-path rule);
//   - a demo user created at start-up from Go with a.SignUpEmail.
//
// Run it with
//
//	go run ./examples/embed
//
// and open http://localhost:8080.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"log"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/ratelimit"
	"github.com/managarten/mana-auth/storage/sqlite"
)

// The demo account created at start-up.
const (
	demoEmail    = "demo@example.com"
	demoPassword = "correct horse battery staple"
)

// Options configures the app.
type Options struct {
	// BaseURL is the public URL of the app, e.g. "http://localhost:8080".
	BaseURL string
	// DataDir holds the SQLite database.
	DataDir string
	// Secret signs the session cookies (at least 32 characters). Empty: a
	// random one, so sessions end when the process stops.
	Secret string
	// Logger receives the SDK's logs. Nil: slog.Default().
	Logger *slog.Logger
	// Hasher hashes passwords. Nil: scrypt, Better Auth's format (tests
	// pass a cheap one).
	Hasher auth.Hasher
}

func main() {
	addr := flag.String("addr", "localhost:8080", "listen address")
	dataDir := flag.String("data", filepath.Join("data", "embed"), "directory of the SQLite database")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *dataDir); err != nil {
		log.Fatal(err)
	}
}

// run serves the app on addr until ctx ends.
func run(ctx context.Context, addr, dataDir string) error {
	baseURL := os.Getenv("BASE_URL")
	if baseURL == "" {
		baseURL = "http://" + addr
	}
	h, closeApp, err := newApp(ctx, Options{BaseURL: baseURL, DataDir: dataDir, Secret: os.Getenv("AUTH_SECRET")})
	if err != nil {
		return err
	}
	defer closeApp()
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	log.Printf("listening on %s (demo account: %s / %q)", baseURL, demoEmail, demoPassword)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newApp builds the app: the SDK over SQLite under o.DataDir, migrated, and
// the routes. The returned function closes the database.
func newApp(ctx context.Context, o Options) (http.Handler, func(), error) {
	if o.Secret == "" {
		var b [32]byte
		rand.Read(b[:])
		o.Secret = base64.StdEncoding.EncodeToString(b[:])
		log.Print("AUTH_SECRET is not set: using a random secret, sessions end with the process")
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, nil, err
	}
	db, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(o.DataDir, "auth.db"), Logger: o.Logger})
	if err != nil {
		return nil, nil, err
	}
	a, err := auth.New(auth.Config{
		BaseURL: o.BaseURL,
		Secret:  o.Secret,
		AppName: "Embed example",
		Logger:  o.Logger,
		Hasher:  o.Hasher,
		// The rules apply to the SDK's routes (paths relative to /api/auth)
		// and, through a.Protect, to the app's own routes (full paths).
		RateLimit: auth.RateLimitConfig{Rules: map[string]ratelimit.Rule{
			"/login": {Window: 10 * time.Second, Max: 5},
		}},
	}, db)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	if err := a.Migrate(ctx); err != nil { // creates the tables, idempotent
		db.Close()
		return nil, nil, err
	}
	if err := seedDemoUser(ctx, a); err != nil {
		db.Close()
		return nil, nil, err
	}

	mux := http.NewServeMux()
	mux.Handle("/api/auth/", a.Handler())
	mux.Handle("GET /api/me", a.RequireSession(http.HandlerFunc(me)))
	mux.Handle("POST /login", a.Protect(loginHandler(a)))
	mux.Handle("GET /{$}", homeHandler(a))
	return mux, func() { db.Close() }, nil
}

// seedDemoUser creates the demo account from Go: the same operation as
// POST /api/auth/sign-up/email.
func seedDemoUser(ctx context.Context, a *auth.Auth) error {
	res, err := a.SignUpEmail(ctx, auth.SignUpInput{Name: "Demo", Email: demoEmail, Password: demoPassword})
	if errors.Is(err, auth.ErrUserAlreadyExistsUseAnother) {
		return nil // seeded on an earlier start
	}
	if err != nil {
		return fmt.Errorf("seeding the demo user: %w", err)
	}
	// Sign-up signed the user in; nobody holds that session, so end it.
	_, err = a.SignOut(ctx, res.Token())
	return err
}

// me answers the signed-in user: RequireSession put the session in the
// request context.
func me(w http.ResponseWriter, r *http.Request) {
	sd := auth.SessionFrom(r.Context())
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"id":               sd.User.ID,
		"name":             sd.User.Name,
		"email":            sd.User.Email,
		"sessionExpiresAt": sd.Session.ExpiresAt,
	})
}

// loginHandler is a server-side login form. It calls a.SignInEmail, the
// operation behind POST /api/auth/sign-in/email, and writes the cookies it
// returns: the session is exactly the one the JSON route would create.
//
// It is mounted behind a.Protect (rate limit, body limit, client IP in the
// context); the Origin check below is the login-CSRF guard the SDK applies
// to its own sign-in routes.
func loginHandler(a *auth.Auth) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("Origin"); o != "" && o != "null" && !a.TrustedOrigin(o) {
			a.WriteError(w, r, auth.ErrInvalidOrigin)
			return
		}
		if err := r.ParseForm(); err != nil {
			a.WriteError(w, r, plugin.NewError(http.StatusBadRequest, "BAD_REQUEST", "Invalid form"))
			return
		}
		// r.Context() carries the client IP and user agent (a.Protect), which
		// the session row records.
		res, err := a.SignInEmail(r.Context(), auth.SignInInput{
			Email:    r.PostForm.Get("email"),
			Password: r.PostForm.Get("password"),
		})
		if err != nil {
			a.WriteError(w, r, err) // e.g. 401 INVALID_EMAIL_OR_PASSWORD
			return
		}
		plugin.WriteCookies(w, res.Cookies)
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
}

var home = template.Must(template.New("home").Parse(`<!doctype html>
<title>Embed example</title>
{{if .}}<p>Signed in as {{.User.Email}}. <a href="/api/me">/api/me</a></p>
{{else}}<form method="post" action="/login">
<input name="email" value="demo@example.com"> <input name="password" type="password">
<button>Sign in</button></form>{{end}}
`))

// homeHandler shows the login form, or who is signed in. a.Session reads
// the session without requiring one.
func homeHandler(a *auth.Auth) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sd, _ := a.Session(r)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		home.Execute(w, sd)
	})
}

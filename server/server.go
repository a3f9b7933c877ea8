// Package server assembles the SDK into the mana-auth reference server:
// configuration from the environment, storage (PostgreSQL or the embedded
// SQLite default), the /api/auth routes with the jwt, magic-link,
// two-factor, organization and passkey plugins (and social sign-in when
// OAUTH_* variables configure providers), the mana routes under
// /api/v1 (auth wrappers, GDPR self-service, encryption vault, admin,
// internal), health and readiness probes, metrics and access logs.
//
// Usage (what cmd/mana-auth does):
//
//	cfg, err := server.FromEnviron(os.Environ())
//	if err != nil { log.Fatal(err) }
//	if _, err := cfg.EnsureSecret(); err != nil { log.Fatal(err) }
//	srv, err := server.New(ctx, cfg, slog.Default())
//	if err != nil { log.Fatal(err) }
//	defer srv.Close()
//	http.ListenAndServe(":3001", srv.Handler())
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/managarten/mana-auth/admin"
	"github.com/managarten/mana-auth/apikey"
	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/emailotp"
	"github.com/managarten/mana-auth/jwt"
	"github.com/managarten/mana-auth/magiclink"
	"github.com/managarten/mana-auth/mail"
	"github.com/managarten/mana-auth/multisession"
	"github.com/managarten/mana-auth/openapi"
	"github.com/managarten/mana-auth/org"
	"github.com/managarten/mana-auth/passkey"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/ratelimit"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
	"github.com/managarten/mana-auth/storage/postgres"
	"github.com/managarten/mana-auth/storage/sqlite"
	"github.com/managarten/mana-auth/twofactor"
	"github.com/managarten/mana-auth/username"
	"github.com/managarten/mana-auth/vault"
)

// Deps are the service's neighbours. Zero fields are built from the
// configuration (HTTP mana-credits client, PostgreSQL mana-sync store, SMTP
// or logging mailer); tests and other deployments may supply their own.
type Deps struct {
	Credits CreditsClient
	Sync    SyncStore
	Mailer  auth.Mailer
	// Now replaces the clock (tests).
	Now func() time.Time
}

// Server is the assembled service.
type Server struct {
	cfg           Config
	log           *slog.Logger
	db            storage.Adapter
	auth          *auth.Auth
	host          plugin.Host // auth.Host(): the plugin API, for the server's own plugin-level work
	jwt           *jwt.Plugin
	orgs          OrgDirectory
	vault         *vault.Plugin
	admin         *admin.Plugin  // nil when DISABLED_PLUGINS turns it off
	apikeys       *apikey.Plugin // nil when DISABLED_PLUGINS turns it off
	otp           *emailotp.Plugin
	sec           *securityLog
	lock          *lockout
	creditsClient CreditsClient
	credits       *creditsWorker
	sync          SyncStore
	metrics       *metrics
	handler       http.Handler
	v1            *http.ServeMux
	closers       []func()
	stop          context.CancelFunc
	wg            sync.WaitGroup
}

// defaultPoolMaxConns is the PostgreSQL pool size when DATABASE_URL has
// no pool_max_conns.
const defaultPoolMaxConns = 16

// OpenStorage opens the database the configuration names: PostgreSQL when
// DatabaseURL is set, else SQLite at DataDir/mana-auth.db.
func OpenStorage(ctx context.Context, cfg Config, log *slog.Logger) (storage.Adapter, error) {
	if cfg.DatabaseURL != "" {
		// A database that accepts connections but never answers must not
		// hang the start: bound the open.
		octx, cancel := context.WithTimeout(ctx, 8*time.Second)
		defer cancel()
		opts := postgres.Options{URL: cfg.DatabaseURL, Schema: cfg.DatabaseSchema, Logger: log, QueryTimeout: cfg.QueryTimeout}
		if !strings.Contains(cfg.DatabaseURL, "pool_max_conns") {
			// pgx's default, max(4, CPUs), queues requests behind a few
			// slow queries; the URL's pool_max_conns still wins.
			opts.MaxConns = defaultPoolMaxConns
		}
		db, err := postgres.Open(octx, opts)
		if err != nil {
			if errors.Is(err, postgres.ErrSchemaTooNew) {
				return nil, err
			}
			return nil, fmt.Errorf("DATABASE_URL: %w", err)
		}
		return db, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("DATA_DIR: %w", err)
	}
	db, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(cfg.DataDir, "mana-auth.db"), Logger: log})
	if err != nil {
		return nil, err // the adapter names itself
	}
	return db, nil
}

// AuthConfig is the SDK configuration the server uses.
func (cfg Config) AuthConfig(log *slog.Logger, mailer auth.Mailer) auth.Config {
	rules := map[string]ratelimit.Rule{
		"/api/v1/auth/login":               {Window: 10 * time.Second, Max: 10},
		"/api/v1/auth/register":            {Window: 60 * time.Second, Max: 5},
		"/api/v1/auth/forgot-password":     {Window: 60 * time.Second, Max: 3},
		"/api/v1/auth/resend-verification": {Window: 60 * time.Second, Max: 3},
		"/api/v1/auth/reset-password":      {Window: 60 * time.Second, Max: 5},
		// Every v1 route that checks a password or mails someone, as
		// strict as the /api/auth routes they wrap.
		"/api/v1/auth/change-password": {Window: 10 * time.Second, Max: 3},
		"/api/v1/auth/change-email":    {Window: 10 * time.Second, Max: 3},
		"/api/v1/auth/account":         {Window: 10 * time.Second, Max: 3},
		"/api/v1/auth/validate":        {Window: 10 * time.Second, Max: 1000},
		// The passkey routes nobody signs in to use: upstream's 20
		// options per minute per IP, verification as /login.
		"/api/v1/auth/passkeys/authenticate/options": {Window: 60 * time.Second, Max: 20},
		"/api/v1/auth/passkeys/authenticate/verify":  {Window: 10 * time.Second, Max: 10},
	}
	return auth.Config{
		BaseURL:        cfg.BaseURL,
		Secret:         cfg.Secret,
		Secrets:        cfg.Secrets,
		AppName:        "Mana",
		TrustedOrigins: cfg.TrustedOrigins,
		TrustedProxies: cfg.TrustedProxies,
		Cookies: auth.CookieConfig{
			Prefix:         "mana",
			CrossSubDomain: cfg.CookieDomain != "",
			Domain:         cfg.CookieDomain,
		},
		EmailPassword: auth.EmailPasswordConfig{RequireEmailVerification: cfg.RequireEmailVerification},
		Session:       auth.SessionConfig{CookieCache: cfg.CookieCache},
		EmailVerification: auth.EmailVerificationConfig{
			SendOnSignUp:                true,
			AutoSignInAfterVerification: true,
		},
		User:      auth.UserConfig{DeleteEnabled: true, ChangeEmailEnabled: true, SendChangeEmailConfirmation: true},
		RateLimit: auth.RateLimitConfig{Rules: rules, Disabled: cfg.RateLimitDisabled},
		Mailer:    mailer,
		Naming:    cfg.Naming,
		Bearer:    true,
		Logger:    log,
	}
}

// New opens storage, builds the SDK with the service's plugins, applies
// migrations (unless AutoMigrate is off) and mounts the routes. Background
// work (credits retries) runs until Close.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Server, error) {
	if cfg.Secret == "" && len(cfg.Secrets) == 0 {
		return nil, &ConfigError{"AUTH_SECRET", "is not set (nor BETTER_AUTH_SECRETS)"}
	}
	db, err := OpenStorage(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	s, err := NewWithStorage(ctx, cfg, db, Deps{}, log)
	if err != nil {
		if c, ok := db.(storage.Closer); ok {
			c.Close()
		}
		return nil, err
	}
	s.closers = append(s.closers, func() {
		if c, ok := db.(storage.Closer); ok {
			c.Close()
		}
	})
	return s, nil
}

// NewWithStorage is New over an adapter the caller opened (and closes).
func NewWithStorage(ctx context.Context, cfg Config, db storage.Adapter, deps Deps, log *slog.Logger) (*Server, error) {
	s := &Server{cfg: cfg, log: log, db: db, metrics: newMetrics()}
	if deps.Mailer == nil {
		m, err := mail.FromEnv(cfg.smtpEnv)
		if err != nil {
			return nil, err
		}
		if lm, ok := m.(*mail.LogMailer); ok && lm.Logger == nil {
			lm.Logger = log // the development mailer logs where the server does
		}
		deps.Mailer = m
	}
	s.jwt = jwt.New(jwt.Options{Issuer: cfg.BaseURL, Audience: cfg.JWTAudience})
	mp := &manaPlugin{admins: cfg.AdminEmails}
	acfg := cfg.AuthConfig(log, deps.Mailer)
	if deps.Now != nil {
		acfg.Now = deps.Now
	}
	keks, err := vault.KEKFromEnv(cfg.kekEnv, cfg.Production)
	if err != nil {
		return nil, err
	}
	s.vault = vault.New(vault.Options{KEKs: keks, Logger: log})
	orgs := org.New(org.Options{})
	s.orgs = orgDirectory{orgs}
	plugins := []auth.Plugin{mp, s.jwt, magiclink.New(magiclink.Options{}), twofactor.New(twofactor.Options{Issuer: "Mana", OTP: cfg.TwoFactorOTP}), orgs, s.vault}
	if rp := cfg.rpID(); rp != "" {
		plugins = append(plugins, passkey.New(passkey.Options{RPID: rp}))
	} else {
		log.Warn("passkeys are off: the relying party ID would be an IP address; set WEBAUTHN_RP_ID or use a host name in BASE_URL")
	}
	// Social sign-in, only with a provider configured (OAUTH_*).
	if op, err := cfg.OAuth.Plugin(); err != nil {
		return nil, fmt.Errorf("social sign-in (OAUTH_*): %w", err)
	} else if op != nil {
		plugins = append(plugins, op)
		log.Info("social sign-in", "providers", op.Providers())
	}
	more, err := s.optionalPlugins(cfg)
	if err != nil {
		return nil, err
	}
	plugins = append(plugins, more...)
	rlStore, rlClose, err := rateLimitStore(ctx, cfg, db, log)
	if err != nil {
		return nil, err
	}
	defer func() { // released by Close, or here when NewWithStorage fails
		if s.handler == nil {
			rlClose()
		}
	}()
	s.closers = append(s.closers, rlClose)
	acfg.RateLimit.Store = rlStore
	acfg.Naming = cfg.namingFor(plugins)
	a, err := auth.New(acfg, db, plugins...)
	if err != nil {
		return nil, err
	}
	s.auth, s.host = a, a.Host()
	s.metrics.queues = a.Stats
	if cfg.AutoMigrate {
		if err := a.Migrate(ctx); err != nil {
			return nil, fmt.Errorf("migrating the database: %w", err)
		}
		if err := s.promoteAdmins(ctx); err != nil {
			return nil, err
		}
	}
	now := a.Host().Now
	s.sec = &securityLog{db: db, log: log, now: now}
	mp.sec = s.sec
	mp.srv = s
	s.lock = &lockout{db: db, log: log, now: now, failures: 5, window: 15 * time.Minute, lockFor: 30 * time.Minute}

	s.creditsClient = deps.Credits
	if s.creditsClient == nil && cfg.CreditsURL != "" {
		s.creditsClient = &HTTPCredits{BaseURL: cfg.CreditsURL, ServiceKey: cfg.ServiceKey}
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = stop
	if s.creditsClient != nil {
		s.credits = &creditsWorker{h: a.Host(), client: s.creditsClient, log: log, interval: 30 * time.Second,
			verified: cfg.RequireEmailVerification, stop: bg}
		s.wg.Add(1)
		go func() { defer s.wg.Done(); every(bg, s.credits.interval, s.credits.sweep) }()
	}
	s.wg.Add(1)
	go func() { defer s.wg.Done(); every(bg, maintainEvery, s.maintain) }()
	s.sync = deps.Sync
	if s.sync == nil && cfg.SyncDatabaseURL != "" {
		ps, err := OpenPostgresSync(ctx, cfg.SyncDatabaseURL)
		if err != nil {
			stop()
			return nil, err
		}
		s.sync = ps
		s.closers = append(s.closers, ps.Close)
	}
	s.handler = s.routes()
	return s, nil
}

// promoteAdmins gives role admin to the users of MANA_ADMIN_EMAILS whose
// address is verified (the others get it when they verify it, see the mana
// plugin's EmailVerified hook), and takes it from every user whose address
// is not verified: the admin role belongs to verified addresses only, so
// whoever signed up first with an admin's address holds nothing.
func (s *Server) promoteAdmins(ctx context.Context) error {
	for _, email := range s.cfg.AdminEmails {
		if _, err := s.db.Update(ctx, plugin.TableUser, storage.Record{"role": RoleAdmin},
			storage.W("email", plugin.NormalizeEmail(email)), storage.W("emailVerified", true)); err != nil {
			return fmt.Errorf("MANA_ADMIN_EMAILS: %w", err)
		}
	}
	n, err := s.db.Update(ctx, plugin.TableUser, storage.Record{"role": RoleUser},
		storage.W("role", RoleAdmin), storage.Where{Field: "emailVerified", Op: storage.Ne, Value: true})
	if err != nil {
		return fmt.Errorf("demoting unverified admins: %w", err)
	}
	if n > 0 {
		s.log.WarnContext(ctx, "took the admin role from users whose address is not verified", "users", n)
	}
	return nil
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(s.auth.Config().BasePath+"/", s.logAuthFailures(s.auth.Handler()))
	v1 := http.NewServeMux()
	s.v1 = v1
	s.v1AuthRoutes(v1)
	s.meRoutes(v1)
	s.adminRoutes(v1)
	s.internalRoutes(v1)
	s.vaultRoutes(v1)
	s.apiKeyRoutes(v1)
	mux.Handle("/api/v1/", s.auth.ProtectWith(routeOf(v1), s.refuseV1))
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "service": "mana-auth", "timestamp": plugin.FormatTime(time.Now())})
	})
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		if p, ok := s.db.(storage.Pinger); ok {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			if err := p.Ping(ctx); err != nil {
				s.log.WarnContext(r.Context(), "readiness: database unreachable", "err", err)
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "code": "DATABASE_UNREACHABLE"})
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	// /metrics on the main listener: not with its own listener, and in
	// production only behind METRICS_TOKEN.
	if s.cfg.MetricsAddr == "" && (s.cfg.MetricsToken != "" || !s.cfg.Production) {
		mux.Handle("GET /metrics", s.MetricsHandler())
	}
	return s.observe(s.cors(mux))
}

// Auth returns the SDK instance.
func (s *Server) Auth() *auth.Auth { return s.auth }

// JWT returns the jwt plugin (for minting and verifying access tokens).
func (s *Server) JWT() *jwt.Plugin { return s.jwt }

// Handler returns the root handler.
func (s *Server) Handler() http.Handler { return s.handler }

// MetricsHandler serves the Prometheus metrics (mount it on the listener
// of Config.MetricsAddr). With Config.MetricsToken it answers 401 unless
// the request carries "Authorization: Bearer <token>".
func (s *Server) MetricsHandler() http.Handler {
	return requireBearer(s.cfg.MetricsToken, s.metrics.handler())
}

// Close stops background work and releases what New opened.
func (s *Server) Close() error {
	timeout := s.cfg.ShutdownTimeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := s.auth.Shutdown(ctx); err != nil {
		s.log.Warn("shutdown: background mail still in flight", "err", err)
	}
	if s.otp != nil {
		if err := s.otp.Shutdown(ctx); err != nil {
			s.log.Warn("shutdown: one-time codes still being sent", "err", err)
		}
	}
	s.stop()
	s.wg.Wait()
	for _, c := range s.closers {
		c()
	}
	return nil
}

// CheckSchema reports whether the database has every table and column the
// mounted features need, under the configured naming (an error listing
// each missing or mistyped one, as mana-auth check-db prints them). The
// server checks it at start when it does not migrate (MIGRATE_ON_START
// false), so that a mismatch stops the start instead of failing requests.
func (s *Server) CheckSchema(ctx context.Context) error { return s.auth.CheckSchema(ctx) }

// WriteOpenAPI writes the OpenAPI document of the /api/auth routes the
// configuration mounts (the open-api plugin's, as GET
// /api/auth/open-api/generate-schema serves it), indented, to w. It opens
// no database: the routes do not depend on one.
func WriteOpenAPI(ctx context.Context, cfg Config, log *slog.Logger, w io.Writer) error {
	if cfg.Secret == "" && len(cfg.Secrets) == 0 {
		cfg.Secret = "openapi-only-secret-not-used-for-signing-000000"
	}
	cfg.AutoMigrate = false
	db := memory.New()
	s, err := NewWithStorage(ctx, cfg, db, Deps{Mailer: auth.Mailer(nil)}, log)
	if err != nil {
		return err
	}
	defer s.Close()
	return openapi.Write(w, s.host, openapi.Info{Title: "mana-auth", Description: "The /api/auth routes of the mana-auth reference server (Better Auth compatible)"})
}

// Migrate applies migrations, or with dryRun returns the SQL it would run.
func Migrate(ctx context.Context, cfg Config, log *slog.Logger, dryRun bool) ([]string, error) {
	if cfg.Secret == "" && len(cfg.Secrets) == 0 {
		cfg.Secret = "migration-only-secret-not-used-for-signing-0000"
	}
	var db storage.Adapter
	var err error
	if dryRun && cfg.DatabaseURL == "" {
		if _, serr := os.Stat(filepath.Join(cfg.DataDir, "mana-auth.db")); errors.Is(serr, os.ErrNotExist) {
			// No database yet: plan against an empty one in memory, so that
			// a dry run creates neither DATA_DIR nor a database file.
			db, err = sqlite.Open(ctx, sqlite.Options{Path: sqlite.MemoryPath, Logger: log})
		}
	}
	if db == nil && err == nil {
		db, err = OpenStorage(ctx, cfg, log)
	}
	if err != nil {
		return nil, err
	}
	defer func() {
		if c, ok := db.(storage.Closer); ok {
			c.Close()
		}
	}()
	cfg.AutoMigrate = false
	s, err := NewWithStorage(ctx, cfg, db, Deps{Mailer: auth.Mailer(nil)}, log)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if dryRun {
		p, ok := db.(storage.MigrationPlanner)
		if !ok {
			return nil, errors.New("this storage cannot plan migrations")
		}
		return p.PlanMigration(ctx, s.auth.Schema())
	}
	if err := s.auth.Migrate(ctx); err != nil {
		return nil, err
	}
	return nil, s.promoteAdmins(ctx)
}

// maintainEvery is how often each instance deletes what no request can
// use any more (Server.maintain).
const maintainEvery = 10 * time.Minute

// maintain deletes what no request can use any more: expired sessions
// and verification values, and login attempts older than any lock.
// Every instance runs it; the deletes are idempotent.
func (s *Server) maintain(ctx context.Context) {
	if _, err := s.auth.DeleteExpired(ctx); err != nil {
		s.log.WarnContext(ctx, "maintenance: deleting expired sessions and tokens failed", "err", err)
	}
	s.lock.prune(ctx)
}

// SetAdmin gives the user with email role admin (or takes it back). Only
// a verified address can be an admin.
func SetAdmin(ctx context.Context, cfg Config, log *slog.Logger, email string, admin bool) error {
	return offline(ctx, cfg, log, func(_ *Server, db storage.Adapter) error {
		return setAdmin(ctx, db, email, admin)
	})
}

func setAdmin(ctx context.Context, db storage.Adapter, email string, admin bool) error {
	email = plugin.NormalizeEmail(email)
	rec, err := db.FindOne(ctx, plugin.TableUser, storage.W("email", email))
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("no user with email %q", email)
	}
	if err != nil {
		return err
	}
	role := RoleUser
	if admin {
		if !rec.Bool("emailVerified") {
			return fmt.Errorf("%q has not verified its address: only a verified address can be an admin", email)
		}
		role = RoleAdmin
	}
	_, err = db.Update(ctx, plugin.TableUser, storage.Record{"role": role}, storage.W("id", rec.String("id")))
	return err
}

// offline runs fn for a command that works beside the service: it opens
// the configured storage and a server on it (no listener, no migrations)
// and closes both afterwards.
func offline(ctx context.Context, cfg Config, log *slog.Logger, fn func(*Server, storage.Adapter) error) error {
	if cfg.Secret == "" && len(cfg.Secrets) == 0 {
		// The commands sign nothing, but a server needs a valid secret.
		cfg.Secret = "offline-command-secret-not-used-for-signing"
	}
	db, err := OpenStorage(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		if c, ok := db.(storage.Closer); ok {
			c.Close()
		}
	}()
	cfg.AutoMigrate = false
	s, err := NewWithStorage(ctx, cfg, db, Deps{}, log)
	if err != nil {
		return err
	}
	defer s.Close()
	return fn(s, db)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// optionalPlugins builds the plugins DISABLED_PLUGINS may turn off, in
// mounting order: multi-session after every plugin that signs users in
// (its after-hook sees their session cookies), open-api last (its
// document lists every route mounted before it).
func (s *Server) optionalPlugins(cfg Config) ([]auth.Plugin, error) {
	var out []auth.Plugin
	if cfg.enabled("admin") {
		// The mana roles: MANA_ADMIN_EMAILS' verified addresses get
		// "admin" (the mana plugin's hooks), everyone else "user".
		ad, err := admin.New(admin.Options{DefaultRole: RoleUser, AdminRoles: []string{RoleAdmin}})
		if err != nil {
			return nil, err
		}
		s.admin = ad
		out = append(out, ad)
	}
	if cfg.enabled("username") {
		u, err := username.New(username.Options{})
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	if cfg.enabled("email-otp") {
		e, err := emailotp.New(emailotp.Options{})
		if err != nil {
			return nil, err
		}
		s.otp = e
		out = append(out, e)
	}
	if cfg.enabled("api-key") {
		// Metadata holds the /api/v1/api-keys display prefix.
		k, err := apikey.New(apikey.Options{EnableMetadata: true})
		if err != nil {
			return nil, err
		}
		s.apikeys = k
		out = append(out, k)
	}
	if cfg.enabled("multi-session") {
		m, err := multisession.New(multisession.Options{})
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if cfg.enabled("open-api") {
		o, err := openapi.New(openapi.Options{Info: openapi.Info{Title: "mana-auth", Description: "The /api/auth routes of the mana-auth reference server (Better Auth compatible)"}})
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

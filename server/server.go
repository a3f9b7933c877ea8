// Package server assembles the SDK into the mana-auth reference server:
// configuration from the environment, storage (PostgreSQL or the embedded
// SQLite default), the /api/auth routes, health and readiness probes.
//
// Usage (what cmd/mana-auth does):
//
//	cfg, err := server.FromEnv(os.Getenv)
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
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/postgres"
	"github.com/managarten/mana-auth/storage/sqlite"
)

// Server is the assembled service.
type Server struct {
	cfg  Config
	log  *slog.Logger
	db   storage.Adapter
	auth *auth.Auth
	mux  *http.ServeMux
}

// OpenStorage opens the database the configuration names: PostgreSQL when
// DatabaseURL is set, else SQLite at DataDir/mana-auth.db.
func OpenStorage(ctx context.Context, cfg Config, log *slog.Logger) (storage.Adapter, error) {
	if cfg.DatabaseURL != "" {
		db, err := postgres.Open(ctx, postgres.Options{URL: cfg.DatabaseURL, Schema: cfg.DatabaseSchema})
		if err != nil {
			return nil, fmt.Errorf("DATABASE_URL: %w", err)
		}
		return db, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("DATA_DIR: %w", err)
	}
	db, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(cfg.DataDir, "mana-auth.db"), Logger: log})
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return db, nil
}

// AuthConfig is the SDK configuration the server uses.
func (cfg Config) AuthConfig(log *slog.Logger) auth.Config {
	return auth.Config{
		BaseURL:        cfg.BaseURL,
		Secret:         cfg.Secret,
		AppName:        "Mana",
		TrustedOrigins: cfg.TrustedOrigins,
		TrustedProxies: cfg.TrustedProxies,
		Cookies: auth.CookieConfig{
			Prefix:         "mana",
			CrossSubDomain: cfg.CookieDomain != "",
			Domain:         cfg.CookieDomain,
		},
		Bearer: true,
		User:   auth.UserConfig{DeleteEnabled: true},
		Logger: log,
	}
}

// New opens storage, builds the SDK with the service's plugins, applies
// migrations (unless AutoMigrate is off) and mounts the routes.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Server, error) {
	if cfg.Secret == "" {
		return nil, &ConfigError{"AUTH_SECRET", "is not set"}
	}
	db, err := OpenStorage(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	s, err := NewWithStorage(ctx, cfg, db, log)
	if err != nil {
		if c, ok := db.(storage.Closer); ok {
			c.Close()
		}
		return nil, err
	}
	return s, nil
}

// NewWithStorage is New over an adapter the caller opened.
func NewWithStorage(ctx context.Context, cfg Config, db storage.Adapter, log *slog.Logger) (*Server, error) {
	a, err := auth.New(cfg.AuthConfig(log), db)
	if err != nil {
		return nil, err
	}
	if cfg.AutoMigrate {
		if err := a.Migrate(ctx); err != nil {
			return nil, fmt.Errorf("migrating the database: %w", err)
		}
	}
	s := &Server{cfg: cfg, log: log, db: db, auth: a, mux: http.NewServeMux()}
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	s.mux.Handle(s.auth.Config().BasePath+"/", s.auth.Handler())
	s.mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
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
}

// Auth returns the SDK instance.
func (s *Server) Auth() *auth.Auth { return s.auth }

// Handler returns the root handler.
func (s *Server) Handler() http.Handler { return s.mux }

// Close releases the database.
func (s *Server) Close() error {
	if c, ok := s.db.(storage.Closer); ok {
		return c.Close()
	}
	return nil
}

// Migrate applies migrations, or with dryRun returns the SQL it would run.
func Migrate(ctx context.Context, cfg Config, log *slog.Logger, dryRun bool) ([]string, error) {
	if cfg.Secret == "" {
		cfg.Secret = "migration-only-secret-not-used-for-signing-0000"
	}
	db, err := OpenStorage(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	defer func() {
		if c, ok := db.(storage.Closer); ok {
			c.Close()
		}
	}()
	a, err := auth.New(cfg.AuthConfig(log), db)
	if err != nil {
		return nil, err
	}
	if dryRun {
		p, ok := db.(storage.MigrationPlanner)
		if !ok {
			return nil, errors.New("this storage cannot plan migrations")
		}
		return p.PlanMigration(ctx, a.Schema())
	}
	return nil, a.Migrate(ctx)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

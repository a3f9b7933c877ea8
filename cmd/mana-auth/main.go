// Command mana-auth runs the mana-auth reference server.
//
//	mana-auth                 serve (default)
//	mana-auth migrate         apply database migrations and exit
//	mana-auth migrate -dry-run print the SQL migrations would run
//	mana-auth admin grant <email>   give a user role admin (revoke takes it back)
//	mana-auth vault rewrap     re-wrap every vault under the current KEK (online, resumable)
//
// Configuration comes from the environment (see .env.example). With no
// variables at all it serves on :3001 for development, on SQLite under
// ./data/, with a generated secret stored beside the database.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/managarten/mana-auth/server"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		// One line, whatever the error (pgx lists its attempts on several).
		msg := strings.Join(strings.Fields(err.Error()), " ")
		fmt.Fprintln(os.Stderr, "mana-auth:", msg)
		os.Exit(1)
	}
}

func newLogger(format string) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, nil))
}

func run(args []string) error {
	cfg, err := server.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg.LogFormat)
	slog.SetDefault(log)
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch cmd {
	case "serve":
		return serve(ctx, cfg, log)
	case "migrate":
		fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
		dry := fs.Bool("dry-run", false, "print the SQL instead of running it")
		if err := fs.Parse(args); err != nil {
			return err
		}
		stmts, err := server.Migrate(ctx, cfg, log, *dry)
		if err != nil {
			return err
		}
		if *dry {
			for _, s := range stmts {
				fmt.Println(s + ";")
			}
			if len(stmts) == 0 {
				fmt.Println("-- the database is up to date")
			}
			return nil
		}
		log.Info("migrations applied")
		return nil
	case "admin":
		if len(args) != 2 || (args[0] != "grant" && args[0] != "revoke") {
			return errors.New("usage: mana-auth admin grant|revoke <email>")
		}
		if err := server.SetAdmin(ctx, cfg, log, args[1], args[0] == "grant"); err != nil {
			return err
		}
		log.Info("role updated", "email", args[1], "admin", args[0] == "grant")
		return nil
	case "vault":
		fs := flag.NewFlagSet("vault rewrap", flag.ContinueOnError)
		batch := fs.Int("batch", 100, "vaults per batch")
		if len(args) == 0 || args[0] != "rewrap" {
			return errors.New("usage: mana-auth vault rewrap [-batch N]")
		}
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		err := server.RewrapVaults(ctx, cfg, log, *batch, func(done, total int) {
			log.Info("vault rewrap", "done", done, "total", total)
		})
		if err != nil {
			return err
		}
		log.Info("vault rewrap finished")
		return nil
	case "help", "-h", "--help":
		fmt.Println("usage: mana-auth [serve | migrate [-dry-run] | admin grant|revoke <email> | vault rewrap [-batch N]]")
		return nil
	}
	return fmt.Errorf("unknown command %q (try: serve, migrate)", cmd)
}

func serve(ctx context.Context, cfg server.Config, log *slog.Logger) error {
	generated, err := cfg.EnsureSecret()
	if err != nil {
		return err
	}
	if generated {
		log.Warn("DEVELOPMENT MODE: no AUTH_SECRET set; generated one and stored it (mode 0600). Set AUTH_SECRET in production.", "file", cfg.SecretSource)
	}
	if len(cfg.Secrets) > 0 {
		versions := make([]int, len(cfg.Secrets))
		for i, s := range cfg.Secrets {
			versions[i] = s.Version
		}
		log.Info("versioned secrets (BETTER_AUTH_SECRETS)", "current", versions[0], "versions", versions,
			"legacy_secret", cfg.SecretSource)
	}
	srv, err := server.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer srv.Close()

	ln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.Port))
	if err != nil {
		return fmt.Errorf("PORT: %w", err)
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	storageKind := "sqlite"
	if cfg.DatabaseURL != "" {
		storageKind = "postgres"
	}
	log.Info("mana-auth listening", "addr", ln.Addr().String(), "baseURL", cfg.BaseURL, "storage", storageKind, "production", cfg.Production)
	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(ln) }()
	var ms *http.Server
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			hs.Close()
			return fmt.Errorf("METRICS_ADDR: %w", err)
		}
		ms = &http.Server{Handler: srv.MetricsHandler(), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := ms.Serve(mln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
		log.Info("metrics listening", "addr", mln.Addr().String())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: draining in-flight requests", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if ms != nil {
		ms.Shutdown(sctx)
	}
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

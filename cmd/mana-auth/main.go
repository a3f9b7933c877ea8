// Command mana-auth runs the mana-auth reference server.
//
//	mana-auth                 serve (default)
//	mana-auth migrate         apply database migrations and exit
//	mana-auth migrate -dry-run print the SQL migrations would run
//	mana-auth check-db         compare the database with the schema, change nothing
//	mana-auth admin grant <email>   give a user role admin (revoke takes it back)
//	mana-auth vault rewrap     re-wrap every vault under the current KEK (online, resumable)
//	mana-auth version          print the version and VCS revision
//	mana-auth help             list the commands (also -h on any command)
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
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/managarten/mana-auth/server"
)

func main() {
	if err := run(os.Args[1:], os.Environ(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mana-auth:", oneLine(err))
		os.Exit(1)
	}
}

// oneLine is err on one line, whatever it holds (pgx lists its attempts on
// several); the errors of a join (every missing variable) are separated
// by "; ".
func oneLine(err error) string {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var parts []string
		for _, e := range j.Unwrap() {
			parts = append(parts, oneLine(e))
		}
		return strings.Join(parts, "; ")
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

const usage = `mana-auth: the mana-auth reference server.

Usage:
  mana-auth [serve]                    serve HTTP (the default)
  mana-auth migrate [-dry-run]         apply the database migrations and exit;
                                       -dry-run prints their SQL and writes nothing
  mana-auth check-db                   compare the database with the schema (and MANA_SCHEMA or
                                       SCHEMA_MAPPING_FILE) without changing it; exit 1 when the
                                       server cannot run on it
  mana-auth admin grant|revoke <email> give a user role admin (a verified address) or take it back
  mana-auth vault rewrap [-batch N]    re-wrap every vault under the current KEK
  mana-auth openapi                    print the OpenAPI 3.1 document of the /api/auth routes
  mana-auth version                    print the version and VCS revision
  mana-auth help                       print this help

Configuration comes from environment variables, all listed in docs/OPERATIONS.md
("Environment variables") and in .env.example. With none set it runs for
development: SQLite under ./data/, a generated secret, mail printed to the log,
listening on loopback only.
`

func newLogger(format string) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, nil))
}

// command is one subcommand: its flags are parsed before the environment
// is read, so that -h works whatever the environment holds.
type command struct {
	flags *flag.FlagSet
	run   func(ctx context.Context, cfg server.Config, log *slog.Logger, args []string) error
}

func commands(out io.Writer) map[string]command {
	newFlags := func(name, synopsis string) *flag.FlagSet {
		fs := flag.NewFlagSet(name, flag.ContinueOnError)
		fs.SetOutput(out)
		fs.Usage = func() {
			fmt.Fprintf(out, "usage: mana-auth %s\n", synopsis)
			fs.PrintDefaults()
			fmt.Fprintln(out, "\nEnvironment variables: docs/OPERATIONS.md. All commands: mana-auth help.")
		}
		return fs
	}
	migrateFlags := newFlags("migrate", "migrate [-dry-run]")
	dry := migrateFlags.Bool("dry-run", false, "print the SQL instead of running it; writes nothing")
	vaultFlags := newFlags("vault rewrap", "vault rewrap [-batch N]")
	batch := vaultFlags.Int("batch", 100, "vaults per batch")
	return map[string]command{
		"serve": {newFlags("serve", "[serve]"), func(ctx context.Context, cfg server.Config, log *slog.Logger, _ []string) error {
			return serve(ctx, cfg, log)
		}},
		"migrate": {migrateFlags, func(ctx context.Context, cfg server.Config, log *slog.Logger, _ []string) error {
			stmts, err := server.Migrate(ctx, cfg, log, *dry)
			if err != nil {
				return err
			}
			if *dry {
				for _, s := range stmts {
					fmt.Fprintln(out, s+";")
				}
				if len(stmts) == 0 {
					fmt.Fprintln(out, "-- the database is up to date")
				}
				return nil
			}
			log.Info("migrations applied")
			return nil
		}},
		"check-db": {newFlags("check-db", "check-db"), func(ctx context.Context, cfg server.Config, log *slog.Logger, _ []string) error {
			return server.CheckDB(ctx, cfg, log, out)
		}},
		"admin": {newFlags("admin", "admin grant|revoke <email>"), func(ctx context.Context, cfg server.Config, log *slog.Logger, args []string) error {
			if len(args) != 2 || (args[0] != "grant" && args[0] != "revoke") {
				return errors.New("usage: mana-auth admin grant|revoke <email>")
			}
			if err := server.SetAdmin(ctx, cfg, log, args[1], args[0] == "grant"); err != nil {
				return err
			}
			log.Info("role updated", "email", args[1], "admin", args[0] == "grant")
			return nil
		}},
		"openapi": {newFlags("openapi", "openapi"), func(ctx context.Context, cfg server.Config, log *slog.Logger, _ []string) error {
			return server.WriteOpenAPI(ctx, cfg, log, out)
		}},
		"vault": {vaultFlags, func(ctx context.Context, cfg server.Config, log *slog.Logger, _ []string) error {
			err := server.RewrapVaults(ctx, cfg, log, *batch, func(done, total int) {
				log.Info("vault rewrap", "done", done, "total", total)
			})
			if err != nil {
				return err
			}
			log.Info("vault rewrap finished")
			return nil
		}},
	}
}

// run runs the command of args in the environment environ ("NAME=value",
// as os.Environ returns it).
func run(args []string, environ []string, out io.Writer) error {
	name := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	switch name {
	case "help":
		fmt.Fprint(out, usage)
		return nil
	case "version":
		fmt.Fprintln(out, version())
		return nil
	}
	if name == "serve" && len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help":
			fmt.Fprint(out, usage)
			return nil
		case "-version", "--version":
			fmt.Fprintln(out, version())
			return nil
		}
	}
	cmd, ok := commands(out)[name]
	if !ok {
		return fmt.Errorf("unknown command %q (commands: serve, migrate, check-db, admin, vault, openapi, version, help)", name)
	}
	if name == "vault" {
		if len(args) == 0 || args[0] != "rewrap" {
			if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
				cmd.flags.Usage()
				return nil
			}
			return errors.New("usage: mana-auth vault rewrap [-batch N]")
		}
		args = args[1:]
	}
	if err := cmd.flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil // the usage is printed
		}
		return err
	}
	cfg, err := server.FromEnviron(environ)
	if err != nil {
		return err
	}
	log := newLogger(cfg.LogFormat)
	slog.SetDefault(log)
	// go-redis prints each failed dial of its pool on stderr; the failure
	// that matters reaches us as an error (one line). Keep its chatter at
	// debug level, in our log format.
	goredis.SetLogger(redisLogger{log})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return cmd.run(ctx, cfg, log, cmd.flags.Args())
}

// redisLogger is go-redis's logger writing to log at debug level.
type redisLogger struct{ log *slog.Logger }

// Printf logs one go-redis message.
func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

// version is the module version and the VCS revision the binary was built
// from (as `go version -m` shows them).
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "mana-auth (no build information)"
	}
	v := "mana-auth " + bi.Main.Version
	var rev, at string
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if dirty {
			rev += "+dirty"
		}
		v += " (" + rev
		if at != "" {
			v += ", " + at
		}
		v += ")"
	}
	return v + " " + bi.GoVersion
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
	if !cfg.AutoMigrate {
		// Not migrating: a database that lacks what the features need
		// stops the start, naming it, rather than failing requests.
		if err := srv.CheckSchema(ctx); err != nil {
			return fmt.Errorf("the database does not match the schema (mana-auth check-db lists it; mana-auth migrate adds what is missing): %w", err)
		}
	}

	lns, err := listen(cfg)
	if err != nil {
		return err
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
	addrs := make([]string, len(lns))
	for i, ln := range lns {
		addrs[i] = ln.Addr().String()
	}
	log.Info("mana-auth listening", "addr", strings.Join(addrs, ","), "baseURL", cfg.BaseURL, "storage", storageKind, "production", cfg.Production)
	errc := make(chan error, len(lns)+1)
	for _, ln := range lns {
		go func() { errc <- hs.Serve(ln) }()
	}
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
	for range lns {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	log.Info("stopped")
	return nil
}

// listen opens the server's listeners: on HOST:PORT, or with no HOST on
// every interface in production and on the loopback addresses (127.0.0.1
// and, where the machine has it, ::1) in development, so that a
// development server is not reachable from the network.
func listen(cfg server.Config) ([]net.Listener, error) {
	port := strconv.Itoa(cfg.Port)
	hosts := []string{cfg.Host}
	if cfg.Host == "" && !cfg.Production {
		hosts = []string{"127.0.0.1", "::1"}
	}
	var lns []net.Listener
	for i, h := range hosts {
		ln, err := net.Listen("tcp", net.JoinHostPort(h, port))
		if err != nil {
			if i > 0 && cfg.Host == "" {
				continue // no IPv6 loopback here: 127.0.0.1 serves
			}
			for _, l := range lns {
				l.Close()
			}
			if cfg.Host != "" {
				return nil, fmt.Errorf("HOST/PORT: %w", err)
			}
			return nil, fmt.Errorf("PORT: %w", err)
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

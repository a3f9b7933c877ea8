package compat_test

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testkit"
	"github.com/managarten/mana-auth/internal/testpg"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/postgres"
	"github.com/managarten/mana-auth/storage/sqlite"
)

// The client tests of the admin, username, multi-session, email-otp and
// api-key plugins share what is in this file: each runs its script
// (Better Auth's own client with the plugin's client plugin) against our
// server on SQLite and on PostgreSQL, then against real Better Auth with
// the same plugin (plugins-reference-server.mjs), so that a failure on
// our server points at the server rather than at the script.

// pluginDBs are the adapters the plugin client tests run our server on.
var pluginDBs = []string{"sqlite", "postgres"}

// openCompatDB opens a fresh database of the kind ("sqlite" or
// "postgres", which skips without a server, or fails in CI) for the test.
func openCompatDB(t *testing.T, kind string) storage.Adapter {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	switch kind {
	case "sqlite":
		db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "auth.db"), Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	case "postgres":
		db, err := postgres.Open(context.Background(), postgres.Options{URL: testpg.URL(),
			Schema: testpg.SchemaName(t, "compat_"), Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	t.Fatalf("unknown database %q", kind)
	return nil
}

// startPluginServer runs auth.New(cfg, <db>, plugins...) on a loopback
// port, migrated, with cfg.BaseURL set to that port, the test secret, a
// fast password hasher, no rate limiter and no logs (cfg may set
// anything else). Without routes the server is the auth handler alone;
// with routes it is a mux of /api/auth/ and the test routes (pattern ->
// handler). It returns the base URL and the server's Auth.
func startPluginServer(t *testing.T, db string, cfg auth.Config, routes map[string]http.Handler, plugins ...auth.Plugin) (string, *auth.Auth) {
	t.Helper()
	adapter := openCompatDB(t, db)
	ln, baseURL := listenLoopback(t)
	cfg.BaseURL = baseURL
	cfg.Secret = testSecret
	cfg.Hasher = testkit.FastHasher{}
	cfg.RateLimit.Disabled = true
	cfg.Logger = slog.New(slog.DiscardHandler)
	a, err := auth.New(cfg, adapter, plugins...)
	if err != nil {
		ln.Close()
		t.Fatalf("auth.New: %v", err)
	}
	if err := a.Migrate(context.Background()); err != nil {
		ln.Close()
		t.Fatalf("Migrate: %v", err)
	}
	var h http.Handler = a.Handler()
	if routes != nil {
		mux := http.NewServeMux()
		mux.Handle("/api/auth/", a.Handler())
		for pattern, route := range routes {
			mux.Handle(pattern, route)
		}
		h = mux
	}
	serveOn(t, ln, h)
	return baseURL, a
}

// pluginClientTest is one plugin's client test.
type pluginClientTest struct {
	script string // the Node script, e.g. "admin-client.mjs"
	// reference is the plugins of plugins-reference-server.mjs
	// (PLUGINS_REFERENCE) for the run against Better Auth.
	reference string
	// packages are the npm packages the script needs beyond better-auth
	// (a node_modules installed before package.json pinned them lacks
	// them: the test says so).
	packages []string
	// env is the environment of the script (and of the reference
	// server), "KEY=value".
	env []string
	// start runs our server with the plugin on the database db and
	// returns its base URL.
	start func(t *testing.T, db string) string
}

// run runs the script against our server on each of pluginDBs (subtests
// "sqlite", "postgres") and against Better Auth on PostgreSQL (subtest
// "better-auth-postgres", skipped in -short mode; PostgreSQL because
// Better Auth's memory adapter leaves the unset columns out of its
// answers, where a SQL database answers null); there the script sees
// REFERENCE=1.
func (c pluginClientTest) run(t *testing.T) {
	t.Helper()
	node := requireNode(t)
	dir := compatDir(t)
	ensureNodeModules(t, dir)
	for _, pkg := range c.packages {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg, "package.json")); err != nil {
			t.Fatalf("node_modules/%s is missing (package.json pins it; run `npm ci` in tests/compat): %v", pkg, err)
		}
	}
	for _, db := range pluginDBs {
		t.Run(db, func(t *testing.T) {
			runScript(t, node, dir, c.script, c.start(t, db), c.env...)
		})
	}
	t.Run("better-auth-postgres", func(t *testing.T) {
		if testing.Short() {
			t.Skip("skipped in -short mode")
		}
		url, schema := testpg.Schema(t, "compat_ba_")
		// startReferenceServer passes its own environment on.
		for _, kv := range append([]string{"PLUGINS_REFERENCE=" + c.reference,
			"REFERENCE_PG_URL=" + url, "REFERENCE_PG_SCHEMA=" + schema}, c.env...) {
			k, v, _ := strings.Cut(kv, "=")
			t.Setenv(k, v)
		}
		base := startReferenceServer(t, node, dir, "plugins-reference-server.mjs")
		runScript(t, node, dir, c.script, base, append([]string{"REFERENCE=1"}, c.env...)...)
	})
}

// Command custom-plugin serves the mana-auth SDK with a third-party plugin,
// bookmarks (see ./bookmarks), that adds a table, two routes, a before- and
// an after-hook and per-user data to the GDPR export and erasure.
//
// Run it with
//
//	go run ./examples/custom-plugin
//
// and try, with a cookie jar:
//
//	curl -c jar -H 'content-type: application/json' localhost:8082/api/auth/sign-up/email \
//	  -d '{"name":"Ada","email":"ada@example.com","password":"correct horse","acceptTerms":true}'
//	curl -b jar -H 'content-type: application/json' -H 'origin: http://localhost:8082' \
//	  localhost:8082/api/auth/bookmarks/add -d '{"url":"https://go.dev"}'
//	curl -b jar localhost:8082/api/auth/get-session   # … "bookmarkCount":1
//	curl -b jar localhost:8082/api/export             # … "bookmarks":[…]
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/examples/custom-plugin/bookmarks"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/sqlite"
)

func main() {
	addr := flag.String("addr", "localhost:8082", "listen address")
	dataDir := flag.String("data", filepath.Join("data", "custom-plugin"), "directory of the SQLite database")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *dataDir); err != nil {
		log.Fatal(err)
	}
}

// run serves the app on addr, over SQLite in dataDir, until ctx ends.
func run(ctx context.Context, addr, dataDir string) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	db, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dataDir, "auth.db")})
	if err != nil {
		return err
	}
	defer db.Close()
	secret := os.Getenv("AUTH_SECRET")
	if secret == "" {
		var b [32]byte
		rand.Read(b[:])
		secret = base64.StdEncoding.EncodeToString(b[:])
		log.Print("AUTH_SECRET is not set: using a random secret, sessions end with the process")
	}
	app, err := newApp(ctx, auth.Config{BaseURL: "http://" + addr, Secret: secret}, db)
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: addr, Handler: app.handler, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	log.Printf("listening on http://%s", addr)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// app is the assembled application.
type app struct {
	auth      *auth.Auth
	bookmarks *bookmarks.Plugin
	handler   http.Handler
}

// newApp builds the SDK over db with the bookmarks plugin, migrates it
// (creating the plugin's table beside the core's) and mounts the routes:
// the SDK's under /api/auth (the plugin's included) and GET /api/export,
// the signed-in user's data export.
func newApp(ctx context.Context, cfg auth.Config, db storage.Adapter) (*app, error) {
	cfg.User.DeleteEnabled = true // POST /api/auth/delete-user
	bm := bookmarks.New(bookmarks.Options{RequireTerms: true})
	a, err := auth.New(cfg, db, bm)
	if err != nil {
		return nil, err
	}
	if err := a.Migrate(ctx); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/api/auth/", a.Handler())
	mux.Handle("GET /api/export", a.RequireSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, err := a.ExportUser(r.Context(), auth.SessionFrom(r.Context()).User.ID)
		if err != nil {
			a.WriteError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(data)
	})))
	return &app{auth: a, bookmarks: bm, handler: mux}, nil
}

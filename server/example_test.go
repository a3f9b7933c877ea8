package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"log/slog"
	"net/http/httptest"

	"github.com/managarten/mana-auth/server"
	"github.com/managarten/mana-auth/storage/memory"
)

// ExampleNewWithStorage assembles the reference server from environment
// variables (here a map instead of os.Getenv) over the memory adapter, and
// calls its probes and an auth route.
func ExampleNewWithStorage() {
	env := map[string]string{
		"BASE_URL":    "http://localhost:3001",
		"AUTH_SECRET": "an-example-secret-of-at-least-32-characters",
	}
	cfg, err := server.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		log.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	srv, err := server.NewWithStorage(context.Background(), cfg, memory.New(), server.Deps{}, quiet)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	h := srv.Handler()

	for _, path := range []string{"/health", "/ready", "/api/auth/ok"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "http://localhost:3001"+path, nil))
		var body map[string]any
		json.Unmarshal(rec.Body.Bytes(), &body)
		fmt.Println(path, rec.Code, body["status"], body["ok"])
	}
	// Output:
	// /health 200 ok <nil>
	// /ready 200 ready <nil>
	// /api/auth/ok 200 <nil> true
}

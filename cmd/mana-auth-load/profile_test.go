package main

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"
)

// TestProfileScenario is off unless MANA_LOAD_PROFILE names scenarios (a
// comma list). It runs them against the server package in this process,
// so a CPU profile covers the server's code (and the load generator's,
// which pprof tells apart by package):
//
//	MANA_LOAD_PROFILE=token go test -run TestProfileScenario -cpuprofile /tmp/cpu.out ./cmd/mana-auth-load/
//	go tool pprof -top -focus 'mana-auth/(auth|jwt|server|storage)' /tmp/cpu.out
//
// MANA_LOAD_DATABASE_URL and MANA_LOAD_DATABASE_SCHEMA select PostgreSQL.
func TestProfileScenario(t *testing.T) {
	names := os.Getenv("MANA_LOAD_PROFILE")
	if names == "" {
		t.Skip("set MANA_LOAD_PROFILE=<scenario> to profile a scenario in process")
	}
	// The access log is part of the server's cost: keep it, but discard.
	ts := testServer(t, map[string]string{
		"DATABASE_URL":    os.Getenv("MANA_LOAD_DATABASE_URL"),
		"DATABASE_SCHEMA": os.Getenv("MANA_LOAD_DATABASE_SCHEMA"),
	}, slog.New(slog.NewTextHandler(discardWriter{}, nil)))
	o := defaultOptions()
	o.URL = ts.URL
	o.Scenarios = strings.Split(names, ",")
	o.Users, o.Duration, o.Pause = 20, 10*time.Second, time.Second
	o.physical = &Physical{SignPerSec: 1, VerifyPerSec: 1, ScryptPerSec: 1}
	var log strings.Builder
	rep, err := run(context.Background(), o, &log)
	t.Log(log.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		t.Logf("%s: %.0f req/s, p50 %s ms, not ok %s", r.Scenario, r.ReqPerSec, fmtMs(r.P50ms), fmtOutcomes(r.Outcomes))
	}
}

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }

package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func rep(label string, rs ...result) *report {
	r := &report{Label: label, Results: rs, Users: 10, SeedSeconds: 2, ServerVmHWMKB: 80 * 1024, BusyBefore: 0.1, LoadAfter: "1.00 0.50 0.25"}
	r.Machine.NumCPU, r.Machine.CPUModel, r.Machine.MemTotalMB, r.Machine.GoVersion = 2, "Test CPU", 24000, "go1.26.8"
	return r
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
		ok   bool
	}{
		{nil, 0, false}, {[]float64{3}, 3, true}, {[]float64{5, 1, 3}, 3, true}, {[]float64{4, 1, 3, 2}, 2.5, true},
	} {
		got, ok := median(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("median(%v) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestOneRoundTable(t *testing.T) {
	s := &summary{Date: "2026-12-07T07:00:00Z", Command: "go run ./bench/betterauth/cmd/bench-betterauth -duration=5s",
		OursRevision: "abc1234", BunVersion: "1.4.5", BAVersion: "1.7.25", PGVersion: "15.20",
		Duration: 5 * time.Second, Conns: 32, HashConns: 8, Users: 10, Dir: "/tmp/x"}
	s.Rounds = []roundReports{{
		Ours: rep("mana-auth (ours-r1)",
			result{Scenario: "token", ReqPerSec: 4000, P50ms: 5, P99ms: 20, ServerCPUPerReqUs: 250, PeakRSSKB: 40 * 1024},
			result{Scenario: "v1-validate", ReqPerSec: 9000, P50ms: 2, P99ms: 9, ServerCPUPerReqUs: 100, PeakRSSKB: 41 * 1024},
			result{Scenario: "sign-in", ReqPerSec: 20, P50ms: 300, P99ms: 700, ServerCPUPerReqUs: -1, PeakRSSKB: 60 * 1024, Outcomes: map[string]int{"503": 2}},
		),
		BA: rep("better-auth (ba-r1)",
			result{Scenario: "token", ReqPerSec: 1000, P50ms: 25, P99ms: 40, ServerCPUPerReqUs: 1000, PeakRSSKB: 160 * 1024},
			result{Scenario: "v1-validate", ReqPerSec: 500, P50ms: 60, P99ms: 90, ServerCPUPerReqUs: 2000, PeakRSSKB: 164 * 1024},
			result{Scenario: "sign-in", ReqPerSec: 10, P50ms: 600, P99ms: 900, ServerCPUPerReqUs: 90000, PeakRSSKB: 200 * 1024,
				Outcomes: map[string]int{"500": 1, "429": 3}},
		),
		BACached: rep("better-auth (ba-cached-r1)",
			result{Scenario: "v1-validate", ReqPerSec: 3000, P50ms: 10, P99ms: 20, ServerCPUPerReqUs: 600, PeakRSSKB: 150 * 1024},
		),
	}}
	var b bytes.Buffer
	writeSummary(&b, s)
	md := b.String()
	for _, want := range []string{
		"## mana-auth vs Better Auth 1.7.25 (Bun 1.4.5), PostgreSQL 15.20\n",
		"- machine: 2 CPUs (Test CPU), 24000 MB; go1.26.8\n",
		"- command: `go run ./bench/betterauth/cmd/bench-betterauth -duration=5s`\n",
		"- rate limiters: both off",
		"seeded 10 users at 5.0 sign-ups/s, lifetime peak RSS 80.0 MB",
		summaryHeader,
		"| token | 4000 / 1000 (4.00×) | 0 / 0 | 5.00 / 25.0 (0.20×) | 20.0 / 40.0 (0.50×) | 250 / 1000 (0.25×) | 40.0 / 160.0 (0.25×) |\n",
		"| v1-validate | 9000 / 500 (18.0×) | 0 / 0 | 2.00 / 60.0 (0.033×) | 9.00 / 90.0 (0.10×) | 100 / 2000 (0.050×) | 41.0 / 164.0 (0.25×) |\n",
		"| " + cachedScenario + " | 9000 / 3000 (3.00×) | 0 / 0 | 2.00 / 10.0 (0.20×) | 9.00 / 20.0 (0.45×) | 100 / 600 (0.17×) | 41.0 / 150.0 (0.27×) |\n",
		// Unknown CPU: no ratio.
		"| sign-in | 20.0 / 10.0 (2.00×) | 503×2 / 429×3 500×1 | 300 / 600 (0.50×) | 700 / 900 (0.78×) | ? / 90000 | 60.0 / 200.0 (0.30×) |\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q:\n%s", want, md)
		}
	}
	// The rows keep the tool's order, the cached row right after v1-validate.
	tok, val, cached, sign := strings.Index(md, "| token |"), strings.Index(md, "| v1-validate |"), strings.Index(md, "| "+cachedScenario), strings.Index(md, "| sign-in |")
	if !(tok < val && val < cached && cached < sign) {
		t.Errorf("row order: token %d, v1-validate %d, cached %d, sign-in %d", tok, val, cached, sign)
	}
	// Every row has the header's cells.
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "| ") && strings.Count(line, "|") != strings.Count(strings.SplitN(summaryHeader, "\n", 2)[0], "|") {
			t.Errorf("row %q: wrong number of cells", line)
		}
	}
}

func TestRoundsTakeMedians(t *testing.T) {
	s := &summary{OursRateLimit: true}
	for _, x := range []struct{ ours, ba float64 }{{100, 50}, {300, 100}, {90, 90}} {
		s.Rounds = append(s.Rounds, roundReports{
			Ours: rep("o", result{Scenario: "jwks", ReqPerSec: x.ours, P50ms: 1, P99ms: 2, ServerCPUPerReqUs: 10, PeakRSSKB: 1024}),
			BA:   rep("b", result{Scenario: "jwks", ReqPerSec: x.ba, P50ms: 1, P99ms: 4, ServerCPUPerReqUs: 20, PeakRSSKB: 2048, Outcomes: map[string]int{"500": 1}}),
		})
	}
	var b bytes.Buffer
	writeSummary(&b, s)
	md := b.String()
	// req/s medians 100 and 90; ratios 2, 3, 1: median 2, range 1–3.
	want := "| jwks | 100 / 90.0 (2.00× [1.00×–3.00×]) | 0 / 500×3 | 1.00 / 1.00 (1.00× [1.00×–1.00×]) | 2.00 / 4.00 (0.50× [0.50×–0.50×]) | 10.0 / 20.0 (0.50× [0.50×–0.50×]) | 1.0 / 2.0 (0.50× [0.50×–0.50×]) |\n"
	if !strings.Contains(md, want) {
		t.Errorf("summary lacks %q:\n%s", want, md)
	}
	if !strings.Contains(md, "3 rounds, alternating") || !strings.Contains(md, "mana-auth's on (RATE_LIMIT_ENABLED=true") {
		t.Errorf("conditions:\n%s", md)
	}
	if strings.Contains(md, cachedScenario) {
		t.Error("a cached row without a cached run")
	}
}

func TestDatabaseURL(t *testing.T) {
	got, err := databaseURL("postgres://postgres:p%40ss@127.0.0.1:5432/postgres?sslmode=disable", "bench_ba_1")
	if err != nil || got != "postgres://postgres:p%40ss@127.0.0.1:5432/bench_ba_1?sslmode=disable" {
		t.Errorf("databaseURL = %q, %v", got, err)
	}
	if _, err := databaseURL("host=127.0.0.1 user=postgres", "x"); err == nil {
		t.Error("a keyword/value string accepted")
	}
}

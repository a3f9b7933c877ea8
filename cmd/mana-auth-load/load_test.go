package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/managarten/mana-auth/server"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	cases := []struct {
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 50, 0},
		{ms(7), 50, 7 * time.Millisecond},
		{ms(7), 99, 7 * time.Millisecond},
		{ms(1, 2), 50, 1 * time.Millisecond},
		{ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 75, 3 * time.Millisecond},
		{ms(1, 2, 3, 4), 76, 4 * time.Millisecond},
		{ms(1, 2, 3, 4), 100, 4 * time.Millisecond},
		{ms(1, 2, 3, 4), 0, 1 * time.Millisecond},
		{hundred, 50, 50 * time.Millisecond},
		{hundred, 99, 99 * time.Millisecond},
		{hundred, 99.5, 100 * time.Millisecond},
		{hundred, 1, 1 * time.Millisecond},
	}
	for _, c := range cases {
		if got := percentile(c.in, c.p); got != c.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", c.in, c.p, got, c.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	r := Result{Scenario: "token", OK: 400, Requests: 401, LimitKind: limitSign, ServerCores: 0.5}
	ok := []time.Duration{3 * time.Millisecond, 1 * time.Millisecond, 2 * time.Millisecond, 100 * time.Millisecond}
	r.summarize(ok, nil, 2*time.Second, Physical{SignPerSec: 1000}, 2)
	if r.ReqPerSec != 200 || r.Limit != 2000 || r.PctOfLimit != 10 || r.PctPerServerCore != 40 {
		t.Errorf("rates: %+v", r)
	}
	if r.P50ms != 2 || r.P99ms != 100 || r.MaxMs != 100 {
		t.Errorf("latencies: p50 %v p99 %v max %v", r.P50ms, r.P99ms, r.MaxMs)
	}
	// No OK answers: latencies of all answers; no limit kind: no ratios.
	r = Result{Scenario: "jwks"}
	r.summarize(nil, []time.Duration{5 * time.Millisecond}, time.Second, Physical{SignPerSec: 1000}, 2)
	if r.P50ms != 5 || r.Limit != 0 || r.PctOfLimit != 0 || r.ReqPerSec != 0 {
		t.Errorf("no-ok result: %+v", r)
	}
}

func TestTableFormatting(t *testing.T) {
	phys := Physical{SignPerSec: 20000, VerifyPerSec: 8000, ScryptPerSec: 15.5}
	rs := []Result{
		{Scenario: "token", Connections: 32, OK: 123456, ReqPerSec: 12345.6, P50ms: 2.345, P99ms: 15.25, MaxMs: 120.4,
			ServerCores: 1.5, ToolCores: 0.4, OtherCores: 0.05, ServerCPUSeconds: 15, ServerCPUPerReqUs: 121.51, PeakRSSKB: 30 * 1024, StartRSSKB: 20 * 1024,
			LimitKind: limitSign, Cores: 2, Limit: 40000, PctOfLimit: 30.864, PctPerServerCore: 41.15},
		{Scenario: "jwks", Connections: 32, OK: 10, ReqPerSec: 5, P50ms: 0.5, P99ms: 0.9, MaxMs: 1,
			ServerCores: -1, ToolCores: 0.2, OtherCores: -1, ServerCPUSeconds: -1, ServerCPUPerReqUs: -1,
			Outcomes: map[string]int{"503": 2, "429": 12, "net": 1}},
	}
	got := formatTable(rs, phys)
	want := tableHeader +
		"| token | 32 | 123456 | 12346 | 122 | 2.35 | 15.2 | 120 | 0 | 1.50/0.40/0.05 | 30.0 (20.0) | sign 20000/s × 2 = 40000 | 30.9% | 41.1% |\n" +
		"| jwks | 32 | 10 | 5.0 | ? | 0.50 | 0.90 | 1.00 | 429×12 503×2 net×1 | ?/0.20/? | — | — | — | — |\n"
	if got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
	// Every row has as many cells as the header.
	for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
		if n := strings.Count(line, "|"); n != strings.Count(strings.SplitN(tableHeader, "\n", 2)[0], "|") {
			t.Errorf("row %q has %d separators", line, n)
		}
	}
	flood := Result{Scenario: "signin-flood", Connections: 200, Seconds: 10, Requests: 1000, OK: 150, ReqPerSec: 15,
		Outcomes: map[string]int{"503": 800, "429": 0, "500": 50}, PeakRSSKB: 100 * 1024,
		Flood: &FloodInfo{Probes: 99, ProbeMaxMs: 12.5, ServerUpAfter: true, AfterStatus: 200}}
	line := formatFlood(flood)
	for _, s := range []string{"200 concurrent", "200×150", "429×0", "503×800", "other×50", "probes during the flood: 99, 0 failed", "max 12.5 ms", "server up afterwards: yes", "peak RSS 100.0 MB"} {
		if !strings.Contains(line, s) {
			t.Errorf("flood line %q lacks %q", line, s)
		}
	}
	if formatFlood(Result{}) != "" {
		t.Error("formatFlood without flood info is not empty")
	}
}

func TestOutcomesAndRates(t *testing.T) {
	if got := fmtOutcomes(nil); got != "0" {
		t.Errorf("fmtOutcomes(nil) = %q", got)
	}
	if got := fmtOutcomes(map[string]int{"bad-body": 1, "500": 3}); got != "500×3 bad-body×1" {
		t.Errorf("fmtOutcomes = %q", got)
	}
	for in, want := range map[float64]string{0.5: "0.50", 12.34: "12.3", 123.4: "123"} {
		if got := fmtMs(in); got != want {
			t.Errorf("fmtMs(%v) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[float64]string{2.71: "2.7", 99.94: "99.9", 1234.5: "1234"} {
		if got := fmtRate(in); got != want {
			t.Errorf("fmtRate(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestLoopbackURL(t *testing.T) {
	good := map[string]string{
		"http://127.0.0.1:3001":        "http://127.0.0.1:3001",
		"http://127.0.0.1:3001/":       "http://127.0.0.1:3001",
		"http://127.9.8.7":             "http://127.9.8.7",
		"https://localhost:8443/base/": "https://localhost:8443/base",
		"http://LOCALHOST:1":           "http://LOCALHOST:1",
		"http://[::1]:3001":            "http://[::1]:3001",
		"http://[::ffff:127.0.0.1]:1":  "http://[::ffff:127.0.0.1]:1",
	}
	for in, want := range good {
		u, err := checkLoopbackURL(in)
		if err != nil {
			t.Errorf("checkLoopbackURL(%q): %v", in, err)
			continue
		}
		if u.String() != want {
			t.Errorf("checkLoopbackURL(%q) = %q, want %q", in, u, want)
		}
	}
	bad := []string{
		"http://10.0.0.1:3001", "http://192.168.1.2", "http://0.0.0.0:3001", "http://[::]:3001",
		"http://example.com", "http://localhost.example.com", "http://127.0.0.1.nip.io",
		"ftp://127.0.0.1", "127.0.0.1:3001", "http://user:pw@127.0.0.1", "http://127.0.0.1/?x=1",
		"", "http://", "http://[fe80::1%25lo]:1", "http://2130706433",
	}
	for _, in := range bad {
		if _, err := checkLoopbackURL(in); err == nil {
			t.Errorf("checkLoopbackURL(%q) accepted", in)
		}
	}
	for addr, ok := range map[string]bool{"127.0.0.1:80": true, "[::1]:80": true, "10.0.0.1:80": false, "[2001:db8::1]:443": false, "garbage": false} {
		if err := loopbackControl("tcp", addr, nil); (err == nil) != ok {
			t.Errorf("loopbackControl(%q) = %v", addr, err)
		}
	}
}

func TestOptionsValidation(t *testing.T) {
	o := defaultOptions()
	if err := o.validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for name, mut := range map[string]func(*options){
		"remote url":     func(o *options) { o.URL = "http://203.0.113.5:3001" },
		"long duration":  func(o *options) { o.Duration = time.Hour },
		"zero conns":     func(o *options) { o.Conns = 0 },
		"bin and pid":    func(o *options) { o.ServerBin, o.PID = "/bin/true", 1 },
		"env no bin":     func(o *options) { o.ServerEnv = []string{"A=B"} },
		"bad scenario":   func(o *options) { o.Scenarios = []string{"sign-in,nope"} },
		"huge maxreq":    func(o *options) { o.MaxReq = 1 << 40 },
		"negative procs": func(o *options) { o.Procs = -1 },
	} {
		o := defaultOptions()
		mut(&o)
		if err := o.validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	got, err := expandScenarios([]string{"token, all,signin-flood"})
	if err != nil {
		t.Fatal(err)
	}
	want := append([]string{"token"}, slices.DeleteFunc(slices.Clone(scenarioOrder), func(s string) bool { return s == "token" })...)
	want = append(want, "signin-flood")
	if !slices.Equal(got, want) {
		t.Errorf("expandScenarios = %v, want %v", got, want)
	}
}

func TestIPPool(t *testing.T) {
	if got := ipFromCounter(0x010203); got != "10.1.2.3" {
		t.Errorf("ipFromCounter = %q", got)
	}
	p := newIPPool(0xfffffe)
	c := clientIP{pool: p, budget: 2}
	seq := []string{c.get(), c.get(), c.get(), c.get(), c.get()}
	want := []string{"10.255.255.255", "10.255.255.255", "10.0.0.0", "10.0.0.0", "10.0.0.1"}
	if !slices.Equal(seq, want) {
		t.Errorf("addresses %v, want %v", seq, want)
	}
}

func TestProcParsing(t *testing.T) {
	status := []byte("Name:\tmana-auth\nVmPeak:\t  900 kB\nVmHWM:\t   51234 kB\nVmRSS:\t   40960 kB\n")
	if v, err := parseStatusKB(status, "VmHWM"); err != nil || v != 51234 {
		t.Errorf("VmHWM = %d, %v", v, err)
	}
	if v, err := parseStatusKB(status, "VmRSS"); err != nil || v != 40960 {
		t.Errorf("VmRSS = %d, %v", v, err)
	}
	if _, err := parseStatusKB(status, "VmSwap"); err == nil {
		t.Error("missing field parsed")
	}
	stat := []byte("1234 (mana auth (x)) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 12 0 100 0 0")
	if v, err := parseStatTicks(stat); err != nil || v != 300 {
		t.Errorf("ticks = %d, %v", v, err)
	}
	// This process can be read.
	if kb, err := procStatusKB(os.Getpid(), "VmRSS"); err != nil || kb <= 0 {
		t.Skipf("no /proc here: %v", err)
	}
	s := startRSS(os.Getpid(), 10*time.Millisecond)
	time.Sleep(30 * time.Millisecond)
	if peak, first := s.Stop(); peak <= 0 || first <= 0 || peak < first {
		t.Errorf("rss sampler peak %d first %d", peak, first)
	}
	if peak, _ := startRSS(0, time.Millisecond).Stop(); peak != 0 {
		t.Error("sampler without pid reported RSS")
	}
}

func TestServerEnv(t *testing.T) {
	parent := []string{"HOME=/home/x", "DATABASE_URL=postgres://a", "PORT=9"}
	got, err := serverEnv(parent, []string{"DATABASE_SCHEMA=bench_1", "TRUSTED_PROXIES=127.0.0.1"}, 4321, "/tmp/d")
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"HOME": "/home/x", "DATABASE_URL": "postgres://a", "PORT": "4321",
		"DATABASE_SCHEMA": "bench_1", "TRUSTED_PROXIES": "127.0.0.1", "BASE_URL": "http://127.0.0.1:4321", "DATA_DIR": "/tmp/d"} {
		if v := envValue(got, k); v != want {
			t.Errorf("%s = %q, want %q", k, v, want)
		}
	}
	if len(envValue(got, "AUTH_SECRET")) < 32 {
		t.Error("no generated AUTH_SECRET")
	}
	if _, err := serverEnv(nil, []string{"NOEQUALS"}, 1, "/d"); err == nil {
		t.Error("bad --env accepted")
	}
}

// TestEndToEnd runs every scenario (and a small flood) for about a second
// with two connections against the real server package, in process.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	ts := testServer(t, nil, nil)
	ctx := context.Background()

	o := defaultOptions()
	o.URL = ts.URL
	o.Scenarios = []string{"all,signin-flood"}
	o.Users, o.SeedConc = 3, 2
	o.Duration, o.Pause = time.Second, 0
	o.Conns, o.HashConns, o.FloodConns = 2, 2, 6
	o.SignN, o.VerifyN, o.ScryptN, o.JWTs = 20, 20, 1, 3
	if raceEnabled {
		// Instrumented scrypt takes seconds: hash as little as possible.
		o.Users, o.FloodConns = 2, 3
		o.physical = &Physical{SignPerSec: 1000, VerifyPerSec: 1000, ScryptPerSec: 1, SignN: 1, VerifyN: 1, ScryptN: 1}
	}
	var log bytes.Buffer
	start := time.Now()
	rep, err := run(ctx, o, &log)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, log.String())
	}
	t.Logf("%s in %s", log.String(), time.Since(start))
	if rep.Physical.SignPerSec <= 0 || rep.Physical.VerifyPerSec <= 0 || rep.Physical.ScryptPerSec <= 0 {
		t.Errorf("calibration: %+v", rep.Physical)
	}
	seen := map[string]bool{}
	for _, r := range rep.Results {
		seen[r.Scenario] = true
		if r.OK == 0 || r.ReqPerSec <= 0 {
			t.Errorf("%s: no throughput: %+v", r.Scenario, r)
		}
		if r.Unexpected != 0 {
			t.Errorf("%s: unexpected answers %v", r.Scenario, r.Outcomes)
		}
		if r.Scenario == "signin-flood" && (r.Flood == nil || !r.Flood.ServerUpAfter) {
			t.Errorf("flood: server not up afterwards: %+v", r.Flood)
		}
		if r.LimitKind != "" && r.Limit <= 0 {
			t.Errorf("%s: no limit computed", r.Scenario)
		}
	}
	for _, n := range append(slices.Clone(scenarioOrder), "signin-flood") {
		if !seen[n] {
			t.Errorf("scenario %s did not run", n)
		}
	}
	var md bytes.Buffer
	writeMarkdown(&md, rep)
	if !strings.Contains(md.String(), tableHeader) || !strings.Contains(md.String(), "| v1-validate | 2 |") {
		t.Errorf("markdown:\n%s", md.String())
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Error(err)
	}
}

// testServer runs the reference server (on SQLite in a temporary
// directory unless env says otherwise), with env added to its
// configuration, logging to log (nil: nowhere).
func testServer(t *testing.T, env map[string]string, log *slog.Logger) *httptest.Server {
	t.Helper()
	envm := map[string]string{
		"DATA_DIR":        t.TempDir(),
		"TRUSTED_PROXIES": "127.0.0.1,::1",
		"AUTH_SECRET":     "end-to-end-secret-0123456789abcdefghijklmnop",
	}
	maps.Copy(envm, env)
	cfg, err := server.FromEnv(func(k string) string { return envm[k] })
	if err != nil {
		t.Fatal(err)
	}
	// The development mailer logs through the default logger.
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.DiscardHandler))
	t.Cleanup(func() { slog.SetDefault(prev) })
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srv, err := server.New(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts
}

// TestCookies runs the session scenarios with the cookies sign-up set,
// against a server with and without its cookie cache: every answer must
// find the session, and with the cache on the cookies must hold it.
func TestCookies(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	for _, tc := range []struct {
		name      string
		env       map[string]string
		wantCache bool
	}{
		{"no cache", nil, false},
		{"cookie cache", map[string]string{"SESSION_COOKIE_CACHE_MAX_AGE": "300"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := testServer(t, tc.env, nil)
			o := defaultOptions()
			o.URL = ts.URL
			o.Scenarios = []string{"get-session,token"}
			o.Cookies = true
			o.Users, o.SeedConc, o.Conns = 2, 2, 2
			o.Duration, o.Pause = 300*time.Millisecond, 0
			o.physical = &Physical{SignPerSec: 1000, VerifyPerSec: 1000, ScryptPerSec: 1, SignN: 1, VerifyN: 1, ScryptN: 1}
			var log bytes.Buffer
			rep, err := run(context.Background(), o, &log)
			if err != nil {
				t.Fatalf("run: %v\n%s", err, log.String())
			}
			if len(rep.Results) != 2 {
				t.Fatalf("results: %+v", rep.Results)
			}
			for _, r := range rep.Results {
				if r.OK == 0 || r.Unexpected != 0 {
					t.Errorf("%s: ok %d, outcomes %v", r.Scenario, r.OK, r.Outcomes)
				}
			}
			if !strings.HasPrefix(rep.Credentials, "cookies: ") || !strings.Contains(rep.Credentials, "session_token") {
				t.Errorf("credentials %q: want the session cookie", rep.Credentials)
			}
			if got := strings.Contains(rep.Credentials, "session_data"); got != tc.wantCache {
				t.Errorf("credentials %q: session_data present = %v, want %v", rep.Credentials, got, tc.wantCache)
			}
		})
	}
}

// TestMainRefusesRemote checks the command line refuses a non-loopback
// target before sending anything.
func TestMainRefusesRemote(t *testing.T) {
	var out, errb bytes.Buffer
	code := mainRun(context.Background(), []string{"--url=http://192.0.2.1:3001", "--scenario=jwks"}, &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "non-loopback") {
		t.Errorf("code %d, stderr %q", code, errb.String())
	}
	code = mainRun(context.Background(), []string{"--help"}, io.Discard, &errb)
	if code != 0 || !strings.Contains(errb.String(), "TRUSTED_PROXIES=127.0.0.1") {
		t.Errorf("help: code %d", code)
	}
}

func TestCPUListCount(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"1", 1, true}, {"0,2", 2, true}, {"2-3", 2, true}, {"0-3,2", 4, true}, {"1,1", 1, true},
		{"", 0, false}, {"a", 0, false}, {"3-1", 0, false}, {"-1", 0, false}, {"1-", 0, false}, {"0,,1", 0, false}, {"5000", 0, false},
	} {
		got, err := cpuListCount(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("cpuListCount(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestServerCPUsNeedsServerBin(t *testing.T) {
	t.Parallel()
	var out, errb strings.Builder
	if code := mainRun(context.Background(), []string{"--server-cpus=1", "--scenario=ok"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "--server-cpus") {
		t.Fatalf("exit %d, stderr %q; want 2 naming --server-cpus", code, errb.String())
	}
	if code := mainRun(context.Background(), []string{"--server-bin=/bin/true", "--server-cpus=x"}, &out, &errb); code != 2 {
		t.Fatalf("bad list: exit %d; want 2", code)
	}
}

// The calibration runs on the server's CPU when --server-cpus names one.
func TestCalibratePinned(t *testing.T) {
	if runtime.GOOS != "linux" || raceEnabled {
		t.Skip("pinning is Linux-only; the race detector makes the loops slow")
	}
	p, err := calibrate(50, 50, 1, "0")
	if err != nil || p.CPUs != "0" || p.SignPerSec <= 0 || p.VerifyPerSec <= 0 || p.ScryptPerSec <= 0 {
		t.Fatalf("calibrate on CPU 0: %+v, %v", p, err)
	}
	if _, err := calibrate(1, 1, 1, "4095"); err == nil {
		t.Fatal("calibrate on a CPU this machine does not have: no error")
	}
}

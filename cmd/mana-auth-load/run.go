package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"
)

// options are the tool's settings (the flags).
type options struct {
	URL        string
	ServerBin  string
	ServerEnv  []string
	ServerArgs []string // arguments of ServerBin
	ServerLog  string
	KeepData   bool
	PID        int
	Label      string
	Scenarios  []string
	Users      int
	SeedConc   int
	Duration   time.Duration
	Conns      int
	HashConns  int
	FloodConns int
	MaxReq     int
	Pause      time.Duration
	Cores      int
	ServerCPUs string // taskset CPU list for the started server ("" = no pinning)
	Timeout    time.Duration
	SignN      int
	VerifyN    int
	ScryptN    int
	JWTs       int
	// Cookies sends the session scenarios' credential as the cookies
	// sign-up set (session_token, and session_data when the server's cookie
	// cache is on) instead of Authorization: Bearer.
	Cookies bool
	// Procs is the tool's GOMAXPROCS while it drives a scenario (0: Go's
	// default, every CPU). The tool shares the machine with the server:
	// fewer threads cost it less CPU in scheduling and wake-ups, as a
	// load generator with a fixed thread count (wrk -t) does.
	Procs int
	// Client is the HTTP client of the measured loop: "raw" (rawConn, the
	// default) or "net/http".
	Client   string
	JSONPath string
	Pprof    string
	WaitIdle float64
	WaitMax  time.Duration
	// physical, when set, replaces the calibration (tests under -race,
	// where the instrumented crypto would take long and mean nothing).
	physical *Physical
}

func defaultOptions() options {
	return options{
		URL:        "http://127.0.0.1:3001",
		Scenarios:  []string{"all"},
		Users:      100,
		SeedConc:   4,
		Duration:   10 * time.Second,
		Conns:      32,
		HashConns:  8,
		FloodConns: 200,
		MaxReq:     2_000_000,
		Pause:      2 * time.Second,
		Cores:      runtime.NumCPU(),
		Timeout:    30 * time.Second,
		WaitMax:    15 * time.Minute,
		SignN:      10000,
		VerifyN:    5000,
		ScryptN:    15,
		JWTs:       32,
		Client:     "raw",
	}
}

// Bounds keep every run finite and local.
const (
	maxDuration = 10 * time.Minute
	maxConns    = 2000
	maxUsers    = 100_000
	maxMaxReq   = 20_000_000
)

func (o *options) validate() error {
	switch {
	case o.Duration <= 0 || o.Duration > maxDuration:
		return fmt.Errorf("--duration must be in (0, %s]", maxDuration)
	case o.Conns < 1 || o.Conns > maxConns, o.HashConns < 1 || o.HashConns > maxConns, o.FloodConns < 1 || o.FloodConns > maxConns:
		return fmt.Errorf("connection counts must be in [1, %d]", maxConns)
	case o.Users < 1 || o.Users > maxUsers:
		return fmt.Errorf("--users must be in [1, %d]", maxUsers)
	case o.SeedConc < 1 || o.SeedConc > 256:
		return errors.New("--seed-concurrency must be in [1, 256]")
	case o.MaxReq < 1 || o.MaxReq > maxMaxReq:
		return fmt.Errorf("--max-requests must be in [1, %d]", maxMaxReq)
	case o.Timeout <= 0 || o.Timeout > 5*time.Minute:
		return errors.New("--timeout must be in (0, 5m]")
	case o.Pause < 0 || o.Pause > time.Minute:
		return errors.New("--pause must be in [0, 1m]")
	case o.Cores < 1 || o.Cores > 4096:
		return errors.New("--cores must be at least 1")
	case o.SignN < 1 || o.VerifyN < 1 || o.ScryptN < 1 || o.SignN > 1_000_000 || o.VerifyN > 1_000_000 || o.ScryptN > 1000:
		return errors.New("calibration iteration counts out of range")
	case o.WaitIdle < 0 || o.WaitMax < 0 || o.WaitMax > time.Hour:
		return errors.New("--wait-idle must be >= 0 and --wait-max in [0, 1h]")
	case o.Client != "raw" && o.Client != "net/http":
		return errors.New(`--client must be "raw" or "net/http"`)
	case o.Procs < 0 || o.Procs > 4096:
		return errors.New("--procs must be in [0, 4096]")
	case o.JWTs < 1 || o.JWTs > 10_000:
		return errors.New("--jwts must be in [1, 10000]")
	case o.ServerBin != "" && o.PID != 0:
		return errors.New("--server-bin and --pid exclude each other")
	case o.ServerBin == "" && (len(o.ServerEnv) > 0 || len(o.ServerArgs) > 0 || o.ServerLog != "" || o.ServerCPUs != ""):
		return errors.New("--env, --server-arg, --server-log and --server-cpus need --server-bin")
	}
	if o.ServerCPUs != "" {
		if _, err := cpuListCount(o.ServerCPUs); err != nil {
			return fmt.Errorf("--server-cpus: %w", err)
		}
	}
	if _, err := expandScenarios(o.Scenarios); err != nil {
		return err
	}
	if o.ServerBin == "" {
		if _, err := checkLoopbackURL(o.URL); err != nil {
			return err
		}
	}
	return nil
}

// expandScenarios resolves "all" and comma lists into scenario names.
func expandScenarios(names []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, n := range names {
		for _, s := range strings.Split(n, ",") {
			s = strings.TrimSpace(s)
			var add []string
			switch {
			case s == "":
				continue
			case s == "all":
				add = scenarioOrder
			case scenarios[s] != nil:
				add = []string{s}
			default:
				return nil, fmt.Errorf("unknown scenario %q (known: all, %s, signin-flood)", s, strings.Join(scenarioOrder, ", "))
			}
			for _, a := range add {
				if !seen[a] {
					seen[a] = true
					out = append(out, a)
				}
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no scenario given")
	}
	return out, nil
}

// Report is everything one run measured (the --json document).
type Report struct {
	Date      string  `json:"date"`
	Label     string  `json:"label,omitempty"`
	Storage   string  `json:"storage,omitempty"`
	URL       string  `json:"url"`
	Machine   Machine `json:"machine"`
	LoadAfter string  `json:"loadAvgAfter"`
	// BusyBefore is the machine's busy CPU (cores) just before the run.
	BusyBefore float64  `json:"busyCoresBefore"`
	Cores      int      `json:"cores"`
	Physical   Physical `json:"physical"`
	// PhysicalAll are the aggregate rates of the same loops on all CPUs at
	// once (Machine.NumCPU workers): how the cores really add up.
	PhysicalAll *Physical `json:"physicalAllCPUs,omitempty"`
	Users       int       `json:"users"`
	// Credentials says how the session scenarios authenticated: "bearer",
	// or "cookies: " and the names of the cookies sent.
	Credentials string `json:"credentials,omitempty"`
	// ToolProcs is the tool's GOMAXPROCS while driving (--procs; 0: all).
	ToolProcs int `json:"toolProcs,omitempty"`
	// Client is the measured loop's HTTP client (--client).
	Client        string   `json:"client,omitempty"`
	SeedSeconds   float64  `json:"seedSeconds"`
	Results       []Result `json:"results"`
	ServerPID     int      `json:"serverPid,omitempty"`
	ServerVmHWMKB int64    `json:"serverVmHWMKB,omitempty"`
	ServerVmRSSKB int64    `json:"serverVmRSSKB,omitempty"`
	Notes         []string `json:"notes,omitempty"`
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// run does one whole measurement: calibrate, start or attach to the
// server, seed, drive the scenarios, and stop what it started. Progress
// goes to logw.
func run(ctx context.Context, o options, logw io.Writer) (rep *Report, err error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	names, _ := expandScenarios(o.Scenarios)
	logf := func(format string, a ...any) { fmt.Fprintf(logw, format+"\n", a...) }

	rep = &Report{Date: time.Now().UTC().Format(time.RFC3339), Label: o.Label, Cores: o.Cores, Users: o.Users, ToolProcs: o.Procs, Client: o.Client}
	rep.Machine = readMachine()
	rep.Machine.NumCPU = runtime.NumCPU()
	rep.Machine.GoVersion = runtime.Version()
	logf("machine: %d CPUs (%s), %d MB, load average %s", rep.Machine.NumCPU, rep.Machine.CPUModel, rep.Machine.MemTotalMB, rep.Machine.LoadAvg)
	// How busy the machine is (other jobs share its CPUs): waited for
	// with --wait-idle, else measured over 2 s.
	var busy float64
	if o.WaitIdle > 0 {
		busy, err = waitIdle(ctx, o.WaitIdle, o.WaitMax, logf)
		if err != nil {
			return rep, err
		}
		if busy >= o.WaitIdle {
			n := fmt.Sprintf("the machine did not become idle within %s (%.2f cores busy, wanted < %.2f): measured anyway", o.WaitMax, busy, o.WaitIdle)
			rep.Notes = append(rep.Notes, n)
			logf("warning: %s", n)
		}
		rep.Machine.LoadAvg, rep.Machine.Load1 = loadAvg()
	} else {
		busy = busyOver(ctx, 2*time.Second)
		if busy > 0.5 {
			n := fmt.Sprintf("the machine was busy before the run (%.2f of %d CPUs, load average %s): figures may be low; see the other-CPU column", busy, rep.Machine.NumCPU, rep.Machine.LoadAvg)
			rep.Notes = append(rep.Notes, n)
			logf("warning: %s", n)
		}
	}
	rep.BusyBefore = busy

	// Calibrate first, while the server (if we start it) is not running.
	if o.physical != nil {
		rep.Physical = *o.physical
	} else {
		logf("calibrating: ed25519 sign×%d, verify×%d, scrypt×%d on one core…", o.SignN, o.VerifyN, o.ScryptN)
		var err error
		if rep.Physical, err = calibrate(o.SignN, o.VerifyN, o.ScryptN, o.ServerCPUs); err != nil {
			return rep, err
		}
		if n := runtime.NumCPU(); n > 1 {
			all := calibrateParallel(n, o.SignN, o.VerifyN, o.ScryptN)
			rep.PhysicalAll = &all
		}
	}
	logf("%s", formatPhysical(rep.Physical))
	if rep.PhysicalAll != nil {
		logf("%s", formatPhysicalAll(*rep.PhysicalAll, rep.Physical, rep.Machine.NumCPU))
	}

	base := ""
	pid := o.PID
	var alive func() error
	if o.ServerBin != "" {
		sp, serr := startServer(o.ServerBin, o.ServerArgs, o.ServerEnv, o.ServerLog, o.ServerCPUs, o.KeepData)
		if serr != nil {
			return rep, serr
		}
		defer func() {
			if serr := sp.stop(); serr != nil && err == nil {
				err = fmt.Errorf("stopping the server: %w", serr)
			}
		}()
		base, pid, alive = sp.base, sp.pid(), sp.alive
		rep.Storage = sp.storage
		logf("started %s (pid %d) on %s, storage %s, log %s", o.ServerBin, pid, base, sp.storage, sp.logPath)
	} else {
		u, err := checkLoopbackURL(o.URL)
		if err != nil {
			return rep, err
		}
		base = u.String()
		if pid > 0 {
			if _, err := procStatusKB(pid, "VmRSS"); err != nil {
				return rep, fmt.Errorf("--pid %d: %w", pid, err)
			}
			alive = func() error {
				if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
					return fmt.Errorf("the server process %d is gone", pid)
				}
				return nil
			}
		}
	}
	rep.URL, rep.ServerPID = base, pid
	if u, err := checkLoopbackURL(base); err != nil {
		return rep, err
	} else {
		base = u.String()
	}

	readyCtx, cancel := context.WithTimeout(ctx, 90*time.Second)
	err = waitReady(readyCtx, newClient(1, 5*time.Second), base, alive)
	cancel()
	if err != nil {
		return rep, err
	}

	var start [4]byte
	_, _ = rand.Read(start[:])
	e := &env{base: base, password: "Load-test-password-" + randomHex(4), runID: randomHex(4), timeout: o.Timeout, cookies: o.Cookies, rawClient: o.Client == "raw",
		ips: newIPPool(binary.BigEndian.Uint32(start[:]))}

	needUsers, needJWTs := false, false
	for _, n := range names {
		needUsers = needUsers || scenarios[n].needUsers
		needJWTs = needJWTs || scenarios[n].needJWTs
	}
	if needUsers {
		logf("seeding %d users by sign-up (%d in flight; each costs the server one scrypt hash)…", o.Users, o.SeedConc)
		t0 := time.Now()
		last := time.Now()
		var mu sync.Mutex
		err := e.seed(ctx, o.Users, o.SeedConc, func(done int) {
			mu.Lock()
			defer mu.Unlock()
			if time.Since(last) > 2*time.Second || done == o.Users {
				last = time.Now()
				logf("  seeded %d/%d (%.1f/s)", done, o.Users, float64(done)/time.Since(t0).Seconds())
			}
		})
		if err != nil {
			return rep, err
		}
		rep.SeedSeconds = time.Since(t0).Seconds()
		rep.Credentials = "bearer"
		if o.Cookies {
			rep.Credentials = "cookies: " + cookieNames(e.users[0].cookie)
		}
	}
	if needJWTs {
		if err := e.fetchJWTs(ctx, o.JWTs); err != nil {
			return rep, fmt.Errorf("fetching access tokens for v1-validate: %w", err)
		}
	}

	for i, n := range names {
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		if alive != nil {
			if err := alive(); err != nil {
				return rep, err
			}
		}
		if i > 0 || needUsers {
			// Let the server finish what the previous phase left (session
			// writes, GC) before measuring.
			select {
			case <-ctx.Done():
				return rep, ctx.Err()
			case <-time.After(o.Pause):
			}
		}
		sc := scenarios[n]
		conns := o.Conns
		switch {
		case n == "signin-flood":
			conns = o.FloodConns
		case sc.hashing:
			conns = o.HashConns
		}
		logf("running %s: %d connections for %s…", n, conns, o.Duration)
		r := runOne(ctx, e, sc, conns, o, pid, rep.Physical)
		if n == "signin-flood" {
			r.Flood.ServerUpAfter, r.Flood.AfterStatus = serverUp(ctx, e, alive)
		}
		rep.Results = append(rep.Results, r)
		logf("%s", strings.TrimSuffix(tableRow(r, rep.Physical), "\n"))
		if r.Flood != nil {
			logf("%s", formatFlood(r))
		}
		if r.Outcomes["429"] > 0 && n != "signin-flood" {
			n := fmt.Sprintf("%s saw 429s: does the server trust X-Forwarded-For from 127.0.0.1 (TRUSTED_PROXIES=127.0.0.1)?", n)
			rep.Notes = append(rep.Notes, n)
			logf("warning: %s", n)
		}
	}
	if pid > 0 {
		rep.ServerVmHWMKB, _ = procStatusKB(pid, "VmHWM")
		rep.ServerVmRSSKB, _ = procStatusKB(pid, "VmRSS")
	}
	rep.LoadAfter, _ = loadAvg()
	return rep, nil
}

// runOne drives one scenario while sampling the server's RSS and the CPU
// counters (and, for the flood, probing get-session: can an ordinary
// signed-in user still be served while sign-ins flood the server?).
func runOne(ctx context.Context, e *env, sc *scenario, conns int, o options, pid int, phys Physical) Result {
	rss := startRSS(pid, 100*time.Millisecond)
	c0 := snapCPU(pid)
	var flood *FloodInfo
	stopProbe := make(chan struct{})
	probeDone := make(chan struct{})
	if sc.name == "signin-flood" {
		flood = &FloodInfo{}
		go func() {
			defer close(probeDone)
			client := newClient(1, 10*time.Second)
			defer client.CloseIdleConnections()
			ip := clientIP{pool: e.ips, budget: 50}
			t := time.NewTicker(100 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stopProbe:
					return
				case <-t.C:
				}
				t0 := time.Now()
				st, body, err := e.do(ctx, client, "GET", "/api/auth/get-session", nil, ip.get(), e.users[flood.Probes%len(e.users)].cred(e.cookies))
				d := time.Since(t0)
				flood.Probes++
				if err != nil || want200(`"session":{`)(st, body) != "" {
					flood.ProbeFailures++
				}
				flood.ProbeMaxMs = max(flood.ProbeMaxMs, ms(d))
			}
		}()
	} else {
		close(probeDone)
	}
	if o.Procs > 0 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(o.Procs))
	}
	r, okLat, allLat, elapsed := e.drive(ctx, sc, conns, o.Duration, o.MaxReq)
	c1 := snapCPU(pid)
	close(stopProbe)
	<-probeDone
	r.PeakRSSKB, r.StartRSSKB = rss.Stop()
	r.ServerCores, r.ToolCores, r.OtherCores = cpuBetween(c0, c1, pid)
	r.ServerCPUSeconds, r.ServerCPUPerReqUs = cpuPerRequest(c0, c1, pid, r.Requests)
	r.summarize(okLat, allLat, elapsed, phys, o.Cores)
	r.Flood = flood
	return r
}

// serverUp checks, after the flood, that the process lives, /health answers
// 200 and a session still resolves.
func serverUp(ctx context.Context, e *env, alive func() error) (bool, int) {
	if alive != nil && alive() != nil {
		return false, 0
	}
	client := newClient(1, 10*time.Second)
	defer client.CloseIdleConnections()
	st, _, err := probe(ctx, client, e.base+"/health")
	if err != nil || st != http.StatusOK {
		return false, st
	}
	if len(e.users) > 0 {
		ip := clientIP{pool: e.ips, budget: 1}
		st, body, err := e.do(ctx, client, "GET", "/api/auth/get-session", nil, ip.get(), e.users[0].cred(e.cookies))
		if err != nil || want200(`"session":{`)(st, body) != "" {
			return false, st
		}
	}
	return true, st
}

// writeMarkdown prints the report as Markdown (pasteable into BENCHMARKS.md).
func writeMarkdown(w io.Writer, rep *Report) {
	title := rep.Label
	if title == "" {
		title = rep.Storage
	}
	if title == "" {
		title = rep.URL
	}
	fmt.Fprintf(w, "### %s\n\n", title)
	fmt.Fprintf(w, "- date: %s; machine: %d CPUs (%s), %d MB; busy before the run %.2f cores; load average before %s, after %s\n",
		rep.Date, rep.Machine.NumCPU, rep.Machine.CPUModel, rep.Machine.MemTotalMB, rep.BusyBefore, rep.Machine.LoadAvg, rep.LoadAfter)
	if rep.Storage != "" {
		fmt.Fprintf(w, "- storage: %s\n", rep.Storage)
	}
	fmt.Fprintf(w, "- %s; limits use %d cores\n", formatPhysical(rep.Physical), rep.Cores)
	if rep.PhysicalAll != nil {
		fmt.Fprintf(w, "- %s\n", formatPhysicalAll(*rep.PhysicalAll, rep.Physical, rep.Machine.NumCPU))
	}
	if rep.Users > 0 && rep.SeedSeconds > 0 {
		fmt.Fprintf(w, "- seeded %d users in %.1fs (%.1f sign-ups/s)\n", rep.Users, rep.SeedSeconds, float64(rep.Users)/rep.SeedSeconds)
	}
	if rep.Credentials != "" {
		fmt.Fprintf(w, "- session credentials: %s\n", rep.Credentials)
	}
	if rep.Client != "" {
		fmt.Fprintf(w, "- the tool's HTTP client: %s\n", rep.Client)
	}
	if rep.ToolProcs > 0 {
		fmt.Fprintf(w, "- the tool's GOMAXPROCS while driving: %d\n", rep.ToolProcs)
	}
	if rep.ServerVmHWMKB > 0 {
		fmt.Fprintf(w, "- server VmHWM (lifetime peak RSS, includes seeding) %.1f MB, VmRSS at the end %.1f MB\n",
			float64(rep.ServerVmHWMKB)/1024, float64(rep.ServerVmRSSKB)/1024)
	}
	fmt.Fprintln(w)
	fmt.Fprint(w, formatTable(rep.Results, rep.Physical))
	for _, r := range rep.Results {
		if r.Flood != nil {
			fmt.Fprintf(w, "\n%s\n", formatFlood(r))
		}
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "\nnote: %s\n", n)
	}
}

// busyOver returns the machine's busy CPU in cores over d (-1: unknown).
func busyOver(ctx context.Context, d time.Duration) float64 {
	a := snapCPU(0)
	select {
	case <-ctx.Done():
		return -1
	case <-time.After(d):
	}
	b := snapCPU(0)
	secs := b.at.Sub(a.at).Seconds()
	if !a.mcOK || !b.mcOK || secs <= 0 {
		return -1
	}
	return float64(b.machine-a.machine) / userHZ / secs
}

// waitIdle waits until the machine's busy CPU over a 5 s window is below
// cores, or maxWait has passed; it returns the last window's figure.
func waitIdle(ctx context.Context, cores float64, maxWait time.Duration, logf func(string, ...any)) (float64, error) {
	deadline := time.Now().Add(maxWait)
	for {
		busy := busyOver(ctx, 5*time.Second)
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if busy < 0 {
			return 0, nil // no /proc/stat: nothing to wait for
		}
		if busy < cores || !time.Now().Before(deadline) {
			logf("machine busy %.2f cores over 5 s (waiting for < %.2f)", busy, cores)
			return busy, nil
		}
		logf("machine busy %.2f cores over 5 s; waiting for < %.2f…", busy, cores)
	}
}

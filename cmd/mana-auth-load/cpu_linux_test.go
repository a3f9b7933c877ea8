package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/managarten/mana-auth/server"
)

// The test binary doubles as the child processes of the CPU tests: with
// childModeEnv set it does not run the tests but burns CPU on request
// ("burn") or serves the reference server on PORT ("serve").
const (
	childModeEnv = "MANA_LOAD_TEST_CHILD"
	burnEnv      = "MANA_LOAD_TEST_BURN" // CPU time the burner uses, e.g. 300ms
)

func TestMain(m *testing.M) {
	switch os.Getenv(childModeEnv) {
	case "":
		os.Exit(m.Run())
	case "burn":
		os.Exit(burnChild())
	case "serve":
		os.Exit(serveChild())
	default:
		fmt.Fprintf(os.Stderr, "%s=%q: unknown mode\n", childModeEnv, os.Getenv(childModeEnv))
		os.Exit(2)
	}
}

// burnChild says "ready", waits for a line on stdin, spends burnEnv of CPU
// time on one thread, says "burnt" and waits for stdin to close.
func burnChild() int {
	d, err := time.ParseDuration(os.Getenv(burnEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "burn:", err)
		return 2
	}
	in := bufio.NewReader(os.Stdin)
	fmt.Println("ready")
	if _, err := in.ReadString('\n'); err != nil {
		return 1
	}
	runtime.LockOSThread()
	start, ok := threadCPU()
	if !ok {
		fmt.Fprintln(os.Stderr, "burn: no thread CPU clock")
		return 1
	}
	x := uint64(1)
	for {
		for i := 0; i < 100_000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
		if now, _ := threadCPU(); now-start >= d {
			break
		}
	}
	fmt.Println("burnt", x&1)
	_, _ = io.Copy(io.Discard, in)
	return 0
}

// serveChild runs the reference server (configured from the environment
// the load tool gives it) on 127.0.0.1:PORT until SIGTERM, after printing
// its arguments, so a test can see that --server-arg reached it.
func serveChild() int {
	fmt.Printf("child args: %q\n", os.Args[1:])
	slog.SetDefault(slog.New(slog.DiscardHandler))
	cfg, err := server.FromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	srv, err := server.New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		return 1
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", cfg.Port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		return 1
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "serve:", err)
		return 1
	}
	return 0
}

func TestCPUPerRequest(t *testing.T) {
	t.Parallel()
	other := os.Getpid() + 1
	a := cpuSnap{server: 1000, serverOK: true}
	b := cpuSnap{server: 1250, serverOK: true}
	if sec, us := cpuPerRequest(a, b, other, 500); sec != 2.5 || us != 5000 {
		t.Errorf("250 ticks over 500 requests: %v s, %v µs/req; want 2.5 s, 5000 µs", sec, us)
	}
	if sec, us := cpuPerRequest(a, b, other, 0); sec != 2.5 || us != -1 {
		t.Errorf("no request: %v s, %v µs/req; want 2.5, -1", sec, us)
	}
	if sec, us := cpuPerRequest(a, a, other, 7); sec != 0 || us != 0 {
		t.Errorf("no CPU: %v s, %v µs/req; want 0, 0", sec, us)
	}
	for name, c := range map[string]struct {
		a, b cpuSnap
		pid  int
	}{
		"no pid":          {a, b, 0},
		"this process":    {a, b, os.Getpid()},
		"first unread":    {cpuSnap{}, b, other},
		"second unread":   {a, cpuSnap{server: 5}, other},
		"counter reverse": {b, a, other},
	} {
		if sec, us := cpuPerRequest(c.a, c.b, c.pid, 10); sec != -1 || us != -1 {
			t.Errorf("%s: %v s, %v µs/req; want -1, -1 (unknown)", name, sec, us)
		}
	}
	if got := fmtCPUPerReq(-1); got != "?" {
		t.Errorf("fmtCPUPerReq(-1) = %q", got)
	}
	for in, want := range map[float64]string{0: "0.00", 3.456: "3.46", 42.42: "42.4", 1234.5: "1234"} {
		if got := fmtCPUPerReq(in); got != want {
			t.Errorf("fmtCPUPerReq(%v) = %q, want %q", in, got, want)
		}
	}
}

// TestServerCPUOfAChild measures a child process that burns a known
// amount of CPU between the two readings of /proc/<pid>/stat.
func TestServerCPUOfAChild(t *testing.T) {
	const burn = 300 * time.Millisecond
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childModeEnv+"=burn", burnEnv+"="+burn.String())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()
	out := bufio.NewReader(stdout)
	if line, err := out.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("child: %q, %v", line, err)
	}
	pid := cmd.Process.Pid
	c0 := snapCPU(pid)
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	if line, err := out.ReadString('\n'); err != nil || !strings.HasPrefix(line, "burnt") {
		t.Fatalf("child: %q, %v", line, err)
	}
	c1 := snapCPU(pid)
	sec, us := cpuPerRequest(c0, c1, pid, 3)
	// The burn is CPU time of the child's thread; reading a line and
	// writing one add little, and /proc counts in 10 ms ticks.
	if sec < burn.Seconds()-0.02 || sec > burn.Seconds()+0.15 {
		t.Errorf("child CPU %.3f s between the readings; want about %.3f s", sec, burn.Seconds())
	}
	if want := sec * 1e6 / 3; math.Abs(us-want) > 1 {
		t.Errorf("µs per request %.1f, want %.1f", us, want)
	}
}

// TestStartedServerCPU has the tool start a server process (this test
// binary serving the reference server, with two --server-arg), drive two
// scenarios, and report the server's CPU per request from its /proc.
func TestStartedServerCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process")
	}
	o := defaultOptions()
	o.ServerBin = os.Args[0]
	o.ServerArgs = []string{"first-arg", "second arg"}
	o.ServerEnv = []string{childModeEnv + "=serve", "RATE_LIMIT_ENABLED=false"}
	o.ServerLog = filepath.Join(t.TempDir(), "server.log")
	o.Scenarios = []string{"ok,jwks"}
	o.Duration, o.Pause = 700*time.Millisecond, 0
	o.Conns = 2
	o.Procs = 1 // and GOMAXPROCS comes back after each scenario
	o.physical = &Physical{SignPerSec: 1000, VerifyPerSec: 1000, ScryptPerSec: 1, SignN: 1, VerifyN: 1, ScryptN: 1}
	procs := runtime.GOMAXPROCS(0)
	var log bytes.Buffer
	rep, err := run(context.Background(), o, &log)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, log.String())
	}
	if got := runtime.GOMAXPROCS(0); got != procs {
		t.Errorf("GOMAXPROCS %d after the run, want %d again", got, procs)
	}
	if rep.ToolProcs != 1 {
		t.Errorf("report's ToolProcs %d, want 1", rep.ToolProcs)
	}
	if rep.ServerPID <= 0 || rep.ServerPID == os.Getpid() {
		t.Fatalf("server pid %d", rep.ServerPID)
	}
	if len(rep.Results) != 2 {
		t.Fatalf("results: %+v", rep.Results)
	}
	for _, r := range rep.Results {
		if r.OK == 0 || r.Unexpected != 0 {
			t.Errorf("%s: ok %d, outcomes %v", r.Scenario, r.OK, r.Outcomes)
		}
		// Hundreds of requests cost the server more than one 10 ms tick.
		if r.ServerCPUSeconds <= 0 || r.ServerCPUPerReqUs <= 0 {
			t.Errorf("%s: server CPU %.3f s, %.1f µs/req; want both > 0", r.Scenario, r.ServerCPUSeconds, r.ServerCPUPerReqUs)
		}
		if want := r.ServerCPUSeconds * 1e6 / float64(r.Requests); math.Abs(r.ServerCPUPerReqUs-want) > 0.01*want+0.01 {
			t.Errorf("%s: %.2f µs/req, want CPU/requests = %.2f", r.Scenario, r.ServerCPUPerReqUs, want)
		}
		// The same CPU, as cores, over the scenario's time.
		if cores := r.ServerCPUSeconds / r.Seconds; math.Abs(cores-r.ServerCores) > 0.1*r.ServerCores+0.05 {
			t.Errorf("%s: %.3f CPU-s over %.2f s is %.2f cores; ServerCores says %.2f", r.Scenario, r.ServerCPUSeconds, r.Seconds, cores, r.ServerCores)
		}
	}
	var md bytes.Buffer
	writeMarkdown(&md, rep)
	row := ""
	for _, line := range strings.Split(md.String(), "\n") {
		if strings.HasPrefix(line, "| ok | ") {
			row = line
		}
	}
	// | ok | conns | ok | req/s | srv CPU µs/req | …
	if cells := strings.Split(row, "|"); len(cells) < 6 || strings.TrimSpace(cells[5]) != fmtCPUPerReq(rep.Results[0].ServerCPUPerReqUs) || strings.TrimSpace(cells[5]) == "?" {
		t.Errorf("the ok row %q lacks the CPU per request (%.2f):\n%s", row, rep.Results[0].ServerCPUPerReqUs, md.String())
	}
	b, err := os.ReadFile(o.ServerLog)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("child args: %q", o.ServerArgs); !strings.Contains(string(b), want) {
		t.Errorf("server log %q lacks %q", b, want)
	}
}

// Command mana-auth-load measures a mana-auth server under load, on this
// machine only (loopback addresses), and relates every figure to the
// machine's physical limits.
//
// It seeds users by sign-up, then drives each scenario with a fixed number
// of connections for a fixed time and prints, per scenario, the successful
// requests per second, p50/p99/max latency, the answers that were not the
// expected one by status, the CPU used by the server, by the tool and by
// the rest of the machine, the server's CPU time per request, and the
// server's peak RSS (VmRSS of
// /proc/<pid>/status sampled every 100 ms; VmHWM at the end). Before that
// it measures this machine's raw single-core ed25519 sign/verify rates and
// the scrypt rate with Better Auth's parameters, so token and get-session
// are reported against sign rate × cores, v1-validate against verify rate
// × cores and sign-in, sign-up and v1-login against scrypt rate × cores
// (the server hashes at most NumCPU passwords at once).
//
// Usage:
//
//	go build -o /tmp/mana-auth ./cmd/mana-auth
//	go build -o /tmp/mana-auth-load ./cmd/mana-auth-load
//	/tmp/mana-auth-load --server-bin=/tmp/mana-auth --scenario=all
//	/tmp/mana-auth-load --server-bin=/tmp/mana-auth --env DATABASE_URL=postgres://… --env DATABASE_SCHEMA=bench_x
//	/tmp/mana-auth-load --url=http://127.0.0.1:3001 --pid=$(pgrep -n mana-auth) --scenario=token
//	/tmp/mana-auth-load --server-bin=bench/betterauth/node_modules/.bin/bun --server-arg=bench/betterauth/server.ts --env DATABASE_URL=…   # Better Auth (bench/betterauth)
//	/tmp/mana-auth-load --server-bin=/tmp/mana-auth --scenario=signin-flood
//	taskset -c 0 /tmp/mana-auth-load --server-bin=/tmp/mana-auth --server-cpus=1   # the server on a core of its own
//
// Rate limits: the server limits requests per client IP (sign-in and
// sign-up 3 per 10 s, /api/v1/auth/login 10 per 10 s, most others 100 per
// 10 s). The tool sends X-Forwarded-For: 10.a.b.c with an address from a
// counter, and each virtual user moves to a fresh address before it would
// reach the limit of the path. The server believes the header only from a
// trusted proxy: start it with TRUSTED_PROXIES=127.0.0.1 (the tool does so
// when it starts the server itself). Without it every request counts
// against 127.0.0.1 and the run reports 429s.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	_ "net/http/pprof" // --pprof: profile the tool itself
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

const usageText = `usage: mana-auth-load [flags]

Load-tests a mana-auth server on this machine (loopback only) and reports
req/s, p50/p99/max latency, non-2xx counts, CPU and the server's peak RSS,
each relative to this machine's raw crypto rates.

The server: either --server-bin=PATH (a built cmd/mana-auth, or any server
of the same routes with --server-arg for its arguments; the tool starts it
on a free 127.0.0.1 port (PORT, BASE_URL) with a temporary DATA_DIR
(SQLite), a random AUTH_SECRET and TRUSTED_PROXIES=127.0.0.1,::1 unless the
environment or --env sets them, and stops it at the end), or --url of a
running server (loopback only) with --pid for RSS and CPU.

Rate limits: the server limits per client IP. The tool sends a distinct
X-Forwarded-For (10.a.b.c from a counter) per virtual user and rotates it
before the path's limit is reached; the server must trust 127.0.0.1 as a
proxy (TRUSTED_PROXIES=127.0.0.1), or sign-in/sign-up see 429s at once.

Scenarios: all (ok, jwks, get-session, token, v1-validate, sign-in, v1-login,
sign-up), any of those by name or a comma list, and signin-flood
(--flood-connections virtual users signing in without pause or back-off,
reporting 200/429/503, refusal latency, a get-session probe every 100 ms
during the flood, whether the server stayed up, and its peak RSS).

Output: a Markdown table row per scenario (req/s counts expected answers
only; "srv CPU µs/req" is the server's CPU time (utime+stime of
/proc/<pid>/stat before and after the scenario) over the requests that
completed; "% of limit" is req/s over the raw single-core rate × --cores; "% per
srv core" divides by the CPU the server actually used instead), on stdout;
progress on stderr; --json for everything. Every scenario is bounded by
--duration and --max-requests, every request by --timeout.

Exit status: 0 all good, 1 the run failed, 2 bad flags, 3 unexpected answers
(or a flood the server did not survive).

Flags:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := mainRun(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func mainRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := defaultOptions()
	fs := flag.NewFlagSet("mana-auth-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
	}
	var envs listFlag
	scenario := "all"
	fs.StringVar(&o.URL, "url", o.URL, "base URL of a running server (loopback addresses only)")
	fs.IntVar(&o.PID, "pid", 0, "pid of the running server, for RSS and CPU (with --url)")
	fs.StringVar(&o.ServerBin, "server-bin", "", "path to a built mana-auth to start (and stop) for the run")
	fs.Var(&envs, "env", "KEY=VALUE for the started server (repeatable), e.g. DATABASE_URL=…")
	var srvArgs listFlag
	fs.Var(&srvArgs, "server-arg", "an argument for --server-bin (repeatable, in order), e.g. --server-bin=bun --server-arg=server.ts")
	fs.StringVar(&o.ServerLog, "server-log", "", "file for the started server's output (default: in its temporary directory, removed)")
	fs.BoolVar(&o.KeepData, "keep-data", false, "keep the started server's temporary directory")
	fs.StringVar(&o.Label, "label", "", "title of the Markdown section (default: the storage)")
	fs.StringVar(&scenario, "scenario", scenario, "all, signin-flood, or a comma list of: ok, jwks, get-session, token, v1-validate, sign-in, v1-login, sign-up")
	fs.IntVar(&o.Users, "users", o.Users, "users to seed by sign-up")
	fs.IntVar(&o.SeedConc, "seed-concurrency", o.SeedConc, "sign-ups in flight while seeding")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "time per scenario (no request starts later)")
	fs.IntVar(&o.Conns, "connections", o.Conns, "connections (virtual users) for the scenarios that hash no password")
	fs.IntVar(&o.HashConns, "hash-connections", o.HashConns, "connections for sign-in, sign-up and v1-login")
	fs.IntVar(&o.FloodConns, "flood-connections", o.FloodConns, "concurrent sign-ins for signin-flood")
	fs.IntVar(&o.MaxReq, "max-requests", o.MaxReq, "upper bound of requests per scenario")
	fs.DurationVar(&o.Pause, "pause", o.Pause, "idle time before each scenario")
	fs.IntVar(&o.Cores, "cores", o.Cores, "cores available to the server: the multiplier of the physical limits (default: all, or the count of --server-cpus)")
	fs.StringVar(&o.ServerCPUs, "server-cpus", "", "run the started server under taskset -c LIST (e.g. 1), so it has those CPUs to itself when the tool runs under taskset on the others")
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "per-request timeout")
	fs.IntVar(&o.SignN, "calibrate-sign", o.SignN, "ed25519 signatures in the calibration loop (best of 5 rounds)")
	fs.IntVar(&o.VerifyN, "calibrate-verify", o.VerifyN, "ed25519 verifications in the calibration loop (best of 5 rounds)")
	fs.IntVar(&o.ScryptN, "calibrate-scrypt", o.ScryptN, "scrypt hashes in the calibration loop (best of 5 rounds)")
	fs.IntVar(&o.JWTs, "jwts", o.JWTs, "distinct access tokens v1-validate cycles through")
	fs.BoolVar(&o.Cookies, "cookies", false, "send the session cookies sign-up set (session_token, and session_data when the server's cookie cache is on) instead of a bearer token")
	fs.Float64Var(&o.WaitIdle, "wait-idle", 0, "before starting, wait until the machine's busy CPU over 5 s is below this many cores (0: don't wait)")
	fs.DurationVar(&o.WaitMax, "wait-max", o.WaitMax, "longest wait for --wait-idle; then measure anyway and say so")
	fs.StringVar(&o.JSONPath, "json", "", "also write the report as JSON to this file (- for stdout; the Markdown then goes to stderr)")
	fs.StringVar(&o.Client, "client", o.Client, `HTTP client of the measured loop: "raw" (one hand-written keep-alive HTTP/1.1 connection per virtual user, read on its own goroutine, as wrk does: the least CPU taken from a server on the same machine) or "net/http"`)
	fs.IntVar(&o.Procs, "procs", 0, "the tool's GOMAXPROCS while it drives a scenario (0: Go's default, every CPU); fewer threads leave more of a shared machine to the server")
	fs.StringVar(&o.Pprof, "pprof", "", "serve the tool's own net/http/pprof on this loopback address (e.g. 127.0.0.1:6061)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mana-auth-load: unexpected arguments %q\n", fs.Args())
		return 2
	}
	o.Scenarios = []string{scenario}
	coresSet := false
	fs.Visit(func(f *flag.Flag) { coresSet = coresSet || f.Name == "cores" })
	if o.ServerCPUs != "" && !coresSet {
		if n, err := cpuListCount(o.ServerCPUs); err == nil {
			o.Cores = n
		}
	}
	o.ServerEnv = envs
	o.ServerArgs = srvArgs
	if err := o.validate(); err != nil {
		fmt.Fprintln(stderr, "mana-auth-load:", err)
		return 2
	}
	if o.Pprof != "" {
		host, _, err := net.SplitHostPort(o.Pprof)
		if err != nil || !loopbackHost(host) {
			fmt.Fprintln(stderr, "mana-auth-load: --pprof must be a loopback host:port")
			return 2
		}
		ln, err := net.Listen("tcp", o.Pprof)
		if err != nil {
			fmt.Fprintln(stderr, "mana-auth-load: --pprof:", err)
			return 1
		}
		ps := &http.Server{Handler: http.DefaultServeMux, ReadHeaderTimeout: 10 * time.Second}
		go ps.Serve(ln)
		defer ps.Close()
	}
	md := stdout
	if o.JSONPath == "-" {
		md = stderr
	}
	rep, err := run(ctx, o, stderr)
	if rep != nil && len(rep.Results) > 0 {
		fmt.Fprintln(md)
		writeMarkdown(md, rep)
	}
	if rep != nil && o.JSONPath != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		b = append(b, '\n')
		if o.JSONPath == "-" {
			stdout.Write(b)
		} else if werr := os.WriteFile(o.JSONPath, b, 0o644); werr != nil {
			fmt.Fprintln(stderr, "mana-auth-load:", werr)
			return 1
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "mana-auth-load:", err)
		return 1
	}
	for _, r := range rep.Results {
		if r.Unexpected > 0 || r.OK == 0 || (r.Flood != nil && !r.Flood.ServerUpAfter) {
			return 3
		}
	}
	return 0
}

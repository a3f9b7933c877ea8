// Command bench-betterauth measures mana-auth and Better Auth side by side
// on this machine, with cmd/mana-auth-load driving both, and writes one
// Markdown table of the two servers' figures and their ratios.
//
// From the repository root:
//
//	go run ./bench/betterauth/cmd/bench-betterauth              # or bench/betterauth/run.sh
//	go run ./bench/betterauth/cmd/bench-betterauth -duration=10s -rounds=3 -out=/tmp/vs.md
//
// It installs the Better Auth server's JavaScript dependencies (npm ci in
// bench/betterauth: better-auth 1.7.25, Bun 1.4.5 from the npm package
// `bun`, pg, jose), builds cmd/mana-auth and cmd/mana-auth-load, creates
// two throw-away databases on the PostgreSQL server at -pg (bench_ours_…
// and bench_ba_…), migrates each with its own server's migration
// (`mana-auth migrate`; `bun server.ts migrate`, Better Auth's Kysely
// migration), then runs the load tool once per server and round: the tool
// starts the server on a free loopback port, seeds users by sign-up,
// drives every scenario for -duration, reads the server's CPU time and
// RSS from /proc, and stops it. Rounds alternate which server goes first.
// At the end the databases are dropped (-keep keeps them) and the table is
// written to -out; the tools' own reports, JSON and server logs stay in
// -dir.
//
// Settings (the same for both where both have them): PostgreSQL on the
// same server (each its own database, a pool of 16 connections), no email
// verification required, a verification mail on sign-up that goes nowhere
// (ours: the development log mailer; Better Auth: a no-op), the session
// token sent as a bearer token, the jwt plugin's EdDSA tokens. Rate
// limiters: Better Auth's off; ours off too by default
// (RATE_LIMIT_ENABLED=false), so that neither does work the other skips;
// -ours-ratelimit turns ours on (the load tool spreads requests over
// client addresses through X-Forwarded-For, which ours trusts from
// 127.0.0.1, so the limiter does its full work without refusing).
//
// Nothing here runs in `go test ./...`: only the table's unit tests do.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

type config struct {
	repo          string
	pgAdmin       string
	dir           string
	out           string
	oursBin       string
	oursCommit    string
	scenarios     string
	duration      time.Duration
	pause         time.Duration
	conns         int
	hashConns     int
	toolProcs     int
	users         int
	rounds        int
	oursRateLimit bool
	baCached      bool
	install       bool
	keep          bool
	waitIdle      float64
	waitMax       time.Duration
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := mainErr(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-betterauth:", err)
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(1)
	}
}

func mainErr(ctx context.Context, args []string) (err error) {
	var c config
	fs := flag.NewFlagSet("bench-betterauth", flag.ContinueOnError)
	fs.StringVar(&c.repo, "repo", "", "the mana-auth repository (default: found from the working directory)")
	fs.StringVar(&c.pgAdmin, "pg", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL URL of a role that may create databases (both servers' databases go on this server)")
	fs.StringVar(&c.dir, "dir", "", "directory for the binaries, the load tool's reports and JSON, and the server logs (default: a new temporary directory, kept)")
	fs.StringVar(&c.out, "out", "-", "file for the Markdown summary (- for stdout); a copy goes to -dir/summary.md")
	fs.StringVar(&c.oursBin, "ours-bin", "", "a built cmd/mana-auth to measure instead of building the repository's")
	fs.StringVar(&c.oursCommit, "ours-commit", "", "build cmd/mana-auth from this commit (git archive into -dir) instead of the work tree, e.g. HEAD when others have uncommitted changes")
	fs.StringVar(&c.scenarios, "scenario", "all", "the load tool's scenarios (all: ok, jwks, get-session, token, v1-validate, sign-in, v1-login, sign-up)")
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "time per scenario")
	fs.DurationVar(&c.pause, "pause", 2*time.Second, "idle time before each scenario")
	fs.IntVar(&c.conns, "connections", 32, "connections for the scenarios that hash no password")
	fs.IntVar(&c.hashConns, "hash-connections", 16, "connections for sign-in, v1-login and sign-up")
	fs.IntVar(&c.toolProcs, "tool-procs", 1, "the load tool's GOMAXPROCS while it drives a scenario (its --procs; 0: every CPU): one thread leaves the second core to the server under test")
	fs.IntVar(&c.users, "users", 100, "users each server seeds by sign-up")
	fs.IntVar(&c.rounds, "rounds", 1, "rounds (each runs both servers, alternating which goes first); figures are medians over rounds")
	fs.BoolVar(&c.oursRateLimit, "ours-ratelimit", false, "run mana-auth with its rate limiter on (Better Auth's stays off)")
	fs.BoolVar(&c.baCached, "ba-validate-cached", true, "also measure Better Auth's v1-validate with one JWKS set kept for the process (upstream built one per request)")
	fs.BoolVar(&c.install, "install", true, "run npm ci in bench/betterauth first")
	fs.BoolVar(&c.keep, "keep", false, "keep the two databases")
	fs.Float64Var(&c.waitIdle, "wait-idle", 0, "passed to the load tool: wait until the machine's busy CPU is below this many cores")
	fs.DurationVar(&c.waitMax, "wait-max", 2*time.Minute, "passed to the load tool with -wait-idle")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.rounds < 1 || c.rounds > 20 {
		return errors.New("-rounds must be in [1, 20]")
	}
	if c.repo == "" {
		if c.repo, err = findRepo(); err != nil {
			return err
		}
	}
	if c.dir == "" {
		if c.dir, err = os.MkdirTemp("", "bench-betterauth-*"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return err
	}
	logf("working directory %s", c.dir)
	baDir := filepath.Join(c.repo, "bench", "betterauth")

	// Dependencies and binaries.
	if c.install {
		logf("npm ci in %s…", baDir)
		if err := runCmd(ctx, baDir, nil, os.Stderr, "npm", "ci", "--no-audit", "--no-fund"); err != nil {
			return fmt.Errorf("npm ci: %w", err)
		}
	}
	bun := filepath.Join(baDir, "node_modules", ".bin", "bun")
	bunVersion, err := output(ctx, baDir, nil, bun, "--version")
	if err != nil {
		return fmt.Errorf("bun (run with -install, or npm ci in %s): %w", baDir, err)
	}
	baVersion := packageVersion(filepath.Join(baDir, "node_modules", "better-auth", "package.json"))
	load := filepath.Join(c.dir, "mana-auth-load")
	logf("building cmd/mana-auth-load…")
	if err := runCmd(ctx, c.repo, nil, os.Stderr, "go", "build", "-o", load, "./cmd/mana-auth-load"); err != nil {
		return err
	}
	ours := c.oursBin
	oursRev := gitRevision(ctx, c.repo)
	switch {
	case ours != "" && c.oursCommit != "":
		return errors.New("-ours-bin and -ours-commit exclude each other")
	case ours != "":
		oursRev = "prebuilt " + ours
	case c.oursCommit != "":
		rev, err := output(ctx, c.repo, nil, "git", "rev-parse", "--short", c.oursCommit+"^{commit}")
		if err != nil {
			return fmt.Errorf("-ours-commit %q: %w", c.oursCommit, err)
		}
		oursRev = strings.TrimSpace(rev) + " (clean export)"
		src := filepath.Join(c.dir, "ours-src")
		if err := os.RemoveAll(src); err != nil {
			return err
		}
		if err := os.MkdirAll(src, 0o755); err != nil {
			return err
		}
		logf("exporting %s to %s…", oursRev, src)
		archive := fmt.Sprintf("git -C %s archive --format=tar %s | tar -x -C %s", shellQuote(c.repo), shellQuote(strings.TrimSpace(rev)), shellQuote(src))
		if err := runCmd(ctx, c.repo, nil, os.Stderr, "sh", "-c", archive); err != nil {
			return fmt.Errorf("exporting %s: %w", c.oursCommit, err)
		}
		ours = filepath.Join(c.dir, "mana-auth")
		logf("building cmd/mana-auth at %s…", oursRev)
		if err := runCmd(ctx, src, nil, os.Stderr, "go", "build", "-o", ours, "./cmd/mana-auth"); err != nil {
			return err
		}
	default:
		ours = filepath.Join(c.dir, "mana-auth")
		logf("building cmd/mana-auth…")
		if err := runCmd(ctx, c.repo, nil, os.Stderr, "go", "build", "-o", ours, "./cmd/mana-auth"); err != nil {
			return err
		}
	}

	// Two throw-away databases on the same PostgreSQL server.
	admin, err := pgx.Connect(ctx, c.pgAdmin)
	if err != nil {
		return fmt.Errorf("PostgreSQL at -pg: %w", err)
	}
	defer admin.Close(context.Background())
	var pgVersion string
	_ = admin.QueryRow(ctx, "show server_version").Scan(&pgVersion)
	suffix := randomHex(4)
	dbs := map[string]string{"ours": "bench_ours_" + suffix, "ba": "bench_ba_" + suffix}
	urls := map[string]string{}
	for _, k := range []string{"ours", "ba"} {
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{dbs[k]}.Sanitize()); err != nil {
			return fmt.Errorf("creating %s: %w", dbs[k], err)
		}
		logf("created database %s", dbs[k])
		if urls[k], err = databaseURL(c.pgAdmin, dbs[k]); err != nil {
			return err
		}
	}
	defer func() {
		for _, k := range []string{"ours", "ba"} {
			if c.keep {
				logf("kept database %s", dbs[k])
				continue
			}
			dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if _, derr := admin.Exec(dctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{dbs[k]}.Sanitize()+" WITH (FORCE)"); derr != nil {
				logf("dropping %s: %v", dbs[k], derr)
			} else {
				logf("dropped database %s", dbs[k])
			}
			cancel()
		}
	}()

	logf("migrating %s (mana-auth migrate)…", dbs["ours"])
	if err := runCmd(ctx, c.repo, []string{"DATABASE_URL=" + urls["ours"]}, io.Discard, ours, "migrate"); err != nil {
		return fmt.Errorf("mana-auth migrate: %w", err)
	}
	logf("migrating %s (Better Auth's migration)…", dbs["ba"])
	if err := runCmd(ctx, baDir, []string{"DATABASE_URL=" + urls["ba"]}, os.Stderr, bun, "server.ts", "migrate"); err != nil {
		return fmt.Errorf("bun server.ts migrate: %w", err)
	}

	// One secret per server for all its runs: both encrypt the JWKS private
	// key with it, and a later start must read the key an earlier one made.
	oursEnv := []string{
		"AUTH_SECRET=" + randomHex(32),
		"DATABASE_URL=" + urls["ours"], "DATABASE_SCHEMA=auth", "MIGRATE_ON_START=false",
		"REQUIRE_EMAIL_VERIFICATION=false", fmt.Sprintf("RATE_LIMIT_ENABLED=%t", c.oursRateLimit),
	}
	baEnv := []string{
		"AUTH_SECRET=" + randomHex(32),
		"DATABASE_URL=" + urls["ba"], "DATABASE_SCHEMA=public", "NODE_ENV=production",
		"BETTER_AUTH_TELEMETRY=0", "PG_POOL_MAX=16", "BA_VALIDATE_JWKS=per-request",
	}
	servers := map[string]serverSpec{
		"ours": {label: "mana-auth", bin: ours, env: oursEnv},
		"ba":   {label: "better-auth", bin: bun, args: []string{filepath.Join(baDir, "server.ts")}, env: baEnv},
	}

	sum := &summary{
		Date:          time.Now().UTC().Format(time.RFC3339),
		Command:       "go run ./bench/betterauth/cmd/bench-betterauth " + strings.Join(args, " "),
		OursRevision:  oursRev,
		BunVersion:    strings.TrimSpace(bunVersion),
		BAVersion:     baVersion,
		PGVersion:     pgVersion,
		OursRateLimit: c.oursRateLimit,
		Duration:      c.duration,
		Conns:         c.conns,
		HashConns:     c.hashConns,
		ToolProcs:     c.toolProcs,
		Users:         c.users,
		Dir:           c.dir,
	}
	wantValidate := false
	if c.baCached {
		for _, s := range strings.Split(c.scenarios, ",") {
			s = strings.TrimSpace(s)
			wantValidate = wantValidate || s == "all" || s == "v1-validate"
		}
	}
	for round := 1; round <= c.rounds; round++ {
		order := []string{"ours", "ba"}
		if round%2 == 0 {
			order = []string{"ba", "ours"}
		}
		rr := roundReports{}
		for _, k := range order {
			rep, err := runLoad(ctx, c, load, servers[k], c.scenarios, c.users, fmt.Sprintf("%s-r%d", k, round), nil)
			if err != nil {
				return err
			}
			if k == "ours" {
				rr.Ours = rep
			} else {
				rr.BA = rep
			}
		}
		if wantValidate {
			// Enough users for the tool's 32 distinct tokens.
			rep, err := runLoad(ctx, c, load, servers["ba"], "v1-validate", min(c.users, 32), fmt.Sprintf("ba-cached-r%d", round), []string{"BA_VALIDATE_JWKS=cached"})
			if err != nil {
				return err
			}
			rr.BACached = rep
		}
		sum.Rounds = append(sum.Rounds, rr)
	}

	var md bytes.Buffer
	writeSummary(&md, sum)
	if err := os.WriteFile(filepath.Join(c.dir, "summary.md"), md.Bytes(), 0o644); err != nil {
		return err
	}
	if c.out == "-" || c.out == "" {
		_, err = os.Stdout.Write(md.Bytes())
	} else {
		err = os.WriteFile(c.out, md.Bytes(), 0o644)
		logf("wrote %s", c.out)
	}
	return err
}

type serverSpec struct {
	label string
	bin   string
	args  []string
	env   []string
}

// runLoad runs the load tool once against a server it starts, and reads
// its JSON report. A run whose answers were not all the expected ones
// (exit 3) still counts: the table shows them.
func runLoad(ctx context.Context, c config, load string, s serverSpec, scenarios string, users int, name string, extraEnv []string) (*report, error) {
	jsonPath := filepath.Join(c.dir, name+".json")
	args := []string{
		"--server-bin=" + s.bin, "--label=" + s.label + " (" + name + ")",
		"--scenario=" + scenarios, "--duration=" + c.duration.String(), "--pause=" + c.pause.String(),
		fmt.Sprintf("--connections=%d", c.conns), fmt.Sprintf("--hash-connections=%d", c.hashConns),
		fmt.Sprintf("--users=%d", users), fmt.Sprintf("--procs=%d", c.toolProcs), "--json=" + jsonPath, "--server-log=" + filepath.Join(c.dir, name+".server.log"),
	}
	for _, a := range s.args {
		args = append(args, "--server-arg="+a)
	}
	for _, e := range append(append([]string{}, s.env...), extraEnv...) {
		args = append(args, "--env="+e)
	}
	if c.waitIdle > 0 {
		args = append(args, fmt.Sprintf("--wait-idle=%g", c.waitIdle), "--wait-max="+c.waitMax.String())
	}
	logf("== %s: mana-auth-load %s", name, strings.Join(args, " "))
	mdFile, err := os.Create(filepath.Join(c.dir, name+".md"))
	if err != nil {
		return nil, err
	}
	defer mdFile.Close()
	cmd := exec.CommandContext(ctx, load, args...)
	cmd.Dir = c.repo
	cmd.Stdout, cmd.Stderr = mdFile, os.Stderr
	// On ^C the tool stops its server itself.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 40 * time.Second
	runErr := cmd.Run()
	var ee *exec.ExitError
	if runErr != nil && !(errors.As(runErr, &ee) && ee.ExitCode() == 3) {
		return nil, fmt.Errorf("%s: the load tool failed: %w (its output: %s)", name, runErr, mdFile.Name())
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &rep, nil
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "bench-betterauth: "+format+"\n", a...)
}

func runCmd(ctx context.Context, dir string, env []string, out io.Writer, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, os.Stderr
	return cmd.Run()
}

func output(ctx context.Context, dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	b, err := cmd.Output()
	return string(b), err
}

// findRepo walks up from the working directory to this module's go.mod.
func findRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/managarten/mana-auth\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the mana-auth repository: run from it or pass -repo")
		}
		dir = parent
	}
}

func gitRevision(ctx context.Context, repo string) string {
	rev, err := output(ctx, repo, nil, "git", "rev-parse", "--short", "HEAD")
	if err != nil {
		return "unknown"
	}
	rev = strings.TrimSpace(rev)
	if st, err := output(ctx, repo, nil, "git", "status", "--porcelain", "--untracked-files=no"); err == nil && strings.TrimSpace(st) != "" {
		rev += " (with uncommitted changes in the work tree)"
	}
	return rev
}

func packageVersion(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	var v struct {
		Version string `json:"version"`
	}
	if json.Unmarshal(b, &v) != nil || v.Version == "" {
		return "unknown"
	}
	return v.Version
}

// databaseURL returns the URL admin (postgres://…) with its database
// replaced by name.
func databaseURL(admin, name string) (string, error) {
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("-pg %q: want a postgres:// URL", admin)
	}
	u.Path, u.RawPath = "/"+name, ""
	return u.String(), nil
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Package compat_test drives our server with Better Auth's own JS client
// (tests/compat/client.mjs) and checks the committed Better Auth fixtures.
//
// The Node side lives next to this file: package.json pins better-auth, and
// node_modules is installed with `npm ci` on first use. Without node/npm the
// Node-based tests skip, except in CI (CI=true), where they fail.
package compat_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testproc"
	"github.com/managarten/mana-auth/storage/memory"
)

const (
	testSecret = "mana-auth-compat-secret-0123456789abcdef"

	npmTimeout    = 5 * time.Minute
	clientTimeout = 2 * time.Minute
)

// compatDir is tests/compat (go test runs with the package directory as cwd).
func compatDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// requireNode returns the path of node (see testproc.RequireNode).
func requireNode(t *testing.T) string {
	t.Helper()
	return testproc.RequireNode(t, "Better Auth client compatibility test")
}

var (
	npmOnce sync.Once
	npmErr  error
)

// ensureNodeModules runs `npm ci` once per process when node_modules is
// missing. A lock file keeps concurrent `go test` processes from racing.
func ensureNodeModules(t *testing.T, dir string) {
	t.Helper()
	npmOnce.Do(func() {
		npmErr = testproc.NPMInstall(dir, npmTimeout, filepath.Join("node_modules", "better-auth", "package.json"))
	})
	if npmErr != nil {
		t.Fatalf("installing tests/compat node_modules: %v", npmErr)
	}
}

// listenLoopback returns a listener on a free loopback port and its base
// URL. The listener comes first because BaseURL must be known before the
// server is built.
func listenLoopback(t *testing.T) (net.Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln, "http://" + ln.Addr().String()
}

// serveOn serves h on ln until the test ends.
func serveOn(t *testing.T, ln net.Listener, h http.Handler) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
}

// startAuthServer runs auth.New(cfg, memory.New(), plugins...) on a loopback
// port, with cfg.BaseURL set to that port, and returns the base URL. Without
// routes the server is the auth handler alone; with routes it is a mux of
// /api/auth/ and the given test routes (pattern -> handler).
func startAuthServer(t *testing.T, cfg auth.Config, routes map[string]http.Handler, plugins ...auth.Plugin) string {
	t.Helper()
	ln, baseURL := listenLoopback(t)
	cfg.BaseURL = baseURL
	a, err := auth.New(cfg, memory.New(), plugins...)
	if err != nil {
		ln.Close()
		t.Fatalf("auth.New: %v", err)
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
	return baseURL
}

// startServer runs our auth server on a loopback port and returns its base
// URL.
func startServer(t *testing.T) string {
	t.Helper()
	return startAuthServer(t, auth.Config{Secret: testSecret}, nil)
}

var summaryRE = regexp.MustCompile(`(?m)^(\d+) passed, (\d+) failed$`)

// runScript runs a Node script against baseURL (as argument and BASE_URL)
// with extra environment and fails the test (with the whole output) unless
// it reports "N passed, 0 failed".
func runScript(t *testing.T, node, dir, script, baseURL string, env ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script, baseURL)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "BASE_URL="+baseURL), env...)
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	output := out.String()
	m := summaryRE.FindAllStringSubmatch(output, -1)
	switch {
	case ctx.Err() != nil:
		t.Fatalf("%s timed out after %v against %s; output:\n%s", script, clientTimeout, baseURL, output)
	case err != nil || len(m) == 0 || m[len(m)-1][2] != "0":
		t.Fatalf("%s against %s failed (%v); output:\n%s", script, baseURL, err, output)
	default:
		t.Logf("%s against %s:\n%s", script, baseURL, output)
	}
}

// startReferenceServer runs a Node reference server (Better Auth itself,
// e.g. reference-server.mjs) on a free port until the test ends and returns
// the URL it prints as "listening <url>". It gives the server clientTimeout
// to live and 30 s to start.
func startReferenceServer(t *testing.T, node, dir, script string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	cmd := exec.CommandContext(ctx, node, script, "0")
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	urlCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				urlCh <- u
				break
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case u := <-urlCh:
		return u
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not start; stderr:\n%s", script, stderr.String())
		return ""
	}
}

// TestBetterAuthClient runs Better Auth's own JS client against our server.
func TestBetterAuthClient(t *testing.T) {
	node := requireNode(t)
	dir := compatDir(t)
	ensureNodeModules(t, dir)
	runScript(t, node, dir, "client.mjs", startServer(t))
}

// TestClientScriptAgainstBetterAuth runs the same client script against real
// Better Auth (reference-server.mjs), so a failure of TestBetterAuthClient
// points at our server rather than at the script.
func TestClientScriptAgainstBetterAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode")
	}
	node := requireNode(t)
	dir := compatDir(t)
	ensureNodeModules(t, dir)
	runScript(t, node, dir, "client.mjs", startReferenceServer(t, node, dir, "reference-server.mjs"))
}

// lockedBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type lockedBuffer = testproc.Buffer

// Package testproc helps tests that run the real mana-auth binary: it
// builds cmd/mana-auth once per test process, finds free loopback ports and
// collects a process's output.
package testproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildDir  string
	binPath   string
	buildErr  error
)

// Binary builds cmd/mana-auth once per test process into a temporary
// directory named with tmpPrefix and returns the binary's path. The module
// root is taken to be two levels above the test's working directory (a
// package under tests/). Call RemoveBinary from TestMain when the tests
// are done.
func Binary(tb testing.TB, tmpPrefix string) string {
	tb.Helper()
	buildOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			buildErr = fmt.Errorf("go not on PATH: %w", err)
			return
		}
		root, err := filepath.Abs(filepath.Join("..", ".."))
		if err != nil {
			buildErr = err
			return
		}
		buildDir, err = os.MkdirTemp("", tmpPrefix)
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(buildDir, "mana-auth")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, goBin, "build", "-o", binPath, "./cmd/mana-auth")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/mana-auth: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return binPath
}

// RemoveBinary removes the directory Binary built into, if any.
func RemoveBinary() {
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
}

// FreePort returns a loopback TCP port that was free a moment ago. It is
// drawn below Linux's ephemeral range (32768 and up by default), so that no
// outgoing connection of a test running alongside takes it before the
// caller binds it, as happens with the port of a listener on ":0".
func FreePort(tb testing.TB) int {
	tb.Helper()
	for range 100 {
		port := 20000 + rand.IntN(32768-20000)
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		ln.Close()
		return port
	}
	tb.Fatal("testproc: no free port below 32768 after 100 tries")
	return 0
}

// Buffer is a bytes.Buffer safe for one writer and concurrent readers, to
// collect a process's output.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p; it is safe for concurrent use.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// NPMInstall runs `npm ci` in dir unless every marker (a path relative to
// dir, such as "node_modules/better-auth/package.json") exists already. A
// lock file in dir keeps concurrent `go test` processes from installing
// over each other; the install is bounded by timeout.
func NPMInstall(dir string, timeout time.Duration, markers ...string) error {
	ok := func() bool {
		for _, m := range markers {
			if _, err := os.Stat(filepath.Join(dir, m)); err != nil {
				return false
			}
		}
		return true
	}
	if ok() {
		return nil
	}
	unlock, err := lockFile(filepath.Join(dir, ".npm-install.lock"), timeout)
	if err != nil {
		return err
	}
	defer unlock()
	if ok() { // another process finished while we waited
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("timed out after %v: %w", timeout, err)
		}
		return fmt.Errorf("npm ci in %s: %w\n%s", dir, err, out)
	}
	if !ok() {
		return fmt.Errorf("npm ci in %s succeeded but %v are missing (install scripts blocked?)\n%s", dir, markers, out)
	}
	return nil
}

// lockFile takes an exclusive lock by creating path with O_EXCL; a lock older
// than staleAfter is considered abandoned.
func lockFile(path string, staleAfter time.Duration) (func(), error) {
	deadline := time.Now().Add(staleAfter + time.Minute)
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintf(f, "%d\n", os.Getpid())
			f.Close()
			return func() { os.Remove(path) }, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, err
		}
		if fi, err := os.Stat(path); err == nil && time.Since(fi.ModTime()) > staleAfter {
			os.Remove(path)
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("timed out waiting for %s", path)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// RequireNode returns the path of node. When node or npm is not on PATH it
// skips the test, or fails it when CI=true; what names the test in the
// message ("Better Auth client compatibility test").
func RequireNode(t testing.TB, what string) string {
	t.Helper()
	node, errNode := exec.LookPath("node")
	_, errNpm := exec.LookPath("npm")
	if errNode != nil || errNpm != nil {
		msg := fmt.Sprintf("%s needs Node.js 20+ and npm on PATH (node: %v, npm: %v)", what, errNode, errNpm)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg + "; skipping outside CI")
	}
	return node
}

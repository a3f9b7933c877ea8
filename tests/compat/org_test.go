package compat_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/org"
	"github.com/managarten/mana-auth/storage/memory"
)

// captureMailer keeps the last email per recipient, for the test's
// GET /__test/mail?to=<email>.
type captureMailer struct {
	mu   sync.Mutex
	last map[string]auth.Email
}

func (m *captureMailer) SendEmail(_ context.Context, e auth.Email) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.last == nil {
		m.last = map[string]auth.Email{}
	}
	m.last[e.To] = e
	return nil
}

func (m *captureMailer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	e, ok := m.last[strings.ToLower(r.URL.Query().Get("to"))]
	m.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if !ok || e.Kind != auth.EmailInvitation {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte("null"))
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"url": e.URL, "data": e.Data})
}

// startOrgServer runs our server with the organization plugin and the test
// mail route on a loopback port and returns its base URL.
func startOrgServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	baseURL := "http://" + ln.Addr().String()
	mailer := &captureMailer{}
	a, err := auth.New(auth.Config{
		BaseURL: baseURL, Secret: testSecret, Mailer: mailer,
		RateLimit: auth.RateLimitConfig{Disabled: true},
	}, memory.New(), org.New(org.Options{}))
	if err != nil {
		ln.Close()
		t.Fatalf("auth.New: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/auth/", a.Handler())
	mux.Handle("/__test/mail", mailer)
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return baseURL
}

// runOrgClient runs org-client.mjs against baseURL and fails the test
// (with the whole output) unless it reports "N passed, 0 failed".
func runOrgClient(t *testing.T, node, dir, baseURL string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "org-client.mjs", baseURL)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "BASE_URL="+baseURL)
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	output := out.String()
	m := summaryRE.FindAllStringSubmatch(output, -1)
	switch {
	case ctx.Err() != nil:
		t.Fatalf("org-client.mjs timed out after %v against %s; output:\n%s", clientTimeout, baseURL, output)
	case err != nil || len(m) == 0 || m[len(m)-1][2] != "0":
		t.Fatalf("org-client.mjs against %s failed (%v); output:\n%s", baseURL, err, output)
	default:
		t.Logf("org-client.mjs against %s:\n%s", baseURL, output)
	}
}

// TestOrgClient runs Better Auth's organizationClient against our server:
// create, invite (the invitation id comes from the captured email), accept
// as a second user, list members with roles, update a role, has-permission,
// remove, delete.
func TestOrgClient(t *testing.T) {
	node := requireNode(t)
	dir := compatDir(t)
	ensureNodeModules(t, dir)
	runOrgClient(t, node, dir, startOrgServer(t))
}

// TestOrgClientAgainstBetterAuth runs the same script against real Better
// Auth with its organization plugin (org-reference-server.mjs), so that a
// failure of TestOrgClient points at our server rather than at the script.
func TestOrgClientAgainstBetterAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode")
	}
	node := requireNode(t)
	dir := compatDir(t)
	ensureNodeModules(t, dir)

	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "org-reference-server.mjs", "0")
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
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
		runOrgClient(t, node, dir, u)
	case <-time.After(30 * time.Second):
		t.Fatalf("org-reference-server.mjs did not start; stderr:\n%s", stderr.String())
	}
}

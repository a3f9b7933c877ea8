package compat_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/org"
	"github.com/managarten/mana-auth/plugin"
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
	if !ok || e.Kind != plugin.EmailInvitation {
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
	mailer := &captureMailer{}
	return startAuthServer(t, auth.Config{
		Secret: testSecret, Mailer: mailer,
		RateLimit: auth.RateLimitConfig{Disabled: true},
	}, map[string]http.Handler{"/__test/mail": mailer}, org.New(org.Options{}))
}

// TestOrgClient runs Better Auth's organizationClient against our server:
// create, invite (the invitation id comes from the captured email), accept
// as a second user, list members with roles, update a role, has-permission,
// remove, delete.
func TestOrgClient(t *testing.T) {
	node := requireNode(t)
	dir := compatDir(t)
	ensureNodeModules(t, dir)
	runScript(t, node, dir, "org-client.mjs", startOrgServer(t))
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
	runScript(t, node, dir, "org-client.mjs", startReferenceServer(t, node, dir, "org-reference-server.mjs"))
}

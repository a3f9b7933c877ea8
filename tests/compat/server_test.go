package compat_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/server"
	"github.com/managarten/mana-auth/storage/memory"
)

// fullMailer keeps every mail of the reference server, for the test
// routes GET /__mail/last?to= (the newest magic link, as mail_test.go's
// SMTP sink answers it) and GET /__test/mail?to= (the newest invitation,
// as org_test.go's captureMailer answers it).
type fullMailer struct {
	mu   sync.Mutex
	sent []auth.Email
}

func (m *fullMailer) SendEmail(_ context.Context, e auth.Email) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, e)
	return nil
}

// last returns the newest mail of kind to addr.
func (m *fullMailer) last(addr string, kind plugin.EmailKind) (auth.Email, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.sent) - 1; i >= 0; i-- {
		if e := m.sent[i]; strings.EqualFold(e.To, addr) && e.Kind == kind {
			return e, true
		}
	}
	return auth.Email{}, false
}

// nullCredits is an in-process mana-credits that accepts everything.
type nullCredits struct{}

func (nullCredits) Init(context.Context, string) error                       { return nil }
func (nullCredits) RedeemPendingGifts(context.Context, string, string) error { return nil }
func (nullCredits) Balance(context.Context, string) (server.Balance, error) {
	return server.Balance{}, nil
}
func (nullCredits) DeleteUser(context.Context, string) (int64, error) { return 0, nil }

// startFullServer runs the mana-auth reference server (every plugin, the
// /api/v1 routes, its own rate limits) on a loopback port, configured as
// an operator would through the environment, with BASE_URL
// http://localhost:<port> so that passkeys are on. TRUSTED_PROXIES is
// loopback: the scripts run with DISTINCT_IPS=1 and so look like many
// clients behind a proxy, which keeps the server's real limits (sign-in 3
// per 10 s per IP) in force without tripping the scripted flows.
func startFullServer(t *testing.T) string {
	t.Helper()
	ln, _ := listenLoopback(t)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	env := map[string]string{
		"BASE_URL":         "http://localhost:" + port,
		"AUTH_SECRET":      testSecret,
		"DATA_DIR":         t.TempDir(),
		"TRUSTED_PROXIES":  "127.0.0.1,::1",
		"MANA_SERVICE_KEY": "compat-service-key-0123",
	}
	cfg, err := server.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	mailer := &fullMailer{}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := server.NewWithStorage(context.Background(), cfg, memory.New(), server.Deps{Mailer: mailer, Credits: nullCredits{}}, log)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", s.Handler())
	mux.HandleFunc("GET /__mail/last", func(w http.ResponseWriter, r *http.Request) {
		e, ok := mailer.last(r.URL.Query().Get("to"), plugin.EmailMagicLink)
		if !ok {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"url": e.URL})
	})
	mux.HandleFunc("GET /__test/mail", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		e, ok := mailer.last(r.URL.Query().Get("to"), plugin.EmailInvitation)
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte("null"))
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"url": e.URL, "data": e.Data})
	})
	t.Cleanup(func() { s.Close() })
	serveOn(t, ln, mux) // cleanups run last first: the listener closes before s
	return cfg.BaseURL
}

// TestClientsAgainstReferenceServer runs Better Auth's own JS clients —
// the core client, magicLinkClient, twoFactorClient, organizationClient —
// against the full mana-auth reference server (cookie prefix "mana", every
// plugin, the server's rate limits), each script against a fresh server.
func TestClientsAgainstReferenceServer(t *testing.T) {
	node := requireNode(t)
	dir := compatDir(t)
	ensureNodeModules(t, dir)
	requireOTPAuth(t, dir)
	common := []string{"COOKIE_PREFIX=mana", "DISTINCT_IPS=1"}
	for _, sc := range []struct {
		name, script string
		env          []string
	}{
		{"client", "client.mjs", nil},
		{"magiclink", "magiclink.mjs", nil},
		// The server has a mailer, so it offers email codes besides TOTP.
		{"twofactor", "twofactor.mjs", []string{"TWO_FACTOR_METHODS=totp"}},
		{"organization", "org-client.mjs", nil},
	} {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			runScript(t, node, dir, sc.script, startFullServer(t), append(common, sc.env...)...)
		})
	}
}

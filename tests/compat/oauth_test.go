package compat_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"testing"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testoidc"
	"github.com/managarten/mana-auth/oauth"
	"github.com/managarten/mana-auth/storage/memory"
)

// The OpenID provider of the OAuth compat test: one client, registered
// with our two callbacks, and two users of the same person with different
// addresses.
const (
	oidcClientID     = "compat-client"
	oidcClientSecret = "compat-client-secret"
)

var (
	oidcAlice     = testoidc.User{ID: "alice-sub", Email: "alice@example.com", EmailVerified: true, First: "Alice", Last: "Liddell"}
	oidcAliceWork = testoidc.User{ID: "alice-work-sub", Email: "alice@work.example.com", EmailVerified: true, First: "Alice", Last: "Work"}
)

// loginTB lends testoidc.Login a testing.TB whose Fatal ends the login's
// own goroutine with the message, instead of the test (Login runs in an
// HTTP handler, not in the test's goroutine).
type loginTB struct {
	testing.TB
	mu     sync.Mutex
	failed string
}

func (l *loginTB) Helper() {}

func (l *loginTB) Fatalf(format string, args ...any) {
	l.mu.Lock()
	l.failed = fmt.Sprintf(format, args...)
	l.mu.Unlock()
	runtime.Goexit()
}

func (l *loginTB) Fatal(args ...any) { l.Fatalf("%s", fmt.Sprint(args...)) }

func (l *loginTB) FailNow() { l.Fatalf("FailNow") }

// oidcLoginHandler answers POST {authURL, userID} with {redirect}: it
// plays the browser at the provider (testoidc.Login), signs in as userID
// and returns the provider's redirect back to our callback, which the
// script then delivers with its own cookies.
func oidcLoginHandler(t *testing.T, op *testoidc.Provider) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			AuthURL string `json:"authURL"`
			UserID  string `json:"userID"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.AuthURL == "" || in.UserID == "" {
			http.Error(w, "want {authURL, userID}", http.StatusBadRequest)
			return
		}
		tb := &loginTB{TB: t}
		done := make(chan string, 1)
		go func() {
			redirect := ""
			defer func() { done <- redirect }()
			redirect = op.Login(tb, in.AuthURL, in.UserID).String()
		}()
		redirect := <-done
		tb.mu.Lock()
		failed := tb.failed
		tb.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if failed != "" {
			w.WriteHeader(http.StatusBadGateway)
			json.NewEncoder(w).Encode(map[string]string{"error": failed})
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"redirect": redirect})
	})
}

// startOAuthServer runs an OpenID provider (testoidc) and our server with
// the oauth plugin and two providers on it, "local-oidc" and "second"
// (same provider, same client, another callback), plus the test route
// POST /__test/oidc-login. It returns our base URL and the provider.
func startOAuthServer(t *testing.T) (string, *testoidc.Provider) {
	t.Helper()
	ln, baseURL := listenLoopback(t)
	op := testoidc.Start(t, []testoidc.Client{{ID: oidcClientID, Secret: oidcClientSecret, RedirectURIs: []string{
		baseURL + "/api/auth/callback/local-oidc", baseURL + "/api/auth/callback/second"}}}, oidcAlice, oidcAliceWork)
	provider := func(id string) oauth.Provider {
		p := oauth.OIDC(id, op.DiscoveryURL(), oidcClientID, oidcClientSecret)
		p.Scopes = []string{"openid", "email", "profile", "offline_access"}
		return p
	}
	p, err := oauth.New(oauth.Config{Providers: []oauth.Provider{provider("local-oidc"), provider("second")}})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	a, err := auth.New(auth.Config{BaseURL: baseURL, Secret: testSecret, RateLimit: auth.RateLimitConfig{Disabled: true}},
		memory.New(), p)
	if err != nil {
		ln.Close()
		t.Fatalf("auth.New: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/auth/", a.Handler())
	mux.Handle("POST /__test/oidc-login", oidcLoginHandler(t, op))
	serveOn(t, ln, mux)
	return baseURL, op
}

// TestOAuthClient drives the oauth plugin with Better Auth's own client
// (oauth-client.mjs) against an OpenID provider running in this process:
// signIn.social, the callback (state cookie, replay, another browser),
// getSession, listAccounts, accountInfo, getAccessToken, refreshToken,
// linkSocial (a different email refused, a second provider linked) and
// unlinkAccount, each answer's shape held to the wire spec (§1).
func TestOAuthClient(t *testing.T) {
	node := requireNode(t)
	dir := compatDir(t)
	ensureNodeModules(t, dir)
	base, op := startOAuthServer(t)
	runScript(t, node, dir, "oauth-client.mjs", base,
		"OIDC_ISSUER="+op.Issuer,
		"OIDC_CLIENT_ID="+oidcClientID,
		"OIDC_USER="+oidcAlice.ID, "OIDC_USER_EMAIL="+oidcAlice.Email,
		"OIDC_USER_NAME="+oidcAlice.First+" "+oidcAlice.Last,
		"OIDC_OTHER_USER="+oidcAliceWork.ID)
}

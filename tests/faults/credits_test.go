package faults_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/managarten/mana-auth/internal/testproc"
	_ "github.com/managarten/mana-auth/storage/sqlite" // the modernc "sqlite" driver
)

const serviceKey = "faults-test-service-key-0123456789"

// creditsCall is a request the fake mana-credits received.
type creditsCall struct {
	at     time.Time
	method string
	path   string
	key    string
	userID string
}

// fakeCredits is mana-credits on a fixed loopback port, started on demand.
type fakeCredits struct {
	mu    sync.Mutex
	calls []creditsCall
	srv   *httptest.Server
}

func (f *fakeCredits) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		UserID string `json:"userId"`
	}
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	_ = json.Unmarshal(raw, &body)
	f.mu.Lock()
	f.calls = append(f.calls, creditsCall{at: time.Now(), method: r.Method, path: r.URL.Path, key: r.Header.Get("X-Service-Key"), userID: body.UserID})
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"success":true}`))
}

// start serves on addr (which must be free).
func (f *fakeCredits) start(t *testing.T, addr string) error {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	f.srv = httptest.NewUnstartedServer(f)
	f.srv.Listener.Close()
	f.srv.Listener = ln
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	return nil
}

// initFor returns the first init call for userID.
func (f *fakeCredits) initFor(userID string) (creditsCall, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.calls {
		if c.method == "POST" && c.path == "/api/v1/internal/credits/init" && c.userID == userID {
			return c, true
		}
	}
	return creditsCall{}, false
}

func (f *fakeCredits) summary() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var keys []string
	for _, c := range f.calls {
		keys = append(keys, c.method+" "+c.path)
	}
	return countBy(keys)
}

func register(c *http.Client, s *server, email string) result {
	r := do(c, s, "POST", "/api/v1/auth/register", map[string]string{"email": email, "password": testPassword, "name": "Faults Test"}, nil)
	r.email = email
	return r
}

// TestCreditsDownDuringRegister registers a user through POST
// /api/v1/auth/register while mana-credits is down (its port closed), then
// brings mana-credits up on the same port. The user must exist (and sign
// in) meanwhile, and the credits init must arrive by itself: the worker
// retries with backoff (2 s after the first failure), but due rows are only
// picked up by a sweep every 30 s, so the wait is bounded at 45 s.
func TestCreditsDownDuringRegister(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the credits worker's 30 s sweep")
	}
	// Mostly waiting: runs alongside the other waiting tests.
	t.Parallel()
	creditsAddr := fmt.Sprintf("127.0.0.1:%d", testproc.FreePort(t)) // closed: mana-credits is down
	dataDir := t.TempDir()
	binary(t) // build first: procStart is the process's start
	procStart := time.Now()
	s := startServer(t, serverEnv(testproc.FreePort(t), map[string]string{
		"DATA_DIR":         dataDir,
		"MANA_CREDITS_URL": "http://" + creditsAddr,
		"MANA_SERVICE_KEY": serviceKey,
	}))
	client := &http.Client{Timeout: 15 * time.Second}

	email := uniqueEmail("credits")
	reg := register(client, s, email)
	if reg.err != nil || reg.status != http.StatusOK || reg.userID == "" {
		t.Fatalf("register with mana-credits down: %v; want 200 with the user", reg)
	}
	regAt := reg.start.Add(reg.dur)
	if reg.dur > 5*time.Second {
		t.Errorf("register took %v with mana-credits down", reg.dur)
	}
	if !s.waitLog("credits: call failed, will retry", 10*time.Second) {
		t.Fatalf("no \"credits: call failed, will retry\" log line: the first init attempt did not run or did not fail")
	}
	failedAt := time.Now()

	// The user exists and signs in while credits are down.
	if r := do(client, s, "POST", "/api/v1/auth/login", map[string]string{"email": email, "password": testPassword}, nil); r.err != nil || r.status != http.StatusOK || r.userID != reg.userID {
		t.Errorf("login while mana-credits is down: %v (user %q); want 200 as %s", r, r.userID, reg.userID)
	}

	credits := &fakeCredits{}
	if err := credits.start(t, creditsAddr); err != nil {
		t.Fatalf("bringing mana-credits up on %s: %v", creditsAddr, err)
	}
	upAt := time.Now()

	const bound = 45 * time.Second
	var call creditsCall
	var ok bool
	for deadline := regAt.Add(bound); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if call, ok = credits.initFor(reg.userID); ok {
			break
		}
		if s.exited() {
			t.Fatalf("mana-auth exited: %v", s.err)
		}
	}
	if !ok {
		t.Fatalf("no credits init for user %s within %v of the registration (mana-credits up %v after it); calls: %s",
			reg.userID, bound, upAt.Sub(regAt).Round(time.Millisecond), credits.summary())
	}
	if call.key != serviceKey {
		t.Errorf("credits init sent X-Service-Key %q; want the MANA_SERVICE_KEY", call.key)
	}
	t.Logf("credits init arrived %v after the registration, %v after mana-credits came up (first attempt failed within %v; the worker's sweep runs every 30 s from process start, registration was %v after start)",
		call.at.Sub(regAt).Round(time.Millisecond), call.at.Sub(upAt).Round(time.Millisecond),
		failedAt.Sub(regAt).Round(time.Millisecond), regAt.Sub(procStart).Round(time.Millisecond))
	if d := call.at.Sub(regAt); d > 10*time.Second {
		t.Logf("FINDING: the retry is announced as \"retryIn=2s\" but came %v later: retries only run on the 30 s sweep (server/credits.go run/sweep), so a failed init waits up to ~30 s, not 2 s", d.Round(time.Second))
	}
	// Give the worker a moment to record the success, then check the row.
	time.Sleep(500 * time.Millisecond)
	s.stop(t, 20*time.Second)
	row := creditsSyncRow(t, filepath.Join(dataDir, "mana-auth.db"), reg.userID)
	t.Logf("creditsSync row afterwards: %s; mana-credits calls: %s", row, credits.summary())
	if !strings.Contains(row, "initialized=true") {
		t.Errorf("creditsSync row does not record the init: %s", row)
	}
}

// creditsSyncRow describes the creditsSync row of userID in the SQLite file
// (read-only, after the process stopped).
func creditsSyncRow(t *testing.T, path, userID string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var attempts int64
	var initialized, lastError sql.NullString
	err = db.QueryRowContext(ctx, `SELECT "attempts", "initializedAt", "lastError" FROM "creditsSync" WHERE "userId" = ?`, userID).Scan(&attempts, &initialized, &lastError)
	if err == sql.ErrNoRows {
		return "none"
	}
	if err != nil {
		t.Fatalf("reading creditsSync: %v", err)
	}
	return fmt.Sprintf("attempts=%d initialized=%v lastError=%q", attempts, initialized.Valid, lastError.String)
}

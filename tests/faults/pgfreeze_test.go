package faults_test

import (
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/managarten/mana-auth/internal/testproc"
)

// TestPostgresFrozen freezes a private PostgreSQL (SIGSTOP to the
// postmaster and its backends: the kernel still completes TCP handshakes,
// nothing answers, as with a hung host or a network partition that drops
// packets) for a bounded time, and measures how mana-auth answers
// meanwhile: sign-up, get-session and /ready should fail fast (within
// failFastBound) as they do when PostgreSQL is down.
func TestPostgresFrozen(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a private PostgreSQL and freezes it for 8 s")
	}
	// Mostly waiting: runs alongside the other waiting tests.
	t.Parallel()
	pg := startPrivatePG(t)
	// A short query bound: every step of a request that reaches the frozen
	// database (rate-limit store, reads, the transaction) gives up in time.
	s := startServer(t, serverEnv(testproc.FreePort(t), map[string]string{"DATABASE_URL": pg.url(), "DATA_DIR": t.TempDir(), "DATABASE_QUERY_TIMEOUT": "1s"}))
	client := &http.Client{Timeout: 30 * time.Second}
	seed := do(client, s, "POST", "/api/auth/sign-up/email", signUpBody(uniqueEmail("freeze-seed")), nil)
	if seed.err != nil || seed.status != http.StatusOK {
		t.Fatalf("seed sign-up: %v", seed)
	}

	const freeze = 8 * time.Second
	pids, err := pg.pids()
	if err != nil {
		t.Fatal(err)
	}
	thaw := func() {
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGCONT)
		}
	}
	t.Cleanup(thaw)
	for _, p := range pids {
		if err := syscall.Kill(p, syscall.SIGSTOP); err != nil {
			t.Fatalf("SIGSTOP %d: %v", p, err)
		}
	}
	frozenAt := time.Now()
	var (
		mu      sync.Mutex
		results []result
		wg      sync.WaitGroup
	)
	add := func(r result) { mu.Lock(); results = append(results, r); mu.Unlock() }
	for i := 0; i < 2; i++ {
		wg.Add(3)
		go func() {
			defer wg.Done()
			e := uniqueEmail("freeze")
			r := do(client, s, "POST", "/api/auth/sign-up/email", signUpBody(e), nil)
			r.email = e
			add(r)
		}()
		go func() { defer wg.Done(); add(do(client, s, "GET", "/api/auth/get-session", nil, seed.cookies)) }()
		go func() { defer wg.Done(); add(do(client, s, "GET", "/ready", nil, nil)) }()
		time.Sleep(500 * time.Millisecond)
	}
	time.Sleep(time.Until(frozenAt.Add(freeze)))
	thaw()
	thawedAt := time.Now()
	wg.Wait()

	var slow []result
	for _, r := range results {
		answeredWhileFrozen := r.err == nil && r.start.Add(r.dur).Before(thawedAt)
		t.Logf("%v (answered while frozen: %v)", r, answeredWhileFrozen)
		if r.err != nil || r.dur >= failFastBound {
			slow = append(slow, r)
		}
	}
	// After the thaw everything works again.
	after := do(client, s, "POST", "/api/auth/sign-up/email", signUpBody(uniqueEmail("freeze-after")), nil)
	if after.err != nil || after.status != http.StatusOK {
		t.Errorf("sign-up after the thaw: %v", after)
	}
	if len(slow) > 0 {
		t.Errorf("with PostgreSQL frozen for %v, %d of %d requests did not fail within %v (first: %v): "+
			"DATABASE_QUERY_TIMEOUT and the rate-limit store's one-second bound should have answered 503",
			freeze, len(slow), len(results), failFastBound, slow[0])
	}
}

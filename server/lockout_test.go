package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testpg"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
	"github.com/managarten/mana-auth/storage/postgres"
	"github.com/managarten/mana-auth/storage/sqlite"
)

// The lockout's tests run the real scrypt hasher (about a second a hash
// under -race): they spend few wrong passwords, and none on refusals,
// which hash nothing.

// The password sign-in routes the lockout guards: Better Auth's and v1's.
const (
	routeSignIn = "/api/auth/sign-in/email"
	routeLogin  = "/api/v1/auth/login"
)

// tryPassword signs in with email and password on route (from a new IP,
// as a distributed guesser would).
func (env *e2e) tryPassword(t *testing.T, route, email, password string) resp {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"email": email, "password": password})
	return env.post(t, route, string(b))
}

// Answers of the sign-in routes, by route: Better Auth's error body on
// /api/auth, the envelope on /api/v1/auth.
const (
	answerWrong      = "wrong password"
	answerLocked     = "locked"
	answerUnverified = "unverified"
	answerOK         = "signed in"
)

// expectAnswer fails unless r is the answer kind of route, with a
// Retry-After of retry seconds on a lockout.
func expectAnswer(t *testing.T, what string, r resp, route, kind string, retry int) {
	t.Helper()
	var status int
	var code, msg string
	switch kind {
	case answerOK:
		if r.status != 200 || (route == routeSignIn && r.body["token"] == nil) || (route == routeLogin && r.body["accessToken"] == nil) {
			t.Fatalf("%s: %d %s, want a sign-in", what, r.status, short(r.raw))
		}
		return
	case answerWrong:
		status, code, msg = 401, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password"
		if route == routeLogin {
			code = "INVALID_CREDENTIALS"
		}
	case answerUnverified:
		status, code, msg = 403, "EMAIL_NOT_VERIFIED", "Email not verified"
	case answerLocked:
		status, code, msg = 429, "ACCOUNT_LOCKED", "Account temporarily locked"
	}
	want := map[string]any{"code": code, "message": msg}
	if route == routeLogin {
		want = map[string]any{"error": code, "message": msg, "status": float64(status)}
		if kind == answerLocked {
			want["retryAfterSec"] = float64(retry)
		}
	}
	if d := cmp.Diff(want, r.body); r.status != status || d != "" {
		t.Fatalf("%s: status %d, want %d; body (-want +got):\n%s", what, r.status, status, d)
	}
	wantRetry := ""
	if kind == answerLocked {
		wantRetry = strconv.Itoa(retry)
	}
	if got := r.header.Get("Retry-After"); got != wantRetry {
		t.Fatalf("%s: Retry-After %q, want %q", what, got, wantRetry)
	}
}

// failures counts the email's lockout rows.
func (env *e2e) failures(t *testing.T, email string) int64 {
	t.Helper()
	return env.count(t, TableLoginAttempt, storage.W("email", email))
}

// addFailures writes n failed attempts for email now, as n wrong passwords
// would (without spending n hashes).
func (env *e2e) addFailures(t *testing.T, email string, n int) {
	t.Helper()
	for range n {
		if err := env.s.db.Create(context.Background(), TableLoginAttempt, storage.Record{"id": plugin.NewID(), "email": email,
			"ipAddress": "203.0.113.7", "successful": false, "attemptedAt": env.clock.Now()}); err != nil {
			t.Fatal(err)
		}
	}
}

// Five wrong passwords through any mix of the password sign-in routes lock
// the email on all of them, for known and unknown emails alike.
func TestLockoutSharedByRoutes(t *testing.T) {
	t.Parallel()
	S, L := routeSignIn, routeLogin
	for _, tc := range []struct {
		name  string
		email string // "" is the seeded user
		fails []string
	}{
		{name: "sign-in/email locks login", fails: []string{S, S, S, S, S}},
		{name: "login locks sign-in/email", fails: []string{L, L, L, L, L}},
		{name: "unknown email, mixed routes", email: "nobody@example.com", fails: []string{L, S, L, S, L}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := newE2E(t, nil)
			u := env.seed(t, "lock@example.com")
			email := tc.email
			if email == "" {
				email = u.email
			}
			for i, route := range tc.fails {
				expectAnswer(t, "failure "+strconv.Itoa(i+1)+" on "+route, env.tryPassword(t, route, email, "wrong-password"), route, answerWrong, 0)
			}
			// Refused on both routes, the right password too, and before
			// any hashing: the 30 minutes are whole, the clock stands.
			for _, route := range []string{S, L} {
				expectAnswer(t, "right password on "+route, env.tryPassword(t, route, email, testPassword), route, answerLocked, 1800)
			}
			if n := env.count(t, TableSecurityEvent, storage.W("eventType", EventAccountLocked)); n != 2 {
				t.Errorf("%d ACCOUNT_LOCKED events, want 2", n)
			}
			if n := env.failures(t, email); n != 5 {
				t.Errorf("%d lockout rows, want 5", n)
			}
			// Every failure is logged with its email, whichever the route.
			recs, err := env.s.db.FindMany(context.Background(), TableSecurityEvent, storage.Query{
				Where: []storage.Where{storage.W("eventType", EventLoginFailure)}})
			if err != nil {
				t.Fatal(err)
			}
			var emails []string
			for _, r := range recs {
				var meta struct{ Email string }
				if err := json.Unmarshal([]byte(r.String("metadata")), &meta); err != nil {
					t.Fatalf("metadata %q: %v", r.String("metadata"), err)
				}
				emails = append(emails, meta.Email)
			}
			if diff := cmp.Diff(slices.Repeat([]string{email}, 5), emails); diff != "" {
				t.Errorf("LOGIN_FAILURE emails (-want +got):\n%s", diff)
			}
		})
	}
}

// Refusals that say nothing about the password (an unverified email) do
// not count.
func TestLockoutIgnoresUnverified(t *testing.T) {
	t.Parallel()
	env := newE2E(t, func(c *Config) { c.RequireEmailVerification = true })
	ctx := context.Background()
	h := testPasswordHash()
	u := &auth.User{Name: "Una", Email: "una@example.com"}
	if err := env.s.auth.Host().CreateUser(ctx, u, &plugin.Account{ID: plugin.NewID(), ProviderID: plugin.CredentialProvider, Password: &h}); err != nil {
		t.Fatal(err)
	}
	env.addFailures(t, u.Email, 4) // one more counted failure would lock
	for _, route := range []string{routeSignIn, routeLogin, routeSignIn} {
		expectAnswer(t, "unverified on "+route, env.tryPassword(t, route, u.Email, testPassword), route, answerUnverified, 0)
	}
	if n := env.failures(t, u.Email); n != 4 {
		t.Errorf("%d lockout rows after unverified sign-ins, want 4", n)
	}
}

// testStores are the storages the end-to-end tests that touch storage run
// on (the lockout's counts, time ranges and deletes, the take-over of
// accounts, unstorable strings, …): they must behave alike on each.
var testStores = []struct {
	name string
	open func(t *testing.T) storage.Adapter
}{
	{"memory", func(t *testing.T) storage.Adapter { return memory.New() }},
	{"sqlite", func(t *testing.T) storage.Adapter {
		db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "lockout.db"), Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}},
	{"postgres", func(t *testing.T) storage.Adapter {
		schema := testpg.SchemaName(t, "lockout_")
		db, err := postgres.Open(context.Background(), postgres.Options{URL: testpg.URL(), Schema: schema, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}},
}

// onEachStore runs fn, in a parallel subtest per storage of testStores, on
// a reference server over that storage (newE2EOn with mutate).
func onEachStore(t *testing.T, mutate func(*Config), fn func(t *testing.T, env *e2e)) {
	t.Helper()
	for _, st := range testStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			fn(t, newE2EOn(t, st.open(t), mutate))
		})
	}
}

// The lockout's whole life on each storage: a race of parallel guesses
// runs at most five password checks; five failures lock both routes for
// 30 minutes after the newest; then the right password works and clears
// the count, as it does before a lock. The wrong passwords are spread over
// both routes.
func TestLockoutLifecycle(t *testing.T) {
	t.Parallel()
	onEachStore(t, nil, func(t *testing.T, env *e2e) {
		u := env.seed(t, "cycle@example.com")
		routes := []string{routeSignIn, routeLogin}

		// 10 wrong passwords at once, on both routes: whatever the
		// interleaving, no more than 5 reach the password check; the
		// others are refused as locked (or, waiting too long for a
		// hashing slot, as busy), and only checked ones count.
		const racers = 10
		var mu sync.Mutex
		statuses := map[int]int{}
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				r := env.tryPassword(t, routes[i%2], u.email, "wrong-password")
				mu.Lock()
				statuses[r.status]++
				mu.Unlock()
			})
		}
		wg.Wait()
		checked := statuses[401]
		if checked > 5 || checked+statuses[429]+statuses[503] != racers {
			t.Fatalf("race answers %v: want at most 5 × 401, the rest 429 (or 503)", statuses)
		}
		if n := env.failures(t, u.email); n != int64(checked) {
			t.Fatalf("%d lockout rows after %d checked failures", n, checked)
		}

		// Up to five, alternating routes; then both are locked.
		for i := checked; i < 5; i++ {
			route := routes[i%2]
			expectAnswer(t, "failure on "+route, env.tryPassword(t, route, u.email, "wrong-password"), route, answerWrong, 0)
		}
		for _, route := range routes {
			expectAnswer(t, "locked, "+route, env.tryPassword(t, route, u.email, testPassword), route, answerLocked, 1800)
		}
		env.clock.Advance(30*time.Minute - time.Second)
		for _, route := range routes {
			expectAnswer(t, "a second before the end, "+route, env.tryPassword(t, route, u.email, testPassword), route, answerLocked, 1)
		}
		env.clock.Advance(time.Second)
		expectAnswer(t, "after the lock", env.tryPassword(t, routeLogin, u.email, testPassword), routeLogin, answerOK, 0)
		if n := env.failures(t, u.email); n != 0 {
			t.Fatalf("%d lockout rows after a success, want 0", n)
		}

		// Four failures, a success: the count starts again.
		env.addFailures(t, u.email, 4)
		expectAnswer(t, "success on sign-in/email", env.tryPassword(t, routeSignIn, u.email, testPassword), routeSignIn, answerOK, 0)
		if n := env.failures(t, u.email); n != 0 {
			t.Fatalf("%d lockout rows after a success, want 0", n)
		}
	})
}

// A lock lasts 30 minutes after the newest of five failures within 15
// minutes, even once the oldest of them has left the 15-minute window.
func TestLockoutLastsFromNewestFailure(t *testing.T) {
	t.Parallel()
	onEachStore(t, nil, func(t *testing.T, env *e2e) {
		const email = "spread@example.com"
		for range 5 { // one failure every 3 minutes: 12 minutes apart
			env.addFailures(t, email, 1)
			env.clock.Advance(3 * time.Minute)
		}
		// Now is 3 minutes after the newest, 15 after the oldest.
		expectAnswer(t, "locked", env.tryPassword(t, routeSignIn, email, testPassword), routeSignIn, answerLocked, 27*60)
		env.clock.Advance(26 * time.Minute)
		expectAnswer(t, "still locked", env.tryPassword(t, routeLogin, email, testPassword), routeLogin, answerLocked, 60)
		env.clock.Advance(time.Minute)
		env.addFailures(t, email, 4) // four fresh failures are no lock
		expectAnswer(t, "unlocked", env.tryPassword(t, routeSignIn, email, "wrong-password"), routeSignIn, answerWrong, 0)
		expectAnswer(t, "the fifth locks", env.tryPassword(t, routeLogin, email, testPassword), routeLogin, answerLocked, 1800)
	})
}

// Maintenance deletes the attempts no lock can read any more (older than
// the window plus the lock) and keeps the rest, so a lock in force
// survives it; and it deletes expired sessions, keeping live ones.
func TestMaintain(t *testing.T) {
	t.Parallel()
	onEachStore(t, nil, func(t *testing.T, env *e2e) {
		env.addFailures(t, "old@example.com", 3)
		stale := env.seed(t, "stale@example.com") // its session expires below
		env.clock.Advance(8 * 24 * time.Hour)
		fresh := env.seed(t, "fresh@example.com")
		env.clock.Advance(20 * time.Minute)
		env.addFailures(t, "locked@example.com", 5)
		env.clock.Advance(25*time.Minute + time.Second) // old: 45m1s ago; locked: 25m1s ago

		env.s.maintain(context.Background())
		got := map[string]int64{"old": env.failures(t, "old@example.com"), "locked": env.failures(t, "locked@example.com")}
		if diff := cmp.Diff(map[string]int64{"old": 0, "locked": 5}, got); diff != "" {
			t.Errorf("rows after pruning (-want +got):\n%s", diff)
		}
		sessions := map[string]int64{
			"stale": env.count(t, plugin.TableSession, storage.W("userId", stale.id)),
			"fresh": env.count(t, plugin.TableSession, storage.W("userId", fresh.id)),
		}
		if diff := cmp.Diff(map[string]int64{"stale": 0, "fresh": 1}, sessions); diff != "" {
			t.Errorf("sessions after maintenance (-want +got):\n%s", diff)
		}
		expectAnswer(t, "still locked", env.tryPassword(t, routeSignIn, "locked@example.com", testPassword), routeSignIn, answerLocked, 4*60+59)
	})
}

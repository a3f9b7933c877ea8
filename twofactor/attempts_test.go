package twofactor_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/keyring"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/twofactor"
)

func wrongCode(e *env, key []byte) string {
	for _, c := range []string{"000000", "111111", "222222"} {
		if c != e.code(key, -1) && c != e.code(key, 0) && c != e.code(key, 1) {
			return c
		}
	}
	panic("unreachable")
}

func TestTooManyAttemptsVoidsSignIn(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	u := e.enroll(t, "jo@example.com")
	b := e.browser()
	b.pending(t, u)
	pendingCookie := b.cookie("better-auth.two_factor")
	bad := wrongCode(e, u.key)
	for i := range 5 {
		path := "/two-factor/verify-totp"
		if i%2 == 1 { // backup codes draw on the same budget
			path = "/two-factor/verify-backup-code"
		}
		r := b.post(t, path, map[string]any{"code": bad})
		if r.status != 401 {
			t.Fatalf("attempt %d: %d %s", i+1, r.status, r.raw)
		}
	}
	r := b.post(t, "/two-factor/verify-totp", map[string]any{"code": e.code(u.key, 0)})
	want(t, r, 400, "TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE")
	if c := r.cookies["better-auth.two_factor"]; c == nil || c.MaxAge >= 0 {
		t.Fatal("two_factor cookie not expired")
	}
	// The sign-in is void even with the old cookie and a right code.
	b.setCookie("better-auth.two_factor", pendingCookie)
	want(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": e.code(u.key, 0)}), 401, "INVALID_TWO_FACTOR_COOKIE")
	// A new sign-in works.
	b.pending(t, u)
	ok(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": e.code(u.key, 0)}))
}

func TestAccountLockout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	u := e.enroll(t, "jo@example.com")
	b := e.browser()
	bad := wrongCode(e, u.key)
	for range 2 { // two pending sign-ins × 5 failures = 10 consecutive failures
		b.pending(t, u)
		for range 5 {
			want(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": bad}), 401, "INVALID_CODE")
		}
	}
	row := e.twoFactorRow(t, u.id)
	if row.Int("failedVerificationCount") != 10 || row.TimePtr("lockedUntil") == nil {
		t.Fatalf("row after 10 failures: %v", row)
	}
	b.pending(t, u)
	want(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": e.code(u.key, 0)}), 429, "ACCOUNT_TEMPORARILY_LOCKED")
	want(t, b.post(t, "/two-factor/verify-backup-code", map[string]any{"code": u.codes[0]}), 429, "ACCOUNT_TEMPORARILY_LOCKED")

	e.advance(15*time.Minute + time.Second)
	b.pending(t, u)
	ok(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": e.code(u.key, 0)}))
	row = e.twoFactorRow(t, u.id)
	if row.Int("failedVerificationCount") != 0 || row.TimePtr("lockedUntil") != nil {
		t.Fatalf("row after success: %v", row)
	}
}

func TestFailuresResetOnSuccess(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	u := e.enroll(t, "jo@example.com")
	b := e.browser()
	bad := wrongCode(e, u.key)
	for range 3 { // 3 × (3 failures + success): never 10 consecutive
		b.pending(t, u)
		for range 3 {
			want(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": bad}), 401, "INVALID_CODE")
		}
		ok(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": e.code(u.key, 0)}))
		ok(t, b.post(t, "/sign-out", nil))
		e.advance(30 * time.Second)
	}
}

// race runs fn on n goroutines at once and returns the statuses.
func race(n int, fn func(i int) int) map[int]int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	out := map[int]int{}
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			s := fn(i)
			mu.Lock()
			out[s]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return out
}

func TestRaceBackupCodeOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	u := e.enroll(t, "jo@example.com")
	browsers := make([]*browser, 8)
	for i := range browsers {
		browsers[i] = e.browser()
		browsers[i].pending(t, u)
	}
	got := race(8, func(i int) int {
		return browsers[i].post(t, "/two-factor/verify-backup-code", map[string]any{"code": u.codes[0]}).status
	})
	if diff := cmp.Diff(map[int]int{200: 1, 401: 7}, got); diff != "" {
		t.Fatalf("statuses (-want +got):\n%s", diff)
	}
	b := e.browser()
	b.pending(t, u)
	want(t, b.post(t, "/two-factor/verify-backup-code", map[string]any{"code": u.codes[0]}), 401, "INVALID_BACKUP_CODE")
	ok(t, b.post(t, "/two-factor/verify-backup-code", map[string]any{"code": u.codes[1]}))
}

func TestRaceDistinctBackupCodes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	u := e.enroll(t, "jo@example.com")
	browsers := make([]*browser, 8)
	for i := range browsers {
		browsers[i] = e.browser()
		browsers[i].pending(t, u)
	}
	// Eight different codes at once: the compare-and-swap retries, so all
	// succeed and all eight are spent.
	got := race(8, func(i int) int {
		return browsers[i].post(t, "/two-factor/verify-backup-code", map[string]any{"code": u.codes[i]}).status
	})
	if diff := cmp.Diff(map[int]int{200: 8}, got); diff != "" {
		t.Fatalf("statuses (-want +got):\n%s", diff)
	}
	exp, err := e.p.ExportUser(context.Background(), u.id)
	if err != nil {
		t.Fatal(err)
	}
	if n := exp.(twofactor.Export).Factors[0].BackupCodesRemaining; n != 2 {
		t.Fatalf("%d codes left, want 2", n)
	}
}

func TestRaceOneChallenge(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	u := e.enroll(t, "jo@example.com")
	b := e.browser()
	b.pending(t, u)
	before := e.countRows(t, plugin.TableSession, storage.W("userId", u.id))
	code := e.code(u.key, 0)
	got := race(8, func(int) int {
		return b.post(t, "/two-factor/verify-totp", map[string]any{"code": code}).status
	})
	if got[200] != 1 || got[200]+got[401] != 8 {
		t.Fatalf("statuses %v, want one 200 and the rest 401", got)
	}
	if n := e.countRows(t, plugin.TableSession, storage.W("userId", u.id)); n != before+1 {
		t.Fatalf("%d sessions, want %d", n, before+1)
	}
}

func TestRaceTOTPOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	u := e.enroll(t, "jo@example.com")
	browsers := make([]*browser, 8)
	for i := range browsers {
		browsers[i] = e.browser()
		browsers[i].pending(t, u)
	}
	code := e.code(u.key, 0)
	got := race(8, func(i int) int {
		return browsers[i].post(t, "/two-factor/verify-totp", map[string]any{"code": code}).status
	})
	if diff := cmp.Diff(map[int]int{200: 1, 401: 7}, got); diff != "" {
		t.Fatalf("statuses (-want +got):\n%s", diff)
	}
}

// betterAuthUser stores a user with two-factor as Better Auth would have:
// its encrypted secret and backup codes.
func betterAuthUser(t *testing.T, e *env, email, backupCodes string) string {
	t.Helper()
	b := e.browser()
	id := b.signUp(t, email)
	ok(t, b.post(t, "/sign-out", nil))
	ctx := context.Background()
	if _, err := e.db.Update(ctx, plugin.TableUser, storage.Record{"twoFactorEnabled": true}, storage.W("id", id)); err != nil {
		t.Fatal(err)
	}
	// A row as Better Auth 1.7 writes it (random id, verified, count 0) …
	if err := e.db.Create(ctx, twofactor.TableTwoFactor, storage.Record{"id": plugin.NewID(), "userId": id,
		"secret": keyring.Encrypt(testSecret, vectorSecret), "backupCodes": backupCodes,
		"verified": true, "failedVerificationCount": int64(0)}); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestBetterAuthRows(t *testing.T) {
	t.Parallel()
	codes := `["AAAAA-BBBBB","CCCCC-DDDDD","EEEEE-FFFFF"]`
	for _, tc := range []struct{ name, stored string }{
		{"encrypted", keyring.Encrypt(testSecret, codes)},
		{"plain", codes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{})
			id := betterAuthUser(t, e, "jo@example.com", tc.stored)
			u := user{id: id, email: "jo@example.com", key: []byte(vectorSecret)}
			b := e.browser()

			// Better Auth's encrypted secret verifies.
			b.pending(t, u)
			ok(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": e.code(u.key, 0)}))
			ok(t, b.post(t, "/sign-out", nil))

			b.pending(t, u)
			ok(t, b.post(t, "/two-factor/verify-backup-code", map[string]any{"code": "AAAAA-BBBBB"}))
			ok(t, b.post(t, "/sign-out", nil))
			stored := e.twoFactorRow(t, id).String("backupCodes")
			if !strings.HasPrefix(stored, "hashed:v1:") || strings.Contains(stored, "CCCCC") {
				t.Fatalf("codes not re-stored hashed: %q", stored)
			}
			b.pending(t, u)
			want(t, b.post(t, "/two-factor/verify-backup-code", map[string]any{"code": "AAAAA-BBBBB"}), 401, "INVALID_BACKUP_CODE")
			// Typed without the dash, with spaces.
			ok(t, b.post(t, "/two-factor/verify-backup-code", map[string]any{"code": " CCCCC DDDDD "}))
			ok(t, b.post(t, "/sign-out", nil))
			b.pending(t, u)
			want(t, b.post(t, "/two-factor/verify-backup-code", map[string]any{"code": "eeeee-fffff"}), 401, "INVALID_BACKUP_CODE")
			ok(t, b.post(t, "/two-factor/verify-backup-code", map[string]any{"code": "EEEEE-FFFFF"}))

			var hashed []string
			rest := strings.TrimPrefix(e.twoFactorRow(t, id).String("backupCodes"), "hashed:v1:")
			if err := json.Unmarshal([]byte(rest[strings.Index(rest, ":")+1:]), &hashed); err != nil || len(hashed) != 0 {
				t.Fatalf("remaining %v %v, want []", hashed, err)
			}
		})
	}
}

func TestSessionModeVerify(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	u := e.enroll(t, "jo@example.com")
	b := e.browser()
	b.pending(t, u)
	f := ok(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": e.code(u.key, 0)}))
	e.advance(30 * time.Second)
	// Inside a session a code answers with the current session, no cookies.
	r := ok(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": e.code(u.key, 0)}))
	if r.body["token"] != f.body["token"] || len(r.cookies) != 0 {
		t.Fatalf("session-mode verify = %s %v", r.raw, r.cookies)
	}
	r = ok(t, b.post(t, "/two-factor/verify-backup-code", map[string]any{"code": u.codes[0]}))
	if r.body["token"] != f.body["token"] || len(r.cookies) != 0 {
		t.Fatalf("session-mode backup code = %s %v", r.raw, r.cookies)
	}

	// Signing in with disableSession: the code is spent, no session is made.
	b2 := e.browser()
	b2.pending(t, u)
	before := e.countRows(t, plugin.TableSession, storage.W("userId", u.id))
	r = ok(t, b2.post(t, "/two-factor/verify-backup-code", map[string]any{"code": u.codes[1], "disableSession": true}))
	if _, has := r.body["token"]; has || r.cookies["better-auth.session_token"] != nil {
		t.Fatalf("disableSession answer: %s %v", r.raw, r.cookies)
	}
	if n := e.countRows(t, plugin.TableSession, storage.W("userId", u.id)); n != before {
		t.Fatal("disableSession created a session")
	}
	// The pending sign-in is over.
	want(t, b2.post(t, "/two-factor/verify-backup-code", map[string]any{"code": u.codes[2]}), 401, "INVALID_TWO_FACTOR_COOKIE")
}

// TestSQLite runs the compare-and-swap paths on a SQL adapter: replay
// refusal, one backup code raced, one TOTP code raced, lockout and its
// expiry, and Better Auth's stored formats.
func TestSQLite(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{sqlite: true})
	u := e.enroll(t, "jo@example.com")

	b := e.browser()
	b.pending(t, u)
	want(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": e.code(u.key, -1)}), 401, "INVALID_CODE") // the enrolment's
	ok(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": e.code(u.key, 0)}))
	ok(t, b.post(t, "/sign-out", nil))

	browsers := make([]*browser, 8)
	for i := range browsers {
		browsers[i] = e.browser()
		browsers[i].pending(t, u)
	}
	got := race(8, func(i int) int {
		return browsers[i].post(t, "/two-factor/verify-backup-code", map[string]any{"code": u.codes[0]}).status
	})
	if diff := cmp.Diff(map[int]int{200: 1, 401: 7}, got); diff != "" {
		t.Fatalf("backup code race (-want +got):\n%s", diff)
	}
	e.advance(30 * time.Second)
	for i := range browsers {
		browsers[i] = e.browser()
		browsers[i].pending(t, u)
	}
	code := e.code(u.key, 0)
	got = race(8, func(i int) int {
		return browsers[i].post(t, "/two-factor/verify-totp", map[string]any{"code": code}).status
	})
	if diff := cmp.Diff(map[int]int{200: 1, 401: 7}, got); diff != "" {
		t.Fatalf("TOTP race (-want +got):\n%s", diff)
	}

	// A success resets the count (the race losers' failures interleave
	// with the winner's reset); then 10 failures lock.
	e.advance(30 * time.Second)
	b.pending(t, u)
	ok(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": e.code(u.key, 0)}))
	bad := wrongCode(e, u.key)
	for range 2 {
		b.pending(t, u)
		for range 5 {
			want(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": bad}), 401, "INVALID_CODE")
		}
	}
	b.pending(t, u)
	want(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": e.code(u.key, 1)}), 429, "ACCOUNT_TEMPORARILY_LOCKED")
	e.advance(15*time.Minute + time.Second)
	b.pending(t, u)
	ok(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": e.code(u.key, 0)}))

	id := betterAuthUser(t, e, "ba@example.com", keyring.Encrypt(testSecret, `["AAAAA-BBBBB","CCCCC-DDDDD"]`))
	ba := user{id: id, email: "ba@example.com", key: []byte(vectorSecret)}
	b = e.browser()
	b.pending(t, ba)
	ok(t, b.post(t, "/two-factor/verify-backup-code", map[string]any{"code": "AAAAA-BBBBB"}))
	ok(t, b.post(t, "/sign-out", nil))
	b.pending(t, ba)
	want(t, b.post(t, "/two-factor/verify-backup-code", map[string]any{"code": "AAAAA-BBBBB"}), 401, "INVALID_BACKUP_CODE")
	ok(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": e.code(ba.key, 0)}))
}

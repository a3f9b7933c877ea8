package jwt

import (
	"context"
	"errors"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testkit"
	"github.com/managarten/mana-auth/jwt/verify"
	"github.com/managarten/mana-auth/storage"
)

func kidOf(t *testing.T, tok string) string {
	t.Helper()
	return decodeSegment(t, tok, 0)["kid"].(string)
}

func kids[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortStrings(s ...string) []string { slices.Sort(s); return s }

// Default timing: KeyCacheTTL 1 min, JWKSMaxAge 1 min, so a new key signs
// 2 min after its creation.
const defaultActivation = DefaultKeyCacheTTL + DefaultJWKSMaxAge

var testSession = &auth.SessionData{Session: &auth.Session{ID: "s"}, User: &auth.User{ID: "u", Email: "u@example.com"}}

// mint signs a token with e's plugin and returns it.
func (e *env) mint() string {
	e.t.Helper()
	tok, err := e.p.Mint(context.Background(), testSession)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// TestRotation: RotateKeys publishes the new key at once and makes it sign
// after the activation delay, the old key signing until then; the old key
// stays published (and its tokens verify) until its expiresAt (the end of
// the delay) + GracePeriod, then leaves the JWKS and its tokens fail with
// ErrUnknownKey.
func TestRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := testkit.NewClock(time.Date(2031, 5, 1, 12, 0, 0, 0, time.UTC))
	// Tokens live longer than the grace period, so the grace period is what
	// ends the old token's validity.
	e := newEnv(t, envConfig{clock: clk, opts: Options{Expiration: 72 * time.Hour, GracePeriod: 48 * time.Hour}})
	e.signUp("r@example.com")

	tok1 := e.token()
	kid1 := kidOf(t, tok1)
	clk.Advance(time.Hour) // the first key has signed for an hour
	remote, err := verify.New(e.url("/jwks"), verify.WithNow(clk.Now), verify.WithIssuer(e.base), verify.WithAudience(e.base))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Verify(ctx, tok1); err != nil {
		t.Fatal(err)
	}

	rotatedAt := clk.Now()
	kid2, err := e.p.RotateKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if kid2 == kid1 {
		t.Fatal("RotateKeys returned the old kid")
	}
	// Published at once; the old key signs for the activation delay.
	if got, want := kids(e.jwks()), sortStrings(kid1, kid2); !cmp.Equal(got, want) {
		t.Errorf("JWKS kids right after the rotation = %v, want %v", got, want)
	}
	if k := kidOf(t, e.token()); k != kid1 {
		t.Errorf("right after the rotation the token is signed by %s, want the old key %s", k, kid1)
	}
	clk.Set(rotatedAt.Add(defaultActivation - time.Nanosecond))
	if k := kidOf(t, e.token()); k != kid1 {
		t.Errorf("just before the activation delay the token is signed by %s, want %s", k, kid1)
	}
	clk.Set(rotatedAt.Add(defaultActivation))
	tok2 := e.token()
	if k := kidOf(t, tok2); k != kid2 {
		t.Errorf("after the activation delay the token is signed by %s, want %s", k, kid2)
	}
	row, err := e.db.FindOne(ctx, TableJWKS, storage.W("id", kid1))
	if err != nil || !row.Time("expiresAt").Equal(rotatedAt.Add(defaultActivation)) {
		t.Errorf("retired key's expiresAt = %v (%v), want the end of the activation delay", row["expiresAt"], err)
	}
	// The remote verifier knew kid2 from the JWKS it fetched after the
	// rotation; both tokens verify everywhere.
	clk.Advance(verify.DefaultMinRefreshInterval)
	for _, tok := range []string{tok1, tok2} {
		if _, err := remote.Verify(ctx, tok); err != nil {
			t.Errorf("remote Verify after the rotation: %v", err)
		}
		if _, err := e.p.Verify(ctx, tok); err != nil {
			t.Errorf("Plugin.Verify after the rotation: %v", err)
		}
	}

	graceEnd := rotatedAt.Add(defaultActivation + 48*time.Hour)
	check := func(when string, wantKids []string, wantOld error) {
		t.Helper()
		keys := e.jwks()
		if got := kids(keys); !cmp.Equal(got, wantKids) {
			t.Errorf("%s: JWKS kids = %v, want %v", when, got, wantKids)
		}
		sv, _ := verify.NewStatic(keys, verify.WithNow(clk.Now))
		if _, err := sv.Verify(ctx, tok1); !errors.Is(err, wantOld) || (err == nil) != (wantOld == nil) {
			t.Errorf("%s: old token: %v, want %v", when, err, wantOld)
		}
		if _, err := e.p.Verify(ctx, tok1); !errors.Is(err, wantOld) || (err == nil) != (wantOld == nil) {
			t.Errorf("%s: Plugin.Verify(old token): %v, want %v", when, err, wantOld)
		}
		if err := remote.Refresh(ctx); err != nil {
			t.Errorf("%s: Refresh: %v", when, err)
		}
		if _, err := remote.Verify(ctx, tok1); !errors.Is(err, wantOld) || (err == nil) != (wantOld == nil) {
			t.Errorf("%s: remote Verify(old token): %v, want %v", when, err, wantOld)
		}
		if _, err := sv.Verify(ctx, tok2); err != nil {
			t.Errorf("%s: new token: %v", when, err)
		}
	}
	clk.Set(graceEnd.Add(-time.Hour))
	check("within grace", sortStrings(kid1, kid2), nil)
	clk.Set(graceEnd.Add(-time.Nanosecond))
	if got := kids(e.jwks()); !cmp.Equal(got, sortStrings(kid1, kid2)) {
		t.Errorf("a nanosecond before the end of the grace period: JWKS kids = %v", got)
	}
	// The snapshot was read a nanosecond ago, yet the key leaves exactly
	// at the end of its grace period.
	clk.Set(graceEnd)
	check("after grace", []string{kid2}, verify.ErrUnknownKey)
	if e.keyCount() != 2 {
		t.Errorf("%d rows; retired keys stay in the table", e.keyCount())
	}
}

// TestActivationDelayNegative: KeyActivationDelay < 0 is Better Auth's
// behaviour: the new key signs at once, the retired one expires now.
func TestActivationDelayNegative(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := testkit.NewClock(time.Date(2031, 5, 2, 12, 0, 0, 0, time.UTC))
	e := newEnv(t, envConfig{clock: clk, base: "http://localhost:3000", opts: Options{KeyActivationDelay: -1}})
	kid1 := kidOf(t, e.mint())
	kid2, err := e.p.RotateKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if k := kidOf(t, e.mint()); k != kid2 {
		t.Errorf("token signed by %s right after the rotation, want %s", k, kid2)
	}
	row, err := e.db.FindOne(ctx, TableJWKS, storage.W("id", kid1))
	if err != nil || !row.Time("expiresAt").Equal(clk.Now()) {
		t.Errorf("retired key's expiresAt = %v (%v), want the rotation time", row["expiresAt"], err)
	}
}

// TestAutomaticRotation: with KeyRotationInterval, the successor of a key
// is created the activation delay + KeyCacheTTL before the key expires and
// signs from the activation delay after its creation (before the old key
// expires); the old one stays published for the grace period. If no key
// is live at all (nobody looked at the keys meanwhile), a new one is made
// and signs at once.
func TestAutomaticRotation(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2031, 6, 1, 0, 0, 0, 0, time.UTC)
	clk := testkit.NewClock(t0)
	e := newEnv(t, envConfig{clock: clk, base: "http://localhost:3000", opts: Options{KeyRotationInterval: 24 * time.Hour, GracePeriod: time.Hour}})
	kid1 := kidOf(t, e.mint())
	expiry := t0.Add(24 * time.Hour)
	due := expiry.Add(-defaultActivation - DefaultKeyCacheTTL)

	clk.Set(due.Add(-time.Nanosecond))
	if k := kidOf(t, e.mint()); k != kid1 || e.keyCount() != 1 {
		t.Fatalf("before the successor is due: signed by %s, %d keys", k, e.keyCount())
	}
	clk.Set(due)
	if k := kidOf(t, e.mint()); k != kid1 || e.keyCount() != 2 {
		t.Fatalf("when the successor is due: signed by %s (want %s), %d keys (want 2)", k, kid1, e.keyCount())
	}
	keys := e.jwks0(t)
	if len(keys) != 2 {
		t.Fatalf("JWKS kids = %v: the successor is published at once", keys)
	}
	kid2 := keys[0]
	if kid2 == kid1 {
		kid2 = keys[1]
	}
	clk.Set(due.Add(defaultActivation - time.Nanosecond))
	if k := kidOf(t, e.mint()); k != kid1 {
		t.Errorf("before the successor's activation: signed by %s, want %s", k, kid1)
	}
	clk.Set(due.Add(defaultActivation))
	if k := kidOf(t, e.mint()); k != kid2 {
		t.Errorf("after the successor's activation (%v before the old key expires): signed by %s, want %s",
			expiry.Sub(clk.Now()), k, kid2)
	}
	clk.Set(expiry.Add(time.Hour))
	if got := e.jwks0(t); !cmp.Equal(got, []string{kid2}) {
		t.Errorf("JWKS kids after the old key's grace = %v", got)
	}

	// Nobody asks for a key until kid2 has expired: a new key signs at once.
	clk.Set(due.Add(24*time.Hour + time.Hour))
	kid3 := kidOf(t, e.mint())
	if kid3 == kid2 || kid3 == kid1 {
		t.Errorf("after every key expired the token is signed by %s", kid3)
	}
	if got := e.jwks0(t); !slices.Contains(got, kid3) {
		t.Errorf("JWKS kids = %v, without the new key %s", got, kid3)
	}
}

// TestRotationAcrossInstances: two instances (plugins) share a database
// and a fake clock; A rotates. B's JWKS lists the new key from its first
// reread (not before half of KeyCacheTTL: B answers from memory until
// then, and no later than three quarters of it); neither instance signs
// with the new key before the activation delay, both do from then on; and
// at every moment, every token either instance mints is listed by both
// instances' JWKS and verifies on both.
func TestRotationAcrossInstances(t *testing.T) {
	t.Parallel()
	for _, ttl := range []time.Duration{DefaultKeyCacheTTL, 20 * time.Second} {
		t.Run(ttl.String(), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			t0 := time.Date(2031, 7, 1, 0, 0, 0, 0, time.UTC)
			clk := testkit.NewClock(t0.Add(-time.Hour)) // the first key was made an hour before
			db := newMemory()
			var readsA, readsB readCounter
			opts := Options{KeyCacheTTL: ttl}
			activation := ttl + DefaultJWKSMaxAge
			a := newEnv(t, envConfig{db: db, clock: clk, base: "http://localhost:3000", opts: opts, wrap: counting(&readsA)})
			b := newEnv(t, envConfig{db: db, clock: clk, base: "http://localhost:3000", opts: opts, wrap: counting(&readsB)})
			kid1 := kidOf(t, a.mint())
			clk.Set(t0)
			if k := kidOf(t, b.mint()); k != kid1 {
				t.Fatalf("instances use different first keys: %s, %s", kid1, k)
			}
			a.jwks0(t) // both instances' snapshots are from t0
			kid2, err := a.p.RotateKeys(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := a.jwks0(t); !cmp.Equal(got, sortStrings(kid1, kid2)) {
				t.Errorf("A's JWKS right after its rotation: %v", got)
			}
			readsB.reads.Store(0)
			clk.Set(t0.Add(ttl/2 - time.Nanosecond))
			if got := b.jwks0(t); !cmp.Equal(got, []string{kid1}) || readsB.reads.Load() != 0 {
				t.Errorf("B's JWKS before half of KeyCacheTTL = %v after %d reads: want its snapshot, unread", got, readsB.reads.Load())
			}

			// From here on, every 5 s until well after the activation, and a
			// nanosecond before it: both instances mint, and both JWKS must
			// list both tokens' keys.
			var points []time.Time
			for now := t0.Add(ttl / 2); !now.After(t0.Add(activation + 2*ttl)); now = now.Add(5 * time.Second) {
				if now.Equal(t0.Add(activation)) {
					points = append(points, now.Add(-time.Nanosecond))
				}
				points = append(points, now)
			}
			listedOnB := time.Time{}
			for _, now := range points {
				clk.Set(now)
				toks := []string{a.mint(), b.mint()}
				docs := [][]string{a.jwks0(t), b.jwks0(t)}
				if listedOnB.IsZero() && slices.Contains(docs[1], kid2) {
					listedOnB = now
				}
				for i, tok := range toks {
					kid := kidOf(t, tok)
					want := kid1
					if !now.Before(t0.Add(activation)) {
						want = kid2
					}
					if kid != want {
						t.Errorf("t0+%v: instance %d signs with %s, want %s", now.Sub(t0), i, kid, want)
					}
					for j, doc := range docs {
						if !slices.Contains(doc, kid) {
							t.Errorf("t0+%v: instance %d's token (kid %s) is not in instance %d's JWKS %v", now.Sub(t0), i, kid, j, doc)
						}
					}
					for j, e := range []*env{a, b} {
						if _, err := e.p.Verify(ctx, tok); err != nil {
							t.Errorf("t0+%v: instance %d's token on instance %d: %v", now.Sub(t0), i, j, err)
						}
					}
				}
			}
			if listedOnB.IsZero() || listedOnB.Sub(t0) > ttl {
				t.Errorf("B listed the new key at t0+%v, want within KeyCacheTTL (%v)", listedOnB.Sub(t0), ttl)
			}
			// At most one read per half KeyCacheTTL on B (no read per request).
			if n, max := readsB.reads.Load(), int64((activation+2*ttl)/(ttl/2))+1; n > max {
				t.Errorf("B read the key table %d times, want at most %d", n, max)
			}
		})
	}
}

// TestOtherInstanceHardBound: when B gets no request between half and
// three quarters of KeyCacheTTL, its first request after that waits for
// the reread: a key A created is listed then, not a moment later; a key A
// deleted (revoked by hand) is gone from both instances' JWKS by then.
func TestOtherInstanceHardBound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t0 := time.Date(2031, 7, 2, 0, 0, 0, 0, time.UTC)
	clk := testkit.NewClock(t0.Add(-time.Hour))
	db := newMemory()
	var readsB readCounter
	a := newEnv(t, envConfig{db: db, clock: clk, base: "http://localhost:3000"})
	b := newEnv(t, envConfig{db: db, clock: clk, base: "http://localhost:3000", wrap: counting(&readsB)})
	kid1 := kidOf(t, a.mint())
	clk.Set(t0)
	b.jwks0(t)
	kid2, err := a.p.RotateKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	readsB.reads.Store(0)
	clk.Set(t0.Add(DefaultKeyCacheTTL/2 - time.Nanosecond))
	if got := b.jwks0(t); !cmp.Equal(got, []string{kid1}) {
		t.Errorf("B before half of KeyCacheTTL: %v", got)
	}
	clk.Set(t0.Add(DefaultKeyCacheTTL * 3 / 4))
	if got := b.jwks0(t); !cmp.Equal(got, sortStrings(kid1, kid2)) || readsB.reads.Load() != 1 {
		t.Errorf("B at three quarters of KeyCacheTTL: %v after %d reads, want both keys after one read", got, readsB.reads.Load())
	}

	// Revoked by hand: kid1's row is deleted. Both instances reread it by
	// three quarters of KeyCacheTTL after their last read.
	t1 := clk.Now()
	a.jwks0(t) // A's snapshot is from t0: this reread is due (hard)
	if _, err := db.Delete(ctx, TableJWKS, storage.W("id", kid1)); err != nil {
		t.Fatal(err)
	}
	clk.Set(t1.Add(DefaultKeyCacheTTL/2 - time.Nanosecond))
	for i, e := range []*env{a, b} {
		if got := e.jwks0(t); !slices.Contains(got, kid1) {
			t.Errorf("instance %d dropped the revoked key before rereading: %v", i, got)
		}
	}
	clk.Set(t1.Add(DefaultKeyCacheTTL * 3 / 4))
	for i, e := range []*env{a, b} {
		if got := e.jwks0(t); !cmp.Equal(got, []string{kid2}) {
			t.Errorf("instance %d still lists the revoked key: %v", i, got)
		}
	}
}

// jwks0 is jwks through the in-process handler: the sorted kids.
func (e *env) jwks0(t *testing.T) []string {
	t.Helper()
	w := e.serve("GET", "/jwks")
	keys, err := verify.ParseJWKS(w.Body.Bytes())
	if w.Code != 200 || err != nil {
		t.Fatalf("GET /jwks: %d %s (%v)", w.Code, w.Body, err)
	}
	return kids(keys)
}

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

// TestRotation: RotateKeys switches the signing key; the old key stays
// published (and its tokens verify) until expiresAt + GracePeriod, then
// leaves the JWKS and its tokens fail with ErrUnknownKey.
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
	remote, err := verify.New(e.url("/jwks"), verify.WithNow(clk.Now), verify.WithIssuer(e.base), verify.WithAudience(e.base))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Verify(ctx, tok1); err != nil {
		t.Fatal(err)
	}

	kid2, err := e.p.RotateKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tok2 := e.token()
	if kid2 == kid1 || kidOf(t, tok2) != kid2 {
		t.Fatalf("after rotation: kid1 %s, kid2 %s, token kid %s", kid1, kid2, kidOf(t, tok2))
	}
	if got, want := kids(e.jwks()), sortStrings(kid1, kid2); !cmp.Equal(got, want) {
		t.Errorf("JWKS kids = %v, want %v", got, want)
	}
	// The remote verifier learns kid2 on first sight (unknown kid → refetch,
	// allowed once MinRefreshInterval has passed since the last fetch).
	clk.Advance(verify.DefaultMinRefreshInterval)
	for _, tok := range []string{tok1, tok2} {
		if _, err := remote.Verify(ctx, tok); err != nil {
			t.Errorf("remote Verify right after rotation: %v", err)
		}
		if _, err := e.p.Verify(ctx, tok); err != nil {
			t.Errorf("Plugin.Verify right after rotation: %v", err)
		}
	}

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
	clk.Advance(47*time.Hour - verify.DefaultMinRefreshInterval)
	check("within grace", sortStrings(kid1, kid2), nil)
	clk.Advance(time.Hour + time.Second)
	check("after grace", []string{kid2}, verify.ErrUnknownKey)
	if e.keyCount() != 2 {
		t.Errorf("%d rows; retired keys stay in the table", e.keyCount())
	}
}

func sortStrings(s ...string) []string { slices.Sort(s); return s }

// TestAutomaticRotation: with KeyRotationInterval, the first signature
// after a key expired mints a new key; the old one stays published.
func TestAutomaticRotation(t *testing.T) {
	t.Parallel()
	clk := testkit.NewClock(time.Date(2031, 6, 1, 0, 0, 0, 0, time.UTC))
	e := newEnv(t, envConfig{clock: clk, opts: Options{KeyRotationInterval: 24 * time.Hour, GracePeriod: time.Hour}})
	e.signUp("auto@example.com")
	kid1 := kidOf(t, e.token())
	clk.Advance(23 * time.Hour)
	if k := kidOf(t, e.token()); k != kid1 {
		t.Errorf("key changed before its expiry")
	}
	clk.Advance(time.Hour)
	kid2 := kidOf(t, e.token())
	if kid2 == kid1 {
		t.Fatal("no new key after expiry")
	}
	if got := kids(e.jwks()); !cmp.Equal(got, sortStrings(kid1, kid2)) {
		t.Errorf("JWKS kids = %v", got)
	}
	clk.Advance(time.Hour)
	if got := kids(e.jwks()); !cmp.Equal(got, []string{kid2}) {
		t.Errorf("JWKS kids after grace = %v", got)
	}
}

// TestRotationAcrossInstances: two Auths share a database; a rotation on
// one is picked up by the other within KeyCacheTTL, and both instances'
// tokens verify throughout.
func TestRotationAcrossInstances(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := testkit.NewClock(time.Date(2031, 7, 1, 0, 0, 0, 0, time.UTC))
	db := newMemory()
	opts := Options{KeyCacheTTL: 30 * time.Second}
	a := newEnv(t, envConfig{db: db, clock: clk, base: "http://localhost:3000", opts: opts})
	b := newEnv(t, envConfig{db: db, clock: clk, base: "http://localhost:3000", opts: opts})
	sd := &auth.SessionData{Session: &auth.Session{ID: "s"}, User: &auth.User{ID: "u", Email: "u@example.com"}}
	mint := func(e *env) string {
		t.Helper()
		tok, err := e.p.Mint(ctx, sd)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	kid1 := kidOf(t, mint(a))
	if k := kidOf(t, mint(b)); k != kid1 {
		t.Fatalf("instances use different first keys: %s, %s", kid1, k)
	}
	kid2, err := a.p.RotateKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if k := kidOf(t, mint(a)); k != kid2 {
		t.Errorf("rotating instance signs with %s, want %s", k, kid2)
	}
	if k := kidOf(t, mint(b)); k != kid1 {
		t.Errorf("other instance switched before KeyCacheTTL (%s)", k)
	}
	// Both tokens verify on both instances meanwhile (B reloads on the
	// unknown kid, at most once a second).
	clk.Advance(time.Second)
	for _, e := range []*env{a, b} {
		for _, tok := range []string{mint(a), mint(b)} {
			if _, err := e.p.Verify(ctx, tok); err != nil {
				t.Errorf("Verify: %v", err)
			}
		}
	}
	clk.Advance(31 * time.Second)
	if k := kidOf(t, mint(b)); k != kid2 {
		t.Errorf("other instance still signs with %s after KeyCacheTTL, want %s", k, kid2)
	}
}

package jwt

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testkit"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// TestTokenMemo: the memo returns exactly what signJWS returns for the
// same key, header and payload; it keeps only the current second's tokens,
// and at most tokenMemoMax of them.
func TestTokenMemo(t *testing.T) {
	t.Parallel()
	_, key, _ := ed25519.GenerateKey(nil)
	header := headerFor("k1")
	payload := func(sub string, iat int64) []byte {
		return fmt.Appendf(nil, `{"sub":%q,"iat":%d}`, sub, iat)
	}
	var m tokenMemo
	steps := []struct {
		name       string
		sub        string
		iat        int64
		wantKept   int   // tokens in the memo afterwards
		wantSecond int64 // the memo's second afterwards
	}{
		{"first token", "a", 100, 1, 100},
		{"same payload again", "a", 100, 1, 100},
		{"another payload, same second", "b", 100, 2, 100},
		{"next second empties the memo", "a", 101, 1, 101},
		{"a late request of an earlier second is not kept", "c", 100, 1, 101},
		{"the current second again", "b", 101, 2, 101},
	}
	for _, s := range steps {
		p := payload(s.sub, s.iat)
		got := m.sign(key, header, p, s.iat)
		if want := signJWS(key, header, p); got != want {
			t.Errorf("%s: token %q, want the fresh signature %q", s.name, got, want)
		}
		if len(m.tokens) != s.wantKept || m.second != s.wantSecond {
			t.Errorf("%s: memo holds %d tokens of second %d, want %d of %d", s.name, len(m.tokens), m.second, s.wantKept, s.wantSecond)
		}
	}

	// The bound: beyond tokenMemoMax payloads in one second, tokens are
	// signed and returned but not kept.
	var full tokenMemo
	for i := range tokenMemoMax + 10 {
		p := payload(fmt.Sprint(i), 7)
		if got, want := full.sign(key, header, p, 7), signJWS(key, header, p); got != want {
			t.Fatalf("payload %d: token differs from a fresh signature", i)
		}
	}
	if len(full.tokens) != tokenMemoMax {
		t.Errorf("memo holds %d tokens, want the bound %d", len(full.tokens), tokenMemoMax)
	}
}

// TestTokenMemoConcurrent: concurrent minting of the same and of different
// payloads (run with -race) always returns the fresh signature.
func TestTokenMemoConcurrent(t *testing.T) {
	t.Parallel()
	_, key, _ := ed25519.GenerateKey(nil)
	header := headerFor("k1")
	var m tokenMemo
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				iat := int64(1000 + i/50)
				p := fmt.Appendf(nil, `{"sub":"u%d","iat":%d}`, (g+i)%4, iat)
				if got, want := m.sign(key, header, p, iat), signJWS(key, header, p); got != want {
					t.Errorf("goroutine %d, request %d: token differs from a fresh signature", g, i)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestMintMemoIsSound: within one second (the clock stands still), the
// token get-session and /token give follows every change a fresh
// signature would: a changed role or email gives a token with the new
// claims, a revoked session gives no token at all, and a rotated key signs
// at once; and an unchanged session gets the same token, which verifies.
func TestMintMemoIsSound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := testkit.NewClock(time.Date(2031, 6, 1, 12, 0, 0, 0, time.UTC))
	e := newEnv(t, envConfig{clock: clk, plugins: []auth.Plugin{rolePlugin{}}, opts: Options{KeyActivationDelay: -1}})
	u := e.signUp("memo@example.com")

	claims := func(tok string) map[string]any {
		t.Helper()
		c, err := e.p.Verify(ctx, tok)
		if err != nil {
			t.Fatalf("token does not verify: %v", err)
		}
		raw := decodeSegment(t, tok, 1)
		if raw["sub"] != c.Subject {
			t.Fatalf("sub %v, verified subject %q", raw["sub"], c.Subject)
		}
		return map[string]any{"kid": kidOf(t, tok), "email": raw["email"], "role": raw["role"], "iat": raw["iat"]}
	}
	getSession := func() (string, *http.Response) {
		t.Helper()
		resp, body := e.do("GET", "/get-session", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("get-session: %d %s", resp.StatusCode, body)
		}
		return resp.Header.Get(HeaderSetAuthJWT), resp
	}

	first := e.token()
	c0 := claims(first)
	if tok, _ := getSession(); tok != first {
		t.Errorf("get-session in the same second gave another token than /token: %q vs %q", tok, first)
	}

	// A changed role and email, written by someone else (another
	// instance, an admin tool): the next token carries them, same second.
	if _, err := e.db.Update(ctx, plugin.TableUser, storage.Record{"role": "admin", "email": "new@example.com"}, storage.W("id", u.User.ID)); err != nil {
		t.Fatal(err)
	}
	tok, _ := getSession()
	want := map[string]any{"kid": c0["kid"], "email": "new@example.com", "role": "admin", "iat": c0["iat"]}
	if diff := cmp.Diff(want, claims(tok)); diff != "" {
		t.Errorf("token after the role and email change (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, claims(e.token())); diff != "" {
		t.Errorf("/token after the role and email change (-want +got):\n%s", diff)
	}

	// A rotated key signs at once (KeyActivationDelay < 0), same second.
	kid2, err := e.p.RotateKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want["kid"] = kid2
	if diff := cmp.Diff(want, claims(e.token())); diff != "" {
		t.Errorf("token after the rotation (-want +got):\n%s", diff)
	}

	// The session revoked behind the instance's back: no token, same second.
	if _, err := e.db.Delete(ctx, plugin.TableSession, storage.W("userId", u.User.ID)); err != nil {
		t.Fatal(err)
	}
	resp, body := e.do("GET", "/get-session", nil)
	if resp.StatusCode != 200 || string(body) != "null" || resp.Header.Get(HeaderSetAuthJWT) != "" {
		t.Errorf("get-session of a revoked session: %d %s, set-auth-jwt %q; want 200 null and no token", resp.StatusCode, body, resp.Header.Get(HeaderSetAuthJWT))
	}
	if resp, body := e.do("GET", "/token", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/token of a revoked session: %d %s, want 401", resp.StatusCode, body)
	}
}

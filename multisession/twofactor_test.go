package multisession_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/twofactor"
)

// totp is an independent RFC 6238 code (SHA-1, 6 digits, 30 s) of the
// otpauth URI's key at t.
func totp(t *testing.T, uri string, at time.Time) string {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(u.Query().Get("secret"))
	if err != nil {
		t.Fatal(err)
	}
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], uint64(at.Unix()/30))
	m := hmac.New(sha1.New, key)
	m.Write(buf[:])
	s := m.Sum(nil)
	o := s[len(s)-1] & 15
	return fmt.Sprintf("%06d", (binary.BigEndian.Uint32(s[o:o+4])&0x7fffffff)%1000000)
}

// TestSecondFactor: a sign-in a second factor interrupts sets no
// multi-session cookie and replaces nothing; the verified second factor
// starts the session, which then gets its cookie and replaces the user's
// older device session.
func TestSecondFactor(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		e := newEnv(t, envOpts{db: db, plugins: []auth.Plugin{twofactor.New(twofactor.Options{})}})
		b := e.browser()
		tb := b.signUp("bob@example.com")
		t0 := b.signUp("alice@example.com")
		r := b.post("/two-factor/enable", map[string]any{"password": password})
		if r.status != 200 {
			t.Fatalf("enable: %d %s", r.status, r.raw)
		}
		uri, _ := r.body["totpURI"].(string)
		// Turning two-factor on starts a new session: it replaces the
		// device session it follows.
		r = b.post("/two-factor/verify-totp", map[string]any{"code": totp(t, uri, e.clock.Now())})
		if r.status != 200 {
			t.Fatalf("verify-totp: %d %s", r.status, r.raw)
		}
		t1 := b.tokenOf(r)
		if e.sessionAlive(t0) || !r.expires(multiCookie(t0)) {
			t.Errorf("the session before two-factor: alive %v, Set-Cookie %q", e.sessionAlive(t0), r.setCk)
		}
		e.clock.Advance(30 * time.Second)
		before := []string{"bob@example.com " + tb, "alice@example.com " + t1}
		if diff := cmp.Diff(before, b.devices()); diff != "" {
			t.Fatalf("device sessions with two-factor on (-want +got):\n%s", diff)
		}

		r = b.post("/sign-in/email", map[string]any{"email": "alice@example.com", "password": password})
		if r.status != 200 || r.body["twoFactorRedirect"] != true {
			t.Fatalf("sign-in: %d %s", r.status, r.raw)
		}
		if got := r.multiSet(); len(got) != 0 {
			t.Errorf("an interrupted sign-in set %q", got)
		}
		if diff := cmp.Diff(before, b.devices()); diff != "" {
			t.Errorf("device sessions after the interrupted sign-in (-want +got):\n%s", diff)
		}

		r = b.post("/two-factor/verify-totp", map[string]any{"code": totp(t, uri, e.clock.Now())})
		if r.status != 200 {
			t.Fatalf("verify-totp: %d %s", r.status, r.raw)
		}
		t2 := b.tokenOf(r)
		if r.sets(multiCookie(t2)) != signedValue(t2) {
			t.Errorf("verified sign-in: %q", r.setCk)
		}
		wantAlive(t, e, map[string]string{"bob": tb, "alice's first": t1, "alice's second": t2}, "bob", "alice's second")
		if diff := cmp.Diff([]string{"bob@example.com " + tb, "alice@example.com " + t2}, b.devices()); diff != "" {
			t.Errorf("device sessions (-want +got):\n%s", diff)
		}
	})
}

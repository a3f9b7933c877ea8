package passkey

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testkit"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

const challengeCookie = "better-auth.better-auth-passkey"

func randomB64(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b64u(b)
}

func ptr[T any](v T) *T { return &v }

// topKeys returns the keys of a JSON object in document order.
func topKeys(t *testing.T, raw []byte) []string {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", raw)
	}
	var keys []string
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestRegisterAndSignIn(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	c := e.newClient()
	u := c.signUp("ada@example.com")

	r := c.do("GET", "/passkey/generate-register-options?name=Ada%27s%20key", nil)
	if r.status != 200 {
		t.Fatalf("options: %d %s", r.status, r.body)
	}
	if diff := cmp.Diff([]string{"challenge", "rp", "user", "pubKeyCredParams", "timeout", "attestation",
		"excludeCredentials", "authenticatorSelection", "extensions", "hints"}, topKeys(t, r.body)); diff != "" {
		t.Errorf("creation options keys (-want +got):\n%s", diff)
	}
	var opts CreationOptions
	r.json(t, &opts)
	ch, err := base64.RawURLEncoding.DecodeString(opts.Challenge)
	if err != nil || len(ch) != 32 {
		t.Errorf("challenge %q: %d bytes, %v", opts.Challenge, len(ch), err)
	}
	want := CreationOptions{
		Challenge: opts.Challenge,
		RP:        RelyingParty{Name: "Better Auth", ID: "localhost"},
		User:      UserEntity{ID: b64u(UserHandle(u.ID)), Name: "Ada's key", DisplayName: "ada@example.com"},
		PubKeyCredParams: []CredentialParameter{
			{Alg: -8, Type: "public-key"}, {Alg: -7, Type: "public-key"}, {Alg: -257, Type: "public-key"}},
		Timeout: 60000, Attestation: "none", ExcludeCredentials: []CredentialDescriptor{},
		AuthenticatorSelection: SelectionCriteria{ResidentKey: "preferred", UserVerification: "preferred"},
		Extensions:             map[string]any{"credProps": true}, Hints: []string{},
	}
	if diff := cmp.Diff(want, opts); diff != "" {
		t.Errorf("creation options (-want +got):\n%s", diff)
	}
	if !strings.Contains(string(r.body), `"authenticatorSelection":{"residentKey":"preferred","userVerification":"preferred","requireResidentKey":false}`) {
		t.Errorf("authenticatorSelection rendering: %s", r.body)
	}
	cks := setCookies(r, challengeCookie)
	if len(cks) != 1 || !strings.HasSuffix(cks[0], "; Max-Age=300; Path=/; HttpOnly; SameSite=Lax") {
		t.Errorf("challenge cookie: %q", cks)
	}
	// The challenge row is Better Auth's.
	id, _ := plugin.VerifyCookieValue(testSecret, strings.TrimPrefix(strings.SplitN(cks[0], ";", 2)[0], challengeCookie+"="))
	v, err := e.a.Host().FindVerification(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := v.Value, `{"type":"registration","expectedChallenge":"`+opts.Challenge+`","userData":{"id":"`+u.ID+
		`","name":"ada@example.com","displayName":"ada@example.com"},"context":null}`; got != want {
		t.Errorf("challenge row:\n got %s\nwant %s", got, want)
	}
	if d := v.ExpiresAt.Sub(e.a.Host().Now()); d != ChallengeMaxAge {
		t.Errorf("challenge lifetime %v", d)
	}

	k := newSoftKey(t)
	r = c.do("POST", "/passkey/verify-registration", map[string]any{"response": k.create(opts, e.origin, ceremony{}), "name": "  Laptop "})
	if r.status != 200 {
		t.Fatalf("verify-registration: %d %s", r.status, r.body)
	}
	if diff := cmp.Diff([]string{"id", "name", "publicKey", "userId", "credentialID", "counter", "deviceType",
		"backedUp", "transports", "createdAt", "aaguid"}, topKeys(t, r.body)); diff != "" {
		t.Errorf("passkey keys (-want +got):\n%s", diff)
	}
	var row map[string]any
	r.json(t, &row)
	wantRow := map[string]any{
		"name": "Laptop", "publicKey": base64.StdEncoding.EncodeToString(k.cose()), "userId": u.ID,
		"credentialID": b64u(k.credID), "counter": 0.0, "deviceType": "singleDevice", "backedUp": false,
		"transports": "hybrid,internal", "createdAt": plugin.FormatTime(e.a.Host().Now()),
		"aaguid": "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4",
	}
	if diff := cmp.Diff(wantRow, row, cmpopts.IgnoreMapEntries(func(k string, _ any) bool { return k == "id" })); diff != "" {
		t.Errorf("passkey row (-want +got):\n%s", diff)
	}
	if del := setCookies(r, challengeCookie); len(del) != 1 || !strings.Contains(del[0], "Max-Age=0") {
		t.Errorf("challenge cookie not expired: %q", del)
	}
	if _, err := e.a.Host().FindVerification(context.Background(), id); !errors.Is(err, plugin.ErrVerificationNotFound) {
		t.Errorf("challenge row left behind: %v", err)
	}

	r = c.do("GET", "/passkey/list-user-passkeys", nil)
	var list []map[string]any
	r.json(t, &list)
	if diff := cmp.Diff([]map[string]any{row}, list); r.status != 200 || diff != "" {
		t.Errorf("list: %d (-want +got):\n%s", r.status, diff)
	}

	// The next registration excludes the credential.
	opts2 := c.registerOptions("?authenticatorAttachment=cross-platform")
	if diff := cmp.Diff([]CredentialDescriptor{{ID: b64u(k.credID), Transports: []string{"hybrid", "internal"}, Type: "public-key"}},
		opts2.ExcludeCredentials); diff != "" {
		t.Errorf("excludeCredentials (-want +got):\n%s", diff)
	}
	if opts2.AuthenticatorSelection.AuthenticatorAttachment != "cross-platform" {
		t.Errorf("authenticatorAttachment: %+v", opts2.AuthenticatorSelection)
	}

	// Sign in from a fresh browser.
	b := e.newClient()
	r = b.do("GET", "/passkey/generate-authenticate-options", nil)
	if diff := cmp.Diff([]string{"rpId", "challenge", "timeout", "userVerification"}, topKeys(t, r.body)); diff != "" {
		t.Errorf("request options keys (-want +got):\n%s", diff)
	}
	var ro RequestOptions
	r.json(t, &ro)
	if diff := cmp.Diff(RequestOptions{RPID: "localhost", Challenge: ro.Challenge, Timeout: 60000, UserVerification: "preferred"}, ro); diff != "" {
		t.Errorf("request options (-want +got):\n%s", diff)
	}
	r = b.do("POST", "/passkey/verify-authentication", map[string]any{"response": k.get(ro, e.origin, ceremony{})})
	if r.status != 200 {
		t.Fatalf("verify-authentication: %d %s", r.status, r.body)
	}
	if diff := cmp.Diff([]string{"session", "user"}, topKeys(t, r.body)); diff != "" {
		t.Errorf("sign-in keys (-want +got):\n%s", diff)
	}
	if len(setCookies(r, "better-auth.session_token")) != 1 {
		t.Errorf("no session cookie: %q", r.header.Values("Set-Cookie"))
	}
	if s := b.session(); s == nil || s.Session.UserID != u.ID {
		t.Fatalf("get-session after passkey sign-in: %+v", s)
	}
	keys, err := e.p.ListPasskeys(context.Background(), u.ID)
	if err != nil || len(keys) != 1 || keys[0].Counter != 1 {
		t.Errorf("counter not stored: %+v %v", keys, err)
	}

	// A signed-in user's authentication options list their passkeys.
	ro = c.authOptions()
	if diff := cmp.Diff([]CredentialDescriptor{{ID: b64u(k.credID), Transports: []string{"hybrid", "internal"}, Type: "public-key"}},
		ro.AllowCredentials); diff != "" {
		t.Errorf("allowCredentials (-want +got):\n%s", diff)
	}
}

// registered is an env with user A holding one passkey.
type registered struct {
	e     *env
	a     *client // A's browser, signed in
	user  *auth.User
	key   *softKey
	rowID string
}

func newRegistered(t *testing.T, ec envConfig, key func(*softKey)) *registered {
	t.Helper()
	e := newEnv(t, ec)
	c := e.newClient()
	u := c.signUp("a@example.com")
	k := newSoftKey(t)
	if key != nil {
		key(k)
	}
	row := c.register(k, "A's key")
	return &registered{e: e, a: c, user: u, key: k, rowID: row["id"].(string)}
}

func TestRegistrationFailures(t *testing.T) {
	t.Parallel()
	notVerified := errBody{Message: "Failed to verify registration", Code: "FAILED_TO_VERIFY_REGISTRATION"}
	noChallenge := errBody{Message: "Challenge not found", Code: "CHALLENGE_NOT_FOUND"}
	cases := []struct {
		name   string
		cer    ceremony
		before func(e *env, c *client) // after the options call
		status int
		want   errBody
	}{
		{name: "wrong origin", cer: ceremony{origin: "https://evil.example"}, status: 400, want: notVerified},
		{name: "origin of another port", cer: ceremony{origin: "http://localhost:1"}, status: 400, want: notVerified},
		{name: "wrong RP ID", cer: ceremony{rpID: "evil.example"}, status: 400, want: notVerified},
		{name: "wrong challenge", cer: ceremony{challenge: randomB64(32)}, status: 400, want: notVerified},
		{name: "assertion type", cer: ceremony{typ: "webauthn.get"}, status: 400, want: notVerified},
		{name: "no user presence", cer: ceremony{flags: ptr[byte](flagAT)}, status: 400, want: notVerified},
		{name: "no attested credential", cer: ceremony{flags: ptr[byte](flagUP)}, status: 400, want: notVerified},
		{name: "backup state without eligibility", cer: ceremony{flags: ptr[byte](flagUP | flagAT | flagBS)}, status: 400, want: notVerified},
		{name: "no challenge cookie", before: func(e *env, c *client) {
			c.setCookie(&http.Cookie{Name: challengeCookie, Value: "", MaxAge: -1})
		}, status: 400, want: noChallenge},
		{name: "forged challenge cookie", before: func(e *env, c *client) {
			c.setCookie(&http.Cookie{Name: challengeCookie, Value: "abcdefghijklmnopqrstuvwxyz012345.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%3D"})
		}, status: 400, want: noChallenge},
		{name: "authentication challenge", before: func(e *env, c *client) { c.authOptions() }, status: 400, want: noChallenge},
		{name: "expired challenge", before: func(e *env, c *client) { e.clock.Advance(ChallengeMaxAge + time.Second) }, status: 400, want: noChallenge},
		{name: "challenge of another user", before: func(e *env, c *client) {
			ck := c.cookie(challengeCookie)
			c.hc.Jar, _ = cookiejar.New(nil)
			c.signUp("intruder@example.com")
			c.setCookie(ck)
		}, status: 401, want: errBody{Message: "You are not allowed to register this passkey", Code: "YOU_ARE_NOT_ALLOWED_TO_REGISTER_THIS_PASSKEY"}},
		{name: "stale session", before: func(e *env, c *client) { e.clock.Advance(25 * time.Hour) },
			status: 403, want: errBody{Message: "Session is not fresh", Code: "SESSION_NOT_FRESH"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envConfig{})
			c := e.newClient()
			c.signUp("a@example.com")
			opts := c.registerOptions("")
			if tc.before != nil {
				tc.before(e, c)
			}
			k := newSoftKey(t)
			r := c.do("POST", "/passkey/verify-registration", map[string]any{"response": k.create(opts, e.origin, tc.cer)})
			if r.status != tc.status || r.err(t) != tc.want {
				t.Fatalf("got %d %s, want %d %+v", r.status, r.body, tc.status, tc.want)
			}
			if n, _ := e.db.Count(context.Background(), TablePasskey); n != 0 {
				t.Errorf("%d passkeys stored", n)
			}
		})
	}
}

func TestRegistrationReplayAndDuplicates(t *testing.T) {
	t.Parallel()
	t.Run("replayed challenge", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envConfig{})
		c := e.newClient()
		c.signUp("a@example.com")
		opts := c.registerOptions("")
		ck := c.cookie(challengeCookie)
		body := map[string]any{"response": newSoftKey(t).create(opts, e.origin, ceremony{})}
		if r := c.do("POST", "/passkey/verify-registration", body); r.status != 200 {
			t.Fatalf("first: %d %s", r.status, r.body)
		}
		c.setCookie(ck) // the browser kept the cookie: the server still refuses
		r := c.do("POST", "/passkey/verify-registration", body)
		if r.status != 400 || r.err(t).Code != "CHALLENGE_NOT_FOUND" {
			t.Errorf("replay: %d %s", r.status, r.body)
		}
	})
	t.Run("credential of another user", func(t *testing.T) {
		t.Parallel()
		reg := newRegistered(t, envConfig{}, nil)
		b := reg.e.newClient()
		b.signUp("b@example.com")
		opts := b.registerOptions("")
		r := b.do("POST", "/passkey/verify-registration", map[string]any{"response": reg.key.create(opts, reg.e.origin, ceremony{})})
		if r.status != 400 || r.err(t).Code != "FAILED_TO_VERIFY_REGISTRATION" {
			t.Errorf("duplicate credential: %d %s", r.status, r.body)
		}
		if !strings.Contains(reg.e.logs.String(), ErrCredentialExists.Error()) {
			t.Errorf("not logged: %s", reg.e.logs.String())
		}
	})
	t.Run("concurrent use of one challenge", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envConfig{})
		c := e.newClient()
		c.signUp("a@example.com")
		opts := c.registerOptions("")
		ck := c.cookie(challengeCookie)
		var wg sync.WaitGroup
		statuses := make([]int, 4)
		for i := range statuses {
			k := newSoftKey(t)
			body := map[string]any{"response": k.create(opts, e.origin, ceremony{})}
			cl := e.newClient()
			for _, x := range c.hc.Jar.Cookies(mustURL(e.srv)) {
				cl.setCookie(x)
			}
			cl.setCookie(ck)
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = cl.do("POST", "/passkey/verify-registration", body).status
			}()
		}
		wg.Wait()
		ok := 0
		for _, s := range statuses {
			if s == 200 {
				ok++
			}
		}
		if ok != 1 {
			t.Errorf("statuses %v: want exactly one success", statuses)
		}
	})
	t.Run("create session", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envConfig{})
		c := e.newClient()
		u := c.signUp("a@example.com")
		before := c.session()
		opts := c.registerOptions("")
		r := c.do("POST", "/passkey/verify-registration", map[string]any{
			"response": newSoftKey(t).create(opts, e.origin, ceremony{}), "createSession": true})
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		keys := topKeys(t, r.body)
		if diff := cmp.Diff([]string{"session", "user"}, keys[len(keys)-2:]); diff != "" || keys[0] != "id" {
			t.Errorf("keys %v", keys)
		}
		after := c.session()
		if after == nil || after.Session.ID == before.Session.ID || after.Session.UserID != u.ID {
			t.Errorf("session not replaced: before %+v after %+v", before.Session, after)
		}
	})
}

func TestAuthenticationFailures(t *testing.T) {
	t.Parallel()
	failed := errBody{Message: "Authentication failed", Code: "AUTHENTICATION_FAILED"}
	noChallenge := errBody{Message: "Challenge not found", Code: "CHALLENGE_NOT_FOUND"}
	cases := []struct {
		name string
		// setup runs before the options call, on the signing-in browser.
		setup  func(reg *registered, c *client)
		cer    func(reg *registered) ceremony
		status int
		want   errBody
		log    string
	}{
		{name: "wrong origin", cer: func(*registered) ceremony { return ceremony{origin: "https://evil.example"} }, status: 400, want: failed},
		{name: "wrong RP ID", cer: func(*registered) ceremony { return ceremony{rpID: "evil.example"} }, status: 400, want: failed},
		{name: "wrong challenge", cer: func(*registered) ceremony { return ceremony{challenge: randomB64(32)} }, status: 400, want: failed},
		{name: "registration type", cer: func(*registered) ceremony { return ceremony{typ: "webauthn.create"} }, status: 400, want: failed},
		{name: "no user presence", cer: func(*registered) ceremony { return ceremony{flags: ptr[byte](flagUV)} }, status: 400, want: failed},
		{name: "backup eligibility changed", cer: func(*registered) ceremony { return ceremony{flags: ptr[byte](flagUP | flagBE)} }, status: 400, want: failed},
		{name: "tampered signature", cer: func(*registered) ceremony { return ceremony{tamper: true} }, status: 401, want: failed},
		{name: "unknown credential", cer: func(*registered) ceremony { return ceremony{credID: []byte("no-such-credential")} },
			status: 401, want: errBody{Message: "Passkey not found", Code: "PASSKEY_NOT_FOUND"}},
		{name: "user handle of another user", cer: func(reg *registered) ceremony {
			return ceremony{userHandle: UserHandle("some-other-user")}
		}, status: 400, want: failed, log: "user handle does not match"},
		{name: "counter went backwards", setup: func(reg *registered, c *client) {
			if r := c.signIn(reg.key, ceremony{counter: ptr[uint32](5)}); r.status != 200 {
				reg.e.t.Fatalf("first sign-in: %d %s", r.status, r.body)
			}
		}, cer: func(*registered) ceremony { return ceremony{counter: ptr[uint32](3)} }, status: 400, want: failed, log: "possible cloned authenticator"},
		{name: "counter repeated", setup: func(reg *registered, c *client) {
			if r := c.signIn(reg.key, ceremony{counter: ptr[uint32](7)}); r.status != 200 {
				reg.e.t.Fatalf("first sign-in: %d %s", r.status, r.body)
			}
		}, cer: func(*registered) ceremony { return ceremony{counter: ptr[uint32](7)} }, status: 400, want: failed, log: "possible cloned authenticator"},
		{name: "counter reset to zero", setup: func(reg *registered, c *client) {
			if r := c.signIn(reg.key, ceremony{}); r.status != 200 {
				reg.e.t.Fatalf("first sign-in: %d %s", r.status, r.body)
			}
		}, cer: func(*registered) ceremony { return ceremony{counter: ptr[uint32](0)} }, status: 400, want: failed, log: "possible cloned authenticator"},
		{name: "challenge issued to another signed-in user", setup: func(reg *registered, c *client) {
			c.signUp("b@example.com")
		}, cer: func(*registered) ceremony { return ceremony{} }, status: 400, want: failed},
		{name: "registration challenge", setup: func(reg *registered, c *client) {
			c.signUp("b@example.com")
		}, cer: func(reg *registered) ceremony { return ceremony{} }, status: 400, want: noChallenge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := newRegistered(t, envConfig{}, nil)
			c := reg.e.newClient()
			if tc.setup != nil {
				tc.setup(reg, c)
			}
			opts := c.authOptions()
			if tc.name == "registration challenge" {
				c.registerOptions("") // replaces the challenge cookie
			}
			r := c.do("POST", "/passkey/verify-authentication", map[string]any{"response": reg.key.get(opts, reg.e.origin, tc.cer(reg))})
			if r.status != tc.status || r.err(t) != tc.want {
				t.Fatalf("got %d %s, want %d %+v", r.status, r.body, tc.status, tc.want)
			}
			if len(setCookies(r, "better-auth.session_token")) != 0 {
				t.Errorf("session cookie set on failure")
			}
			if tc.log != "" && !strings.Contains(reg.e.logs.String(), tc.log) {
				t.Errorf("log lacks %q:\n%s", tc.log, reg.e.logs.String())
			}
		})
	}
}

func TestAuthenticationChallengeHandling(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		run  func(t *testing.T, reg *registered) response
	}{
		{name: "replayed assertion", run: func(t *testing.T, reg *registered) response {
			c := reg.e.newClient()
			opts := c.authOptions()
			ck := c.cookie(challengeCookie)
			body := map[string]any{"response": reg.key.get(opts, reg.e.origin, ceremony{})}
			if r := c.do("POST", "/passkey/verify-authentication", body); r.status != 200 {
				t.Fatalf("first: %d %s", r.status, r.body)
			}
			c.setCookie(ck)
			return c.do("POST", "/passkey/verify-authentication", body)
		}},
		{name: "failed attempt consumes the challenge", run: func(t *testing.T, reg *registered) response {
			c := reg.e.newClient()
			opts := c.authOptions()
			ck := c.cookie(challengeCookie)
			if r := c.do("POST", "/passkey/verify-authentication", map[string]any{"response": reg.key.get(opts, reg.e.origin, ceremony{tamper: true})}); r.status != 401 {
				t.Fatalf("tampered: %d %s", r.status, r.body)
			}
			c.setCookie(ck)
			return c.do("POST", "/passkey/verify-authentication", map[string]any{"response": reg.key.get(opts, reg.e.origin, ceremony{})})
		}},
		{name: "expired challenge", run: func(t *testing.T, reg *registered) response {
			c := reg.e.newClient()
			opts := c.authOptions()
			reg.e.clock.Advance(ChallengeMaxAge + time.Second)
			return c.do("POST", "/passkey/verify-authentication", map[string]any{"response": reg.key.get(opts, reg.e.origin, ceremony{})})
		}},
		{name: "no challenge cookie", run: func(t *testing.T, reg *registered) response {
			c := reg.e.newClient()
			opts := reg.a.authOptions() // issued to another browser
			return c.do("POST", "/passkey/verify-authentication", map[string]any{"response": reg.key.get(opts, reg.e.origin, ceremony{})})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := newRegistered(t, envConfig{}, nil)
			r := tc.run(t, reg)
			want := errBody{Message: "Challenge not found", Code: "CHALLENGE_NOT_FOUND"}
			if r.status != 400 || r.err(t) != want {
				t.Errorf("got %d %s", r.status, r.body)
			}
		})
	}
}

func TestSignatureCounter(t *testing.T) {
	t.Parallel()
	t.Run("counter-less authenticator", func(t *testing.T) {
		t.Parallel()
		reg := newRegistered(t, envConfig{}, func(k *softKey) { k.step = 0 })
		for i := range 3 {
			if r := reg.e.newClient().signIn(reg.key, ceremony{}); r.status != 200 {
				t.Fatalf("sign-in %d: %d %s", i, r.status, r.body)
			}
		}
	})
	t.Run("increasing counter is stored", func(t *testing.T) {
		t.Parallel()
		reg := newRegistered(t, envConfig{}, func(k *softKey) { k.step = 10 })
		for i := range 3 {
			if r := reg.e.newClient().signIn(reg.key, ceremony{}); r.status != 200 {
				t.Fatalf("sign-in %d: %d %s", i, r.status, r.body)
			}
		}
		keys, _ := reg.e.p.ListPasskeys(context.Background(), reg.user.ID)
		if keys[0].Counter != 30 {
			t.Errorf("counter %d, want 30", keys[0].Counter)
		}
	})
	t.Run("a clone's assertion is refused after the original's", func(t *testing.T) {
		t.Parallel()
		reg := newRegistered(t, envConfig{}, nil)
		clone := *reg.key
		if r := reg.e.newClient().signIn(reg.key, ceremony{}); r.status != 200 {
			t.Fatalf("original: %d %s", r.status, r.body)
		}
		r := reg.e.newClient().signIn(&clone, ceremony{})
		if r.status != 400 || r.err(t).Code != "AUTHENTICATION_FAILED" {
			t.Errorf("clone: %d %s", r.status, r.body)
		}
		if !strings.Contains(reg.e.logs.String(), "possible cloned authenticator") {
			t.Errorf("clone not logged")
		}
	})
}

func TestBackupFlags(t *testing.T) {
	t.Parallel()
	reg := newRegistered(t, envConfig{}, func(k *softKey) { k.flags = flagUV | flagBE })
	keys, _ := reg.e.p.ListPasskeys(context.Background(), reg.user.ID)
	if keys[0].DeviceType != DeviceTypeMulti || keys[0].BackedUp {
		t.Fatalf("after registration: %s backedUp=%v", keys[0].DeviceType, keys[0].BackedUp)
	}
	reg.key.flags = flagUV | flagBE | flagBS // now synced
	if r := reg.e.newClient().signIn(reg.key, ceremony{}); r.status != 200 {
		t.Fatalf("sign-in: %d %s", r.status, r.body)
	}
	keys, _ = reg.e.p.ListPasskeys(context.Background(), reg.user.ID)
	if keys[0].DeviceType != DeviceTypeMulti || !keys[0].BackedUp {
		t.Errorf("after sign-in: %s backedUp=%v", keys[0].DeviceType, keys[0].BackedUp)
	}
	reg.key.flags = flagUV // backup eligibility may never change
	if r := reg.e.newClient().signIn(reg.key, ceremony{}); r.status != 400 {
		t.Errorf("BE cleared: %d %s", r.status, r.body)
	}
}

func TestUserHandles(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		opts   Options
		cer    ceremony
		status int
	}{
		{name: "own handle", status: 200},
		{name: "no handle (non-discoverable)", cer: ceremony{noHandle: true}, status: 200},
		{name: "foreign handle refused", cer: ceremony{userHandle: []byte("0123456789abcdefghijklmnopqrstuv")}, status: 400},
		{name: "foreign handle allowed", opts: Options{AllowUnknownUserHandles: true},
			cer: ceremony{userHandle: []byte("0123456789abcdefghijklmnopqrstuv")}, status: 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := newRegistered(t, envConfig{opts: tc.opts}, nil)
			if !bytes.Equal(reg.key.handle, UserHandle(reg.user.ID)) {
				t.Fatalf("registration handle %q", reg.key.handle)
			}
			if r := reg.e.newClient().signIn(reg.key, tc.cer); r.status != tc.status {
				t.Errorf("got %d %s, want %d", r.status, r.body, tc.status)
			}
		})
	}
}

func TestOwnership(t *testing.T) {
	t.Parallel()
	reg := newRegistered(t, envConfig{}, nil)
	b := reg.e.newClient()
	b.signUp("b@example.com")
	anon := reg.e.newClient()
	notFound := errBody{Message: "Passkey not found", Code: "PASSKEY_NOT_FOUND"}
	cases := []struct {
		name   string
		c      *client
		path   string
		body   map[string]any
		status int
		want   string // exact body
	}{
		{"B deletes A's passkey", b, "/passkey/delete-passkey", map[string]any{"id": reg.rowID}, 401, ""},
		{"B renames A's passkey", b, "/passkey/update-passkey", map[string]any{"id": reg.rowID, "name": "mine"}, 401,
			`{"message":"You are not allowed to register this passkey","code":"YOU_ARE_NOT_ALLOWED_TO_REGISTER_THIS_PASSKEY"}`},
		{"delete unknown", b, "/passkey/delete-passkey", map[string]any{"id": "nope"}, 404, mustJSON(notFound)},
		{"rename unknown", reg.a, "/passkey/update-passkey", map[string]any{"id": "nope", "name": "x"}, 404, mustJSON(notFound)},
		{"delete without session", anon, "/passkey/delete-passkey", map[string]any{"id": reg.rowID}, 401,
			`{"message":"Unauthorized","code":"UNAUTHORIZED"}`},
		{"list without session", anon, "/passkey/list-user-passkeys", nil, 401, `{"message":"Unauthorized","code":"UNAUTHORIZED"}`},
		{"rename to blank", reg.a, "/passkey/update-passkey", map[string]any{"id": reg.rowID, "name": "   "}, 400,
			`{"message":"[body.name] Too small: expected string to have \u003e=1 characters","code":"VALIDATION_ERROR"}`},
		{"rename to blank without session", anon, "/passkey/update-passkey", map[string]any{"name": " "}, 400,
			`{"message":"[body.id] Invalid input: expected string, received undefined; [body.name] Too small: expected string to have \u003e=1 characters","code":"VALIDATION_ERROR"}`},
		{"delete without id", reg.a, "/passkey/delete-passkey", map[string]any{}, 400,
			`{"message":"[body.id] Invalid input: expected string, received undefined","code":"VALIDATION_ERROR"}`},
		{"delete empty id", reg.a, "/passkey/delete-passkey", map[string]any{"id": ""}, 400,
			`{"message":"Missing required parameter: id"}`},
		{"B lists only own", b, "/passkey/list-user-passkeys", nil, 200, `[]`},
	}
	for _, tc := range cases {
		r := tc.c.do(methodFor(tc.path), tc.path, tc.body)
		if r.status != tc.status || string(r.body) != tc.want {
			t.Errorf("%s: got %d %s, want %d %s", tc.name, r.status, r.body, tc.status, tc.want)
		}
	}
	if keys, _ := reg.e.p.ListPasskeys(context.Background(), reg.user.ID); len(keys) != 1 || *keys[0].Name != "A's key" {
		t.Fatalf("A's passkey changed: %+v", keys)
	}

	r := reg.a.do("POST", "/passkey/update-passkey", map[string]any{"id": reg.rowID, "name": "  Work  "})
	var upd struct {
		Passkey map[string]any `json:"passkey"`
	}
	r.json(t, &upd)
	if r.status != 200 || upd.Passkey["name"] != "Work" || upd.Passkey["id"] != reg.rowID {
		t.Errorf("rename: %d %s", r.status, r.body)
	}
	r = reg.a.do("POST", "/passkey/delete-passkey", map[string]any{"id": reg.rowID})
	if r.status != 200 || string(r.body) != `{"status":true}` {
		t.Errorf("delete: %d %s", r.status, r.body)
	}
	if r := reg.e.newClient().signIn(reg.key, ceremony{}); r.status != 401 || r.err(t).Code != "PASSKEY_NOT_FOUND" {
		t.Errorf("sign-in with a deleted passkey: %d %s", r.status, r.body)
	}
}

func methodFor(path string) string {
	if strings.HasPrefix(path, "/passkey/list") || strings.Contains(path, "generate") {
		return "GET"
	}
	return "POST"
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestRegisterOptionsValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	c := e.newClient()
	anon := e.newClient()
	c.signUp("a@example.com")
	cases := []struct {
		name   string
		c      *client
		query  string
		status int
		want   errBody
	}{
		{"bad attachment", c, "?authenticatorAttachment=usb", 400, errBody{
			Message: `[query.authenticatorAttachment] Invalid option: expected one of "platform"|"cross-platform"`, Code: "VALIDATION_ERROR"}},
		{"bad attachment before the session check", anon, "?authenticatorAttachment=usb", 400, errBody{
			Message: `[query.authenticatorAttachment] Invalid option: expected one of "platform"|"cross-platform"`, Code: "VALIDATION_ERROR"}},
		{"repeated name", c, "?name=a&name=b", 400, errBody{
			Message: "[query.name] Invalid input: expected string, received array", Code: "VALIDATION_ERROR"}},
		{"no session", anon, "", 401, errBody{Message: "Unauthorized", Code: "UNAUTHORIZED"}},
	}
	for _, tc := range cases {
		r := tc.c.do("GET", "/passkey/generate-register-options"+tc.query, nil)
		if r.status != tc.status || r.err(t) != tc.want {
			t.Errorf("%s: got %d %s", tc.name, r.status, r.body)
		}
	}
	// context is kept with the challenge.
	c.registerOptions("?context=invite-42")
	id, _ := plugin.VerifyCookieValue(testSecret, c.cookie(challengeCookie).Value)
	v, err := e.a.Host().FindVerification(context.Background(), id)
	if err != nil || !strings.HasSuffix(v.Value, `"context":"invite-42"}`) {
		t.Errorf("context: %v %v", v, err)
	}
}

// interrupter stands for a second-factor plugin.
type interrupter struct{ seen []string }

func (i *interrupter) ID() string { return "test-2fa" }

func (i *interrupter) Hooks() plugin.Hooks {
	return plugin.Hooks{BeforeSessionCreate: func(ctx context.Context, s *auth.Session, u *auth.User) error {
		m := plugin.SignInMethod(ctx)
		i.seen = append(i.seen, m)
		if m != "passkey" {
			return nil
		}
		return &plugin.Interruption{Reason: "two-factor", Body: map[string]any{"twoFactorRedirect": true},
			Cookies: []*http.Cookie{{Name: "pending", Value: m, Path: "/"}}}
	}}
}

func TestSecondFactorInterruptsPasskeySignIn(t *testing.T) {
	t.Parallel()
	it := &interrupter{}
	reg := newRegistered(t, envConfig{plugins: []auth.Plugin{it}}, nil)
	c := reg.e.newClient()
	r := c.signIn(reg.key, ceremony{})
	if r.status != 200 || string(r.body) != `{"twoFactorRedirect":true}` {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	if len(setCookies(r, "better-auth.session_token")) != 0 || len(setCookies(r, "pending")) != 1 {
		t.Errorf("cookies: %q", r.header.Values("Set-Cookie"))
	}
	if c.session() != nil {
		t.Errorf("signed in despite the interruption")
	}
	if diff := cmp.Diff([]string{"email", "passkey"}, it.seen); diff != "" { // sign-up, then the passkey sign-in
		t.Errorf("sign-in methods (-want +got):\n%s", diff)
	}

	// From Go, the interruption comes back unchanged.
	opts, id, err := reg.e.p.AuthenticationOptions(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := json.Marshal(reg.key.get(*opts, reg.e.origin, ceremony{}))
	_, _, err = reg.e.p.VerifyAuthentication(context.Background(), id, resp)
	var intr *plugin.Interruption
	if !errors.As(err, &intr) || intr.Reason != "two-factor" {
		t.Errorf("VerifyAuthentication: %v", err)
	}
}

func TestExportAndErase(t *testing.T) {
	t.Parallel()
	reg := newRegistered(t, envConfig{}, nil)
	ctx := context.Background()
	out, err := reg.e.a.ExportUser(ctx, reg.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(out["passkey"])
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Passkeys []map[string]any `json:"passkeys"`
	}
	if err := json.Unmarshal(b, &got); err != nil || len(got.Passkeys) != 1 {
		t.Fatalf("export %s: %v", b, err)
	}
	if diff := cmp.Diff([]string{"backedUp", "createdAt", "deviceType", "id", "name", "transports"}, sortedKeys(got.Passkeys[0])); diff != "" {
		t.Errorf("exported fields (-want +got):\n%s", diff)
	}
	if strings.Contains(string(b), base64.StdEncoding.EncodeToString(reg.key.cose())) || strings.Contains(string(b), b64u(reg.key.credID)) {
		t.Errorf("export leaks key material: %s", b)
	}
	if got.Passkeys[0]["id"] != reg.rowID || got.Passkeys[0]["name"] != "A's key" {
		t.Errorf("export: %s", b)
	}

	if err := reg.e.a.DeleteUser(ctx, reg.user.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := reg.e.db.Count(ctx, TablePasskey, storage.W("userId", reg.user.ID)); err != nil || n != 0 {
		t.Errorf("%d passkeys left after erasure (%v)", n, err)
	}
}

func TestRelyingPartyConfig(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		cfg     auth.Config
		opts    Options
		rpID    string
		rpName  string
		origins []string
		err     string
	}{
		{name: "defaults from BaseURL",
			cfg:  auth.Config{BaseURL: "https://auth.example.com/", TrustedOrigins: []string{"https://app.example.com", "https://*.example.com", "myapp://", "https://App.Example.com/path", "http://localhost:3000"}},
			rpID: "auth.example.com", rpName: "Better Auth",
			origins: []string{"https://auth.example.com", "https://app.example.com", "http://localhost:3000"}},
		{name: "cookie domain",
			cfg:  auth.Config{BaseURL: "https://auth.example.com", AppName: "Example", Cookies: auth.CookieConfig{CrossSubDomain: true, Domain: ".example.com"}},
			rpID: "example.com", rpName: "Example", origins: []string{"https://auth.example.com"}},
		{name: "cross-subdomain cookies without a domain",
			cfg:  auth.Config{BaseURL: "https://auth.example.com", Cookies: auth.CookieConfig{CrossSubDomain: true}},
			rpID: "auth.example.com", rpName: "Better Auth", origins: []string{"https://auth.example.com"}},
		{name: "options override",
			cfg:  auth.Config{BaseURL: "https://auth.example.com", TrustedOrigins: []string{"https://app.example.com"}},
			opts: Options{RPID: "example.com", RPName: "Ex", Origins: []string{"https://www.example.com", "android:apk-key-hash:abc"}},
			rpID: "example.com", rpName: "Ex", origins: []string{"https://www.example.com", "android:apk-key-hash:abc"}},
		{name: "IP base URL", cfg: auth.Config{BaseURL: "http://127.0.0.1:8080"}, err: "relying party ID"},
		{name: "only opaque origins", cfg: auth.Config{BaseURL: "https://auth.example.com"},
			opts: Options{Origins: []string{"android:apk-key-hash:abc"}}, err: "http(s) origin"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.cfg.Secret, tc.cfg.Hasher = testSecret, testkit.FastHasher{}
			tc.cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			p := New(tc.opts)
			_, err := auth.New(tc.cfg, newMemory(), p)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := struct {
				RPID, RPName string
				Origins      []string
			}{p.RPID(), p.RPName(), p.Origins()}
			want := struct {
				RPID, RPName string
				Origins      []string
			}{tc.rpID, tc.rpName, tc.origins}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestTrustedOriginCeremony(t *testing.T) {
	t.Parallel()
	const app = "https://app.localhost"
	reg := newRegistered(t, envConfig{cfg: func(c *auth.Config) { c.TrustedOrigins = []string{app} }}, nil)
	c := reg.e.newClient()
	c.origin = app
	if r := c.signIn(reg.key, ceremony{origin: app}); r.status != 200 {
		t.Errorf("sign-in from a trusted origin: %d %s", r.status, r.body)
	}
}

func TestVerifyAuthenticationValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	c := e.newClient()
	cases := []struct {
		name string
		body any
		want string
	}{
		{"no response", map[string]any{}, "[body.response] Invalid input: expected record, received undefined"},
		{"response not an object", map[string]any{"response": "x"}, "[body.response] Invalid input: expected record, received string"},
		{"body not an object", []int{1}, "[body] Invalid input: expected object, received array"},
	}
	for _, tc := range cases {
		r := c.do("POST", "/passkey/verify-authentication", tc.body)
		if r.status != 400 || r.err(t) != (errBody{Message: tc.want, Code: "VALIDATION_ERROR"}) {
			t.Errorf("%s: got %d %s", tc.name, r.status, r.body)
		}
	}
	// A malformed credential consumes the challenge and fails.
	c.authOptions()
	r := c.do("POST", "/passkey/verify-authentication", map[string]any{"response": map[string]any{"id": "%%%"}})
	if r.status != 400 || r.err(t).Code != "AUTHENTICATION_FAILED" {
		t.Errorf("malformed: %d %s", r.status, r.body)
	}
}

func TestConcurrentCloneAssertions(t *testing.T) {
	t.Parallel()
	// The original and a clone answer two challenges with the same
	// counter at the same time: the compare-and-set lets one through.
	for round := range 5 {
		reg := newRegistered(t, envConfig{}, nil)
		clone := *reg.key
		keys := []*softKey{reg.key, &clone}
		clients := []*client{reg.e.newClient(), reg.e.newClient()}
		bodies := make([]map[string]any, 2)
		for i, c := range clients {
			bodies[i] = map[string]any{"response": keys[i].get(c.authOptions(), reg.e.origin, ceremony{})}
		}
		statuses := make([]int, 2)
		var wg sync.WaitGroup
		for i, c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = c.do("POST", "/passkey/verify-authentication", bodies[i]).status
			}()
		}
		wg.Wait()
		if (statuses[0] == 200) == (statuses[1] == 200) {
			t.Fatalf("round %d: statuses %v, want exactly one success", round, statuses)
		}
	}
}

package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/passkey"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// A software authenticator, as passkey's tests drive one (see
// passkey/authenticator_test.go): one ES256 credential that answers
// creation options with a "none" attestation and request options with a
// signed assertion, the JSON SimpleWebAuthn's startRegistration and
// startAuthentication hand the shared client.

type cborKV struct{ k, v any }

type cborObj []cborKV // a CBOR map in the given key order

func cborHead(b *bytes.Buffer, major byte, n uint64) {
	switch {
	case n < 24:
		b.WriteByte(major<<5 | byte(n))
	case n <= 0xff:
		b.WriteByte(major<<5 | 24)
		b.WriteByte(byte(n))
	default:
		b.WriteByte(major<<5 | 25)
		_ = binary.Write(b, binary.BigEndian, uint16(n))
	}
}

func cborEncode(b *bytes.Buffer, v any) {
	switch x := v.(type) {
	case int:
		if x >= 0 {
			cborHead(b, 0, uint64(x))
		} else {
			cborHead(b, 1, uint64(-1-x))
		}
	case []byte:
		cborHead(b, 2, uint64(len(x)))
		b.Write(x)
	case string:
		cborHead(b, 3, uint64(len(x)))
		b.WriteString(x)
	case cborObj:
		cborHead(b, 5, uint64(len(x)))
		for _, p := range x {
			cborEncode(b, p.k)
			cborEncode(b, p.v)
		}
	default:
		panic("cbor: unsupported type")
	}
}

type softKey struct {
	t       *testing.T
	key     *ecdsa.PrivateKey
	credID  []byte
	counter uint32
	handle  []byte
}

func newSoftKey(t *testing.T) *softKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	return &softKey{t: t, key: k, credID: id}
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func webauthnClientData(typ, challenge, origin string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": origin, "crossOrigin": false})
	return b
}

func webauthnAuthData(rpID string, flags byte, counter uint32, attested []byte) []byte {
	h := sha256.Sum256([]byte(rpID))
	var b bytes.Buffer
	b.Write(h[:])
	b.WriteByte(flags)
	_ = binary.Write(&b, binary.BigEndian, counter)
	b.Write(attested)
	return b.Bytes()
}

// create answers creation options (user present and verified).
func (s *softKey) create(opts passkey.CreationOptions, origin string) map[string]any {
	s.t.Helper()
	h, err := base64.RawURLEncoding.DecodeString(opts.User.ID)
	if err != nil {
		s.t.Fatal(err)
	}
	s.handle = h
	pub, err := s.key.PublicKey.Bytes()
	if err != nil {
		s.t.Fatal(err)
	}
	var cose, att, obj bytes.Buffer
	cborEncode(&cose, cborObj{{1, 2}, {3, -7}, {-1, 1}, {-2, pub[1:33]}, {-3, pub[33:65]}})
	att.Write(make([]byte, 16)) // AAGUID
	_ = binary.Write(&att, binary.BigEndian, uint16(len(s.credID)))
	att.Write(s.credID)
	att.Write(cose.Bytes())
	cborEncode(&obj, cborObj{{"fmt", "none"}, {"attStmt", cborObj{}}, {"authData", webauthnAuthData(opts.RP.ID, 0x01|0x04|0x40, 0, att.Bytes())}})
	return map[string]any{
		"id": b64u(s.credID), "rawId": b64u(s.credID), "type": "public-key", "authenticatorAttachment": "platform",
		"response": map[string]any{
			"clientDataJSON":    b64u(webauthnClientData("webauthn.create", opts.Challenge, origin)),
			"attestationObject": b64u(obj.Bytes()),
			"transports":        []string{"internal"},
		},
	}
}

// get answers request options; tamper spoils the signature.
func (s *softKey) get(opts passkey.RequestOptions, origin string, tamper bool) map[string]any {
	s.t.Helper()
	s.counter++
	ad := webauthnAuthData(opts.RPID, 0x01|0x04, s.counter, nil)
	cd := webauthnClientData("webauthn.get", opts.Challenge, origin)
	sum := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, ad...), sum[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, s.key, digest[:])
	if err != nil {
		s.t.Fatal(err)
	}
	if tamper {
		sig[len(sig)-1] ^= 0x01
	}
	return map[string]any{
		"id": b64u(s.credID), "rawId": b64u(s.credID), "type": "public-key", "authenticatorAttachment": "platform",
		"response": map[string]any{"clientDataJSON": b64u(cd), "authenticatorData": b64u(ad), "signature": b64u(sig),
			"userHandle": b64u(s.handle)},
	}
}

const challengeCookie = "mana." + passkey.DefaultChallengeCookie

// jsonBody encodes v for a request body.
func jsonBody(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// decodeRaw decodes a whole answer (arrays too) into v.
func decodeRaw(t *testing.T, r resp, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.raw), v); err != nil {
		t.Fatalf("answer %s: %v", short(r.raw), err)
	}
}

// registerPasskey runs the registration ceremony over the v1 routes for
// the caller hdr and returns the answer of register/verify.
func (env *e2e) registerPasskey(t *testing.T, key *softKey, name string, hdr ...string) resp {
	t.Helper()
	r := env.post(t, "/api/v1/auth/passkeys/register/options", "", hdr...)
	want(t, "register options", r, 200, "")
	var opts passkey.CreationOptions
	decodeRaw(t, r, &opts)
	ch := cookieOf(r, challengeCookie)
	if ch == "" {
		t.Fatalf("register options set no challenge cookie: %v", r.header["Set-Cookie"])
	}
	body := map[string]any{"response": key.create(opts, env.s.cfg.BaseURL)}
	if name != "" {
		body["name"] = name
	}
	return env.post(t, "/api/v1/auth/passkeys/register/verify", jsonBody(t, body), withCookie(hdr, ch)...)
}

// signInPasskey runs the authentication ceremony (nobody signed in).
func (env *e2e) signInPasskey(t *testing.T, key *softKey, tamper bool) resp {
	t.Helper()
	r := env.post(t, "/api/v1/auth/passkeys/authenticate/options", "")
	want(t, "authenticate options", r, 200, "")
	var opts passkey.RequestOptions
	decodeRaw(t, r, &opts)
	ch := cookieOf(r, challengeCookie)
	if ch == "" || opts.Challenge == "" || opts.RPID != "localhost" {
		t.Fatalf("authenticate options: cookie %q, %s", ch, r.raw)
	}
	return env.post(t, "/api/v1/auth/passkeys/authenticate/verify",
		jsonBody(t, map[string]any{"response": key.get(opts, env.s.cfg.BaseURL, tamper)}), "Cookie", ch)
}

// withCookie adds a cookie to the header pairs hdr (joined to a Cookie
// pair there, if any).
func withCookie(hdr []string, cookie string) []string {
	out := slices.Clone(hdr)
	for i := 0; i+1 < len(out); i += 2 {
		if strings.EqualFold(out[i], "Cookie") {
			out[i+1] += "; " + cookie
			return out
		}
	}
	return append(out, "Cookie", cookie)
}

// The passkey routes mana's shared client calls, on the passkey plugin:
// capability, registration with the access token (and with a session
// cookie), list, rename (friendlyName and name), sign-in with session
// cookies and an access token of the new session, delete; the security
// log; single-use challenges; a registration challenge of another user;
// stale sessions; failed sign-ins.
func TestV1Passkeys(t *testing.T) {
	t.Parallel()
	env := newE2E(t, nil)
	ctx := context.Background()
	const p = "/api/v1/auth/passkeys"

	r := env.get(t, p+"/capability")
	want(t, "capability", r, 200, "")
	if r.body["enabled"] != true || r.body["conditionalUIAvailable"] != true || r.body["rpId"] != "localhost" {
		t.Errorf("capability: %s", r.raw)
	}

	// The clock stands still: move it on so that passkeys have distinct
	// creation times (the list is oldest first).
	tick := func() { env.clock.Set(env.clock.Now().Add(time.Second)) }
	alice := env.seed(t, "alice@example.com")
	key := newSoftKey(t)
	r = env.registerPasskey(t, key, "Laptop", bearer(alice.jwt)...)
	want(t, "register verify", r, 200, "")
	if r.body["friendlyName"] != "Laptop" || r.body["name"] != "Laptop" || r.body["userId"] != alice.id ||
		r.body["credentialId"] != b64u(key.credID) || r.body["credentialID"] != b64u(key.credID) ||
		r.body["lastUsedAt"] != nil || r.body["deviceType"] != passkey.DeviceTypeSingle {
		t.Errorf("registered passkey: %s", r.raw)
	}
	if !deletesCookie(r, challengeCookie) {
		t.Error("register verify did not expire the challenge cookie")
	}
	keyID := str(r.body["id"])

	// A second passkey, registered with the session cookie alone and no name.
	tick()
	key2 := newSoftKey(t)
	r = env.registerPasskey(t, key2, "", "Cookie", alice.cookie)
	want(t, "register verify by cookie", r, 200, "")
	if r.body["friendlyName"] != nil {
		t.Errorf("unnamed passkey: %s", r.raw)
	}
	key2ID := str(r.body["id"])

	// A challenge is used once.
	tick()
	r = env.post(t, p+"/register/options", "", bearer(alice.jwt)...)
	var opts passkey.CreationOptions
	decodeRaw(t, r, &opts)
	ch := cookieOf(r, challengeCookie)
	body := jsonBody(t, map[string]any{"response": newSoftKey(t).create(opts, env.s.cfg.BaseURL)})
	want(t, "first use", env.post(t, p+"/register/verify", body, withCookie(bearer(alice.jwt), ch)...), 200, "")
	env.settleCredits(t)
	before := env.snapshot(t)
	want(t, "replayed challenge", env.post(t, p+"/register/verify", body, withCookie(bearer(alice.jwt), ch)...), 400, "VALIDATION")
	env.unchanged(t, "replayed challenge", before)

	// Bob cannot finish a registration with alice's challenge.
	bob := env.seed(t, "bob@example.com")
	r = env.post(t, p+"/register/options", "", bearer(alice.jwt)...)
	decodeRaw(t, r, &opts)
	body = jsonBody(t, map[string]any{"response": newSoftKey(t).create(opts, env.s.cfg.BaseURL)})
	r = env.post(t, p+"/register/verify", body, withCookie(bearer(bob.jwt), cookieOf(r, challengeCookie))...)
	want(t, "another user's challenge", r, 401, "UNAUTHORIZED")
	if n := env.count(t, passkey.TablePasskey, storage.W("userId", bob.id)); n != 0 {
		t.Errorf("bob registered %d passkeys with alice's challenge", n)
	}

	// List, as the client reads it: an array.
	r = env.get(t, p, bearer(alice.jwt)...)
	want(t, "list", r, 200, "")
	var list []map[string]any
	decodeRaw(t, r, &list)
	if len(list) != 3 || list[0]["id"] != keyID || list[1]["id"] != key2ID || list[0]["friendlyName"] != "Laptop" {
		t.Fatalf("list: %s", r.raw)
	}
	for _, k := range list {
		for _, f := range []string{"id", "credentialId", "deviceType", "backedUp", "friendlyName", "lastUsedAt", "createdAt"} {
			if _, ok := k[f]; !ok {
				t.Errorf("listed passkey lacks %s: %v", f, k)
			}
		}
	}
	r = env.get(t, p, bearer(bob.jwt)...)
	if want(t, "bob's list", r, 200, ""); strings.TrimSpace(r.raw) != "[]" {
		t.Errorf("bob's list: %s", r.raw)
	}

	// Rename: the client's friendlyName, and upstream's name.
	r = env.do(t, req{method: "PATCH", path: p + "/" + key2ID, body: `{"friendlyName":"  Phone "}`, hdr: bearer(alice.jwt)})
	want(t, "rename", r, 200, "")
	if k := obj(r.body["passkey"]); k["friendlyName"] != "Phone" || k["name"] != "Phone" || k["id"] != key2ID {
		t.Errorf("renamed: %s", r.raw)
	}
	r = env.do(t, req{method: "PATCH", path: p + "/" + key2ID, body: `{"name":"Tablet"}`, hdr: []string{"Cookie", alice.cookie}})
	if want(t, "rename by name", r, 200, ""); obj(r.body["passkey"])["friendlyName"] != "Tablet" {
		t.Errorf("renamed by name: %s", r.raw)
	}

	// Sign-in: session cookies, the JWT of the new session, the user.
	r = env.signInPasskey(t, key, false)
	want(t, "passkey sign-in", r, 200, "")
	sess, user := obj(r.body["session"]), obj(r.body["user"])
	if user["id"] != alice.id || user["email"] != alice.email || sess["userId"] != alice.id || r.body["refreshToken"] != sess["token"] {
		t.Fatalf("sign-in: %s", r.raw)
	}
	if c := env.verifyOffline(t, str(r.body["accessToken"])); c.Subject != alice.id || c.SessionID != str(sess["id"]) {
		t.Errorf("access token claims %+v", c)
	}
	newCookie := cookieOf(r, "mana.session_token")
	if newCookie == "" {
		t.Fatal("passkey sign-in set no session cookie")
	}
	if me := env.get(t, "/api/v1/auth/session", "Cookie", newCookie); obj(me.body["user"])["id"] != alice.id {
		t.Errorf("session of the new cookie: %s", me.raw)
	}
	// The new token works on the passkey routes at once.
	want(t, "list with the new token", env.get(t, p, bearer(str(r.body["accessToken"]))...), 200, "")

	// Failed sign-ins: a spoilt signature, an unknown credential.
	env.settleCredits(t)
	before = env.snapshot(t)
	want(t, "bad signature", env.signInPasskey(t, key, true), 401, "PASSKEY_VERIFICATION_FAILED")
	want(t, "unknown credential", env.signInPasskey(t, newSoftKey(t), false), 401, "PASSKEY_VERIFICATION_FAILED")
	// (each ceremony's challenge row is consumed again: nothing else changed)
	env.unchanged(t, "failed sign-ins", before)
	r = env.post(t, p+"/authenticate/verify", jsonBody(t, map[string]any{"response": key.get(passkey.RequestOptions{RPID: "localhost", Challenge: "x"}, env.s.cfg.BaseURL, false)}))
	want(t, "no challenge cookie", r, 400, "VALIDATION")

	// Delete; the deleted passkey no longer signs in.
	r = env.do(t, req{method: "DELETE", path: p + "/" + keyID, hdr: bearer(alice.jwt)})
	if want(t, "delete", r, 200, ""); r.body["status"] != true {
		t.Errorf("delete: %s", r.raw)
	}
	if n := env.count(t, passkey.TablePasskey, storage.W("id", keyID)); n != 0 {
		t.Errorf("passkey still there")
	}
	want(t, "deleted passkey", env.signInPasskey(t, key, false), 401, "PASSKEY_VERIFICATION_FAILED")

	// The security log, as the client reads it.
	r = env.get(t, "/api/v1/auth/security-events?limit=50", bearer(alice.jwt)...)
	want(t, "own events", r, 200, "")
	var events []map[string]any
	decodeRaw(t, r, &events)
	var types []string
	for _, e := range events {
		types = append(types, str(e["eventType"]))
	}
	for _, w := range []string{EventPasskeyRegistered, EventPasskeyRenamed, EventPasskeyLoginSuccess, EventPasskeyDeleted} {
		if !slices.Contains(types, w) {
			t.Errorf("own events %v lack %s", types, w)
		}
	}
	if n := env.count(t, TableSecurityEvent, storage.W("eventType", EventPasskeyLoginFailure)); n != 4 {
		t.Errorf("%d PASSKEY_LOGIN_FAILURE events, want 4", n)
	}

	// Registration needs a fresh session (signed in within a day), as
	// Better Auth's; the rest does not.
	u, _ := env.s.auth.Host().FindUserByID(ctx, alice.id)
	now := env.clock.Now()
	env.clock.Set(now.Add(-25 * time.Hour))
	res, err := env.s.auth.Host().CreateSession(ctx, u, true)
	env.clock.Set(now)
	if err != nil {
		t.Fatal(err)
	}
	stale, err := env.s.jwt.Mint(ctx, &auth.SessionData{Session: res.Session, User: u})
	if err != nil {
		t.Fatal(err)
	}
	env.settleCredits(t)
	before = env.snapshot(t)
	want(t, "stale session", env.post(t, p+"/register/options", "", bearer(stale)...), 403, "SESSION_NOT_FRESH")
	env.unchanged(t, "stale session", before)
	want(t, "stale session lists", env.get(t, p, bearer(stale)...), 200, "")
}

// deletesCookie reports whether the answer deletes the cookie name.
func deletesCookie(r resp, name string) bool {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == name && c.MaxAge < 0 {
			return true
		}
	}
	return false
}

// With the plugin off (BASE_URL an IP address: no relying party), the
// capability says so and the other routes answer 404 PASSKEY_NOT_ENABLED,
// the code the client's signInWithPasskey branches on.
func TestV1PasskeysOff(t *testing.T) {
	t.Parallel()
	env := newE2E(t, func(c *Config) { c.BaseURL = strings.Replace(c.BaseURL, "localhost", "127.0.0.1", 1) })
	r := env.get(t, "/api/v1/auth/passkeys/capability")
	want(t, "capability", r, 200, "")
	if r.body["enabled"] != false || r.body["rpId"] != nil || !strings.Contains(r.raw, `"rpId":null`) {
		t.Errorf("capability with the plugin off: %s", r.raw)
	}
	a := env.seed(t, "alice@example.com")
	want(t, "authenticate options", env.post(t, "/api/v1/auth/passkeys/authenticate/options", ""), 404, "PASSKEY_NOT_ENABLED")
	want(t, "list", env.get(t, "/api/v1/auth/passkeys", bearer(a.jwt)...), 404, "PASSKEY_NOT_ENABLED")
}

// Attacks on the passkey routes, on each storage: another user's passkey
// cannot be renamed or deleted (404, nothing changed); a revoked
// session's token, a deleted user's token, an expired or forged one act
// on nothing.
func TestV1PasskeyAttacks(t *testing.T) {
	t.Parallel()
	onEachStore(t, nil, func(t *testing.T, env *e2e) {
		ctx := context.Background()
		const p = "/api/v1/auth/passkeys"
		alice, mallory := env.seed(t, "alice@example.com"), env.seed(t, "mallory@example.com")
		r := env.registerPasskey(t, newSoftKey(t), "Alice's key", bearer(alice.jwt)...)
		want(t, "register", r, 200, "")
		keyID := str(r.body["id"])

		env.settleCredits(t)
		before := env.snapshot(t)
		for _, h := range [][]string{bearer(mallory.jwt), {"Cookie", mallory.cookie}} {
			want(t, "delete another user's passkey", env.do(t, req{method: "DELETE", path: p + "/" + keyID, hdr: h}), 404, "NOT_FOUND")
			want(t, "rename another user's passkey", env.do(t, req{method: "PATCH", path: p + "/" + keyID, body: `{"friendlyName":"mine"}`, hdr: h}), 404, "NOT_FOUND")
		}
		want(t, "unknown passkey", env.do(t, req{method: "DELETE", path: p + "/no-such-key", hdr: bearer(mallory.jwt)}), 404, "NOT_FOUND")
		env.unchanged(t, "mallory's attempts", before)

		// Alice's second session is revoked; its access token is refused.
		u, _ := env.s.auth.Host().FindUserByID(ctx, alice.id)
		second := env.session(t, u)
		want(t, "revoke", env.do(t, req{method: "DELETE", path: "/api/v1/auth/sessions/" + sessionID(t, env, second), hdr: bearer(alice.jwt)}), 200, "")
		// A deleted user's token.
		gone := env.seed(t, "gone@example.com")
		if err := env.s.auth.DeleteUser(ctx, gone.id); err != nil {
			t.Fatal(err)
		}
		env.settleCredits(t)
		before = env.snapshot(t)
		for who, tok := range map[string]string{"revoked session": second.jwt, "deleted user": gone.jwt,
			"expired": env.expiredJWT(t, alice), "forged": forgeJWT(t, alice.jwt)} {
			for _, rt := range []req{
				{method: "GET", path: p},
				{method: "POST", path: p + "/register/options"},
				{method: "DELETE", path: p + "/" + keyID},
				{method: "PATCH", path: p + "/" + keyID, body: `{"friendlyName":"x"}`},
				{method: "GET", path: "/api/v1/auth/sessions"},
				{method: "DELETE", path: "/api/v1/auth/sessions/" + sessionID(t, env, alice)},
				{method: "GET", path: "/api/v1/auth/security-events"},
			} {
				rt.hdr = bearer(tok)
				want(t, who+": "+rt.method+" "+rt.path, env.do(t, rt), 401, "UNAUTHORIZED")
			}
		}
		env.unchanged(t, "refused tokens", before)
		if n := env.count(t, passkey.TablePasskey, storage.W("userId", alice.id)); n != 1 {
			t.Errorf("alice has %d passkeys", n)
		}
	})
}

// sessionID returns the id of a seeded session.
func sessionID(t *testing.T, env *e2e, u *seeded) string {
	t.Helper()
	rec, err := env.s.db.FindOne(context.Background(), plugin.TableSession, storage.W("token", u.token))
	if err != nil {
		t.Fatal(err)
	}
	return rec.String("id")
}

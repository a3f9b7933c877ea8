package vault

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
)

const prefix = "/api/v1/me/encryption-vault"

type client struct {
	t *testing.T
	h http.Handler
}

type resp struct {
	status int
	body   string
	header http.Header
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return m
}

func (c *client) do(method, path, user, body string) resp {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, prefix+path, rd)
	req.RemoteAddr = "198.51.100.9:4242"
	req.Header.Set("User-Agent", "handler-test")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+user)
	}
	w := httptest.NewRecorder()
	c.h.ServeHTTP(w, req)
	return resp{w.Code, w.Body.String(), w.Header()}
}

func testAuthenticate(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	switch {
	case h == "":
		return "", auth.ErrUnauthorized
	case h == "Bearer expired":
		return "", plugin.NewError(401, "UNAUTHORIZED", "Invalid or expired token")
	case h == "Bearer dbdown":
		return "", plugin.ErrUnavailable
	}
	return strings.TrimPrefix(h, "Bearer "), nil
}

func newClient(t *testing.T, e *env) *client {
	return &client{t: t, h: e.svc.Handler(HandlerOptions{Prefix: prefix + "/", Authenticate: testAuthenticate})}
}

func wantResp(t *testing.T, r resp, status int, body string) {
	t.Helper()
	if r.status != status || r.body != body {
		t.Fatalf("got %d %s\nwant %d %s", r.status, r.body, status, body)
	}
}

var (
	keyBodyRE = regexp.MustCompile(`^\{"masterKey":"[A-Za-z0-9+/]{43}=","formatVersion":1,"kekId":"env-v1"\}$`)
	zkBodyRE  = regexp.MustCompile(`^\{"requiresRecoveryCode":true,"recoveryWrappedMk":"[A-Za-z0-9+/]{64}","recoveryIv":"[A-Za-z0-9+/]{16}","formatVersion":1\}$`)
)

func TestHTTPRoutes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b.open(t))
		c := newClient(t, e)
		u := e.user(t)

		// Authentication, routing.
		wantResp(t, c.do("GET", "/key", "", ""), 401, `{"statusCode":401,"message":"Missing or invalid Authorization header"}`)
		wantResp(t, c.do("GET", "/key", "expired", ""), 401, `{"statusCode":401,"message":"Invalid or expired token"}`)
		wantResp(t, c.do("GET", "/key", "dbdown", ""), 503, `{"error":"Service temporarily unavailable","code":"SERVICE_UNAVAILABLE"}`)
		wantResp(t, c.do("GET", "/nope", u, ""), 404, `{"error":"not found","code":"NOT_FOUND"}`)
		r := c.do("PUT", "/recovery-wrap", u, "")
		wantResp(t, r, 405, `{"error":"method not allowed","code":"METHOD_NOT_ALLOWED"}`)
		if r.header.Get("Allow") != "POST, DELETE" {
			t.Fatalf("Allow = %q", r.header.Get("Allow"))
		}

		// Fresh user.
		wantResp(t, c.do("GET", "/status", u, ""), 200, `{"vaultExists":false,"hasRecoveryWrap":false,"zeroKnowledge":false,"recoverySetAt":null}`)
		wantResp(t, c.do("GET", "/key", u, ""), 404, `{"error":"vault not initialised","code":"VAULT_NOT_INITIALISED"}`)
		wantResp(t, c.do("DELETE", "/recovery-wrap", u, ""), 404, `{"error":"vault not initialised","code":"VAULT_NOT_INITIALISED"}`)

		r = c.do("POST", "/init", u, "")
		if r.status != 200 || !keyBodyRE.MatchString(r.body) {
			t.Fatalf("init: %d %s", r.status, r.body)
		}
		if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Content-Type") != "application/json" {
			t.Fatalf("headers = %v", r.header)
		}
		mkB64 := r.json(t)["masterKey"].(string)
		if r2 := c.do("GET", "/key", u, ""); r2.body != r.body {
			t.Fatalf("key %s != init %s", r2.body, r.body)
		}
		mk, _ := b64.DecodeString(mkB64)

		// Recovery wrap input validation.
		const required = `{"error":"recoveryWrappedMk and recoveryIv are required (base64 strings)","code":"BAD_REQUEST"}`
		for _, body := range []string{`{}`, `{"recoveryWrappedMk":"","recoveryIv":"x"}`, `{"recoveryWrappedMk":1,"recoveryIv":"AAAA"}`, `{"recoveryWrappedMk":"AAAA"}`} {
			wantResp(t, c.do("POST", "/recovery-wrap", u, body), 400, required)
		}
		wantResp(t, c.do("POST", "/recovery-wrap", u, `not json`), 400, required)
		wantResp(t, c.do("POST", "/recovery-wrap", u, `{"recoveryWrappedMk":"a-_b","recoveryIv":"AAAAAAAAAAAAAAAA"}`), 400,
			`{"error":"recoveryWrappedMk and recoveryIv must be standard base64","code":"BAD_REQUEST"}`)
		w, iv := recoveryWrap(t, []byte("secret"), mk)
		wB64, ivB64 := b64.EncodeToString(w), b64.EncodeToString(iv)
		wantResp(t, c.do("POST", "/recovery-wrap", u, `{"recoveryWrappedMk":"`+wB64+`","recoveryIv":"AAAA"}`), 400,
			`{"error":"recoveryIv must decode to 12 bytes","code":"BAD_REQUEST"}`)
		wantResp(t, c.do("POST", "/recovery-wrap", u, `{"recoveryWrappedMk":"`+wB64[:40]+`","recoveryIv":"`+ivB64+`"}`), 400,
			`{"error":"recoveryWrappedMk must decode to 48 bytes","code":"BAD_REQUEST"}`)
		big := `{"recoveryWrappedMk":"` + strings.Repeat("A", DefaultMaxBodyBytes) + `","recoveryIv":"x"}`
		if r := c.do("POST", "/recovery-wrap", u, big); r.status != 413 {
			t.Fatalf("oversized body: %d %s", r.status, r.body)
		}

		// Zero-knowledge input validation.
		const needBool = "{\"error\":\"`enable: boolean` is required\",\"code\":\"BAD_REQUEST\"}"
		for _, body := range []string{`{}`, `{"enable":"true"}`, `{"enable":null}`, `[]`, `{"enable":tru`} {
			wantResp(t, c.do("POST", "/zero-knowledge", u, body), 400, needBool)
		}
		wantResp(t, c.do("POST", "/zero-knowledge", u, `{"enable":true}`), 400,
			`{"error":"set a recovery wrap before enabling zero-knowledge","code":"RECOVERY_WRAP_MISSING"}`)
		// masterKey is required on disable even when ZK is off.
		wantResp(t, c.do("POST", "/zero-knowledge", u, `{"enable":false}`), 400,
			"{\"error\":\"`masterKey: base64` is required when disabling zero-knowledge\",\"code\":\"BAD_REQUEST\"}")
		wantResp(t, c.do("POST", "/zero-knowledge", u, `{"enable":false,"masterKey":"`+strings.ReplaceAll(strings.ReplaceAll(b64.EncodeToString(make([]byte, 32)), "A", "-"), "=", "")+`"}`), 400,
			`{"error":"masterKey must be standard base64","code":"BAD_REQUEST"}`)
		wantResp(t, c.do("POST", "/zero-knowledge", u, `{"enable":false,"masterKey":"AAAA"}`), 400,
			`{"error":"masterKey must decode to 32 bytes","code":"BAD_REQUEST"}`)
		wantResp(t, c.do("POST", "/zero-knowledge", u, `{"enable":false,"masterKey":"`+mkB64+`"}`), 200, `{"ok":true,"zeroKnowledge":false}`)

		// Set the wrap (unpadded, with whitespace: accepted), enable ZK.
		body := `{"recoveryWrappedMk":"` + strings.TrimRight(wB64, "=") + `","recoveryIv":" ` + ivB64 + `\n"}`
		wantResp(t, c.do("POST", "/recovery-wrap", u, body), 200, `{"ok":true}`)
		st := c.do("GET", "/status", u, "").json(t)
		if st["hasRecoveryWrap"] != true || st["zeroKnowledge"] != false || !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`).MatchString(st["recoverySetAt"].(string)) {
			t.Fatalf("status = %v", st)
		}
		wantResp(t, c.do("POST", "/zero-knowledge", u, `{"enable":true}`), 200, `{"ok":true,"zeroKnowledge":true}`)
		wantResp(t, c.do("POST", "/zero-knowledge", u, `{"enable":true}`), 200, `{"ok":true,"zeroKnowledge":true}`)
		r = c.do("GET", "/key", u, "")
		if r.status != 200 || !zkBodyRE.MatchString(r.body) || r.json(t)["recoveryWrappedMk"] != wB64 || r.json(t)["recoveryIv"] != ivB64 {
			t.Fatalf("ZK key: %d %s", r.status, r.body)
		}
		if r2 := c.do("POST", "/init", u, ""); r2.body != r.body {
			t.Fatalf("ZK init: %s", r2.body)
		}
		wantResp(t, c.do("POST", "/rotate", u, ""), 409, `{"error":"cannot rotate in zero-knowledge mode","code":"ZK_ROTATE_FORBIDDEN"}`)
		wantResp(t, c.do("DELETE", "/recovery-wrap", u, ""), 409, `{"error":"cannot clear recovery wrap while zero-knowledge is active","code":"ZK_ACTIVE"}`)
		wantResp(t, c.do("POST", "/recovery-wrap", u, `{"recoveryWrappedMk":"`+wB64+`","recoveryIv":"`+ivB64+`"}`), 409,
			`{"error":"cannot replace recovery wrap while zero-knowledge is active","code":"ZK_ACTIVE"}`)
		wantResp(t, c.do("GET", "/status", u, ""), 200, `{"vaultExists":true,"hasRecoveryWrap":true,"zeroKnowledge":true,"recoverySetAt":"`+st["recoverySetAt"].(string)+`"}`)

		// Disable with the recovered key; the standard key is back.
		wantResp(t, c.do("POST", "/zero-knowledge", u, `{"enable":false,"masterKey":"`+mkB64+`"}`), 200, `{"ok":true,"zeroKnowledge":false}`)
		if r := c.do("GET", "/key", u, ""); r.json(t)["masterKey"] != mkB64 {
			t.Fatalf("key after ZK off: %s", r.body)
		}
		r = c.do("POST", "/rotate", u, "")
		if r.status != 200 || !keyBodyRE.MatchString(r.body) || r.json(t)["masterKey"] == mkB64 {
			t.Fatalf("rotate: %d %s", r.status, r.body)
		}
		wantResp(t, c.do("DELETE", "/recovery-wrap", u, ""), 200, `{"ok":true}`)

		// Tampered row: 500 with a stable code, no key.
		e.tamper(t, u, map[string]any{fWrapIV: flipBase64(t, e.row(t, u).String(fWrapIV))})
		wantResp(t, c.do("GET", "/key", u, ""), 500, `{"error":"vault key could not be unwrapped","code":"VAULT_UNWRAP_FAILED"}`)

		// Audit: every route but status, with IP and user agent; bad input
		// audited too.
		audit := e.audit(t, u)
		joined := strings.Join(audit, "\n")
		for _, want := range []string{
			"failed_fetch 404 not-initialised", "recovery_clear 404 no-vault", "init 201 created", "fetch 200 ",
			"recovery_set 400 bad-request: recoveryWrappedMk and recoveryIv are required (base64 strings)",
			"recovery_set 413 bad-request: Request body is too large",
			"zk_toggle 400 bad-request: `enable: boolean` is required",
			"zk_enable 400 no-recovery-wrap", "zk_disable 400 bad-request: masterKey must decode to 32 bytes",
			"zk_disable 200 already-disabled", "zk_enable 200 already-enabled", "fetch 200 zk-recovery-blob",
			"init 200 already-exists-zk", "rotate 409 zk-rotate-forbidden", "recovery_clear 409 zk-active",
			"recovery_set 409 zk-active", "zk_disable 200 ", "rotate 200 ", "recovery_clear 200 ",
			"failed_fetch 500 unwrap-failed: VAULT_UNWRAP_FAILED",
		} {
			if !strings.Contains(joined, want) {
				t.Errorf("audit lacks %q", want)
			}
		}
		if strings.Contains(joined, "status") {
			t.Error("status wrote an audit row")
		}
		recs, _ := e.svc.ExportUser(t.Context(), u)
		for _, a := range recs.Audit {
			if a.IPAddress == nil || *a.IPAddress != "198.51.100.9" || a.UserAgent == nil || *a.UserAgent != "handler-test" {
				t.Fatalf("audit row without IP/UA: %+v", a)
			}
		}
	})
}

func TestHTTPPrefixAndDefaultAuth(t *testing.T) {
	e := newEnv(t, backends[0].open(t))
	// Default Authenticate: the Auth's session; no cookie → 401.
	h := e.svc.Handler(HandlerOptions{Prefix: prefix})
	for _, p := range []string{prefix + "/status", "/status", prefix + "x/status", prefix} {
		req := httptest.NewRequest("GET", p, nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		want := 404
		if p == prefix+"/status" {
			want = 401
		}
		if w.Code != want {
			t.Errorf("%s: %d %s, want %d", p, w.Code, w.Body, want)
		}
	}
	// A signed-in user: the session cookie authenticates.
	res, err := e.a.SignUpEmail(t.Context(), auth.SignUpInput{Email: "ada@example.com", Password: "correct horse battery", Name: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", prefix+"/init", nil)
	for _, ck := range res.Cookies {
		req.AddCookie(ck)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 200 || !keyBodyRE.Match(bytes.TrimSpace(w.Body.Bytes())) {
		t.Fatalf("init with session: %d %s", w.Code, w.Body)
	}
}

package vault

// Fuzz targets of the vault's untrusted inputs. The seeds in
// testdata/fuzz/<FuzzName>/ and those added here run as ordinary tests;
// explore with go test -run x -fuzz FuzzDecodeBase64 -fuzztime 1m ./vault
// (docs/FUZZING.md lists every target).

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/managarten/mana-auth/storage/memory"
)

// FuzzDecodeBase64: the lenient decoder of recoveryWrappedMk, recoveryIv
// and masterKey never panics; what it accepts is standard base64 (never
// the URL-safe alphabet) give or take whitespace and trailing padding,
// and it decodes whatever StdEncoding and RawStdEncoding produce.
func FuzzDecodeBase64(f *testing.F) {
	for _, s := range []string{
		base64.StdEncoding.EncodeToString(make([]byte, 32)),
		base64.RawStdEncoding.EncodeToString([]byte("hello")),
		"aGVs\nbG8=", " aGVsbG8= ", "aGVsbG8====", "aGVs=bG8", "-_-_", "+/+/", "A", "AB", "ABC", "QR==", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := DecodeBase64(s)
		if err == nil {
			if strings.ContainsAny(s, "-_") {
				t.Fatalf("accepted the URL-safe alphabet: %q", s)
			}
			core := strings.TrimRight(strings.Map(func(r rune) rune {
				if strings.ContainsRune(" \t\r\n\f", r) {
					return -1
				}
				return r
			}, s), "=")
			if len(out) != len(core)*6/8 {
				t.Fatalf("%q (%d significant characters) decoded to %d bytes", s, len(core), len(out))
			}
			if back, err := DecodeBase64(base64.StdEncoding.EncodeToString(out)); err != nil || !bytes.Equal(back, out) {
				t.Fatalf("re-encoding %x does not round-trip: %x %v", out, back, err)
			}
		}
		raw := []byte(s)
		for _, enc := range []string{base64.StdEncoding.EncodeToString(raw), base64.RawStdEncoding.EncodeToString(raw),
			wrapLines(base64.StdEncoding.EncodeToString(raw))} {
			if got, err := DecodeBase64(enc); err != nil || !bytes.Equal(got, raw) {
				t.Fatalf("DecodeBase64(%q) = %x, %v; want %x", enc, got, err, raw)
			}
		}
	})
}

// wrapLines breaks s into 76-character lines, as MIME encoders do.
func wrapLines(s string) string {
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	b.WriteString(s)
	return b.String()
}

// fuzzVault is a vault on a memory store with three users: no vault, a
// plain vault, and a zero-knowledge vault (with a recovery wrap); rebuilt
// every so many requests so that the audit table stays small.
type fuzzVault struct {
	mu    sync.Mutex
	e     *env
	h     *handler
	users [3]string
	n     int
}

func (fv *fuzzVault) get(tb testing.TB) (*fuzzVault, func()) {
	fv.mu.Lock()
	if fv.e == nil || fv.n >= 300 {
		ctx := context.Background()
		e := newEnv(tb, memory.New())
		for i := range fv.users {
			fv.users[i] = e.user(tb)
		}
		for _, u := range fv.users[1:] {
			if _, err := e.svc.Init(ctx, u); err != nil {
				tb.Fatal(err)
			}
		}
		k, err := e.svc.Key(ctx, fv.users[2])
		if err != nil {
			tb.Fatal(err)
		}
		w, iv := recoveryWrap(tb, []byte("recovery secret"), k.MasterKey)
		if err := e.svc.SetRecoveryWrap(ctx, fv.users[2], w, iv); err != nil {
			tb.Fatal(err)
		}
		if err := e.svc.SetZeroKnowledge(ctx, fv.users[2], true, nil); err != nil {
			tb.Fatal(err)
		}
		fv.e, fv.n = e, 0
		fv.h = e.svc.Handler(HandlerOptions{Prefix: prefix, Authenticate: testAuthenticate}).(*handler)
	}
	fv.n++
	return fv, fv.mu.Unlock
}

var fuzzVaultRoutes = []struct{ method, path string }{
	{"POST", "/recovery-wrap"}, {"POST", "/zero-knowledge"}, {"DELETE", "/recovery-wrap"},
	{"POST", "/init"}, {"POST", "/rotate"}, {"GET", "/key"}, {"GET", "/status"},
}

// FuzzVaultHandler: the recovery-wrap and masterKey inputs (and the other
// routes) through the HTTP handler never panic or answer 5xx, always
// answer JSON with Cache-Control no-store; a 200 on /recovery-wrap means
// both fields were standard base64 of the right sizes, and a 200
// disabling zero-knowledge means masterKey decoded to 32 bytes and is the
// key GET /key then returns.
func FuzzVaultHandler(f *testing.F) {
	wrap := base64.StdEncoding.EncodeToString(make([]byte, WrappedKeySize))
	iv := base64.StdEncoding.EncodeToString(make([]byte, IVSize))
	mk := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, MasterKeySize))
	f.Add(uint8(0), uint8(1), []byte(`{"recoveryWrappedMk":"`+wrap+`","recoveryIv":"`+iv+`"}`))
	f.Add(uint8(0), uint8(1), []byte(`{"recoveryWrappedMk":"`+strings.TrimRight(wrap, "=")+"\\n"+`","recoveryIv":"`+iv+`"}`))
	f.Add(uint8(0), uint8(2), []byte(`{"recoveryWrappedMk":"`+wrap+`","recoveryIv":"`+iv+`"}`))
	f.Add(uint8(0), uint8(1), []byte(`{"recoveryWrappedMk":"-_-_","recoveryIv":1}`))
	f.Add(uint8(1), uint8(2), []byte(`{"enable":false,"masterKey":"`+mk+`"}`))
	f.Add(uint8(1), uint8(2), []byte(`{"enable":false,"masterKey":"`+mk[:20]+`"}`))
	f.Add(uint8(1), uint8(1), []byte(`{"enable":true}`))
	f.Add(uint8(1), uint8(0), []byte(`{"enable":"true"}`))
	f.Add(uint8(1), uint8(2), []byte(`{"enable":null,"masterKey":null}`))
	f.Add(uint8(2), uint8(2), []byte(nil))
	f.Add(uint8(4), uint8(2), []byte(`[]`))
	fv := &fuzzVault{}
	f.Fuzz(func(t *testing.T, route, user uint8, body []byte) {
		v, unlock := fv.get(t)
		defer unlock()
		rt := fuzzVaultRoutes[int(route)%len(fuzzVaultRoutes)]
		uid := v.users[int(user)%len(v.users)]
		serve := func(method, path string, body []byte) *httptest.ResponseRecorder {
			req := httptest.NewRequest(method, prefix+path, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+uid)
			w := httptest.NewRecorder()
			v.h.ServeHTTP(w, req)
			return w
		}
		wasZK := false
		if rt.path == "/zero-knowledge" {
			var st struct {
				ZeroKnowledge bool `json:"zeroKnowledge"`
			}
			_ = json.Unmarshal(serve("GET", "/status", nil).Body.Bytes(), &st)
			wasZK = st.ZeroKnowledge
		}
		w := serve(rt.method, rt.path, body)
		if w.Code >= 500 || !json.Valid(w.Body.Bytes()) || w.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("%s %s %q: %d %v %s", rt.method, rt.path, body, w.Code, w.Header(), w.Body)
		}
		if w.Code != 200 {
			return
		}
		var in map[string]json.RawMessage
		_ = json.Unmarshal(body, &in)
		str := func(k string) []byte {
			var s string
			if json.Unmarshal(in[k], &s) != nil {
				t.Fatalf("%s %s %q: 200 without a string %s", rt.method, rt.path, body, k)
			}
			b, err := DecodeBase64(s)
			if err != nil {
				t.Fatalf("%s %s %q: 200 with %s not base64", rt.method, rt.path, body, k)
			}
			return b
		}
		switch {
		case rt.method == "POST" && rt.path == "/recovery-wrap":
			if len(str("recoveryWrappedMk")) != WrappedKeySize || len(str("recoveryIv")) != IVSize {
				t.Fatalf("recovery wrap of the wrong size accepted: %q", body)
			}
		case rt.path == "/zero-knowledge" && wasZK && strings.Contains(w.Body.String(), `"zeroKnowledge":false`):
			key := str("masterKey")
			if len(key) != MasterKeySize {
				t.Fatalf("zero-knowledge disabled with a %d-byte masterKey: %q", len(key), body)
			}
			var out struct {
				MasterKey string `json:"masterKey"`
			}
			got := serve("GET", "/key", nil)
			if json.Unmarshal(got.Body.Bytes(), &out); got.Code != 200 || out.MasterKey != base64.StdEncoding.EncodeToString(key) {
				t.Fatalf("after disabling zero-knowledge with %q, GET /key: %d %s", body, got.Code, got.Body)
			}
		}
	})
}

package vault

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestKEKFromEnv(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	old := bytes.Repeat([]byte{9}, 32)
	std := base64.StdEncoding.EncodeToString(key)

	p, err := KEKFromEnv(envOf(map[string]string{EnvKEK: std}), true)
	wantNoErr(t, err)
	cur, _ := p.Current()
	if cur.ID() != "env-v1" || !bytes.Equal(cur.key[:], key) {
		t.Fatalf("current = %v", cur)
	}
	// Unpadded and surrounded by whitespace is fine.
	if _, err := KEKFromEnv(envOf(map[string]string{EnvKEK: " " + strings.TrimRight(std, "=") + "\n"}), true); err != nil {
		t.Fatal(err)
	}

	bad := []struct {
		name string
		env  map[string]string
		prod bool
		want string
	}{
		{"missing in production", map[string]string{}, true, "MANA_AUTH_KEK is required in production"},
		{"not base64", map[string]string{EnvKEK: "not*base64"}, false, "MANA_AUTH_KEK is not valid base64"},
		{"url alphabet", map[string]string{EnvKEK: base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32))}, true, "MANA_AUTH_KEK is not valid base64"},
		{"16 bytes", map[string]string{EnvKEK: base64.StdEncoding.EncodeToString(key[:16])}, false, "MANA_AUTH_KEK must decode to exactly 32 bytes, got 16"},
		{"33 bytes", map[string]string{EnvKEK: base64.StdEncoding.EncodeToString(append(key, 1))}, true, "MANA_AUTH_KEK must decode to exactly 32 bytes, got 33"},
		{"zero key in production", map[string]string{EnvKEK: base64.StdEncoding.EncodeToString(make([]byte, 32))}, true, "all-zero"},
		{"bad id", map[string]string{EnvKEK: std, EnvKEKID: "a b"}, true, "MANA_AUTH_KEK_ID"},
		{"bad previous", map[string]string{EnvKEK: std, EnvKEKPrevious: "env-v0:AAAA"}, true, "MANA_AUTH_KEK_PREVIOUS entry 1 must decode to exactly 32 bytes"},
		{"duplicate id", map[string]string{EnvKEK: std, EnvKEKPrevious: base64.StdEncoding.EncodeToString(old)}, true, `"env-v1" configured twice`},
	}
	for _, c := range bad {
		_, err := KEKFromEnv(envOf(c.env), c.prod)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), std) {
			t.Errorf("%s: error contains the key", c.name)
		}
	}

	// Rotation setup: new current id, old key readable.
	_, err = KEKFromEnv(envOf(map[string]string{EnvKEK: std, EnvKEKID: "env-v2",
		EnvKEKPrevious: " env-v1:" + base64.StdEncoding.EncodeToString(old) + " , fp:" + base64.StdEncoding.EncodeToString(key[:31]) + "A="}), true)
	if err == nil {
		t.Fatal("a 31-byte previous key was accepted")
	}
	p, err = KEKFromEnv(envOf(map[string]string{EnvKEK: std, EnvKEKID: "env-v2",
		EnvKEKPrevious: " env-v1:" + base64.StdEncoding.EncodeToString(old) + " ,"}), true)
	wantNoErr(t, err)
	if cur, _ := p.Current(); cur.ID() != "env-v2" {
		t.Fatalf("current id %s", cur.ID())
	}
	if k, err := p.ByID("env-v1"); err != nil || !bytes.Equal(k.key[:], old) {
		t.Fatalf("ByID(env-v1) = %v, %v", k, err)
	}
	if _, err := p.ByID("env-v3"); !strings.Contains(fmt.Sprint(err), "not configured") {
		t.Fatalf("ByID(unknown) = %v", err)
	}
}

func TestKEKFromEnvDevelopmentFallback(t *testing.T) {
	var logs bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	defer slog.SetDefault(prev)

	p, err := KEKFromEnv(envOf(map[string]string{}), false)
	wantNoErr(t, err)
	cur, _ := p.Current()
	if cur.ID() != "env-v1" || !cur.allZero() {
		t.Fatalf("fallback = %v", cur)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "MANA_AUTH_KEK is not set") {
		t.Fatalf("no loud warning: %q", logs.String())
	}
}

func TestKEKNeverPrinted(t *testing.T) {
	raw := bytes.Repeat([]byte{0xab}, 32)
	k, err := NewKEK("env-v1", raw)
	wantNoErr(t, err)
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("kek", "kek", k)
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k), logs.String()} {
		if strings.Contains(s, base64.StdEncoding.EncodeToString(raw)) || strings.Contains(s, "abababab") ||
			strings.Contains(s, "171 171") {
			t.Fatalf("key material printed: %s", s)
		}
	}
	if !strings.Contains(fmt.Sprint(k), k.Fingerprint()) || FingerprintID(raw) != "fp-"+k.Fingerprint() {
		t.Fatal("fingerprint")
	}
	if _, err := NewKEK("", raw); err == nil {
		t.Fatal("empty id accepted")
	}
	if _, err := NewKEK("x", raw[:31]); err == nil {
		t.Fatal("short key accepted")
	}
	key := &Key{MasterKey: raw, FormatVersion: 1, KEKID: "env-v1"}
	if s := fmt.Sprintf("%v %+v %#v %s", key, key, key, key); strings.Contains(s, "171 171") || strings.Contains(s, "abababab") {
		t.Fatalf("master key printed: %s", s)
	}
}

func TestWrapFormat(t *testing.T) {
	k, _ := NewKEK("env-v1", bytes.Repeat([]byte{1}, 32))
	mk := bytes.Repeat([]byte{2}, 32)
	w, iv, err := wrapMK(defaultRand, k, mk)
	wantNoErr(t, err)
	if len(w) != 64 || len(iv) != 16 {
		t.Fatalf("wrap %q iv %q", w, iv)
	}
	got, err := unwrapMK(k, w, iv)
	if err != nil || !bytes.Equal(got, mk) {
		t.Fatalf("unwrap: %v", err)
	}
	// Interop: a plain AES-256-GCM seal with no AAD (what the original
	// service and WebCrypto produce) opens.
	aead, _ := newGCM(k)
	nonce := bytes.Repeat([]byte{3}, 12)
	ct := aead.Seal(nil, nonce, mk, nil)
	got, err = unwrapMK(k, b64.EncodeToString(ct), b64.EncodeToString(nonce))
	if err != nil || !bytes.Equal(got, mk) {
		t.Fatalf("interop unwrap: %v", err)
	}
	for _, s := range []string{"AAAA", "AAA", "A A A A", "AAAA\n"} {
		if _, err := DecodeBase64(s); err != nil {
			t.Errorf("DecodeBase64(%q): %v", s, err)
		}
	}
	for _, s := range []string{"a-_b", "A===A", "!"} {
		if _, err := DecodeBase64(s); err == nil {
			t.Errorf("DecodeBase64(%q) accepted", s)
		}
	}
}

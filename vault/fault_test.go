package vault

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/storage"
)

// tamper rewrites one stored field of the user's vault row.
func (e *env) tamper(t *testing.T, userID string, set storage.Record) {
	t.Helper()
	if n, err := e.db.Update(context.Background(), TableVaults, set, storage.W(fUserID, userID)); err != nil || n != 1 {
		t.Fatalf("tamper: %d, %v", n, err)
	}
}

func flipBase64(t *testing.T, s string) string {
	t.Helper()
	b, err := b64.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	b[3] ^= 0x01
	return b64.EncodeToString(b)
}

func wantStatus(t *testing.T, err error, status int, code string) {
	t.Helper()
	var ae *auth.Error
	if !errors.As(err, &ae) || ae.Status != status || ae.Code != code {
		t.Fatalf("err = %v, want %d %s", err, status, code)
	}
}

func TestTamperedRows(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b.open(t))
		ctx := context.Background()

		cases := []struct {
			name string
			mod  func(r storage.Record) storage.Record
		}{
			{"ciphertext bit flipped", func(r storage.Record) storage.Record {
				return storage.Record{fWrappedMK: flipBase64(t, r.String(fWrappedMK))}
			}},
			{"IV bit flipped", func(r storage.Record) storage.Record {
				return storage.Record{fWrapIV: flipBase64(t, r.String(fWrapIV))}
			}},
			{"ciphertext truncated", func(r storage.Record) storage.Record {
				return storage.Record{fWrappedMK: r.String(fWrappedMK)[:40]}
			}},
			{"ciphertext not base64", func(r storage.Record) storage.Record {
				return storage.Record{fWrappedMK: "!!" + r.String(fWrappedMK)[2:]}
			}},
		}
		for _, c := range cases {
			u := e.user(t)
			k, err := e.svc.Init(ctx, u)
			wantNoErr(t, err)
			e.tamper(t, u, c.mod(e.row(t, u)))
			got, err := e.svc.Key(ctx, u)
			if got != nil {
				t.Fatalf("%s: a key was returned", c.name)
			}
			wantStatus(t, err, 500, "VAULT_UNWRAP_FAILED")
			_, err = e.svc.Init(ctx, u)
			wantStatus(t, err, 500, "VAULT_UNWRAP_FAILED")
			audit := e.audit(t, u)
			last := audit[len(audit)-2]
			if !strings.HasPrefix(last, "failed_fetch 500 unwrap-failed: VAULT_UNWRAP_FAILED: ") {
				t.Fatalf("%s: audit = %q", c.name, audit)
			}
			if !strings.HasPrefix(audit[len(audit)-1], "init 500 unwrap-failed: ") {
				t.Fatalf("%s: audit = %q", c.name, audit)
			}
			if strings.Contains(e.logs.String(), b64.EncodeToString(k.MasterKey)) {
				t.Fatal("key logged")
			}
			// Rotate recovers the account (with a new key).
			if _, err := e.svc.Rotate(ctx, u); err != nil {
				t.Fatalf("%s: rotate: %v", c.name, err)
			}
		}
		if !strings.Contains(e.logs.String(), "cannot unwrap master key") {
			t.Fatal("unwrap failure not logged for operators")
		}
	})
}

func TestKEKFaults(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b.open(t))
		ctx := context.Background()
		u := e.user(t)
		k, err := e.svc.Init(ctx, u)
		wantNoErr(t, err)
		orig, _ := e.keks.Current()

		// The key behind "env-v1" is replaced by another one: GCM fails.
		e.keks.set(mustKEK(t, "env-v1"))
		_, err = e.svc.Key(ctx, u)
		wantStatus(t, err, 500, "VAULT_UNWRAP_FAILED")

		// The old key is configured, but under another id: diagnosed.
		oldUnderOtherID, _ := NewKEK("env-v0", orig.key[:])
		e.keks.set(mustKEK(t, "env-v1"), oldUnderOtherID)
		_, err = e.svc.Key(ctx, u)
		wantStatus(t, err, 500, "VAULT_KEK_MISMATCH")
		if !strings.Contains(err.Error(), `"env-v0"`) {
			t.Fatalf("mismatch error does not name the key that opens it: %v", err)
		}

		// The row names an id nobody configured.
		e.keks.set(mustKEK(t, "env-v2"))
		_, err = e.svc.Key(ctx, u)
		wantStatus(t, err, 500, "VAULT_KEK_UNKNOWN")
		if !strings.Contains(err.Error(), `"env-v1"`) {
			t.Fatalf("error does not name the missing id: %v", err)
		}
		audit := e.audit(t, u)
		if !strings.Contains(audit[len(audit)-1], "VAULT_KEK_UNKNOWN") {
			t.Fatalf("audit = %q", audit)
		}

		// Back to the right key: everything opens again.
		e.keks.set(mustKEK(t, "env-v2"), orig)
		got, err := e.svc.Key(ctx, u)
		wantNoErr(t, err)
		if !bytes.Equal(got.MasterKey, k.MasterKey) || got.KEKID != "env-v1" {
			t.Fatal("wrong key after restoring the KEK")
		}
	})
}

// failingKEKs is a KEKProvider whose backend (a KMS) is down.
type failingKEKs struct{ KEK }

func (f failingKEKs) Current() (KEK, error) { return KEK{}, errors.New("kms: connection refused") }
func (f failingKEKs) ByID(id string) (KEK, error) {
	return KEK{}, errors.New("kms: connection refused")
}

func TestKEKProviderDown(t *testing.T) {
	e := newEnv(t, backends[0].open(t))
	ctx := context.Background()
	u := e.user(t)
	_, err := e.svc.Init(ctx, u)
	wantNoErr(t, err)
	e.svc.keks = failingKEKs{}
	_, err = e.svc.Key(ctx, u)
	wantStatus(t, err, 503, "VAULT_KEK_UNAVAILABLE")
	_, err = e.svc.Rotate(ctx, u)
	wantStatus(t, err, 503, "VAULT_KEK_UNAVAILABLE")
	u2 := e.user(t)
	_, err = e.svc.Init(ctx, u2)
	wantStatus(t, err, 503, "VAULT_KEK_UNAVAILABLE")
	want := []string{"init 201 created", "failed_fetch 503 unwrap-failed: VAULT_KEK_UNAVAILABLE: kms: connection refused",
		"rotate 503 error: VAULT_KEK_UNAVAILABLE: kms: connection refused"}
	if got := e.audit(t, u); !slices.Equal(got, want) {
		t.Fatalf("audit = %q", got)
	}
	if got := e.audit(t, u2); !slices.Equal(got, []string{"init 503 error: VAULT_KEK_UNAVAILABLE: kms: connection refused"}) {
		t.Fatalf("audit = %q", got)
	}

	if _, err := auth.New(auth.Config{BaseURL: "http://x", Secret: testSecret, Hasher: plainHasher{}},
		backends[0].open(t), New(Options{KEKs: failingKEKs{}})); err == nil {
		t.Fatal("auth.New accepted a KEKProvider that fails")
	}
	if _, err := auth.New(auth.Config{BaseURL: "http://x", Secret: testSecret, Hasher: plainHasher{}},
		backends[0].open(t), New(Options{})); err == nil || !strings.Contains(err.Error(), "KEKs") {
		t.Fatalf("auth.New without KEKs: %v", err)
	}
}

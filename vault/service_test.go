package vault

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want %v", err, target)
	}
}

func wantNoErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func TestStateMachine(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := plugin.WithRequestInfo(context.Background(), plugin.RequestInfo{IP: "203.0.113.7", UserAgent: "vault-test/1"})
		e := newEnv(t, b.open(t))
		s := e.svc
		u := e.user(t)

		// No vault.
		st, err := s.Status(ctx, u)
		wantNoErr(t, err)
		if *st != (Status{}) {
			t.Fatalf("status without vault = %+v", st)
		}
		_, err = s.Key(ctx, u)
		wantErr(t, err, ErrNotInitialised)
		wantErr(t, s.SetRecoveryWrap(ctx, u, make([]byte, 48), make([]byte, 12)), ErrNotInitialised)
		wantErr(t, s.DeleteRecoveryWrap(ctx, u), ErrNotInitialised)
		wantErr(t, s.SetZeroKnowledge(ctx, u, true, nil), ErrNotInitialised)
		wantErr(t, s.SetZeroKnowledge(ctx, u, false, make([]byte, 32)), ErrNotInitialised)

		// Init creates, then returns the same key.
		k1, err := s.Init(ctx, u)
		wantNoErr(t, err)
		if len(k1.MasterKey) != 32 || k1.FormatVersion != 1 || k1.KEKID != "env-v1" || k1.RequiresRecoveryCode {
			t.Fatalf("init key = %v (len %d)", k1, len(k1.MasterKey))
		}
		mk := bytes.Clone(k1.MasterKey)
		k2, err := s.Init(ctx, u)
		wantNoErr(t, err)
		if !bytes.Equal(k2.MasterKey, mk) {
			t.Fatal("second Init returned another key")
		}
		k3, err := s.Key(ctx, u)
		wantNoErr(t, err)
		if !bytes.Equal(k3.MasterKey, mk) || k3.KEKID != "env-v1" {
			t.Fatal("Key returned another key")
		}
		r := e.row(t, u)
		if r.String(fWrappedMK) == "" || len(r.String(fWrappedMK)) != 64 || len(r.String(fWrapIV)) != 16 {
			t.Fatalf("stored wrap = %q / %q", r.String(fWrappedMK), r.String(fWrapIV))
		}
		if strings.Contains(r.String(fWrappedMK), b64.EncodeToString(mk)) {
			t.Fatal("master key stored in the clear")
		}
		st, _ = s.Status(ctx, u)
		if !st.VaultExists || st.HasRecoveryWrap || st.ZeroKnowledge || st.RecoverySetAt != nil {
			t.Fatalf("status = %+v", st)
		}

		// ZK needs a recovery wrap; clearing a missing wrap is fine.
		wantErr(t, s.SetZeroKnowledge(ctx, u, true, nil), ErrRecoveryWrapMissing)
		wantNoErr(t, s.DeleteRecoveryWrap(ctx, u))

		// Bad recovery wraps.
		wantErr(t, s.SetRecoveryWrap(ctx, u, make([]byte, 47), make([]byte, 12)), ErrBadRequest)
		wantErr(t, s.SetRecoveryWrap(ctx, u, make([]byte, 48), make([]byte, 16)), ErrBadRequest)

		// Set a recovery wrap, replace it, enable ZK.
		secret := make([]byte, 32)
		_, _ = rand.Read(secret)
		w0, iv0 := recoveryWrap(t, []byte("old secret"), mk)
		wantNoErr(t, s.SetRecoveryWrap(ctx, u, w0, iv0))
		wrapped, iv := recoveryWrap(t, secret, mk)
		wantNoErr(t, s.SetRecoveryWrap(ctx, u, wrapped, iv))
		st, _ = s.Status(ctx, u)
		if !st.HasRecoveryWrap || st.ZeroKnowledge || st.RecoverySetAt == nil {
			t.Fatalf("status after recovery wrap = %+v", st)
		}
		wantNoErr(t, s.SetZeroKnowledge(ctx, u, true, nil))
		wantNoErr(t, s.SetZeroKnowledge(ctx, u, true, nil)) // no-op
		r = e.row(t, u)
		if r[fWrappedMK] != nil || r[fWrapIV] != nil || !r.Bool(fZeroKnowledge) {
			t.Fatalf("ZK row still has a KEK wrap: %v", r)
		}
		st, _ = s.Status(ctx, u)
		if !st.ZeroKnowledge || !st.HasRecoveryWrap {
			t.Fatalf("status in ZK = %+v", st)
		}

		// In ZK mode: Key and Init hand out the recovery blob.
		for _, get := range []func(context.Context, string) (*Key, error){s.Key, s.Init} {
			zk, err := get(ctx, u)
			wantNoErr(t, err)
			if !zk.RequiresRecoveryCode || zk.MasterKey != nil || zk.FormatVersion != 1 {
				t.Fatalf("ZK key = %v", zk)
			}
			if got := recoveryOpen(t, secret, zk.RecoveryWrappedMK, zk.RecoveryIV); !bytes.Equal(got, mk) {
				t.Fatal("recovery blob does not open to the master key")
			}
		}
		wantErr(t, func() error { _, err := s.Rotate(ctx, u); return err }(), ErrZKRotateForbidden)
		wantErr(t, s.DeleteRecoveryWrap(ctx, u), ErrZKActive)
		wantErr(t, s.SetRecoveryWrap(ctx, u, wrapped, iv), ErrZKActive)

		// Disable ZK: the client's MK is validated and re-wrapped.
		wantErr(t, s.SetZeroKnowledge(ctx, u, false, nil), ErrBadRequest)
		wantErr(t, s.SetZeroKnowledge(ctx, u, false, make([]byte, 31)), ErrBadRequest)
		wantNoErr(t, s.SetZeroKnowledge(ctx, u, false, mk))
		wantNoErr(t, s.SetZeroKnowledge(ctx, u, false, mk)) // no-op
		k4, err := s.Key(ctx, u)
		wantNoErr(t, err)
		if !bytes.Equal(k4.MasterKey, mk) || k4.KEKID != "env-v1" {
			t.Fatal("key after disabling ZK differs")
		}
		st, _ = s.Status(ctx, u)
		if st.ZeroKnowledge || !st.HasRecoveryWrap {
			t.Fatalf("status after ZK off = %+v (recovery wrap must be kept)", st)
		}

		// Rotate: new key, recovery wrap cleared.
		k5, err := s.Rotate(ctx, u)
		wantNoErr(t, err)
		if bytes.Equal(k5.MasterKey, mk) || len(k5.MasterKey) != 32 {
			t.Fatal("Rotate kept the key")
		}
		k6, _ := s.Key(ctx, u)
		if !bytes.Equal(k6.MasterKey, k5.MasterKey) {
			t.Fatal("Key after Rotate differs from Rotate's key")
		}
		st, _ = s.Status(ctx, u)
		if st.HasRecoveryWrap || st.RecoverySetAt != nil {
			t.Fatalf("Rotate kept the recovery wrap: %+v", st)
		}
		if e.row(t, u).TimePtr(fRotatedAt) == nil {
			t.Fatal("rotated_at not set")
		}

		// Rotate without a vault creates one.
		u2 := e.user(t)
		k7, err := s.Rotate(ctx, u2)
		wantNoErr(t, err)
		k8, _ := s.Key(ctx, u2)
		if !bytes.Equal(k7.MasterKey, k8.MasterKey) {
			t.Fatal("init-on-rotate key mismatch")
		}

		want := []string{
			"failed_fetch 404 not-initialised",
			"recovery_set 404 no-vault",
			"recovery_clear 404 no-vault",
			"zk_enable 404 no-vault",
			"zk_disable 404 no-vault",
			"init 201 created",
			"init 200 already-exists",
			"fetch 200 ",
			"zk_enable 400 no-recovery-wrap",
			"recovery_clear 200 ",
			"recovery_set 400 bad-request: recoveryWrappedMk must decode to 48 bytes",
			"recovery_set 400 bad-request: recoveryIv must decode to 12 bytes",
			"recovery_set 200 ",
			"recovery_set 200 ",
			"zk_enable 200 ",
			"zk_enable 200 already-enabled",
			"fetch 200 zk-recovery-blob",
			"init 200 already-exists-zk",
			"rotate 409 zk-rotate-forbidden",
			"recovery_clear 409 zk-active",
			"recovery_set 409 zk-active",
			"zk_disable 400 bad-request: `masterKey: base64` is required when disabling zero-knowledge",
			"zk_disable 400 bad-request: masterKey must decode to 32 bytes",
			"zk_disable 200 ",
			"zk_disable 200 already-disabled",
			"fetch 200 ",
			"rotate 200 ",
			"fetch 200 ",
		}
		if got := e.audit(t, u); !slices.Equal(got, want) {
			t.Fatalf("audit rows:\n got %q\nwant %q", got, want)
		}
		if got := e.audit(t, u2); !slices.Equal(got, []string{"rotate 201 init-on-rotate", "fetch 200 "}) {
			t.Fatalf("audit rows of u2: %q", got)
		}
		recs, _ := e.db.FindMany(ctx, TableAudit, storage.Query{Where: []storage.Where{storage.W(fUserID, u)}})
		for _, r := range recs {
			if r.String(fIPAddress) != "203.0.113.7" || r.String(fUserAgent) != "vault-test/1" || r.Time(fCreatedAt).IsZero() || len(r.String("id")) != 21 {
				t.Fatalf("audit row = %v", r)
			}
		}

		// Nothing logged or exported carries key material.
		ex, err := s.ExportUser(ctx, u)
		wantNoErr(t, err)
		js, _ := json.Marshal(ex)
		for _, secretish := range []string{b64.EncodeToString(mk), b64.EncodeToString(k5.MasterKey), e.row(t, u).String(fWrappedMK), e.row(t, u).String(fWrapIV)} {
			if strings.Contains(string(js), secretish) || strings.Contains(e.logs.String(), secretish) {
				t.Fatalf("key material leaked into export or logs")
			}
		}
		if !ex.VaultExists || ex.KEKID != "env-v1" || len(ex.Audit) != len(want)+0 {
			t.Fatalf("export = %s", js)
		}
	})
}

func TestInitConcurrent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b.open(t))
		u := e.user(t)
		const n = 24
		keys := make([][]byte, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k, err := e.svc.Init(context.Background(), u)
				if err == nil {
					keys[i] = k.MasterKey
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("Init %d: %v", i, errs[i])
			}
			if !bytes.Equal(keys[i], keys[0]) {
				t.Fatalf("Init %d returned another master key", i)
			}
		}
		cnt, err := e.db.Count(context.Background(), TableVaults, storage.W(fUserID, u))
		if err != nil || cnt != 1 {
			t.Fatalf("vault rows = %d, %v", cnt, err)
		}
		created := 0
		for _, a := range e.audit(t, u) {
			if a == "init 201 created" {
				created++
			}
		}
		if created != 1 {
			t.Fatalf("%d 'created' audit rows, want 1: %q", created, e.audit(t, u))
		}
	})
}

// TestConcurrentTransitions races every state change on one user and then
// checks that the row is consistent and the key still opens.
func TestConcurrentTransitions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b.open(t))
		ctx := context.Background()
		u := e.user(t)
		k, err := e.svc.Init(ctx, u)
		wantNoErr(t, err)
		mk := k.MasterKey
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var err error
				switch i % 5 {
				case 0:
					w, iv := recoveryWrap(t, []byte("s"), mk)
					err = e.svc.SetRecoveryWrap(ctx, u, w, iv)
				case 1:
					err = e.svc.SetZeroKnowledge(ctx, u, true, nil)
				case 2:
					err = e.svc.SetZeroKnowledge(ctx, u, false, mk)
				case 3:
					err = e.svc.DeleteRecoveryWrap(ctx, u)
				case 4:
					_, err = e.svc.Key(ctx, u)
				}
				var ae *auth.Error
				if err != nil && (!errors.As(err, &ae) || ae.Status >= 500) {
					t.Errorf("op %d: %v", i%5, err)
				}
			}()
		}
		wg.Wait()
		r := e.row(t, u)
		for _, c := range Checks() {
			if !c.Func(r) {
				t.Fatalf("row violates %s: %v", c.Name, r)
			}
		}
		_ = e.svc.SetZeroKnowledge(ctx, u, false, mk)
		got, err := e.svc.Key(ctx, u)
		wantNoErr(t, err)
		if !bytes.Equal(got.MasterKey, mk) {
			t.Fatal("master key changed")
		}
	})
}

// TestChecks writes rows breaking each CHECK straight through the storage
// adapter: every backend must refuse them.
func TestChecks(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b.open(t))
		ctx := context.Background()
		w, iv := "d3JhcHBlZA==", "aXY="
		base := func(u string) storage.Record {
			return storage.Record{"id": u, fUserID: u, fFormatVersion: int64(1), fKEKID: "env-v1",
				fRecoveryFormatVersion: int64(1), fZeroKnowledge: false, fCreatedAt: e.svc.nowMS(),
				fWrappedMK: w, fWrapIV: iv}
		}
		cases := []struct {
			name  string
			check string
			mod   func(storage.Record)
		}{
			{"no wrap at all", CheckHasWrap, func(r storage.Record) { r[fWrappedMK], r[fWrapIV] = nil, nil }},
			{"wrap without IV", CheckWrapIVPair, func(r storage.Record) { r[fWrapIV] = nil }},
			{"recovery IV without wrap", CheckWrapIVPair, func(r storage.Record) { r[fRecoveryIV] = iv }},
			{"ZK with a KEK wrap", CheckZKConsistency, func(r storage.Record) {
				r[fZeroKnowledge], r[fRecoveryWrappedMK], r[fRecoveryIV] = true, w, iv
			}},
			{"ZK without recovery wrap", CheckHasWrap, func(r storage.Record) {
				r[fZeroKnowledge], r[fWrappedMK], r[fWrapIV] = true, nil, nil
			}},
		}
		for _, c := range cases {
			u := e.user(t)
			rec := base(u)
			c.mod(rec)
			err := e.db.Create(ctx, TableVaults, rec)
			if !errors.Is(err, storage.ErrConstraint) {
				t.Errorf("%s: create err = %v, want ErrConstraint", c.name, err)
			}
			// The same through an update of a valid row.
			wantNoErr(t, e.db.Create(ctx, TableVaults, base(u)))
			set := storage.Record{}
			c.mod(set)
			if _, err := e.db.Update(ctx, TableVaults, set, storage.W(fUserID, u)); !errors.Is(err, storage.ErrConstraint) {
				t.Errorf("%s: update err = %v, want ErrConstraint", c.name, err)
			}
			if cnt := len(e.audit(t, u)); cnt != 0 {
				t.Fatal("unexpected audit rows")
			}
			if got := e.row(t, u); got.String(fWrappedMK) != w || got.Bool(fZeroKnowledge) {
				t.Errorf("%s: row changed: %v", c.name, got)
			}
		}
		// And a valid ZK row is accepted.
		u := e.user(t)
		rec := base(u)
		rec[fZeroKnowledge], rec[fWrappedMK], rec[fWrapIV], rec[fRecoveryWrappedMK], rec[fRecoveryIV] = true, nil, nil, w, iv
		wantNoErr(t, e.db.Create(ctx, TableVaults, rec))
	})
}

func TestExportAndDelete(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b.open(t))
		ctx := context.Background()
		u, other := e.user(t), e.user(t)
		if ex, err := e.p.ExportUser(ctx, u); ex != nil || err != nil {
			t.Fatalf("export without vault = %v, %v", ex, err)
		}
		k, err := e.svc.Init(ctx, u)
		wantNoErr(t, err)
		_, _ = e.svc.Init(ctx, other)
		w, iv := recoveryWrap(t, []byte("s"), k.MasterKey)
		wantNoErr(t, e.svc.SetRecoveryWrap(ctx, u, w, iv))

		all, err := e.a.ExportUser(ctx, u)
		wantNoErr(t, err)
		js, _ := json.Marshal(all["vault"])
		for _, bad := range []string{b64.EncodeToString(k.MasterKey), e.row(t, u).String(fWrappedMK), b64.EncodeToString(w), b64.EncodeToString(iv)} {
			if strings.Contains(string(js), bad) {
				t.Fatalf("export contains key material: %s", js)
			}
		}
		var ex struct {
			VaultExists, HasRecoveryWrap bool
			KEKID                        string `json:"kekId"`
			Audit                        []map[string]any
		}
		_ = json.Unmarshal(js, &ex)
		if !ex.VaultExists || !ex.HasRecoveryWrap || ex.KEKID != "env-v1" || len(ex.Audit) != 2 {
			t.Fatalf("export = %s", js)
		}

		wantNoErr(t, e.a.DeleteUser(ctx, u))
		if e.row(t, u) != nil || len(e.audit(t, u)) != 0 {
			t.Fatal("vault rows survive DeleteUser")
		}
		if e.row(t, other) == nil || len(e.audit(t, other)) != 1 {
			t.Fatal("another user's vault was deleted")
		}
	})
}

func TestAsyncFetchAudit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b.open(t), func(o *Options) { o.AsyncFetchAudit = true })
		ctx := context.Background()
		u := e.user(t)
		_, err := e.svc.Key(ctx, u)
		wantErr(t, err, ErrNotInitialised)
		k, err := e.svc.Init(ctx, u)
		wantNoErr(t, err)
		got, err := e.svc.Key(ctx, u)
		wantNoErr(t, err)
		if !bytes.Equal(got.MasterKey, k.MasterKey) {
			t.Fatal("key")
		}
		want := []string{"failed_fetch 404 not-initialised", "init 201 created", "fetch 200 "}
		if a := e.audit(t, u); !slices.Equal(a, want) {
			t.Fatalf("audit = %q", a)
		}
	})
}

package vault

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/managarten/mana-auth/storage"
)

func TestRewrapAll(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b.open(t))
		ctx := context.Background()
		old, _ := e.keks.Current()

		const n = 23
		users := make([]string, n)
		keys := map[string][]byte{}
		for i := range users {
			u := e.user(t)
			users[i] = u
			k, err := e.svc.Init(ctx, u)
			wantNoErr(t, err)
			keys[u] = k.MasterKey
		}
		// Two users in zero-knowledge mode: nothing to re-wrap there.
		for _, u := range users[:2] {
			w, iv := recoveryWrap(t, []byte("s"), keys[u])
			wantNoErr(t, e.svc.SetRecoveryWrap(ctx, u, w, iv))
			wantNoErr(t, e.svc.SetZeroKnowledge(ctx, u, true, nil))
		}

		// New KEK current, old one still readable: reads keep working.
		next := mustKEK(t, "env-v2")
		e.keks.set(next, old)
		for _, u := range users[2:] {
			k, err := e.svc.Key(ctx, u)
			wantNoErr(t, err)
			if !bytes.Equal(k.MasterKey, keys[u]) || k.KEKID != "env-v1" {
				t.Fatal("key before rewrap")
			}
		}
		// New vaults use the new KEK at once.
		nu := e.user(t)
		k, err := e.svc.Init(ctx, nu)
		wantNoErr(t, err)
		if k.KEKID != "env-v2" {
			t.Fatalf("new vault under %s", k.KEKID)
		}

		// Interrupt after the first batch, then resume.
		cctx, cancel := context.WithCancel(ctx)
		var calls [][2]int
		err = e.svc.RewrapAll(cctx, 5, func(done, total int) {
			calls = append(calls, [2]int{done, total})
			if done > 0 {
				cancel()
			}
		})
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("interrupted RewrapAll: %v", err)
		}
		if len(calls) != 2 || calls[0] != [2]int{0, n - 2} || calls[1] != [2]int{5, n - 2} {
			t.Fatalf("progress = %v", calls)
		}
		calls = nil
		err = e.svc.RewrapAll(ctx, 5, func(done, total int) { calls = append(calls, [2]int{done, total}) })
		wantNoErr(t, err)
		rest := n - 2 - 5
		if calls[0] != [2]int{0, rest} || calls[len(calls)-1] != [2]int{rest, rest} {
			t.Fatalf("resumed progress = %v", calls)
		}

		// Every wrap is under env-v2, keys unchanged; the old KEK can go.
		e.keks.set(next)
		for _, u := range users[2:] {
			if r := e.row(t, u); r.String(fKEKID) != "env-v2" {
				t.Fatalf("row %s still under %s", u, r.String(fKEKID))
			}
			k, err := e.svc.Key(ctx, u)
			wantNoErr(t, err)
			if !bytes.Equal(k.MasterKey, keys[u]) || k.KEKID != "env-v2" {
				t.Fatal("key changed by rewrap")
			}
			audit := e.audit(t, u)
			if !strings.Contains(strings.Join(audit, "|"), "kek_rewrap 200 env-v1 -> env-v2") {
				t.Fatalf("no rewrap audit row: %q", audit)
			}
		}
		// ZK users: untouched, and turning ZK off wraps under the new KEK.
		wantNoErr(t, e.svc.SetZeroKnowledge(ctx, users[0], false, keys[users[0]]))
		if k, _ := e.svc.Key(ctx, users[0]); k.KEKID != "env-v2" || !bytes.Equal(k.MasterKey, keys[users[0]]) {
			t.Fatal("ZK off after rotation")
		}
		// Nothing left: a third run touches nothing.
		calls = nil
		wantNoErr(t, e.svc.RewrapAll(ctx, 0, func(done, total int) { calls = append(calls, [2]int{done, total}) }))
		if len(calls) != 1 || calls[0] != [2]int{0, 0} {
			t.Fatalf("progress of an idle run = %v", calls)
		}
	})
}

// TestRewrapAllRaces rotates and toggles vaults while RewrapAll runs: the
// compare-and-swap must never put an old master key back.
func TestRewrapAllRaces(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b.open(t))
		ctx := context.Background()
		old, _ := e.keks.Current()
		var users []string
		for range 30 {
			u := e.user(t)
			_, err := e.svc.Init(ctx, u)
			wantNoErr(t, err)
			users = append(users, u)
		}
		e.keks.set(mustKEK(t, "env-v2"), old)

		var wg sync.WaitGroup
		var mu sync.Mutex
		latest := map[string][]byte{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.svc.RewrapAll(ctx, 4, nil); err != nil {
				t.Errorf("RewrapAll: %v", err)
			}
		}()
		for i, u := range users {
			if i%2 == 1 {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				k, err := e.svc.Rotate(ctx, u)
				if err != nil {
					t.Errorf("Rotate: %v", err)
					return
				}
				mu.Lock()
				latest[u] = k.MasterKey
				mu.Unlock()
			}()
		}
		wg.Wait()
		for _, u := range users {
			k, err := e.svc.Key(ctx, u)
			wantNoErr(t, err)
			if want, ok := latest[u]; ok && !bytes.Equal(k.MasterKey, want) {
				t.Fatalf("user %s: rewrap overwrote a rotation", u)
			}
			if k.KEKID != "env-v2" {
				t.Fatalf("user %s still under %s", u, k.KEKID)
			}
		}
	})
}

func TestRewrapAllSkipsBrokenRows(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b.open(t))
		ctx := context.Background()
		old, _ := e.keks.Current()
		var users []string
		for range 6 {
			u := e.user(t)
			_, err := e.svc.Init(ctx, u)
			wantNoErr(t, err)
			users = append(users, u)
		}
		e.tamper(t, users[2], storage.Record{fWrappedMK: flipBase64(t, e.row(t, users[2]).String(fWrappedMK))})
		e.tamper(t, users[4], storage.Record{fKEKID: "env-v0"})
		e.keks.set(mustKEK(t, "env-v2"), old)
		var last [2]int
		err := e.svc.RewrapAll(ctx, 2, func(done, total int) { last = [2]int{done, total} })
		if err == nil || !strings.Contains(err.Error(), "2 row(s) could not be re-wrapped") ||
			!errors.Is(err, ErrUnwrapFailed) || !errors.Is(err, ErrKEKNotConfigured) {
			t.Fatalf("RewrapAll = %v", err)
		}
		if last != [2]int{4, 6} {
			t.Fatalf("progress = %v", last)
		}
		for i, u := range users {
			want := "env-v2"
			switch i {
			case 2:
				want = "env-v1"
			case 4:
				want = "env-v0"
			}
			if got := e.row(t, u).String(fKEKID); got != want {
				t.Fatalf("user %d under %s, want %s", i, got, want)
			}
		}
	})
}

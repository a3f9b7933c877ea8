package compat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/jwt"
	"github.com/managarten/mana-auth/keyring"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
)

// TestBetterAuthOpensOurEnvelopes: what our keyring seals — before
// versions, under version 1, under version 2, and a jwks.privateKey column
// minted by our jwt plugin under version 2 — opens with Better Auth's own
// symmetricDecrypt under the same configuration (rotation-open.mjs), and
// Better Auth refuses, as we do, what needs a secret it was not given.
// (The other direction, Better Auth's envelopes and rows opened here, is
// checked from the fixture in auth, jwt and twofactor.)
func TestBetterAuthOpensOurEnvelopes(t *testing.T) {
	node := requireNode(t)
	dir := compatDir(t)
	ensureNodeModules(t, dir)

	s0 := testSecret
	v1 := keyring.Version{Version: 1, Value: "compat-rotation-secret-one-0123456789abcdef"}
	v2 := keyring.Version{Version: 2, Value: "compat-rotation-secret-two-0123456789abcdef"}
	ring := func(secret string, vs ...keyring.Version) *keyring.Ring {
		k, err := keyring.New(secret, vs)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	type item struct{ name, sealed, plaintext string }
	var items []item
	for _, pt := range []string{"hello-plaintext", `{"kty":"OKP","crv":"Ed25519"}`, "ünïcødé ✓", ""} {
		items = append(items,
			item{"single secret", ring(s0).Encrypt(pt), pt},
			item{"version 1", ring(s0, v1).Encrypt(pt), pt},
			item{"version 2", ring("", v2, v1).Encrypt(pt), pt})
	}

	// A signing key minted by our jwt plugin with version 2 current.
	ctx := context.Background()
	db := memory.New()
	p := jwt.New(jwt.Options{})
	a, err := auth.New(auth.Config{BaseURL: "http://localhost:3000", Secret: s0, Secrets: []keyring.Version{v2, v1}}, db, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	kid, err := p.RotateKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	row, err := db.FindOne(ctx, jwt.TableJWKS, storage.W("id", kid))
	if err != nil || row == nil {
		t.Fatalf("jwks row: %v", err)
	}
	col := row.String("privateKey")
	jwk, err := jwt.OpenColumn(a.Host().Keyring(), col)
	if err != nil || !strings.HasPrefix(col, `"$ba$2$`) {
		t.Fatalf("our column %.12s…: %v", col, err)
	}
	items = append(items, item{"jwks.privateKey", col, jwk})

	run := func(secret string, versions []keyring.Version, sealed []string) []map[string]any {
		t.Helper()
		in, _ := json.Marshal(map[string]any{"secret": secret, "secrets": baSecrets(versions), "items": sealed})
		c, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		cmd := exec.CommandContext(c, node, "rotation-open.mjs")
		cmd.Dir = dir
		cmd.WaitDelay = 5 * time.Second
		cmd.Stdin = bytes.NewReader(in)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("rotation-open.mjs: %v\n%s", err, stderr.String())
		}
		var out []map[string]any
		if err := json.Unmarshal(stdout.Bytes(), &out); err != nil || len(out) != len(sealed) {
			t.Fatalf("rotation-open.mjs output %q: %v", stdout.String(), err)
		}
		return out
	}

	// Better Auth with the full configuration opens everything.
	var sealed []string
	for _, it := range items {
		sealed = append(sealed, it.sealed)
	}
	got := run(s0, []keyring.Version{v2, v1}, sealed)
	for i, it := range items {
		if d := cmp.Diff(map[string]any{"ok": true, "plaintext": it.plaintext}, got[i]); d != "" {
			t.Errorf("%s: Better Auth (-want +got):\n%s", it.name, d)
		}
	}

	// Without the legacy secret and version 1, Better Auth refuses what
	// needed them; so do we, with ErrSecretNotConfigured.
	narrow := ring("", v2)
	got = run("", []keyring.Version{v2}, sealed)
	for i, it := range items {
		_, err := narrow.Decrypt(strings.Trim(it.sealed, `"`))
		baOK := got[i]["ok"] == true
		if baOK != (err == nil) {
			t.Errorf("%s without s0 and version 1: Better Auth ok=%v (%v), ours %v", it.name, baOK, got[i]["error"], err)
		}
		if err != nil && !errors.Is(err, keyring.ErrNotConfigured) {
			t.Errorf("%s: %v, want ErrSecretNotConfigured", it.name, err)
		}
		if want := it.name == "version 2" || it.name == "jwks.privateKey"; baOK != want {
			t.Errorf("%s without s0 and version 1: Better Auth ok=%v, want %v", it.name, baOK, want)
		}
	}
}

// baSecrets is Better Auth's `secrets` option for versions.
func baSecrets(vs []keyring.Version) []map[string]any {
	out := []map[string]any{}
	for _, v := range vs {
		out = append(out, map[string]any{"version": v.Version, "value": v.Value})
	}
	return out
}

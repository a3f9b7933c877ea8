package vault_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
	"github.com/managarten/mana-auth/vault"
)

func Example() {
	ctx := context.Background()

	// The KEK: in production vault.KEKFromEnv(os.Getenv, true) reads
	// MANA_AUTH_KEK; here a random key named "env-v1".
	raw := make([]byte, vault.KEKSize)
	_, _ = rand.Read(raw)
	kek, _ := vault.NewKEK("env-v1", raw)
	keks, _ := vault.NewStaticKEKs(kek)

	vp := vault.New(vault.Options{KEKs: keks})
	db := memory.New()
	a, err := auth.New(auth.Config{BaseURL: "https://auth.example.com", Secret: "example-secret-0123456789abcdef0123"}, db, vp)
	if err != nil {
		panic(err)
	}
	if err := a.Migrate(ctx); err != nil {
		panic(err)
	}
	_ = db.Create(ctx, plugin.TableUser, storage.Record{"id": "user-1", "name": "Ada", "email": "ada@example.com",
		"emailVerified": true, "createdAt": a.Host().Now(), "updatedAt": a.Host().Now()})

	// Go API.
	svc := vp.Service()
	k1, _ := svc.Init(ctx, "user-1")
	k2, _ := svc.Key(ctx, "user-1")
	fmt.Println(len(k1.MasterKey), k1.KEKID, string(k1.MasterKey) == string(k2.MasterKey))
	fmt.Println(k2) // never prints the key

	// HTTP API, as the server mounts it (its Authenticate accepts a session
	// cookie or a bearer JWT; this one trusts a header, for the example).
	h := svc.Handler(vault.HandlerOptions{
		Prefix:       "/api/v1/me/encryption-vault",
		Authenticate: func(r *http.Request) (string, error) { return r.Header.Get("X-User"), nil },
	})
	req := httptest.NewRequest("POST", "/api/v1/me/encryption-vault/zero-knowledge", strings.NewReader(`{"enable":true}`))
	req.Header.Set("X-User", "user-1")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	body, _ := io.ReadAll(w.Result().Body)
	fmt.Println(w.Code, string(body))
	// Output:
	// 32 env-v1 true
	// vault.Key{masterKey: [redacted], formatVersion: 1, kekId: "env-v1"}
	// 400 {"error":"set a recovery wrap before enabling zero-knowledge","code":"RECOVERY_WRAP_MISSING"}
}

package apikey_test

import (
	"context"
	"testing"

	"github.com/managarten/mana-auth/apikey"
)

// BenchmarkVerify measures Verify of a valid key: the lookup by hash and
// the conditional update that counts the use (the key's rate limit on,
// with room for every iteration; no remaining count).
func BenchmarkVerify(b *testing.B) {
	for _, db := range []string{"memory", "sqlite"} {
		b.Run(db, func(b *testing.B) {
			e := newEnv(b, envOpts{db: db})
			uid := e.user("alice@example.com").userID
			max := int64(1 << 62)
			k := e.serverKey(apikey.CreateInput{UserID: uid, RateLimitMax: &max})
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				res, err := e.p.Verify(ctx, k.Secret, nil)
				if err != nil || !res.Valid {
					b.Fatal(res, err)
				}
			}
		})
	}
}

package oauth_test

import (
	"net/http"
	"testing"
	"time"
)

// BenchmarkCallback measures the callback of a returning user's flow
// (state check and consumption, code exchange, ID-token verification,
// UserInfo, account update, session) against the in-process OpenID
// provider. server-ns/op is the callback's time minus the provider's own
// time answering it (provider-ns/op): the cost on our side, loopback
// HTTP included.
func BenchmarkCallback(b *testing.B) {
	for _, db := range []string{"memory", "sqlite"} {
		b.Run(db, func(b *testing.B) {
			e := newEnv(b, envOpts{db: db})
			// Sign alice up once: the benchmark is of returning sign-ins.
			first := e.browser()
			if r := first.callback(e.op.Login(b, first.start("/api/auth/sign-in/social", nil), alice.ID)); r.status != http.StatusFound {
				b.Fatal(r.raw)
			}
			var total, provider time.Duration
			b.ResetTimer()
			b.StopTimer()
			for range b.N {
				br := e.browser()
				back := e.op.Login(b, br.start("/api/auth/sign-in/social", map[string]any{"callbackURL": "/"}), alice.ID)
				busy := e.op.Busy()
				b.StartTimer()
				t0 := time.Now()
				r := br.callback(back)
				total += time.Since(t0)
				b.StopTimer()
				provider += e.op.Busy() - busy
				if r.status != http.StatusFound || r.header.Get("Location") != "/" {
					b.Fatalf("%d %s %s", r.status, r.header.Get("Location"), r.raw)
				}
			}
			b.ReportMetric(float64(total-provider)/float64(b.N), "server-ns/op")
			b.ReportMetric(float64(provider)/float64(b.N), "provider-ns/op")
		})
	}
}

package vault

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// benchmarkKey measures GET /key end to end: routing, authentication (a
// trivial Authenticate), the read, the AES-GCM unwrap, the audit insert in
// the same transaction, the commit and the JSON body.
func benchmarkKey(b *testing.B, be backend, opts ...envOpt) {
	e := newEnv(b, be.open(b), opts...)
	u := e.user(b)
	if _, err := e.svc.Init(b.Context(), u); err != nil {
		b.Fatal(err)
	}
	h := e.svc.Handler(HandlerOptions{Prefix: prefix,
		Authenticate: func(*http.Request) (string, error) { return u, nil }})
	req := httptest.NewRequest("GET", prefix+"/key", nil)
	req.RemoteAddr = "198.51.100.9:4242"
	req.Header.Set("User-Agent", "bench")
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("GET /key: %d %s", w.Code, w.Body)
		}
	}
}

// BenchmarkKeySQLite: a file database in t.TempDir (WAL).
func BenchmarkKeySQLite(b *testing.B) { benchmarkKey(b, backends[1]) }

// BenchmarkKeyPostgres: every GET /key commits its audit row durably (the
// commit waits for the WAL flush, so the disk's fsync latency dominates).
func BenchmarkKeyPostgres(b *testing.B) { benchmarkKey(b, backends[2]) }

// BenchmarkKeyPostgresAsyncAudit: the same with Options.AsyncFetchAudit.
func BenchmarkKeyPostgresAsyncAudit(b *testing.B) {
	benchmarkKey(b, backends[2], func(o *Options) { o.AsyncFetchAudit = true })
}

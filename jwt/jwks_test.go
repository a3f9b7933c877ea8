package jwt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/managarten/mana-auth/internal/testkit"
	"github.com/managarten/mana-auth/jwt/verify"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
)

// tableDoc renders, independently of the plugin, the JWKS document the
// key table holds at now: Better Auth's entries {alg, crv, x, kty, kid}
// for every row whose expiresAt + grace is ahead, oldest first.
func tableDoc(t *testing.T, db *memory.Adapter, grace time.Duration, now time.Time) string {
	t.Helper()
	rows, err := db.FindMany(context.Background(), TableJWKS, storage.Query{Sort: []storage.Sort{{Field: "createdAt"}, {Field: "id"}}})
	if err != nil {
		t.Fatal(err)
	}
	var entries []string
	for _, r := range rows {
		if exp := r.TimePtr("expiresAt"); exp != nil && !exp.Add(grace).After(now) {
			continue
		}
		var pk struct{ Crv, X, Kty string }
		if err := json.Unmarshal([]byte(r.String("publicKey")), &pk); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, fmt.Sprintf(`{"alg":%q,"crv":%q,"x":%q,"kty":%q,"kid":%q}`,
			r.String("alg"), r.String("crv"), pk.X, pk.Kty, r.String("id")))
	}
	return `{"keys":[` + strings.Join(entries, ",") + `]}`
}

// addKey inserts a key row as another instance (or Better Auth) would.
func addKey(t *testing.T, e *env, createdAt time.Time) string {
	t.Helper()
	rec := e.p.newKeyRecord(createdAt)
	if err := e.db.Create(context.Background(), TableJWKS, rec); err != nil {
		t.Fatal(err)
	}
	return rec.String("id")
}

// TestJWKSFromMemory: GET /jwks answers the exact bytes the table holds,
// the same bytes and ETag on every request, without reading the table
// while the snapshot is fresh (nor does Mint or Verify); If-None-Match
// with the ETag is a 304; JWKS returns a copy.
func TestJWKSFromMemory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t0 := time.Date(2031, 8, 1, 0, 0, 0, 0, time.UTC)
	clk := testkit.NewClock(t0)
	var rc readCounter
	e := newEnv(t, envConfig{clock: clk, base: "http://localhost:3000", wrap: counting(&rc)})
	e.mint()
	clk.Advance(time.Hour)
	if _, err := e.p.RotateKeys(ctx); err != nil { // two keys: the document lists both
		t.Fatal(err)
	}
	tok := e.mint()

	first := e.serve("GET", "/jwks")
	want := tableDoc(t, e.db, DefaultGracePeriod, clk.Now())
	etag := first.Header().Get("ETag")
	if first.Code != 200 || first.Body.String() != want || first.Header().Get("Cache-Control") != "public, max-age=60" ||
		!strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) || len(etag) < 10 {
		t.Fatalf("GET /jwks: %d %v\n%s\nwant the table's document\n%s", first.Code, first.Header(), first.Body, want)
	}
	if strings.Count(want, `"kid"`) != 2 {
		t.Fatalf("table document %s: want two keys", want)
	}

	rc.reads.Store(0)
	for i := range 50 {
		clk.Advance(DefaultKeyCacheTTL / 2 / 60) // up to just under half of KeyCacheTTL
		if i == 49 {
			clk.Set(t0.Add(time.Hour + DefaultKeyCacheTTL/2 - time.Nanosecond))
		}
		w := e.serve("GET", "/jwks")
		if w.Code != 200 || w.Body.String() != want || w.Header().Get("ETag") != etag {
			t.Fatalf("request %d: %d %s (ETag %s)", i, w.Code, w.Body, w.Header().Get("ETag"))
		}
		doc, err := e.p.JWKS(ctx)
		if err != nil || string(doc) != want {
			t.Fatalf("JWKS: %s, %v", doc, err)
		}
		e.mint()
		if _, err := e.p.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := rc.reads.Load(); n != 0 {
		t.Errorf("%d reads of the key table by 50 × (GET /jwks, JWKS, Mint, Verify) on a fresh snapshot, want 0", n)
	}

	// JWKS hands out a copy.
	doc, _ := e.p.JWKS(ctx)
	copy(doc, "XXXXXXXX")
	if w := e.serve("GET", "/jwks"); w.Body.String() != want {
		t.Errorf("the document changed after a caller wrote to JWKS's answer: %s", w.Body)
	}

	// Conditional requests.
	for _, inm := range []string{etag, "W/" + etag, "*", `"other", ` + etag, ` "x" ,W/` + etag + ` `} {
		w := e.serve("GET", "/jwks", "If-None-Match", inm)
		if w.Code != http.StatusNotModified || w.Body.Len() != 0 || w.Header().Get("ETag") != etag ||
			w.Header().Get("Cache-Control") != "public, max-age=60" {
			t.Errorf("If-None-Match %s: %d %q %v", inm, w.Code, w.Body, w.Header())
		}
	}
	last := "x"
	if etag[len(etag)-2] == 'x' {
		last = "y"
	}
	for _, inm := range []string{`"other"`, strings.Trim(etag, `"`), etag[:len(etag)-2] + last + `"`} {
		if w := e.serve("GET", "/jwks", "If-None-Match", inm); w.Code != 200 || w.Body.String() != want {
			t.Errorf("If-None-Match %s: %d %s", inm, w.Code, w.Body)
		}
	}

	// Half of KeyCacheTTL: the next request rereads the table, once; an
	// unchanged table gives the same bytes and ETag.
	clk.Set(t0.Add(time.Hour + DefaultKeyCacheTTL/2))
	for range 5 {
		if w := e.serve("GET", "/jwks"); w.Body.String() != want || w.Header().Get("ETag") != etag {
			t.Errorf("after the reread: %s (ETag %s)", w.Body, w.Header().Get("ETag"))
		}
	}
	if n := rc.reads.Load(); n != 1 {
		t.Errorf("%d reads at half of KeyCacheTTL, want 1", n)
	}

	// A key another instance adds changes the document and its ETag at the
	// next reread.
	addKey(t, e, clk.Now())
	clk.Advance(DefaultKeyCacheTTL * 3 / 4)
	w := e.serve("GET", "/jwks")
	if want2 := tableDoc(t, e.db, DefaultGracePeriod, clk.Now()); w.Body.String() != want2 || w.Header().Get("ETag") == etag {
		t.Errorf("after another instance's key: %s (ETag %s), want %s with a new ETag", w.Body, w.Header().Get("ETag"), want2)
	}
	if w := e.serve("GET", "/jwks", "If-None-Match", etag); w.Code != 200 {
		t.Errorf("If-None-Match with the old ETag: %d", w.Code)
	}
}

// TestJWKSNoStampede: when the snapshot is due, one request rereads the
// table. Past half of KeyCacheTTL the others are answered from the old
// snapshot meanwhile, without waiting; past three quarters they wait for
// that one read and answer the new document. Either way: one read.
func TestJWKSNoStampede(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2031, 8, 2, 0, 0, 0, 0, time.UTC)
	clk := testkit.NewClock(t0)
	var rc readCounter
	e := newEnv(t, envConfig{clock: clk, base: "http://localhost:3000", wrap: counting(&rc)})
	old := e.serve("GET", "/jwks").Body.String()
	addKey(t, e, t0) // another instance's key, not yet in the snapshot

	// getAll runs n concurrent GET /jwks and returns their bodies.
	getAll := func(n int) chan string {
		out := make(chan string, n)
		for range n {
			go func() { out <- e.serve("GET", "/jwks").Body.String() }()
		}
		return out
	}
	waitReads := func(n int64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for rc.reads.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d reads, waiting for %d", rc.reads.Load(), n)
			}
			time.Sleep(time.Millisecond)
		}
	}

	// Soft: the reread blocks; 20 other requests are answered meanwhile.
	rc.reads.Store(0)
	gate := make(chan struct{})
	rc.gate.Store(&gate)
	clk.Set(t0.Add(DefaultKeyCacheTTL / 2))
	first := getAll(1)
	waitReads(1)
	others := getAll(20)
	for range 20 {
		select {
		case body := <-others:
			if body != old {
				t.Errorf("during the soft reread: %s, want the old snapshot", body)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("requests waited for the soft reread")
		}
	}
	rc.gate.Store(nil)
	close(gate)
	fresh := tableDoc(t, e.db, DefaultGracePeriod, clk.Now())
	if body := <-first; body != fresh {
		t.Errorf("the rereading request answered %s, want %s", body, fresh)
	}
	if n := rc.reads.Load(); n != 1 {
		t.Errorf("%d reads for 21 requests past half of KeyCacheTTL, want 1", n)
	}

	// Hard: 20 requests past three quarters wait for one read.
	addKey(t, e, clk.Now())
	rc.reads.Store(0)
	gate = make(chan struct{})
	rc.gate.Store(&gate)
	clk.Set(t0.Add(DefaultKeyCacheTTL/2 + DefaultKeyCacheTTL*3/4))
	all := getAll(20)
	waitReads(1)
	time.Sleep(20 * time.Millisecond) // let the others queue up behind the read
	select {
	case body := <-all:
		t.Fatalf("a request did not wait for the due reread: %s", body)
	default:
	}
	rc.gate.Store(nil)
	close(gate)
	fresh = tableDoc(t, e.db, DefaultGracePeriod, clk.Now())
	for range 20 {
		if body := <-all; body != fresh {
			t.Errorf("after the hard reread: %s, want %s", body, fresh)
		}
	}
	if n := rc.reads.Load(); n != 1 {
		t.Errorf("%d reads for 20 requests past three quarters of KeyCacheTTL, want 1", n)
	}
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestJWKSFailingRefresh: when the table cannot be reread, the last
// document (and signing key) keeps being served, the failure is logged,
// and the next try comes a second later, not on every request. With no
// snapshot yet, GET /jwks fails (500).
func TestJWKSFailingRefresh(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2031, 8, 3, 0, 0, 0, 0, time.UTC)
	clk := testkit.NewClock(t0)
	var rc readCounter
	var logs syncBuffer
	e := newEnv(t, envConfig{clock: clk, base: "http://localhost:3000", wrap: counting(&rc),
		logger: slog.New(slog.NewTextHandler(&logs, nil))})
	tok := e.mint()
	good := e.serve("GET", "/jwks")
	if good.Code != 200 {
		t.Fatal(good.Code)
	}

	rc.fail.Store(true)
	rc.reads.Store(0)
	clk.Advance(DefaultKeyCacheTTL) // past the hard bound
	for range 10 {
		w := e.serve("GET", "/jwks")
		if w.Code != 200 || w.Body.String() != good.Body.String() || w.Header().Get("ETag") != good.Header().Get("ETag") {
			t.Fatalf("while the table cannot be read: %d %s, want the last document", w.Code, w.Body)
		}
		if k := kidOf(t, e.mint()); k != kidOf(t, tok) {
			t.Errorf("Mint while the table cannot be read signs with %s", k)
		}
	}
	if n := rc.reads.Load(); n != 1 {
		t.Errorf("%d attempts to read the table within a second, want 1", n)
	}
	if l := logs.String(); strings.Count(l, "rereading the key table failed") != 1 || !strings.Contains(l, errDBDown.Error()) {
		t.Errorf("log:\n%s\nwant one line about the failed reread with its cause", l)
	}
	clk.Advance(retryAfterFailure - time.Nanosecond)
	e.serve("GET", "/jwks")
	if n := rc.reads.Load(); n != 1 {
		t.Errorf("%d attempts before a second has passed, want 1", n)
	}
	clk.Advance(time.Nanosecond)
	if w := e.serve("GET", "/jwks"); w.Code != 200 || rc.reads.Load() != 2 {
		t.Errorf("a second later: %d after %d reads, want 200 after a second attempt", w.Code, rc.reads.Load())
	}

	// The table answers again: the next try (a second later) rereads it.
	kid := addKey(t, e, clk.Now())
	rc.fail.Store(false)
	clk.Advance(retryAfterFailure)
	if w := e.serve("GET", "/jwks"); !strings.Contains(w.Body.String(), kid) {
		t.Errorf("after the table is back: %s, want the new key %s", w.Body, kid)
	}

	// No snapshot at all: an error, not an empty document.
	var rc2 readCounter
	rc2.fail.Store(true)
	e2 := newEnv(t, envConfig{clock: clk, base: "http://localhost:3000", wrap: counting(&rc2), logger: slog.New(slog.DiscardHandler)})
	if w := e2.serve("GET", "/jwks"); w.Code != 500 {
		t.Errorf("GET /jwks with no snapshot and no table: %d %s", w.Code, w.Body)
	}
}

// TestJWKSConcurrentRotations (run with -race): many requests for the
// JWKS, tokens and verification while the keys rotate; every answer is a
// whole document that lists the key of every token minted before it was
// asked for on this instance, and the table is read about once per
// rotation, not per request.
func TestJWKSConcurrentRotations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t0 := time.Date(2031, 8, 4, 0, 0, 0, 0, time.UTC)
	clk := testkit.NewClock(t0)
	var rc readCounter
	e := newEnv(t, envConfig{clock: clk, base: "http://localhost:3000", wrap: counting(&rc),
		opts: Options{KeyCacheTTL: 10 * time.Second, JWKSMaxAge: 5 * time.Second}})
	e.mint()

	const workers, rotations = 8, 20
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	fail := func(f string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(failures) < 10 {
			failures = append(failures, fmt.Sprintf(f, args...))
		}
	}
	counts := make([]int, workers)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				tok, err := e.p.Mint(ctx, testSession)
				if err != nil {
					fail("Mint: %v", err)
					return
				}
				head, _, _ := strings.Cut(tok, ".")
				var h struct{ Kid string }
				if b, err := rawB64.DecodeString(head); err != nil || json.Unmarshal(b, &h) != nil {
					fail("token header %s", head)
					return
				}
				w := e.serve("GET", "/jwks")
				keys, err := verify.ParseJWKS(w.Body.Bytes())
				if w.Code != 200 || err != nil {
					fail("GET /jwks: %d %s (%v)", w.Code, w.Body, err)
					return
				}
				if _, ok := keys[h.Kid]; !ok {
					fail("token key %s not in the JWKS answered after it: %v", h.Kid, kids(keys))
				}
				if _, err := e.p.Verify(ctx, tok); err != nil {
					fail("Verify: %v", err)
				}
				counts[i]++
			}
		}()
	}
	for range rotations {
		if _, err := e.p.RotateKeys(ctx); err != nil {
			t.Error(err)
		}
		clk.Advance(3 * time.Second)
		time.Sleep(2 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	// Each rotation reads the table twice (in its transaction and after);
	// besides, one reread per half KeyCacheTTL (5 s) at most.
	if n, max := rc.reads.Load(), int64(2*rotations+rotations*3/5+3); n > max {
		t.Errorf("%d reads of the key table for %d rotations and %d × (Mint, GET /jwks, Verify), want at most %d", n, rotations, total, max)
	}
	t.Logf("%d rounds of Mint, GET /jwks and Verify; %d reads of the key table", total, rc.reads.Load())
}

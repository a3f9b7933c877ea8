package vault

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testpg"
	"github.com/managarten/mana-auth/internal/testproc"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
	"github.com/managarten/mana-auth/storage/postgres"
	"github.com/managarten/mana-auth/storage/sqlite"
)

const (
	testSecret = "vault-test-secret-0123456789abcdef0123"
)

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// pgExec runs statements on a fresh superuser connection.
func pgExec(tb testing.TB, stmts ...string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, testpg.URL())
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			tb.Fatalf("%s: %v", s, err)
		}
	}
}

// openPostgres opens an adapter on a throwaway schema dropped at Cleanup.
func openPostgres(tb testing.TB) *postgres.Adapter {
	tb.Helper()
	testpg.Require(tb)
	schema := "vault_" + randHex(6)
	db, err := postgres.Open(context.Background(), postgres.Options{URL: testpg.URL(), Schema: schema,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatalf("postgres.Open: %v", err)
	}
	tb.Cleanup(func() {
		_ = db.Close()
		pgExec(tb, `DROP SCHEMA IF EXISTS "`+schema+`" CASCADE`)
	})
	return db
}

type backend struct {
	name string
	open func(tb testing.TB) storage.Adapter
}

var backends = []backend{
	{"memory", func(tb testing.TB) storage.Adapter { return memory.New() }},
	{"sqlite", func(tb testing.TB) storage.Adapter {
		db, err := sqlite.Open(context.Background(), sqlite.Options{
			Path: filepath.Join(tb.TempDir(), "vault.db"), Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			tb.Fatalf("sqlite.Open: %v", err)
		}
		tb.Cleanup(func() { _ = db.Close() })
		return db
	}},
	{"postgres", func(tb testing.TB) storage.Adapter { return openPostgres(tb) }},
}

// forEachBackend runs fn as a subtest on memory, SQLite and PostgreSQL.
func forEachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b) })
	}
}

// swapKEKs is a KEKProvider whose keys a test can replace.
type swapKEKs struct{ p atomic.Pointer[StaticKEKs] }

func newSwapKEKs(current KEK, previous ...KEK) *swapKEKs {
	s := &swapKEKs{}
	s.set(current, previous...)
	return s
}

func (s *swapKEKs) set(current KEK, previous ...KEK) {
	p, err := NewStaticKEKs(current, previous...)
	if err != nil {
		panic(err)
	}
	s.p.Store(p)
}

func (s *swapKEKs) Current() (KEK, error)       { return s.p.Load().Current() }
func (s *swapKEKs) ByID(id string) (KEK, error) { return s.p.Load().ByID(id) }
func (s *swapKEKs) IDs() []string               { return s.p.Load().IDs() }

func mustKEK(tb testing.TB, id string) KEK {
	tb.Helper()
	b := make([]byte, KEKSize)
	_, _ = rand.Read(b)
	k, err := NewKEK(id, b)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// plainHasher skips scrypt: these tests never check passwords.
type plainHasher struct{}

func (plainHasher) Hash(p string) (string, error)    { return "plain:" + p, nil }
func (plainHasher) Verify(h, p string) (bool, error) { return h == "plain:"+p, nil }

type env struct {
	a    *auth.Auth
	p    *Plugin
	svc  *Service
	db   storage.Adapter
	keks *swapKEKs
	logs *testproc.Buffer
	n    atomic.Int64
}

type envOpt func(*Options)

func newEnv(tb testing.TB, db storage.Adapter, opts ...envOpt) *env {
	tb.Helper()
	e := &env{db: db, keks: newSwapKEKs(mustKEK(tb, DefaultKEKID)), logs: &testproc.Buffer{}}
	// A clock that ticks 1 ms per reading keeps audit rows in order.
	var tick atomic.Int64
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return start.Add(time.Duration(tick.Add(1)) * time.Millisecond) }
	o := Options{KEKs: e.keks, Logger: slog.New(slog.NewTextHandler(e.logs, nil)), Now: now}
	for _, f := range opts {
		f(&o)
	}
	e.p = New(o)
	a, err := auth.New(auth.Config{BaseURL: "http://localhost:3001", Secret: testSecret,
		Logger: slog.New(slog.DiscardHandler), Hasher: plainHasher{}}, db, e.p)
	if err != nil {
		tb.Fatalf("auth.New: %v", err)
	}
	if err := a.Migrate(context.Background()); err != nil {
		tb.Fatalf("Migrate: %v", err)
	}
	e.a, e.svc = a, e.p.Service()
	return e
}

// user creates a user and returns its id.
func (e *env) user(tb testing.TB) string {
	tb.Helper()
	id := fmt.Sprintf("u%04d-%s", e.n.Add(1), randHex(4))
	now := time.Now().UTC()
	err := e.db.Create(context.Background(), plugin.TableUser, storage.Record{
		"id": id, "name": "Test " + id, "email": id + "@example.com", "emailVerified": true,
		"createdAt": now, "updatedAt": now,
	})
	if err != nil {
		tb.Fatalf("create user: %v", err)
	}
	return id
}

// row reads the user's vault row through the storage API.
func (e *env) row(tb testing.TB, userID string) storage.Record {
	tb.Helper()
	r, err := e.db.FindOne(context.Background(), TableVaults, storage.W(fUserID, userID))
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		tb.Fatalf("find vault row: %v", err)
	}
	return r
}

// audit returns the user's audit rows as "action status context".
func (e *env) audit(tb testing.TB, userID string) []string {
	tb.Helper()
	recs, err := e.db.FindMany(context.Background(), TableAudit, storage.Query{
		Where: []storage.Where{storage.W(fUserID, userID)}, Sort: []storage.Sort{{Field: fCreatedAt}, {Field: "id"}}})
	if err != nil {
		tb.Fatalf("audit rows: %v", err)
	}
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = fmt.Sprintf("%s %d %s", r.String(fAction), r.Int(fStatus), r.String(fContext))
	}
	return out
}

// recoveryWrap builds a recovery wrap as the web client does: HKDF-SHA256
// of the secret (empty salt, info "mana-recovery-v1") keys AES-256-GCM.
func recoveryWrap(tb testing.TB, secret, mk []byte) (wrapped, iv []byte) {
	tb.Helper()
	aead := recoveryAEAD(tb, secret)
	iv = make([]byte, IVSize)
	_, _ = rand.Read(iv)
	return aead.Seal(nil, iv, mk, nil), iv
}

func recoveryOpen(tb testing.TB, secret, wrapped, iv []byte) []byte {
	tb.Helper()
	mk, err := recoveryAEAD(tb, secret).Open(nil, iv, wrapped, nil)
	if err != nil {
		tb.Fatalf("recovery unwrap: %v", err)
	}
	return mk
}

func recoveryAEAD(tb testing.TB, secret []byte) cipher.AEAD {
	key, err := hkdf.Key(sha256.New, secret, nil, "mana-recovery-v1", 32)
	if err != nil {
		tb.Fatal(err)
	}
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(block)
	return aead
}

// pgPool opens a pool on the test database with extra connection setup.
func pgPool(tb testing.TB, afterConnect func(context.Context, *pgx.Conn) error) *pgxpool.Pool {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(testpg.URL())
	if err != nil {
		tb.Fatal(err)
	}
	cfg.AfterConnect = afterConnect
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

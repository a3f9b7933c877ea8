package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/managarten/mana-auth/internal/testproc"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/sqlite"
	"github.com/managarten/mana-auth/storage/storagetest"
)

func openPath(t *testing.T, path string, logger *slog.Logger) *sqlite.Adapter {
	t.Helper()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	db, err := sqlite.Open(context.Background(), sqlite.Options{Path: path, Logger: logger})
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Adapter {
		return openPath(t, filepath.Join(t.TempDir(), "test.db"), nil)
	})
}

func TestConformanceInMemory(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Adapter {
		return openPath(t, sqlite.MemoryPath, nil)
	})
}

// testSchema declares "session" before the "user" it references, to check
// that tables are created in dependency order.
func testSchema() storage.Schema {
	return storage.Schema{Tables: []storage.Table{
		{
			Name: "session",
			Fields: []storage.Field{
				{Name: "userId", Type: storage.String, Required: true, Index: true,
					References: &storage.Reference{Table: "user", Field: "id", OnDelete: storage.Cascade}},
				{Name: "token", Type: storage.String, Required: true, Unique: true},
				{Name: "expiresAt", Type: storage.Date, Required: true},
			},
		},
		{
			Name:   "user",
			DBName: "users",
			Fields: []storage.Field{
				{Name: "email", Type: storage.String, Required: true, Unique: true},
				{Name: "emailVerified", Type: storage.Bool, Required: true},
				{Name: "name", Type: storage.String},
				{Name: "createdAt", Type: storage.Date, Required: true, Index: true},
			},
			Checks: []storage.Check{{Name: "user_email_not_empty", Expr: `"email" <> ''`,
				Func: func(r storage.Record) bool { return r.String("email") != "" }}},
		},
	}}
}

// upgradedSchema adds fields to "user" (as a plugin would).
func upgradedSchema() storage.Schema {
	s := testSchema()
	if err := s.Merge(storage.Schema{Tables: []storage.Table{{
		Name: "user",
		Fields: []storage.Field{
			{Name: "twoFactorEnabled", Type: storage.Bool},
			{Name: "username", Type: storage.String, Unique: true},
			{Name: "role", Type: storage.String, Required: true, Index: true},
			{Name: "loginCount", Type: storage.Int},
		},
	}}}); err != nil {
		panic(err)
	}
	return s
}

func migrated(t *testing.T, path string, s storage.Schema) *sqlite.Adapter {
	t.Helper()
	db := openPath(t, path, nil)
	if err := db.Bind(s); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return db
}

func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = raw.Close() })
	return raw
}

func TestPlanMigrationFreshDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "plan.db")
	db := openPath(t, path, nil)
	plan, err := db.PlanMigration(ctx, testSchema())
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(plan, ";\n")
	for _, want := range []string{
		`CREATE TABLE IF NOT EXISTS "mana_migrations"`,
		`CREATE TABLE IF NOT EXISTS "users"`,
		`CREATE TABLE IF NOT EXISTS "session"`,
		`"userId" text NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE`,
		`"token" text NOT NULL UNIQUE`,
		`CONSTRAINT "user_email_not_empty" CHECK ("email" <> '')`,
		`CREATE INDEX IF NOT EXISTS "session_userId_idx" ON "session" ("userId")`,
		`CREATE INDEX IF NOT EXISTS "users_createdAt_idx" ON "users" ("createdAt")`,
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("plan lacks %q:\n%s", want, joined)
		}
	}
	if u, s := strings.Index(joined, `TABLE IF NOT EXISTS "users"`), strings.Index(joined, `TABLE IF NOT EXISTS "session"`); u > s {
		t.Errorf("referenced table users must be created before session:\n%s", joined)
	}
	// A dry run changes nothing.
	var n int
	if err := rawDB(t, path).QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("PlanMigration created %d tables", n)
	}
}

func TestMigrateIdempotent(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "idem.db")
	db := migrated(t, path, testSchema())
	plan, err := db.PlanMigration(ctx, testSchema())
	if err != nil {
		t.Fatal(err)
	}
	if len(plan) != 0 {
		t.Fatalf("plan on an up-to-date database: %q", plan)
	}
	raw := rawDB(t, path)
	var before, after int
	if err := raw.QueryRow(`SELECT COUNT(*) FROM mana_migrations`).Scan(&before); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx, testSchema()); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if err := raw.QueryRow(`SELECT COUNT(*) FROM mana_migrations`).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if before != after {
		t.Errorf("second Migrate recorded steps: %d rows before, %d after", before, after)
	}
	var version int64
	if err := raw.QueryRow(`SELECT MAX(version) FROM mana_migrations`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version != sqlite.SchemaVersion {
		t.Errorf("recorded version %d, want %d", version, sqlite.SchemaVersion)
	}
	// Reopening also finds nothing to do.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2 := openPath(t, path, nil)
	if plan, err := db2.PlanMigration(ctx, testSchema()); err != nil || len(plan) != 0 {
		t.Fatalf("plan after reopening: %q, %v", plan, err)
	}
}

func TestMigrateAddsColumnsKeepingData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "upgrade.db")
	db := migrated(t, path, testSchema())
	created := time.Date(2024, 5, 6, 7, 8, 9, 123_000_000, time.UTC)
	if err := db.Create(ctx, "user", storage.Record{"id": "u1", "email": "a@example.com",
		"emailVerified": true, "name": "Ann", "createdAt": created}); err != nil {
		t.Fatal(err)
	}
	if err := db.Create(ctx, "session", storage.Record{"id": "s1", "userId": "u1", "token": "t1",
		"expiresAt": created.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	var logs testproc.Buffer
	db = openPath(t, path, slog.New(slog.NewTextHandler(&logs, nil)))
	up := upgradedSchema()
	plan, err := db.PlanMigration(ctx, up)
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(plan, "\n")
	for _, want := range []string{
		`ALTER TABLE "users" ADD COLUMN "twoFactorEnabled" integer`,
		`ALTER TABLE "users" ADD COLUMN "role" text`,
		`CREATE UNIQUE INDEX IF NOT EXISTS "users_username_uidx" ON "users" ("username")`,
		`CREATE INDEX IF NOT EXISTS "users_role_idx" ON "users" ("role")`,
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("plan lacks %q:\n%s", want, joined)
		}
	}
	if strings.Contains(joined, "CREATE TABLE IF NOT EXISTS") {
		t.Errorf("plan recreates tables:\n%s", joined)
	}
	if err := db.Bind(up); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx, up); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "role") || !strings.Contains(logs.String(), "nullable") {
		t.Errorf("no warning about the required column added as nullable; log:\n%s", logs.String())
	}
	got, err := db.FindOne(ctx, "user", storage.W("id", "u1"))
	if err != nil {
		t.Fatal(err)
	}
	want := storage.Record{"id": "u1", "email": "a@example.com", "emailVerified": true, "name": "Ann",
		"createdAt": created, "twoFactorEnabled": nil, "username": nil, "role": nil, "loginCount": nil}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after upgrade:\n got %v\nwant %v", got, want)
	}
	if n, err := db.Count(ctx, "session"); err != nil || n != 1 {
		t.Errorf("sessions after upgrade: %d, %v", n, err)
	}
	// The adapter enforces the new required field itself.
	err = db.Create(ctx, "user", storage.Record{"id": "u2", "email": "b@example.com", "emailVerified": false,
		"createdAt": created})
	if !errors.Is(err, storage.ErrConstraint) {
		t.Errorf("create without the new required field: %v, want ErrConstraint", err)
	}
	// The new unique index works.
	for i, id := range []string{"u2", "u3"} {
		err := db.Create(ctx, "user", storage.Record{"id": id, "email": id + "@example.com", "emailVerified": false,
			"createdAt": created, "role": "user", "username": "same"})
		if i == 1 && !errors.Is(err, storage.ErrConflict) {
			t.Errorf("duplicate username: %v, want ErrConflict", err)
		} else if i == 0 && err != nil {
			t.Fatal(err)
		}
	}
	if plan, err := db.PlanMigration(ctx, up); err != nil || len(plan) != 0 {
		t.Errorf("plan after upgrade: %q, %v", plan, err)
	}
}

func TestSchemaTooNew(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "new.db")
	db := migrated(t, path, testSchema())
	if _, err := rawDB(t, path).Exec(`INSERT INTO mana_migrations (id, version, description, sql, applied_at)
VALUES ('schema_version:999', 999, 'from the future', '', '2999-01-01T00:00:00.000Z')`); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx, testSchema()); !errors.Is(err, sqlite.ErrSchemaTooNew) {
		t.Errorf("Migrate: %v, want ErrSchemaTooNew", err)
	}
	if _, err := db.PlanMigration(ctx, testSchema()); !errors.Is(err, sqlite.ErrSchemaTooNew) {
		t.Errorf("PlanMigration: %v, want ErrSchemaTooNew", err)
	}
	if _, err := sqlite.Open(ctx, sqlite.Options{Path: path}); !errors.Is(err, sqlite.ErrSchemaTooNew) {
		t.Errorf("Open: %v, want ErrSchemaTooNew", err)
	} else if !strings.Contains(err.Error(), "999") {
		t.Errorf("error does not name the version: %v", err)
	}
}

func TestStorageFormat(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "format.db")
	db := migrated(t, path, testSchema())
	created := time.Date(2024, 5, 6, 7, 8, 9, 120_000_000, time.FixedZone("CEST", 2*3600))
	if err := db.Create(ctx, "user", storage.Record{"id": "u1", "email": "a@example.com",
		"emailVerified": true, "createdAt": created}); err != nil {
		t.Fatal(err)
	}
	raw := rawDB(t, path)
	var stored string
	var verified int64
	if err := raw.QueryRow(`SELECT "createdAt", "emailVerified" FROM users WHERE id = 'u1'`).Scan(&stored, &verified); err != nil {
		t.Fatal(err)
	}
	if stored != "2024-05-06T05:08:09.120Z" || verified != 1 {
		t.Errorf("stored createdAt %q emailVerified %d, want 2024-05-06T05:08:09.120Z and 1", stored, verified)
	}
	// Dates written by other tools are read back.
	want := time.Date(2024, 5, 6, 5, 8, 9, 120_000_000, time.UTC)
	for i, v := range []any{
		want.UnixMilli(),
		"2024-05-06T07:08:09.12+02:00",
		"2024-05-06 05:08:09.120",
		want.Unix(), // seconds: the milliseconds are lost
	} {
		id := fmt.Sprint("x", i)
		if _, err := raw.Exec(`INSERT INTO users (id, email, "emailVerified", "createdAt") VALUES (?, ?, 0, ?)`,
			id, id+"@example.com", v); err != nil {
			t.Fatal(err)
		}
		rec, err := db.FindOne(ctx, "user", storage.W("id", id))
		if err != nil {
			t.Fatalf("%v: %v", v, err)
		}
		w := want
		if i == 3 {
			w = want.Truncate(time.Second)
		}
		if got := rec.Time("createdAt"); !got.Equal(w) || got.Location() != time.UTC {
			t.Errorf("date stored as %v (%T) read as %v, want %v", v, v, got, w)
		}
	}
}

func TestPatternsAreLiteral(t *testing.T) {
	ctx := context.Background()
	db := migrated(t, filepath.Join(t.TempDir(), "glob.db"), testSchema())
	names := []string{"a*b", "a?b", "a[b]c", "axb", "A*B", "100%_\\"}
	for i, n := range names {
		if err := db.Create(ctx, "user", storage.Record{"id": fmt.Sprint(i), "email": fmt.Sprint(i, "@x"),
			"emailVerified": false, "createdAt": time.Now(), "name": n}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		op   storage.Op
		v    string
		want int64
	}{
		{storage.Contains, "*", 2}, {storage.Contains, "?", 1}, {storage.Contains, "[b]", 1},
		{storage.StartsWith, "a*", 1}, {storage.EndsWith, "*b", 1}, {storage.Contains, "%_\\", 1},
		{storage.Contains, "", 6}, {storage.StartsWith, "a", 4},
	} {
		n, err := db.Count(ctx, "user", storage.Where{Field: "name", Op: c.op, Value: c.v})
		if err != nil || n != c.want {
			t.Errorf("%s %q: %d, %v; want %d", c.op, c.v, n, err, c.want)
		}
	}
}

// TestTwoProcesses runs two adapters on one file, as two server processes
// would: writes must wait for each other (busy timeout), not fail.
func TestTwoProcesses(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "two.db")
	a := migrated(t, path, testSchema())
	b := migrated(t, path, testSchema())
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w, db := range []*sqlite.Adapter{a, b} {
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 10; i++ {
					id := fmt.Sprintf("u%d-%d-%d", w, g, i)
					err := db.Tx(ctx, func(tx storage.Adapter) error {
						if _, err := tx.Count(ctx, "user"); err != nil {
							return err
						}
						return tx.Create(ctx, "user", storage.Record{"id": id, "email": id,
							"emailVerified": false, "createdAt": time.Now()})
					})
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n, err := a.Count(ctx, "user"); err != nil || n != 80 {
		t.Errorf("count %d, %v; want 80", n, err)
	}
}

// TestNestedTxSavepoint checks that a failing nested Tx undoes only its own
// writes when the outer function carries on.
func TestNestedTxSavepoint(t *testing.T) {
	ctx := context.Background()
	db := migrated(t, filepath.Join(t.TempDir(), "nested.db"), testSchema())
	boom := errors.New("boom")
	err := db.Tx(ctx, func(tx storage.Adapter) error {
		if err := tx.Create(ctx, "user", storage.Record{"id": "outer", "email": "o", "emailVerified": false, "createdAt": time.Now()}); err != nil {
			return err
		}
		err := tx.Tx(ctx, func(tx2 storage.Adapter) error {
			if err := tx2.Create(ctx, "user", storage.Record{"id": "inner", "email": "i", "emailVerified": false, "createdAt": time.Now()}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			return fmt.Errorf("nested Tx: %v", err)
		}
		// A failed statement does not spoil the transaction either.
		if err := tx.Create(ctx, "user", storage.Record{"id": "outer", "email": "o2", "emailVerified": false, "createdAt": time.Now()}); !errors.Is(err, storage.ErrConflict) {
			return fmt.Errorf("duplicate id: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := db.FindMany(ctx, "user", storage.Query{})
	if err != nil || len(recs) != 1 || recs[0].String("id") != "outer" {
		t.Errorf("after commit: %v, %v; want only outer", recs, err)
	}
}

func TestPingClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ping.db")
	db := openPath(t, path, nil)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("new database file: %v, %v; want mode 0600", fi.Mode(), err)
	}
	if err := db.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(context.Background()); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Ping after Close: %v, want ErrUnavailable", err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := sqlite.Open(ctx, sqlite.Options{}); err == nil {
		t.Error("Open without a path succeeded")
	}
	// A missing directory is created (TestOpenCreatesTheDirectory); one
	// that cannot be (a file is in the way) is ErrUnavailable.
	blocker := filepath.Join(t.TempDir(), "blocker")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(blocker, "dir", "x.db")})
	if !errors.Is(err, storage.ErrUnavailable) || !strings.Contains(err.Error(), "blocker") {
		t.Errorf("Open under a file: %v, want ErrUnavailable naming the path", err)
	}
}

func TestPathWithSpecialCharacters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "we?ird #name%20.db")
	db := migrated(t, path, testSchema())
	if err := db.Create(ctx, "user", storage.Record{"id": "u1", "email": "a", "emailVerified": false, "createdAt": time.Now()}); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := rawDB(t, filepath.Dir(path)+"/we%3Fird%20%23name%2520.db").QueryRow(`SELECT COUNT(*) FROM users`).Scan(&n); err != nil || n != 1 {
		t.Errorf("file at the literal path: %d rows, %v", n, err)
	}
}

// TestMigrateIsAtomic: a migration that fails part-way leaves nothing
// behind.
func TestMigrateIsAtomic(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "atomic.db")
	db := openPath(t, path, nil)
	bad := testSchema()
	bad.Tables[1].Checks = append(bad.Tables[1].Checks, storage.Check{Name: "broken", Expr: `"nosuchcolumn" > 0`})
	if err := db.Migrate(ctx, bad); err == nil {
		t.Fatal("Migrate with a broken CHECK succeeded")
	}
	var n int
	if err := rawDB(t, path).QueryRow(`SELECT COUNT(*) FROM sqlite_master`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("failed migration left %d objects behind", n)
	}
	if err := db.Migrate(ctx, testSchema()); err != nil {
		t.Fatalf("Migrate after a failed one: %v", err)
	}
}

// TestNotInWithNullBindsNothing: a NotIn list holding NULL matches nothing
// and binds no argument, so the placeholders after it get their own values
// (the list's values used to be bound to them).
func TestNotInWithNullBindsNothing(t *testing.T) {
	ctx := context.Background()
	db := migrated(t, sqlite.MemoryPath, testSchema())
	if err := db.Create(ctx, "user", storage.Record{"id": "u1", "email": "a@example.com", "emailVerified": true,
		"createdAt": time.Now()}); err != nil {
		t.Fatal(err)
	}
	n, err := db.Count(ctx, "user", storage.Where{Field: "email", Op: storage.NotIn, Value: []any{"x", nil}},
		storage.Where{Field: "id", Op: storage.Eq, Value: "u1", Or: true})
	if err != nil || n != 1 {
		t.Errorf("NOT IN ('x', NULL) OR id = 'u1': %d, %v; want 1", n, err)
	}
}

// A path in a directory that does not exist yet works: the directory is
// created, private (a newcomer's sqlite.Open("data/auth.db")).
func TestOpenCreatesTheDirectory(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data", "nested")
	db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(dir, "auth.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("directory mode %o, want 700", perm)
	}
}

package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/sqlite"
)

// seedUsers creates users u0..u<n-1>, each with a session s<i> / token t<i>.
func seedUsers(t *testing.T, db storage.Adapter, n int) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	for i := range n {
		if err := db.Create(ctx, "user", storage.Record{"id": fmt.Sprint("u", i), "email": fmt.Sprint("u", i, "@example.com"),
			"emailVerified": false, "createdAt": now}); err != nil {
			t.Fatal(err)
		}
		if err := db.Create(ctx, "session", storage.Record{"id": fmt.Sprint("s", i), "userId": fmt.Sprint("u", i),
			"token": fmt.Sprint("t", i), "expiresAt": now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
}

// readRound runs five distinct read statements on a database seeded with at
// least 2 users.
func readRound(t *testing.T, db *sqlite.Adapter, i int) {
	t.Helper()
	ctx := context.Background()
	tok := fmt.Sprint("t", i%2)
	if s, err := db.FindOne(ctx, "session", storage.W("token", tok)); err != nil || s.String("token") != tok {
		t.Fatalf("FindOne by token: %v, %v", s, err)
	}
	if u, err := db.FindOne(ctx, "user", storage.W("id", fmt.Sprint("u", i%2))); err != nil || u.String("id") != fmt.Sprint("u", i%2) {
		t.Fatalf("FindOne by id: %v, %v", u, err)
	}
	if s, u, err := db.FindOneJoined(ctx, "session", "userId", storage.W("token", tok)); err != nil || u.String("id") != s.String("userId") {
		t.Fatalf("FindOneJoined: %v, %v, %v", s, u, err)
	}
	if n, err := db.Count(ctx, "session"); err != nil || n < 2 {
		t.Fatalf("Count: %d, %v", n, err)
	}
	if recs, err := db.FindMany(ctx, "user", storage.Query{Sort: []storage.Sort{{Field: "email", Desc: true}}, Limit: 2}); err != nil || len(recs) != 2 {
		t.Fatalf("FindMany: %d, %v", len(recs), err)
	}
}

// writeRound runs three distinct write statements.
func writeRound(t *testing.T, db *sqlite.Adapter, i int) {
	t.Helper()
	ctx := context.Background()
	id := fmt.Sprint("w", i)
	if err := db.Create(ctx, "session", storage.Record{"id": id, "userId": "u0", "token": id,
		"expiresAt": time.Now()}); err != nil {
		t.Fatal(err)
	}
	if n, err := db.Update(ctx, "session", storage.Record{"expiresAt": time.Now().Add(time.Minute)}, storage.W("token", id)); err != nil || n != 1 {
		t.Fatalf("Update: %d, %v", n, err)
	}
	if n, err := db.Delete(ctx, "session", storage.W("id", id)); err != nil || n != 1 {
		t.Fatalf("Delete: %d, %v", n, err)
	}
}

// TestStmtCacheReuse checks that each distinct statement is prepared once:
// after repeated calls the caches hold exactly the distinct statements.
func TestStmtCacheReuse(t *testing.T) {
	for _, path := range []string{"file", sqlite.MemoryPath} {
		t.Run(path, func(t *testing.T) {
			if path == "file" {
				path = filepath.Join(t.TempDir(), "cache.db")
			}
			db := migrated(t, path, testSchema())
			seedUsers(t, db, 10)
			for i := range 20 {
				readRound(t, db, i)
				writeRound(t, db, i)
			}
			r, w := sqlite.CacheSizes(db)
			// Writes: the Creates of seedUsers (user, and session, which
			// writeRound creates with the same fields), writeRound's
			// Update and Delete. Reads: readRound's 5.
			wantR, wantW := 5, 4
			if path == sqlite.MemoryPath { // one connection, one cache
				wantR, wantW = 0, 9
			}
			if r != wantR || w != wantW {
				t.Fatalf("cached statements: read %d, write %d; want %d, %d", r, w, wantR, wantW)
			}

			// Short In lists are cached (one statement per length), long
			// ones are not.
			ctx := context.Background()
			for i := range 5 {
				short := []string{fmt.Sprint("u", i), fmt.Sprint("u", i+1), "nobody"}
				if recs, err := db.FindMany(ctx, "user", storage.Query{Where: []storage.Where{{Field: "id", Op: storage.In, Value: short}}}); err != nil || len(recs) != 2 {
					t.Fatalf("In short list: %d, %v", len(recs), err)
				}
				long := make([]any, sqlite.MaxCachedListLen+1+i)
				for j := range long {
					long[j] = fmt.Sprint("u", j)
				}
				if n, err := db.Count(ctx, "user", storage.Where{Field: "id", Op: storage.In, Value: long}); err != nil || n != int64(min(len(long), 10)) {
					t.Fatalf("In long list: %d, %v", n, err)
				}
			}
			r2, w2 := sqlite.CacheSizes(db)
			if r2+w2 != r+w+1 {
				t.Errorf("after In queries: %d statements cached, want %d", r2+w2, r+w+1)
			}
		})
	}
}

// TestStmtCacheBounded checks that a full cache stops growing and that the
// statements left out still run.
func TestStmtCacheBounded(t *testing.T) {
	ctx := context.Background()
	db := migrated(t, filepath.Join(t.TempDir(), "bounded.db"), testSchema())
	seedUsers(t, db, 10)
	sqlite.SetCacheLimit(db, 3)
	fields := []string{"id", "email", "name", "createdAt", "emailVerified"}
	for round := range 3 {
		for _, f := range fields {
			for _, desc := range []bool{false, true} {
				recs, err := db.FindMany(ctx, "user", storage.Query{Sort: []storage.Sort{{Field: f, Desc: desc}}, Limit: 4})
				if err != nil || len(recs) != 4 {
					t.Fatalf("round %d, sort by %s: %d, %v", round, f, len(recs), err)
				}
			}
		}
		writeRound(t, db, round)
		if r, w := sqlite.CacheSizes(db); r > 3 || w > 3 {
			t.Fatalf("cached statements: read %d, write %d; limit 3", r, w)
		}
	}
}

// TestStmtCacheTx checks that statements first run in a transaction are
// cached on the write connection when it ends, and that transactions then
// use them.
func TestStmtCacheTx(t *testing.T) {
	ctx := context.Background()
	db := migrated(t, filepath.Join(t.TempDir(), "tx.db"), testSchema())
	seedUsers(t, db, 3)
	_, w0 := sqlite.CacheSizes(db)
	run := func(i int) {
		t.Helper()
		err := db.Tx(ctx, func(tx storage.Adapter) error {
			s, err := tx.FindOne(ctx, "session", storage.W("token", fmt.Sprint("t", i%3)))
			if err != nil {
				return err
			}
			if _, err := tx.Update(ctx, "user", storage.Record{"name": fmt.Sprint("n", i)}, storage.W("id", s.String("userId"))); err != nil {
				return err
			}
			// The same statements again in the transaction, and in a
			// savepoint.
			return tx.Tx(ctx, func(tx storage.Adapter) error {
				u, err := tx.FindOne(ctx, "session", storage.W("token", fmt.Sprint("t", i%3)))
				if err != nil {
					return err
				}
				_, err = tx.Update(ctx, "user", storage.Record{"name": fmt.Sprint("m", i)}, storage.W("id", u.String("userId")))
				return err
			})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	run(0)
	_, w1 := sqlite.CacheSizes(db)
	if w1 != w0+2 {
		t.Fatalf("write cache after a transaction: %d statements, want %d", w1, w0+2)
	}
	for i := 1; i < 10; i++ {
		run(i)
	}
	if _, w := sqlite.CacheSizes(db); w != w1 {
		t.Fatalf("write cache after more transactions: %d statements, want %d", w, w1)
	}
	if u, err := db.FindOne(ctx, "user", storage.W("id", "u0")); err != nil || u.String("name") != "m9" {
		t.Fatalf("user after transactions: %v, %v", u, err)
	}
	// A failing statement in a transaction does not spoil its cached
	// statement for the next call.
	err := db.Tx(ctx, func(tx storage.Adapter) error {
		for i := range 3 {
			err := tx.Create(ctx, "session", storage.Record{"id": "dup", "userId": "u0", "token": fmt.Sprint("x", i), "expiresAt": time.Now()})
			if i > 0 && !errors.Is(err, storage.ErrConflict) {
				return fmt.Errorf("duplicate %d: %v", i, err)
			} else if i == 0 && err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestStmtCacheConcurrent runs reads, writes and transactions from many
// goroutines (run with -race).
func TestStmtCacheConcurrent(t *testing.T) {
	for _, path := range []string{"file", sqlite.MemoryPath} {
		t.Run(path, func(t *testing.T) {
			if path == "file" {
				path = filepath.Join(t.TempDir(), "concurrent.db")
			}
			ctx := context.Background()
			db := migrated(t, path, testSchema())
			seedUsers(t, db, 10)
			var wg sync.WaitGroup
			errs := make(chan error, 64)
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 40 {
						tok := fmt.Sprint("t", (g+i)%10)
						s, u, err := db.FindOneJoined(ctx, "session", "userId", storage.W("token", tok))
						if err == nil && (s.String("token") != tok || u.String("id") != s.String("userId")) {
							err = fmt.Errorf("joined lookup of %s: %v, %v", tok, s, u)
						}
						if err == nil {
							_, err = db.FindOne(ctx, "user", storage.W("email", u.String("email")))
						}
						if err == nil {
							id := fmt.Sprintf("g%d-%d", g, i)
							err = db.Tx(ctx, func(tx storage.Adapter) error {
								if _, err := tx.FindOne(ctx, "user", storage.W("id", "u1")); err != nil {
									return err
								}
								if err := tx.Create(ctx, "session", storage.Record{"id": id, "userId": "u1", "token": id, "expiresAt": time.Now()}); err != nil {
									return err
								}
								_, err := tx.Update(ctx, "user", storage.Record{"name": id}, storage.W("id", "u1"))
								return err
							})
						}
						if err == nil && i%4 == 0 {
							_, err = db.Delete(ctx, "session", storage.W("userId", "u1"), storage.Where{Field: "token", Op: storage.StartsWith, Value: fmt.Sprint("g", g, "-")})
						}
						if err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			r, w := sqlite.CacheSizes(db)
			if r+w > 12 {
				t.Errorf("cached statements: read %d, write %d; want at most 12 in all", r, w)
			}
		})
	}
}

// TestStmtCacheSurvivesMigration checks that statements cached before a
// migration (by this adapter or another process) still run after it: SQLite
// prepares them again when the schema changed.
func TestStmtCacheSurvivesMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "migrate.db")
	db := migrated(t, path, testSchema())
	seedUsers(t, db, 2)
	readRound(t, db, 0)
	writeRound(t, db, 0)
	r0, w0 := sqlite.CacheSizes(db)

	// Another process adds columns to users and sessions' user table.
	other := migrated(t, path, upgradedSchema())
	if _, err := other.Update(ctx, "user", storage.Record{"role": "admin"}, storage.W("id", "u1")); err != nil {
		t.Fatal(err)
	}
	readRound(t, db, 1)
	writeRound(t, db, 1)

	// This adapter migrates a new table and index; its cached statements
	// for the old binding still run.
	s := testSchema()
	s.Tables = append(s.Tables, storage.Table{Name: "note", Fields: []storage.Field{
		{Name: "userId", Type: storage.String, Required: true, Index: true,
			References: &storage.Reference{Table: "user", Field: "id", OnDelete: storage.Cascade}},
	}})
	if err := db.Migrate(ctx, s); err != nil {
		t.Fatal(err)
	}
	readRound(t, db, 2)
	writeRound(t, db, 2)
	if r, w := sqlite.CacheSizes(db); r != r0 || w != w0 {
		t.Errorf("cached statements after migrations: read %d, write %d; want %d, %d", r, w, r0, w0)
	}

	// Binding the upgraded schema reads the new columns.
	if err := db.Bind(upgradedSchema()); err != nil {
		t.Fatal(err)
	}
	u, err := db.FindOne(ctx, "user", storage.W("id", "u1"))
	if err != nil || u.String("role") != "admin" {
		t.Fatalf("user after upgrade: %v, %v", u, err)
	}
}

// TestCloseWhileReading closes the adapter while goroutines read through
// cached statements: every failure must be storage.ErrUnavailable.
func TestCloseWhileReading(t *testing.T) {
	ctx := context.Background()
	db := migrated(t, filepath.Join(t.TempDir(), "close.db"), testSchema())
	seedUsers(t, db, 10)
	readRound(t, db, 0)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	started := make(chan struct{}, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				_, _, err := db.FindOneJoined(ctx, "session", "userId", storage.W("token", fmt.Sprint("t", (g+i)%10)))
				if i == 0 {
					started <- struct{}{}
				}
				if err != nil {
					if !errors.Is(err, storage.ErrUnavailable) {
						errs <- err
					}
					return
				}
			}
		}()
	}
	for range 4 {
		<-started
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("read during Close: %v, want ErrUnavailable", err)
	}
	if _, err := db.FindOne(ctx, "user", storage.W("id", "u1")); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("FindOne after Close: %v, want ErrUnavailable", err)
	}
	if err := db.Create(ctx, "user", storage.Record{"id": "x", "email": "x", "emailVerified": false, "createdAt": time.Now()}); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Create after Close: %v, want ErrUnavailable", err)
	}
}

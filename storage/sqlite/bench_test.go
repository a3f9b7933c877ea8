package sqlite_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/sqlite"
)

// benchRows is how many users (each with one session) the benchmarks'
// database holds.
const benchRows = 1000

// benchDB opens a migrated file database (WAL, as the server runs it) holding
// benchRows users with one session each: user u<i>, session s<i> with token
// t<i>.
func benchDB(b *testing.B) *sqlite.Adapter {
	b.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(b.TempDir(), "bench.db"),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	s := testSchema()
	if err := db.Bind(s); err != nil {
		b.Fatal(err)
	}
	if err := db.Migrate(ctx, s); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	err = db.Tx(ctx, func(tx storage.Adapter) error {
		for i := range benchRows {
			if err := tx.Create(ctx, "user", storage.Record{"id": fmt.Sprint("u", i), "email": fmt.Sprint("u", i, "@example.com"),
				"emailVerified": true, "name": "User", "createdAt": now}); err != nil {
				return err
			}
			if err := tx.Create(ctx, "session", storage.Record{"id": fmt.Sprint("s", i), "userId": fmt.Sprint("u", i),
				"token": fmt.Sprint("t", i), "expiresAt": now.Add(time.Hour)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return db
}

// benchTokens are the session tokens the lookups cycle through.
func benchTokens() []string {
	tokens := make([]string, benchRows)
	for i := range tokens {
		tokens[i] = fmt.Sprint("t", i)
	}
	return tokens
}

// BenchmarkFindOne looks a session up by its unique token, on the read pool.
func BenchmarkFindOne(b *testing.B) {
	ctx := context.Background()
	db := benchDB(b)
	tokens := benchTokens()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := db.FindOne(ctx, "session", storage.W("token", tokens[i%benchRows])); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFindOneJoined is the server's session lookup: the session by token
// joined with its user in one statement.
func BenchmarkFindOneJoined(b *testing.B) {
	ctx := context.Background()
	db := benchDB(b)
	tokens := benchTokens()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := db.FindOneJoined(ctx, "session", "userId", storage.W("token", tokens[i%benchRows])); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFindOneJoinedParallel is BenchmarkFindOneJoined from several
// goroutines at once, as concurrent requests run it.
func BenchmarkFindOneJoinedParallel(b *testing.B) {
	ctx := context.Background()
	db := benchDB(b)
	tokens := benchTokens()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, _, err := db.FindOneJoined(ctx, "session", "userId", storage.W("token", tokens[i%benchRows])); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkFindMany reads the first ten sessions by token.
func BenchmarkFindMany(b *testing.B) {
	ctx := context.Background()
	db := benchDB(b)
	q := storage.Query{Sort: []storage.Sort{{Field: "token"}}, Limit: 10}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if recs, err := db.FindMany(ctx, "session", q); err != nil || len(recs) != 10 {
			b.Fatal(len(recs), err)
		}
	}
}

// BenchmarkCreate inserts a user on the write connection.
func BenchmarkCreate(b *testing.B) {
	ctx := context.Background()
	db := benchDB(b)
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := "n" + strconv.Itoa(i)
		if err := db.Create(ctx, "user", storage.Record{"id": id, "email": id + "@example.com",
			"emailVerified": false, "name": "New", "createdAt": now}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCount counts a user's sessions on the read pool.
func BenchmarkCount(b *testing.B) {
	ctx := context.Background()
	db := benchDB(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if n, err := db.Count(ctx, "session", storage.W("userId", "u1")); err != nil || n != 1 {
			b.Fatal(n, err)
		}
	}
}

// BenchmarkUpdate updates a session's expiry by token on the write
// connection (a session refresh).
func BenchmarkUpdate(b *testing.B) {
	ctx := context.Background()
	db := benchDB(b)
	tokens := benchTokens()
	exp := time.Now().Add(2 * time.Hour)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := db.Update(ctx, "session", storage.Record{"expiresAt": exp}, storage.W("token", tokens[i%benchRows])); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTxFindUpdate reads and updates a session in one transaction.
func BenchmarkTxFindUpdate(b *testing.B) {
	ctx := context.Background()
	db := benchDB(b)
	tokens := benchTokens()
	exp := time.Now().Add(2 * time.Hour)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		err := db.Tx(ctx, func(tx storage.Adapter) error {
			rec, err := tx.FindOne(ctx, "session", storage.W("token", tokens[i%benchRows]))
			if err != nil {
				return err
			}
			_, err = tx.Update(ctx, "session", storage.Record{"expiresAt": exp}, storage.W("id", rec.String("id")))
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

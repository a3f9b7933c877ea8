package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/managarten/mana-auth/internal/testpg"
	"github.com/managarten/mana-auth/internal/testproc"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/postgres"
	"github.com/managarten/mana-auth/storage/storagetest"
)

// open returns an adapter over a fresh, empty schema.
func open(t *testing.T, opts postgres.Options) *postgres.Adapter {
	t.Helper()
	if opts.Schema == "" {
		opts.Schema = testpg.SchemaName(t, "st_")
	}
	opts.URL = testpg.URL()
	if opts.MaxConns == 0 {
		opts.MaxConns = 4
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	db, err := postgres.Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() }) // runs before the schema is dropped
	return db
}

// MapError maps the server's refusal of a string (invalid UTF-8, a NUL)
// to storage.ErrInvalidValue, for code that runs its own statements.
func TestMapErrorInvalidValue(t *testing.T) {
	testpg.Require(t)
	ctx := context.Background()
	conn := testpg.Conn(t)
	for _, v := range []string{"\xc3(", "a\x00b", "\xed\xa0\x80"} {
		_, err := conn.Exec(ctx, "SELECT $1::text", v)
		if got := postgres.MapError(ctx, err); !errors.Is(got, storage.ErrInvalidValue) {
			t.Errorf("MapError(the error for %q) = %v, want ErrInvalidValue", v, got)
		}
	}
}

func TestConformance(t *testing.T) {
	testpg.Require(t)
	storagetest.Run(t, func(t *testing.T) storage.Adapter {
		return open(t, postgres.Options{})
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
			Name: "user",
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

// upgradedSchema adds fields to "user" (as a plugin would) and a check.
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
		Checks: []storage.Check{{Name: "user_name_short", Expr: `length("name") < 10`,
			Func: func(r storage.Record) bool { return len(r.String("name")) < 10 }}},
	}}}); err != nil {
		panic(err)
	}
	return s
}

func migrated(t *testing.T, opts postgres.Options, s storage.Schema) *postgres.Adapter {
	t.Helper()
	db := open(t, opts)
	if err := db.Bind(s); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return db
}

func newUser(id string) storage.Record {
	return storage.Record{"id": id, "email": id + "@example.com", "emailVerified": false,
		"createdAt": time.Date(2024, 1, 2, 3, 4, 5, 6_000_000, time.UTC)}
}

func TestPlanMigrationFreshDatabase(t *testing.T) {
	ctx := context.Background()
	db := open(t, postgres.Options{})
	sch := db.SchemaName()
	plan, err := db.PlanMigration(ctx, testSchema())
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(plan, ";\n")
	q := func(table string) string { return `"` + sch + `"."` + table + `"` }
	for _, want := range []string{
		`CREATE SCHEMA IF NOT EXISTS "` + sch + `"`,
		`CREATE TABLE IF NOT EXISTS ` + q("mana_migrations"),
		`CREATE TABLE IF NOT EXISTS ` + q("user"),
		`CREATE TABLE IF NOT EXISTS ` + q("session"),
		`"userId" text NOT NULL REFERENCES ` + q("user") + ` ("id") ON DELETE CASCADE`,
		`"emailVerified" boolean NOT NULL`,
		`"createdAt" timestamptz NOT NULL`,
		`"token" text NOT NULL UNIQUE`,
		`CONSTRAINT "user_email_not_empty" CHECK ("email" <> '')`,
		`CREATE INDEX IF NOT EXISTS "session_userId_idx" ON ` + q("session") + ` ("userId")`,
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("plan lacks %q:\n%s", want, joined)
		}
	}
	if u, s := strings.Index(joined, q("user")+" ("), strings.Index(joined, q("session")+" ("); u > s {
		t.Errorf("referenced table user must be created before session:\n%s", joined)
	}
	var exists bool
	if err := testpg.Conn(t).QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, sch).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Error("PlanMigration created the schema")
	}
}

func TestMigrateIdempotent(t *testing.T) {
	ctx := context.Background()
	db := migrated(t, postgres.Options{}, testSchema())
	if plan, err := db.PlanMigration(ctx, testSchema()); err != nil || len(plan) != 0 {
		t.Fatalf("plan on an up-to-date database: %q, %v", plan, err)
	}
	conn := testpg.Conn(t)
	table := `"` + db.SchemaName() + `"."mana_migrations"`
	var before, after int
	if err := conn.QueryRow(ctx, `SELECT COUNT(*) FROM `+table).Scan(&before); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx, testSchema()); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if err := conn.QueryRow(ctx, `SELECT COUNT(*) FROM `+table).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if before != after {
		t.Errorf("second Migrate recorded steps: %d rows before, %d after", before, after)
	}
	var version int
	if err := conn.QueryRow(ctx, `SELECT MAX(version) FROM `+table).Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version != postgres.SchemaVersion {
		t.Errorf("recorded version %d, want %d", version, postgres.SchemaVersion)
	}
}

// TestConcurrentMigrate starts several instances on one fresh schema at
// once: the advisory lock makes them take turns.
func TestConcurrentMigrate(t *testing.T) {
	ctx := context.Background()
	sch := testpg.SchemaName(t, "st_")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		db := open(t, postgres.Options{Schema: sch})
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.Migrate(ctx, testSchema())
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: %v", i, err)
		}
	}
}

func TestMigrateUpgrade(t *testing.T) {
	ctx := context.Background()
	sch := testpg.SchemaName(t, "st_")
	db := migrated(t, postgres.Options{Schema: sch}, testSchema())
	u1 := newUser("u1")
	u1["name"] = "a long name"
	if err := db.Create(ctx, "user", u1); err != nil {
		t.Fatal(err)
	}
	if err := db.Create(ctx, "session", storage.Record{"id": "s1", "userId": "u1", "token": "t1",
		"expiresAt": time.Now()}); err != nil {
		t.Fatal(err)
	}

	var logs testproc.Buffer
	db2 := open(t, postgres.Options{Schema: sch, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	up := upgradedSchema()
	plan, err := db2.PlanMigration(ctx, up)
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(plan, "\n")
	tbl := `"` + sch + `"."user"`
	for _, want := range []string{
		`ALTER TABLE ` + tbl + ` ADD COLUMN IF NOT EXISTS "twoFactorEnabled" boolean`,
		`ALTER TABLE ` + tbl + ` ADD COLUMN IF NOT EXISTS "role" text`,
		`ALTER TABLE ` + tbl + ` ADD COLUMN IF NOT EXISTS "loginCount" bigint`,
		`CREATE UNIQUE INDEX IF NOT EXISTS "user_username_uidx" ON ` + tbl + ` ("username")`,
		`CREATE INDEX IF NOT EXISTS "user_role_idx" ON ` + tbl + ` ("role")`,
		`ALTER TABLE ` + tbl + ` ADD CONSTRAINT "user_name_short" CHECK (length("name") < 10)`,
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("plan lacks %q:\n%s", want, joined)
		}
	}
	if strings.Contains(joined, `"role" text NOT NULL`) {
		t.Errorf("required column added NOT NULL to a table with rows:\n%s", joined)
	}
	if err := db2.Bind(up); err != nil {
		t.Fatal(err)
	}
	if err := db2.Migrate(ctx, up); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"role", "nullable", "user_name_short", "NOT VALID"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	got, err := db2.FindOne(ctx, "user", storage.W("id", "u1"))
	if err != nil {
		t.Fatal(err)
	}
	want := storage.Record{"id": "u1", "email": "u1@example.com", "emailVerified": false, "name": "a long name",
		"createdAt": u1["createdAt"], "twoFactorEnabled": nil, "username": nil, "role": nil, "loginCount": nil}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after upgrade:\n got %v\nwant %v", got, want)
	}
	// The NOT VALID check still guards new rows; the adapter enforces the
	// required field the database could not.
	u2 := newUser("u2")
	u2["role"] = "user"
	u2["name"] = "another long name"
	if err := db2.Create(ctx, "user", u2); !errors.Is(err, storage.ErrConstraint) {
		t.Errorf("create violating the new check: %v, want ErrConstraint", err)
	}
	delete(u2, "name")
	delete(u2, "role")
	if err := db2.Create(ctx, "user", u2); !errors.Is(err, storage.ErrConstraint) {
		t.Errorf("create without the new required field: %v, want ErrConstraint", err)
	}
	if plan, err := db2.PlanMigration(ctx, up); err != nil || len(plan) != 0 {
		t.Errorf("plan after upgrade: %q, %v", plan, err)
	}

	// On an empty table a required column is added NOT NULL.
	empty := upgradedSchema()
	empty.Tables[0].Fields = append(empty.Tables[0].Fields, storage.Field{Name: "ip", Type: storage.String, Required: true})
	if _, err := db2.Delete(ctx, "session"); err != nil {
		t.Fatal(err)
	}
	plan, err = db2.PlanMigration(ctx, empty)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan) != 1 || !strings.Contains(plan[0], `"ip" text NOT NULL`) {
		t.Errorf("plan for a required column on an empty table: %q", plan)
	}
}

func TestSchemaTooNew(t *testing.T) {
	ctx := context.Background()
	sch := testpg.SchemaName(t, "st_")
	db := migrated(t, postgres.Options{Schema: sch}, testSchema())
	if _, err := testpg.Conn(t).Exec(ctx, `INSERT INTO "`+sch+`"."mana_migrations" (id, version, description, sql)
VALUES ('schema_version:999', 999, 'from the future', '')`); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx, testSchema()); !errors.Is(err, postgres.ErrSchemaTooNew) {
		t.Errorf("Migrate: %v, want ErrSchemaTooNew", err)
	}
	if _, err := db.PlanMigration(ctx, testSchema()); !errors.Is(err, postgres.ErrSchemaTooNew) {
		t.Errorf("PlanMigration: %v, want ErrSchemaTooNew", err)
	}
	_, err := postgres.Open(ctx, postgres.Options{URL: testpg.URL(), Schema: sch})
	if !errors.Is(err, postgres.ErrSchemaTooNew) {
		t.Errorf("Open: %v, want ErrSchemaTooNew", err)
	} else if !strings.Contains(err.Error(), "999") {
		t.Errorf("error does not name the version: %v", err)
	}
}

func TestSchemaOption(t *testing.T) {
	ctx := context.Background()
	db := migrated(t, postgres.Options{}, testSchema())
	if err := db.Create(ctx, "user", newUser("u1")); err != nil {
		t.Fatal(err)
	}
	rows, err := testpg.Conn(t).Query(ctx, `SELECT table_name, column_name, data_type FROM information_schema.columns
WHERE table_schema = $1 AND table_name = 'user' ORDER BY ordinal_position`, db.SchemaName())
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for rows.Next() {
		var table, col, typ string
		if err := rows.Scan(&table, &col, &typ); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, col+" "+typ)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := "id text, email text, emailVerified boolean, name text, createdAt timestamp with time zone"
	if got := strings.Join(cols, ", "); got != want {
		t.Errorf("columns of %s.user:\n got %s\nwant %s", db.SchemaName(), got, want)
	}
	var n int
	if err := testpg.Conn(t).QueryRow(ctx, `SELECT COUNT(*) FROM "`+db.SchemaName()+`"."user"`).Scan(&n); err != nil || n != 1 {
		t.Errorf("rows in %s.user: %d, %v", db.SchemaName(), n, err)
	}
	// Another schema in the same database is independent.
	other := migrated(t, postgres.Options{}, testSchema())
	if c, err := other.Count(ctx, "user"); err != nil || c != 0 {
		t.Errorf("other schema sees %d users, %v", c, err)
	}

	if _, err := postgres.New(nil, postgres.Options{}); err == nil {
		t.Error("New with a nil pool succeeded")
	}
	if _, err := postgres.Open(ctx, postgres.Options{URL: testpg.URL(), Schema: `bad"name`}); err == nil {
		t.Error("Open with an invalid schema name succeeded")
	}
}

func TestContextCancellation(t *testing.T) {
	db := migrated(t, postgres.Options{}, testSchema())
	ctx := context.Background()
	if err := db.Create(ctx, "user", newUser("u1")); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := db.FindOne(cancelled, "user", storage.W("id", "u1")); !errors.Is(err, context.Canceled) {
		t.Errorf("FindOne with a cancelled context: %v", err)
	}
	if err := db.Tx(cancelled, func(storage.Adapter) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Tx with a cancelled context: %v", err)
	}

	// A statement blocked on a row lock gives up when its deadline passes.
	locked := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- db.Tx(ctx, func(tx storage.Adapter) error {
			if _, err := tx.Update(ctx, "user", storage.Record{"name": "holder"}, storage.W("id", "u1")); err != nil {
				return err
			}
			close(locked)
			<-release
			return nil
		})
	}()
	<-locked
	short, cancel2 := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel2()
	start := time.Now()
	_, err := db.Update(short, "user", storage.Record{"name": "waiter"}, storage.W("id", "u1"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Update blocked by a lock: %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Update took %v to give up", d)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rec, err := db.FindOne(ctx, "user", storage.W("id", "u1"))
	if err != nil || rec.String("name") != "holder" {
		t.Errorf("after the lock holder committed: %v, %v", rec, err)
	}
	if err := db.Ping(ctx); err != nil {
		t.Errorf("Ping after cancellations: %v", err)
	}
}

// TestTxSurvivesFailedStatement: as in SQLite, a failed write inside a
// transaction does not abort the transaction.
func TestTxSurvivesFailedStatement(t *testing.T) {
	ctx := context.Background()
	db := migrated(t, postgres.Options{}, testSchema())
	err := db.Tx(ctx, func(tx storage.Adapter) error {
		if err := tx.Create(ctx, "user", newUser("u1")); err != nil {
			return err
		}
		if err := tx.Create(ctx, "user", newUser("u1")); !errors.Is(err, storage.ErrConflict) {
			return fmt.Errorf("duplicate: %v", err)
		}
		if err := tx.Create(ctx, "session", storage.Record{"id": "s", "userId": "nobody", "token": "t", "expiresAt": time.Now()}); !errors.Is(err, storage.ErrConstraint) {
			return fmt.Errorf("dangling reference: %v", err)
		}
		return tx.Create(ctx, "user", newUser("u2"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := db.Count(ctx, "user"); err != nil || n != 2 {
		t.Errorf("users after commit: %d, %v; want 2", n, err)
	}
}

// TestNestedTxSavepoint checks that a failing nested Tx undoes only its own
// writes when the outer function carries on.
func TestNestedTxSavepoint(t *testing.T) {
	ctx := context.Background()
	db := migrated(t, postgres.Options{}, testSchema())
	boom := errors.New("boom")
	err := db.Tx(ctx, func(tx storage.Adapter) error {
		if err := tx.Create(ctx, "user", newUser("outer")); err != nil {
			return err
		}
		err := tx.Tx(ctx, func(tx2 storage.Adapter) error {
			if err := tx2.Create(ctx, "user", newUser("inner")); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			return fmt.Errorf("nested Tx: %v", err)
		}
		return tx.Tx(ctx, func(tx2 storage.Adapter) error { return tx2.Create(ctx, "user", newUser("inner2")) })
	})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := db.FindMany(ctx, "user", storage.Query{Sort: []storage.Sort{{Field: "id"}}})
	if err != nil || len(recs) != 2 || recs[0].String("id") != "inner2" || recs[1].String("id") != "outer" {
		t.Errorf("after commit: %v, %v; want inner2 and outer", recs, err)
	}
}

func TestNewWithCallersPool(t *testing.T) {
	ctx := context.Background()
	sch := testpg.SchemaName(t, "st_")
	pool, err := pgxpool.New(ctx, testpg.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	db, err := postgres.New(pool, postgres.Options{Schema: sch})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Bind(testSchema()); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx, testSchema()); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := pool.Ping(ctx); err != nil {
		t.Errorf("Close closed the caller's pool: %v", err)
	}
	if db.Pool() != pool {
		t.Error("Pool() is not the caller's pool")
	}
}

func TestUnavailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := postgres.Open(ctx, postgres.Options{URL: "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2"})
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Open of a closed port: %v, want ErrUnavailable", err)
	}
	testpg.Require(t)
	db := open(t, postgres.Options{})
	if err := db.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	if err := db.Ping(ctx); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Ping after Close: %v, want ErrUnavailable", err)
	}
}

// TestBetterAuthTable reads and writes a table as Better Auth's own
// migration creates it (integer, timestamp without time zone).
func TestBetterAuthTable(t *testing.T) {
	ctx := context.Background()
	sch := testpg.SchemaName(t, "st_")
	conn := testpg.Conn(t)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA "`+sch+`"; CREATE TABLE "`+sch+`"."rateLimit" (
  "id" text NOT NULL PRIMARY KEY, "key" text NOT NULL UNIQUE, "count" integer NOT NULL,
  "lastRequest" timestamp NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	s := storage.Schema{Tables: []storage.Table{{Name: "rateLimit", Fields: []storage.Field{
		{Name: "key", Type: storage.String, Required: true, Unique: true},
		{Name: "count", Type: storage.Int, Required: true},
		{Name: "lastRequest", Type: storage.Date, Required: true},
	}}}}
	db := migrated(t, postgres.Options{Schema: sch}, s)
	when := time.Date(2024, 2, 3, 4, 5, 6, 789_000_000, time.UTC)
	if err := db.Create(ctx, "rateLimit", storage.Record{"id": "r1", "key": "k", "count": int64(3), "lastRequest": when}); err != nil {
		t.Fatal(err)
	}
	rec, err := db.FindOne(ctx, "rateLimit", storage.Where{Field: "lastRequest", Op: storage.Gte, Value: when},
		storage.Where{Field: "count", Op: storage.In, Value: []any{int64(3), 4}})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Int("count") != 3 || !rec.Time("lastRequest").Equal(when) || rec.Time("lastRequest").Location() != time.UTC {
		t.Errorf("read back %v", rec)
	}
	if plan, err := db.PlanMigration(ctx, s); err != nil || len(plan) != 0 {
		t.Errorf("plan for a Better Auth table: %q, %v", plan, err)
	}
}

// TestMigrateIsAtomic: a migration that fails part-way leaves nothing
// behind, not even the schema.
func TestMigrateIsAtomic(t *testing.T) {
	ctx := context.Background()
	db := open(t, postgres.Options{})
	bad := testSchema()
	bad.Tables[1].Checks = append(bad.Tables[1].Checks, storage.Check{Name: "broken", Expr: `"nosuchcolumn" > 0`})
	if err := db.Migrate(ctx, bad); err == nil {
		t.Fatal("Migrate with a broken CHECK succeeded")
	}
	var exists bool
	if err := testpg.Conn(t).QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, db.SchemaName()).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Error("failed migration left the schema behind")
	}
	if err := db.Migrate(ctx, testSchema()); err != nil {
		t.Fatalf("Migrate after a failed one: %v", err)
	}
}

func TestPatternsAreLiteral(t *testing.T) {
	ctx := context.Background()
	db := migrated(t, postgres.Options{}, testSchema())
	names := []string{"a!b", "a%b", "a_b", "axb", "A!B", `1\2`, "!!"}
	for i, n := range names {
		u := newUser(fmt.Sprint("u", i))
		u["name"] = n
		if err := db.Create(ctx, "user", u); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		op   storage.Op
		v    string
		want int64
	}{
		{storage.Contains, "!", 3}, {storage.Contains, "!!", 1}, {storage.Contains, "%", 1},
		{storage.Contains, "_", 1}, {storage.StartsWith, "a!", 1}, {storage.EndsWith, "!b", 1},
		{storage.Contains, `\`, 1}, {storage.Contains, "", 7}, {storage.StartsWith, "a", 4},
	} {
		n, err := db.Count(ctx, "user", storage.Where{Field: "name", Op: c.op, Value: c.v})
		if err != nil || n != c.want {
			t.Errorf("%s %q: %d, %v; want %d", c.op, c.v, n, err, c.want)
		}
	}
}

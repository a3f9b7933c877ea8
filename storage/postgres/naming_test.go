package postgres_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/internal/testpg"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/internal/sqlgolden"
	"github.com/managarten/mana-auth/storage/postgres"
	"github.com/managarten/mana-auth/storage/storagetest"
)

// enumType creates, in a schema of its own, an enum with the labels of
// storagetest.Kinds and returns its qualified name.
func enumType(t *testing.T) string {
	t.Helper()
	_, sch := testpg.Schema(t, "st_enum_")
	labels := make([]string, len(storagetest.Kinds))
	for i, k := range storagetest.Kinds {
		labels[i] = "'" + k + "'"
	}
	if _, err := testpg.Conn(t).Exec(context.Background(),
		`CREATE TYPE "`+sch+`".owner_kind AS ENUM (`+strings.Join(labels, ", ")+`)`); err != nil {
		t.Fatal(err)
	}
	return sch + ".owner_kind"
}

// TestConformanceNamed runs the suite with snake_case columns, plural
// table names and owner.kind in an enum column.
func TestConformanceNamed(t *testing.T) {
	testpg.Require(t)
	n := storagetest.Naming(enumType(t))
	storagetest.RunNamed(t, n, func(t *testing.T) storage.Adapter {
		return open(t, postgres.Options{})
	})
}

// TestGoldenNamedSQL pins the statements under a naming with an enum
// column: the new names everywhere, values written to the enum cast to
// it, the enum read and compared as text.
func TestGoldenNamedSQL(t *testing.T) {
	ctx := context.Background()
	tr := &tracer{}
	db, sch := tracedAdapter(t, tr, postgres.Options{Logger: slog.New(slog.DiscardHandler)})
	conn := testpg.Conn(t)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA "`+sch+`"; CREATE TYPE "`+sch+`".user_name AS ENUM ('`+
		strings.Join(sqlgolden.NameLabels, "', '")+`')`); err != nil {
		t.Fatal(err)
	}
	s := sqlgolden.Named(sqlgolden.Schema(), sch+".user_name")
	if err := db.Bind(s); err != nil {
		t.Fatal(err)
	}
	tr.take()
	if err := db.Migrate(ctx, s); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("-- migration\n")
	for _, q := range tr.take() {
		if !strings.HasPrefix(q, "SELECT") && !strings.HasPrefix(q, "INSERT") {
			b.WriteString(q + ";\n")
		}
	}
	b.WriteString(sqlgolden.Run(t, db, tr.take))
	sqlgolden.Check(t, "named", strings.ReplaceAll(b.String(), sch, "SCHEMA"))
	if problems, err := db.CheckSchema(ctx, s); err != nil || len(problems) > 0 {
		t.Errorf("CheckSchema = %v, %v; want no problem", problems, err)
	}
}

// TestNamedMigration: an upgrade under a naming adds the columns under
// their names (the enum one with its type) and renames the columns of a
// CHECK; an enum column whose type the naming leaves out is a problem for
// CheckSchema and a warning for Migrate.
func TestNamedMigration(t *testing.T) {
	ctx := context.Background()
	logger, logs := sqlgolden.Logger()
	db := open(t, postgres.Options{Logger: logger})
	sch := db.SchemaName()
	conn := testpg.Conn(t)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA "`+sch+`"; CREATE TYPE "`+sch+`".user_role AS ENUM ('user', 'admin')`); err != nil {
		t.Fatal(err)
	}
	base := sqlgolden.Named(sqlgolden.Schema(), "")
	if err := db.Migrate(ctx, base); err != nil {
		t.Fatal(err)
	}
	up := sqlgolden.Upgraded()
	n := sqlgolden.Naming(up, "")
	n.Types = map[string]map[string]string{"user": {"role": sch + ".user_role"}}
	if err := n.Apply(&up); err != nil {
		t.Fatal(err)
	}
	plan, err := db.PlanMigration(ctx, up)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.ReplaceAll(strings.Join(plan, ";\n"), sch, "SCHEMA")
	for _, want := range []string{
		`ALTER TABLE "SCHEMA"."users" ADD COLUMN IF NOT EXISTS "role" "SCHEMA"."user_role" NOT NULL`,
		`CREATE INDEX IF NOT EXISTS "users_role_idx" ON "SCHEMA"."users" ("role")`,
		`ALTER TABLE "SCHEMA"."users" ADD COLUMN IF NOT EXISTS "two_factor_enabled" boolean`,
		`ALTER TABLE "SCHEMA"."users" ADD CONSTRAINT "user_name_short" CHECK (length("name") < 100)`,
		`CREATE TABLE IF NOT EXISTS "SCHEMA"."notes" (`,
		`"session_id" text NOT NULL UNIQUE REFERENCES "SCHEMA"."sessions" ("id")`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("plan lacks %s:\n%s", want, got)
		}
	}
	if err := db.Migrate(ctx, up); err != nil {
		t.Fatal(err)
	}
	logs()
	var typ string
	if err := conn.QueryRow(ctx, `SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'role'`,
		`"`+sch+`"."users"`).Scan(&typ); err != nil || typ != sch+".user_role" {
		t.Errorf("users.role has type %q, %v; want %s.user_role", typ, err, sch)
	}
	if problems, err := db.CheckSchema(ctx, up); err != nil || len(problems) > 0 {
		t.Errorf("CheckSchema = %v, %v; want no problem", problems, err)
	}
	// A label of the enum is written, one outside it refused.
	if err := db.Bind(up); err != nil {
		t.Fatal(err)
	}
	user := func(id, role string) storage.Record {
		return storage.Record{"id": id, "email": id + "@example.com", "emailVerified": true, "age": int64(1),
			"createdAt": sqlgolden.When, "role": role}
	}
	if err := db.Create(ctx, "user", user("e1", "admin")); err != nil {
		t.Fatal(err)
	}
	if err := db.Create(ctx, "user", user("e2", "root")); !errors.Is(err, storage.ErrConstraint) {
		t.Errorf("Create with a role outside the enum = %v, want ErrConstraint", err)
	}
	if r, err := db.FindOne(ctx, "user", storage.W("role", "admin")); err != nil || r.String("id") != "e1" {
		t.Errorf("FindOne by role = %v, %v", r, err)
	}

	// The same schema without the type: reads work, but the column is
	// not text.
	untyped := sqlgolden.Upgraded()
	if err := sqlgolden.Naming(untyped, "").Apply(&untyped); err != nil {
		t.Fatal(err)
	}
	problems, err := db.CheckSchema(ctx, untyped)
	if err != nil {
		t.Fatal(err)
	}
	want := []storage.SchemaProblem{{Table: "user", Field: "role",
		Problem: `column "users"."role" has type ` + sch + `.user_role, expected text (for an enum, declare its type: storage.Naming.Types)`}}
	if diff := cmp.Diff(want, problems); diff != "" {
		t.Errorf("CheckSchema without the type (-want +got):\n%s", diff)
	}
	if err := db.Migrate(ctx, untyped); err != nil {
		t.Fatal(err)
	}
	if l := strings.Join(logs(), "\n"); !strings.Contains(l, `column users.role has type `+sch+`.user_role in the database, expected text`) {
		t.Errorf("Migrate without the type logged %q, want a type warning", l)
	}
}

// TestNamingMismatch: a migration under a naming that does not match the
// database (a table or column that exists under another of the names
// Better Auth could give it) is refused, naming each, and changes
// nothing; CheckSchema lists what is missing.
func TestNamingMismatch(t *testing.T) {
	ctx := context.Background()
	db := open(t, postgres.Options{})
	// The database as Better Auth's defaults lay it out.
	def := sqlgolden.Schema()
	def.Tables[1].DBName = "user"
	if err := db.Migrate(ctx, def); err != nil {
		t.Fatal(err)
	}
	before, err := db.PlanMigration(ctx, def)
	if err != nil || len(before) != 0 {
		t.Fatalf("plan = %q, %v", before, err)
	}
	named := sqlgolden.Named(sqlgolden.Schema(), "")
	for _, try := range []func() error{
		func() error { _, err := db.PlanMigration(ctx, named); return err },
		func() error { return db.Migrate(ctx, named) },
	} {
		err := try()
		if err == nil {
			t.Fatal("no error for a naming the database does not match")
		}
		for _, want := range []string{
			`table user ("users") is missing, but the database has "user"`,
			`table session ("sessions") is missing, but the database has "session"`,
			`table account ("accounts") is missing, but the database has "account"`,
		} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %s", err, want)
			}
		}
	}
	problems, err := db.CheckSchema(ctx, named)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 3 || problems[0].String() != `session: table "sessions" is missing` {
		t.Errorf("CheckSchema = %v, want the three tables missing", problems)
	}

	// Tables right, columns not: snake_case columns on a camelCase table.
	cols := sqlgolden.Schema()
	cols.Tables[1].DBName = "user"
	n := sqlgolden.Naming(cols, "")
	n.Plural, n.Tables = false, map[string]string{"user": "user"}
	if err := n.Apply(&cols); err != nil {
		t.Fatal(err)
	}
	err = db.Migrate(ctx, cols)
	for _, want := range []string{
		`column user.emailVerified ("user"."email_verified") is missing, but the table has "emailVerified"`,
		`column session.expiresAt ("session"."expires_at") is missing, but the table has "expiresAt"`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Migrate with snake_case columns: error %v does not say %s", err, want)
		}
	}
	if after, err := db.PlanMigration(ctx, def); err != nil || len(after) != 0 {
		t.Errorf("the refused migrations changed the database: plan %q, %v", after, err)
	}
}

package sqlite_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/internal/sqlgolden"
	"github.com/managarten/mana-auth/storage/sqlite"
	"github.com/managarten/mana-auth/storage/storagetest"
)

// TestConformanceNamed runs the suite with snake_case columns and plural
// table names; the enum type of owner.kind is ignored (SQLite has none).
func TestConformanceNamed(t *testing.T) {
	storagetest.RunNamed(t, storagetest.Naming("main.owner_kind"), func(t *testing.T) storage.Adapter {
		return openPath(t, filepath.Join(t.TempDir(), "test.db"), nil)
	})
}

// TestGoldenNamedSQL pins the statements under a naming: the new names
// everywhere; the database type given to user.name is ignored (no cast,
// a text column).
func TestGoldenNamedSQL(t *testing.T) {
	ctx := context.Background()
	db := openPath(t, sqlite.MemoryPath, nil)
	s := sqlgolden.Named(sqlgolden.Schema(), "main.user_name")
	plan, err := db.PlanMigration(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Bind(s); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx, s); err != nil {
		t.Fatal(err)
	}
	got := "-- migration\n" + strings.Join(plan, ";\n") + ";\n" + sqlgolden.Run(t, db, func() []string { return sqlite.TakeStatements(db) })
	sqlgolden.Check(t, "named", got)
	if problems, err := db.CheckSchema(ctx, s); err != nil || len(problems) > 0 {
		t.Errorf("CheckSchema = %v, %v; want no problem", problems, err)
	}
}

// TestNamingMismatch: a migration under a naming that does not match the
// database is refused, naming each table and column, and changes
// nothing; CheckSchema lists what is missing.
func TestNamingMismatch(t *testing.T) {
	ctx := context.Background()
	db := openPath(t, filepath.Join(t.TempDir(), "test.db"), nil)
	def := sqlgolden.Schema()
	def.Tables[1].DBName = "user"
	if err := db.Migrate(ctx, def); err != nil {
		t.Fatal(err)
	}
	named := sqlgolden.Named(sqlgolden.Schema(), "")
	err := db.Migrate(ctx, named)
	for _, want := range []string{
		`table user ("users") is missing, but the database has "user"`,
		`table session ("sessions") is missing, but the database has "session"`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Migrate: error %v does not say %s", err, want)
		}
	}
	problems, err := db.CheckSchema(ctx, named)
	if err != nil || len(problems) != 3 {
		t.Errorf("CheckSchema = %v, %v; want the three tables missing", problems, err)
	}
	cols := sqlgolden.Schema()
	cols.Tables[1].DBName = "user"
	n := sqlgolden.Naming(cols, "")
	n.Plural, n.Tables = false, map[string]string{"user": "USER"} // SQLite names ignore case
	if err := n.Apply(&cols); err != nil {
		t.Fatal(err)
	}
	err = db.Migrate(ctx, cols)
	if want := `column user.emailVerified ("USER"."email_verified") is missing, but the table has "emailVerified"`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Migrate with snake_case columns: error %v does not say %s", err, want)
	}
	problems, err = db.CheckSchema(ctx, cols)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) == 0 || problems[0].String() != `session.userId: column "session"."user_id" is missing` {
		t.Errorf("CheckSchema with snake_case columns = %v", problems)
	}
	if after, err := db.PlanMigration(ctx, def); err != nil || len(after) != 0 {
		t.Errorf("the refused migrations changed the database: plan %q, %v", after, err)
	}
}

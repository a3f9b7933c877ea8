package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/managarten/mana-auth/internal/testpg"
	"github.com/managarten/mana-auth/internal/testproc"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/postgres"
)

const (
	ownerSetting = "app.current_user_id"
	readAll      = "app.note_maintenance"
)

// rlsSchema has two tables under row-level security, with database names
// that differ from the logical ones: note (by its owner field, with a
// maintenance read) and account (by its id).
func rlsSchema() storage.Schema {
	return storage.Schema{Tables: []storage.Table{
		{
			Name: "note", DBName: "st_note",
			Fields: []storage.Field{
				{Name: "ownerId", Column: "owner_id", Type: storage.String, Required: true, Index: true},
				{Name: "body", Type: storage.String, Required: true},
			},
			RowSecurity: &storage.RowSecurity{Field: "ownerId", Setting: ownerSetting, ReadAllSetting: readAll},
		},
		{
			Name:        "account",
			Fields:      []storage.Field{{Name: "name", Type: storage.String}},
			RowSecurity: &storage.RowSecurity{Field: "id", Setting: ownerSetting},
		},
		{
			Name:   "open",
			Fields: []storage.Field{{Name: "name", Type: storage.String}},
		},
	}}
}

// Migrate enables and forces row-level security on the tables that
// declare it and creates their policies (PlanMigration lists the
// statements; a second run has nothing to do); an ordinary role then sees
// and writes only the rows of the party its ScopedTx names, or reads all
// of them with the maintenance setting; the owner of the tables is bound
// too (FORCE), and Migrate restores a FORCE someone removed.
func TestRowSecurity(t *testing.T) {
	t.Parallel()
	schema := testpg.SchemaName(t, "st_")
	ctx := t.Context()
	role := "st_rls_" + randHex(4)
	exec := func(stmts ...string) {
		t.Helper()
		conn := testpg.Conn(t)
		for _, s := range stmts {
			if _, err := conn.Exec(ctx, s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
	}
	exec(`CREATE ROLE ` + role + ` NOLOGIN NOSUPERUSER NOBYPASSRLS`)
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), testpg.URL())
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close(context.Background())
		for _, s := range []string{`DROP SCHEMA IF EXISTS "` + schema + `" CASCADE`, `DROP OWNED BY ` + role, `DROP ROLE ` + role} {
			if _, err := conn.Exec(context.Background(), s); err != nil {
				t.Errorf("%s: %v", s, err)
			}
		}
	})

	var logs testproc.Buffer
	db := open(t, postgres.Options{Schema: schema, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	s := rlsSchema()
	if err := db.Bind(s); err != nil {
		t.Fatal(err)
	}
	plan, err := db.PlanMigration(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	var rls []string
	for _, stmt := range plan {
		if strings.Contains(stmt, "ROW LEVEL SECURITY") || strings.Contains(stmt, "POLICY") {
			rls = append(rls, stmt)
		}
	}
	q := `"` + schema + `".`
	want := []string{
		`ALTER TABLE ` + q + `"st_note" ENABLE ROW LEVEL SECURITY`,
		`ALTER TABLE ` + q + `"st_note" FORCE ROW LEVEL SECURITY`,
		`CREATE POLICY "st_note_user_isolation" ON ` + q + `"st_note" USING ("owner_id" = current_setting('app.current_user_id', true)) WITH CHECK ("owner_id" = current_setting('app.current_user_id', true))`,
		`CREATE POLICY "st_note_maintenance_read" ON ` + q + `"st_note" FOR SELECT USING (current_setting('app.note_maintenance', true) = 'on')`,
		`ALTER TABLE ` + q + `"account" ENABLE ROW LEVEL SECURITY`,
		`ALTER TABLE ` + q + `"account" FORCE ROW LEVEL SECURITY`,
		`CREATE POLICY "account_user_isolation" ON ` + q + `"account" USING ("id" = current_setting('app.current_user_id', true)) WITH CHECK ("id" = current_setting('app.current_user_id', true))`,
	}
	if diff := cmp.Diff(want, rls); diff != "" {
		t.Errorf("row-level security statements of the plan (-want +got):\n%s", diff)
	}
	if plan[len(plan)-len(want)] != want[0] {
		t.Errorf("the row-level security statements do not come last: %q", plan)
	}
	for range 2 {
		if err := db.Migrate(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if plan, err := db.PlanMigration(ctx, s); err != nil || len(plan) != 0 {
		t.Fatalf("PlanMigration after Migrate = %q, %v; want nothing", plan, err)
	}
	// The test connects as a superuser: warned that the policies do not bind it.
	if !strings.Contains(logs.String(), "row-level security does not apply to this role") {
		t.Errorf("no warning for a superuser: %q", logs.String())
	}

	// The superuser bypasses the policies: it writes every party's rows.
	for _, r := range []struct{ table, id, owner string }{
		{"note", "a1", "a"}, {"note", "a2", "a"}, {"note", "b1", "b"},
	} {
		if err := db.Create(ctx, r.table, storage.Record{"id": r.id, "ownerId": r.owner, "body": "x"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"a", "b"} {
		if err := db.Create(ctx, "account", storage.Record{"id": id}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Create(ctx, "open", storage.Record{"id": "o"}); err != nil {
		t.Fatal(err)
	}
	exec(`GRANT USAGE ON SCHEMA "`+schema+`" TO `+role,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "`+schema+`" TO `+role)
	restricted := restrictedAdapter(t, schema, role, s)

	check := func(t *testing.T) {
		t.Helper()
		count := func(settings map[string]string, table string) int64 {
			t.Helper()
			var n int64
			err := storage.ScopedTx(ctx, restricted, settings, func(tx storage.Adapter) error {
				var err error
				n, err = tx.Count(ctx, table)
				return err
			})
			if err != nil {
				t.Fatalf("Count(%s) with %v: %v", table, settings, err)
			}
			return n
		}
		for _, tc := range []struct {
			name     string
			settings map[string]string
			table    string
			want     int64
		}{
			{"unscoped", nil, "note", 0},
			{"unscoped", nil, "account", 0},
			{"a", map[string]string{ownerSetting: "a"}, "note", 2},
			{"b", map[string]string{ownerSetting: "b"}, "note", 1},
			{"a", map[string]string{ownerSetting: "a"}, "account", 1},
			{"unknown party", map[string]string{ownerSetting: "c"}, "note", 0},
			{"maintenance", map[string]string{readAll: "on"}, "note", 3},
			{"maintenance", map[string]string{readAll: "on"}, "account", 0},
			{"maintenance off", map[string]string{readAll: "off"}, "note", 0},
			{"no row security", nil, "open", 1},
		} {
			if got := count(tc.settings, tc.table); got != tc.want {
				t.Errorf("%s: %s rows visible = %d, want %d", tc.name, tc.table, got, tc.want)
			}
		}
		// Scoped to a: an update without a where-clause reaches a's rows
		// only, and a row for b cannot be written.
		err := storage.ScopedTx(ctx, restricted, map[string]string{ownerSetting: "a"}, func(tx storage.Adapter) error {
			if n, err := tx.Update(ctx, "note", storage.Record{"body": "y"}); err != nil || n != 2 {
				t.Errorf("update scoped to a = %d, %v; want 2", n, err)
			}
			err := tx.Create(ctx, "note", storage.Record{"id": "x" + randHex(4), "ownerId": "b", "body": "x"})
			if err == nil || !strings.Contains(err.Error(), "row-level security") {
				t.Errorf("a row for b written in a transaction scoped to a: %v", err)
			}
			if n, err := tx.Update(ctx, "note", storage.Record{"ownerId": "b"}, storage.W("id", "a1")); err == nil {
				t.Errorf("a's row handed to b: %d", n)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// The maintenance setting reads every row and writes none.
		err = storage.ScopedTx(ctx, restricted, map[string]string{readAll: "on"}, func(tx storage.Adapter) error {
			if n, err := tx.Update(ctx, "note", storage.Record{"body": "z"}); err != nil || n != 0 {
				t.Errorf("update under the maintenance setting = %d, %v; want 0", n, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Run("ordinary role", check)

	// As the tables' owner, the policies apply only because of FORCE.
	exec(`ALTER TABLE "`+schema+`"."st_note" OWNER TO `+role, `ALTER TABLE "`+schema+`"."account" OWNER TO `+role)
	t.Run("owner with FORCE", check)
	exec(`ALTER TABLE "` + schema + `"."st_note" NO FORCE ROW LEVEL SECURITY`)
	if n, err := restricted.Count(ctx, "note"); err != nil || n != 3 {
		t.Fatalf("the owner without FORCE sees %d rows, %v; want all 3 (the test's premise)", n, err)
	}
	plan, err = db.PlanMigration(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{`ALTER TABLE ` + q + `"st_note" FORCE ROW LEVEL SECURITY`}, plan); diff != "" {
		t.Errorf("plan after NO FORCE (-want +got):\n%s", diff)
	}
	if err := db.Migrate(ctx, s); err != nil {
		t.Fatal(err)
	}
	if n, err := restricted.Count(ctx, "note"); err != nil || n != 0 {
		t.Errorf("Migrate did not restore FORCE: the owner sees %d rows, %v", n, err)
	}
}

// restrictedAdapter returns an adapter bound to s whose connections act as
// role (SET ROLE), which row-level security applies to.
func restrictedAdapter(t *testing.T, schema, role string, s storage.Schema) *postgres.Adapter {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(testpg.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 2
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, "SET ROLE "+role)
		return err
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	db, err := postgres.New(pool, postgres.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Bind(s); err != nil {
		t.Fatal(err)
	}
	return db
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

package vault

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/managarten/mana-auth/internal/testpg"
	"github.com/managarten/mana-auth/storage/postgres"
)

// countAs counts the vault rows visible to a transaction on pool with the
// given settings (name, value pairs).
func countAs(t *testing.T, pool *pgxpool.Pool, table string, settings ...string) int {
	t.Helper()
	var n int
	err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		for i := 0; i+1 < len(settings); i += 2 {
			if _, err := tx.Exec(context.Background(), "SELECT set_config($1, $2, true)", settings[i], settings[i+1]); err != nil {
				return err
			}
		}
		return tx.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n)
	})
	if err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func execAs(pool *pgxpool.Pool, sql string, settings ...string) (int64, error) {
	var n int64
	err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		for i := 0; i+1 < len(settings); i += 2 {
			if _, err := tx.Exec(context.Background(), "SELECT set_config($1, $2, true)", settings[i], settings[i+1]); err != nil {
				return err
			}
		}
		tag, err := tx.Exec(context.Background(), sql)
		n = tag.RowsAffected()
		return err
	})
	return n, err
}

// The vault's tables get row-level security from auth's Migrate (their
// storage.RowSecurity) and every vault transaction is scoped to its user
// (storage.ScopedTx), so an Auth connected as an ordinary role (which the
// policies bind) runs every vault operation, RewrapAll included, while a
// transaction for one user sees and writes no other user's rows.
func TestPostgresRLS(t *testing.T) {
	testpg.Require(t)
	ctx := context.Background()
	role := "vault_rls_" + randHex(4)
	pgExec(t, `CREATE ROLE `+role+` NOLOGIN NOSUPERUSER NOBYPASSRLS`)
	t.Cleanup(func() { pgExec(t, `DROP OWNED BY `+role, `DROP ROLE IF EXISTS `+role) })

	// The tables' owner (a superuser here) migrates: tables, CHECK
	// constraints and row-level security.
	db := openPostgres(t)
	schema := db.SchemaName()
	owner := newEnv(t, db)
	q := func(tbl string) string { return `"` + schema + `"."` + tbl + `"` }
	vaults, audits := q(TableVaults), q(TableAudit)
	pgExec(t, `GRANT USAGE ON SCHEMA "`+schema+`" TO `+role,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "`+schema+`" TO `+role)
	// The Auth runs as an ordinary role, which RLS applies to.
	restricted := pgPool(t, func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, "SET ROLE "+role)
		return err
	})
	rdb, err := postgres.New(restricted, postgres.Options{Schema: schema, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, rdb) // its Migrate has nothing to do

	run := func(t *testing.T) {
		a, b := e.user(t), e.user(t)
		ka, err := e.svc.Init(ctx, a)
		wantNoErr(t, err)
		kb, err := e.svc.Init(ctx, b)
		wantNoErr(t, err)
		got, err := e.svc.Key(ctx, a)
		wantNoErr(t, err)
		if !bytes.Equal(got.MasterKey, ka.MasterKey) {
			t.Fatal("Key under RLS")
		}
		w, iv := recoveryWrap(t, []byte("s"), ka.MasterKey)
		wantNoErr(t, e.svc.SetRecoveryWrap(ctx, a, w, iv))
		wantNoErr(t, e.svc.SetZeroKnowledge(ctx, a, true, nil))
		wantNoErr(t, e.svc.SetZeroKnowledge(ctx, a, false, ka.MasterKey))
		if _, err := e.svc.Rotate(ctx, b); err != nil {
			t.Fatal(err)
		}
		if st, err := e.svc.Status(ctx, a); err != nil || !st.VaultExists || !st.HasRecoveryWrap {
			t.Fatalf("status = %+v, %v", st, err)
		}
		if ex, err := e.svc.ExportUser(ctx, a); err != nil || len(ex.Audit) != 5 {
			t.Fatalf("export under RLS: %v, %v", ex, err)
		}
		_ = kb

		// Without the setting the role sees nothing; with it, one user.
		if n := countAs(t, restricted, vaults); n != 0 {
			t.Fatalf("unscoped role sees %d vault rows", n)
		}
		if n := countAs(t, restricted, audits); n != 0 {
			t.Fatalf("unscoped role sees %d audit rows", n)
		}
		if n := countAs(t, restricted, vaults, PostgresUserSetting, a); n != 1 {
			t.Fatalf("role scoped to a sees %d vault rows", n)
		}
		if n := countAs(t, restricted, audits, PostgresUserSetting, a); n != 5 {
			t.Fatalf("role scoped to a sees %d audit rows", n)
		}
		// A vault transaction for a finds nothing of b's, even asked for it.
		err = e.svc.run(ctx, a, false, func(q txn) error {
			if r, err := q.get(ctx, b); err != nil || r != nil {
				t.Errorf("a's transaction reads b's vault: %v, %v", r, err)
			}
			if rows, err := q.listAudit(ctx, b); err != nil || len(rows) != 0 {
				t.Errorf("a's transaction reads b's audit rows: %d, %v", len(rows), err)
			}
			if r, err := q.get(ctx, a); err != nil || r == nil {
				t.Errorf("a's transaction does not read a's vault: %v, %v", r, err)
			}
			return nil
		})
		wantNoErr(t, err)
		// Scoped to a, b's row cannot be changed nor a row written for b.
		if n, err := execAs(restricted, `UPDATE `+vaults+` SET "kek_id" = 'x' WHERE "user_id" = '`+b+`'`, PostgresUserSetting, a); err != nil || n != 0 {
			t.Fatalf("cross-user update: %d, %v", n, err)
		}
		_, err = execAs(restricted, `INSERT INTO `+audits+` ("id","user_id","action","status","created_at") VALUES ('x','`+b+`','fetch',200,now())`, PostgresUserSetting, a)
		if err == nil || !strings.Contains(err.Error(), "row-level security") {
			t.Fatalf("cross-user insert: %v", err)
		}
		// The maintenance setting reads all rows but writes none.
		if n := countAs(t, restricted, vaults, PostgresMaintenanceSetting, "on"); n < 2 {
			t.Fatalf("maintenance read sees %d rows", n)
		}
		if n, err := execAs(restricted, `UPDATE `+vaults+` SET "kek_id" = 'x'`, PostgresMaintenanceSetting, "on"); err != nil || n != 0 {
			t.Fatalf("maintenance update: %d, %v", n, err)
		}

		// KEK rotation under RLS.
		old, _ := e.keks.Current()
		v2 := mustKEK(t, "env-v2")
		e.keks.set(v2, old)
		wantNoErr(t, e.svc.RewrapAll(ctx, 1, nil))
		for _, u := range []string{a, b} {
			if k, err := e.svc.Key(ctx, u); err != nil || k.KEKID != "env-v2" {
				t.Fatalf("after rewrap under RLS: %v, %v", k, err)
			}
		}
		e.keks.set(old, v2) // and back, for the next subtest
		wantNoErr(t, e.svc.RewrapAll(ctx, 1, nil))

		wantNoErr(t, e.svc.DeleteUser(ctx, a))
		if n := countAs(t, db.Pool(), vaults+` WHERE "user_id" = '`+a+`'`); n != 0 {
			t.Fatal("DeleteUser under RLS left the vault")
		}
	}
	t.Run("ordinary role", run)

	// As the tables' owner, RLS applies only because of FORCE.
	pgExec(t, `ALTER TABLE `+vaults+` OWNER TO `+role, `ALTER TABLE `+audits+` OWNER TO `+role)
	t.Run("owner with FORCE", run)
	pgExec(t, `ALTER TABLE `+vaults+` NO FORCE ROW LEVEL SECURITY`)
	if n := countAs(t, restricted, vaults); n == 0 {
		t.Fatal("owner without FORCE should bypass the policies (test premise)")
	}
	if err := owner.a.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countAs(t, restricted, vaults); n != 0 {
		t.Fatalf("Migrate did not restore FORCE: owner sees %d rows", n)
	}
}

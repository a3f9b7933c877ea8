package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/internal/sqlbuild"
)

var _ storage.ScopedTxer = (*Adapter)(nil)

// ScopedTx runs fn in a transaction, as [Adapter.Tx] does, that first runs
// SELECT set_config(name, value, true) for each setting, names and values
// passed as parameters ([storage.ScopedTxer]). The settings go out in the
// same round trip as the transaction's first statement, and they end with
// the transaction. It is an error on the adapter of a transaction.
func (a *Adapter) ScopedTx(ctx context.Context, settings map[string]string, fn func(tx storage.Adapter) error) error {
	if a.tx != nil {
		return errors.New("postgres: ScopedTx inside a transaction")
	}
	if err := storage.CheckSettings(settings); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	var args []any
	for name, v := range settings {
		args = append(args, name, v)
	}
	return a.runTx(ctx, args, fn)
}

// queueSettings queues the settings not yet sent (one set_config
// statement) at the head of b and returns how many results they add (0 or
// 1). The caller holds s.mu.
func (s *txState) queueSettings(b *pgx.Batch) int {
	if len(s.settings) == 0 {
		return 0
	}
	var q strings.Builder
	q.WriteString("SELECT ")
	for i := 0; i < len(s.settings); i += 2 {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("set_config($" + strconv.Itoa(i+1) + ", $" + strconv.Itoa(i+2) + ", true)")
	}
	b.Queue(q.String(), s.settings...)
	s.settings = nil
	return 1
}

// sendSettings sends the settings not yet sent on their own (before a
// savepoint, whose rollback would undo them). The caller holds s.mu.
func (s *txState) sendSettings(ctx context.Context) error {
	b := &pgx.Batch{}
	if s.queueSettings(b) == 0 {
		return nil
	}
	return s.tx.SendBatch(ctx, b).Close()
}

// queryScoped runs a read statement after the settings not yet sent, in
// one round trip, and calls fn for each row's values. The caller holds
// s.mu.
func (s *txState) queryScoped(ctx context.Context, query string, args []any, fn func([]any) error) error {
	b := &pgx.Batch{}
	s.queueSettings(b)
	b.Queue(query, args...)
	br := s.tx.SendBatch(ctx, b)
	_, err := br.Exec()
	var rows pgx.Rows
	if err == nil {
		rows, err = br.Query()
	}
	if err != nil {
		_ = br.Close()
		return MapError(ctx, err)
	}
	if err := scanRows(ctx, rows, fn); err != nil {
		_ = br.Close()
		return err
	}
	return MapError(ctx, br.Close())
}

// Row-level security (storage.RowSecurity) in migrations.

// policyName is the name of a table's policy of the given kind
// ("user_isolation", "maintenance_read"): <table>_<kind>, shortened with a
// hash past PostgreSQL's 63 bytes.
func policyName(table, kind string) string {
	name := table + "_" + kind
	if len(name) <= 63 {
		return name
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	suffix := fmt.Sprintf("_%08x_%s", h.Sum32(), kind)
	return table[:63-len(suffix)] + suffix
}

// rowSecurityState is what the catalog says of a table's row-level
// security.
type rowSecurityState struct {
	enabled, forced bool
	policies        map[string]bool
}

// rowSecuritySteps returns the steps that enable and force row-level
// security and create the missing policies of the tables of si that
// declare a storage.RowSecurity, after reading their state from the
// catalog (q is the migration's transaction). They come after every other
// step: the tables exist by then.
func rowSecuritySteps(ctx context.Context, q pgQuerier, pg string, si *sqlbuild.Schema) ([]sqlbuild.Step, error) {
	var tables []storage.Table
	for _, t := range si.Tables() {
		if t.RowSecurity != nil {
			tables = append(tables, t)
		}
	}
	if len(tables) == 0 {
		return nil, nil
	}
	state := map[string]*rowSecurityState{}
	err := scanAll(ctx, q, `SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')`, []any{pg}, func(rows pgx.Rows) error {
		st := &rowSecurityState{policies: map[string]bool{}}
		var name string
		if err := rows.Scan(&name, &st.enabled, &st.forced); err != nil {
			return err
		}
		state[name] = st
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = scanAll(ctx, q, `SELECT tablename::text, policyname::text FROM pg_policies WHERE schemaname = $1`, []any{pg},
		func(rows pgx.Rows) error {
			var table, policy string
			if err := rows.Scan(&table, &policy); err != nil {
				return err
			}
			if st := state[table]; st != nil {
				st.policies[policy] = true
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	var steps []sqlbuild.Step
	for _, t := range tables {
		name, rs := t.TableName(), t.RowSecurity
		st := state[name]
		if st == nil {
			st = &rowSecurityState{} // created by this migration
		}
		table := quote(pg) + "." + quote(name)
		if !st.enabled {
			steps = append(steps, sqlbuild.Step{ID: "enable_row_security:" + name,
				Desc: "enable row-level security on " + name,
				SQL:  "ALTER TABLE " + table + " ENABLE ROW LEVEL SECURITY"})
		}
		if !st.forced {
			steps = append(steps, sqlbuild.Step{ID: "force_row_security:" + name,
				Desc: "force row-level security on " + name,
				SQL:  "ALTER TABLE " + table + " FORCE ROW LEVEL SECURITY"})
		}
		f, _ := t.Field(rs.Field)
		// Setting names are checked by Schema.Validate: no quote in them.
		col := quote(f.ColumnName())
		if f.DBType != "" {
			col += "::text"
		}
		owner := col + " = current_setting('" + rs.Setting + "', true)"
		policies := [][2]string{{policyName(name, "user_isolation"), "USING (" + owner + ") WITH CHECK (" + owner + ")"}}
		if rs.ReadAllSetting != "" {
			policies = append(policies, [2]string{policyName(name, "maintenance_read"),
				"FOR SELECT USING (current_setting('" + rs.ReadAllSetting + "', true) = 'on')"})
		}
		for _, p := range policies {
			if st.policies[p[0]] {
				continue
			}
			steps = append(steps, sqlbuild.Step{ID: "create_policy:" + name + "." + p[0],
				Desc: "create policy " + p[0] + " on " + name,
				SQL:  "CREATE POLICY " + quote(p[0]) + " ON " + table + " " + p[1]})
		}
	}
	return steps, nil
}

// warnBypass logs a warning when the schema declares row-level security
// and the role migrating ignores it (a superuser or BYPASSRLS): the
// policies then bind no one connecting as that role.
func (a *Adapter) warnBypass(ctx context.Context, si *sqlbuild.Schema) {
	declared := false
	for _, t := range si.Tables() {
		declared = declared || t.RowSecurity != nil
	}
	if !declared {
		return
	}
	var role string
	var bypass bool
	err := a.c.pool.QueryRow(ctx, `SELECT current_user::text, rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user`).
		Scan(&role, &bypass)
	if err == nil && bypass {
		a.c.log.WarnContext(ctx, "postgres: row-level security does not apply to this role (superuser or BYPASSRLS); connect as an ordinary role for it to take effect",
			"role", role, "schema", a.c.schema)
	}
}

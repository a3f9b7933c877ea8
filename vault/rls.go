package vault

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Names of the row-level-security policies EnablePostgresRLS creates.
const (
	PolicyVaultsUserIsolation = "encryption_vaults_user_isolation"
	PolicyAuditUserIsolation  = "encryption_vault_audit_user_isolation"
	PolicyVaultsMaintenance   = "encryption_vaults_maintenance_read"
)

// EnablePostgresRLS turns on row-level security for the vault tables
// (encryption_vaults and encryption_vault_audit, under their default names)
// in the PostgreSQL schema. Run it after auth's Migrate, as the tables'
// owner; it is idempotent (policies are dropped and re-created).
//
// Both tables get ENABLE and FORCE ROW LEVEL SECURITY (FORCE so that the
// policies bind the tables' owner too, which is usually the role the
// service connects as) and a policy admitting, for every command, only the
// rows whose user_id equals current_setting('app.current_user_id', true)
// (USING and WITH CHECK). With the setting unset the policies admit no
// row. The Service starts every PostgreSQL transaction with
// SELECT set_config('app.current_user_id', <user id>, true), so each request
// sees only its own user's rows even if a query forgot its WHERE clause.
// The setting is transaction-local: it can never leak to the next user of
// a pooled connection.
//
// A third policy lets a transaction that sets app.vault_maintenance to
// "on" read (SELECT only) every vault row: RewrapAll uses it to find the
// rows to re-wrap, and then updates each row in a transaction scoped to
// its user. Custom GUCs can be set by any SQL session, so these policies
// guard against application bugs, not against someone who can run
// arbitrary SQL as the service role.
//
// Superusers and roles with BYPASSRLS ignore every policy, FORCE or not;
// EnablePostgresRLS logs a warning (slog.Default) when the current role is
// one. Foreign-key cascades (deleting a user) are not subject to RLS.
func EnablePostgresRLS(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	if pool == nil {
		return fmt.Errorf("vault: EnablePostgresRLS with a nil pool")
	}
	if schema == "" {
		schema = "public"
	}
	q := func(t string) string { return pgQuote(schema) + "." + pgQuote(t) }
	vaults, audits := q(TableVaults), q(TableAudit)
	cond := `"user_id" = current_setting('` + PostgresUserSetting + `', true)`
	stmts := []string{
		`ALTER TABLE ` + vaults + ` ENABLE ROW LEVEL SECURITY`,
		`ALTER TABLE ` + vaults + ` FORCE ROW LEVEL SECURITY`,
		`DROP POLICY IF EXISTS ` + pgQuote(PolicyVaultsUserIsolation) + ` ON ` + vaults,
		`CREATE POLICY ` + pgQuote(PolicyVaultsUserIsolation) + ` ON ` + vaults + ` USING (` + cond + `) WITH CHECK (` + cond + `)`,
		`DROP POLICY IF EXISTS ` + pgQuote(PolicyVaultsMaintenance) + ` ON ` + vaults,
		`CREATE POLICY ` + pgQuote(PolicyVaultsMaintenance) + ` ON ` + vaults + ` FOR SELECT USING (current_setting('` +
			PostgresMaintenanceSetting + `', true) = 'on')`,
		`ALTER TABLE ` + audits + ` ENABLE ROW LEVEL SECURITY`,
		`ALTER TABLE ` + audits + ` FORCE ROW LEVEL SECURITY`,
		`DROP POLICY IF EXISTS ` + pgQuote(PolicyAuditUserIsolation) + ` ON ` + audits,
		`CREATE POLICY ` + pgQuote(PolicyAuditUserIsolation) + ` ON ` + audits + ` USING (` + cond + `) WITH CHECK (` + cond + `)`,
	}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("vault: enabling row-level security: %w", err)
	}
	var role string
	var bypass bool
	err = pool.QueryRow(ctx, `SELECT current_user, rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user`).Scan(&role, &bypass)
	if err == nil && bypass {
		slog.Default().Warn("vault: row-level security is enabled but does not apply to this role (superuser or BYPASSRLS); connect as an ordinary role for it to take effect",
			"role", role, "schema", schema)
	}
	return nil
}

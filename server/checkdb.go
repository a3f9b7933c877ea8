package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/storage"
)

// CheckDB compares the database with the schema the server would serve
// (the core's and every mounted plugin's tables, under MANA_SCHEMA or
// SCHEMA_MAPPING_FILE) without changing anything, and writes a report to
// out: every missing table and column and every column of the wrong type
// (auth.Auth.CheckSchema), each with the feature that needs it, then the
// statements a migration would still run (indexes, unique and foreign-key
// constraints included, as `migrate -dry-run` prints them). It returns an
// error when the server cannot run on the database as it is: a table or
// column is missing or has the wrong type. Statements that a migration
// would run while every table and column is there (an index, say) are
// reported but do not fail the check.
func CheckDB(ctx context.Context, cfg Config, log *slog.Logger, out io.Writer) error {
	return offline(ctx, cfg, log, func(s *Server, db storage.Adapter) error { return checkDB(ctx, s, db, cfg, out) })
}

// checkDB is CheckDB on the opened server and its storage.
func checkDB(ctx context.Context, s *Server, db storage.Adapter, cfg Config, out io.Writer) error {
	where := "SQLite " + cfg.DataDir
	if cfg.DatabaseURL != "" {
		where = fmt.Sprintf("PostgreSQL schema %q", cfg.DatabaseSchema)
	}
	naming := "Better Auth's default names"
	switch {
	case cfg.SchemaPreset != "":
		naming = "MANA_SCHEMA=" + cfg.SchemaPreset
	case !cfg.Naming.IsZero():
		naming = "SCHEMA_MAPPING_FILE"
	}
	fmt.Fprintf(out, "check-db: %s, %s\n", where, naming)

	var problems []storage.SchemaProblem
	if err := s.auth.CheckSchema(ctx); err != nil {
		var mm *auth.SchemaMismatchError
		if !errors.As(err, &mm) {
			return err
		}
		problems = mm.Problems
	}
	for _, p := range problems {
		fix := "the migration adds it"
		if strings.Contains(p.Problem, " has type ") {
			fix = "the migration cannot change it: convert the column (docs/MIGRATING.md)"
		}
		fmt.Fprintf(out, "PROBLEM %s (needed by %s; %s)\n", p, featureOf(p.Table, p.Field), fix)
	}
	var pending []string
	if p, ok := db.(storage.MigrationPlanner); ok {
		var err error
		if pending, err = p.PlanMigration(ctx, s.auth.Schema()); err != nil {
			return fmt.Errorf("check-db: plan the migration: %w", err)
		}
	}
	for _, st := range pending {
		fmt.Fprintf(out, "PENDING %s;\n", strings.Join(strings.Fields(st), " "))
	}
	if len(problems) > 0 {
		return fmt.Errorf("check-db: %d problem(s): the server cannot run on this database (run `mana-auth migrate`, whose -dry-run shows the SQL, or fix MANA_SCHEMA/SCHEMA_MAPPING_FILE)", len(problems))
	}
	if len(pending) > 0 {
		fmt.Fprintf(out, "OK: every table and column is there; %d statement(s) of the migration pending (indexes, constraints, bookkeeping): `mana-auth migrate` applies them\n", len(pending))
		return nil
	}
	fmt.Fprintln(out, "OK: the database matches the schema")
	return nil
}

// tableFeatures names the feature (the plugin, by id, or the server's own
// tables) that declares each logical table besides the core's.
var tableFeatures = map[string]string{
	TableSecurityEvent:       "mana (security log)",
	TableLoginAttempt:        "mana (login lockout)",
	TableCreditsSync:         "mana (mana-credits sync)",
	"jwks":                   "jwt",
	"twoFactor":              "two-factor",
	"passkey":                "passkey",
	"organization":           "organization",
	"member":                 "organization",
	"invitation":             "organization",
	"team":                   "organization (teams)",
	"teamMember":             "organization (teams)",
	"encryption_vaults":      "vault",
	"encryption_vault_audit": "vault",
	"apikey":                 "api-key",
	"rateLimit":              "rate limit",
}

// fieldFeatures names the feature that adds a field to a core table.
var fieldFeatures = map[string]string{
	"user.role":                    "mana (roles) and admin",
	"user.accessTier":              "mana (access tiers)",
	"user.twoFactorEnabled":        "two-factor",
	"user.banned":                  "admin",
	"user.banReason":               "admin",
	"user.banExpires":              "admin",
	"user.username":                "username",
	"user.displayUsername":         "username",
	"session.activeOrganizationId": "organization",
	"session.impersonatedBy":       "admin",
}

// featureOf names what a missing table or field blocks.
func featureOf(table, field string) string {
	if f, ok := fieldFeatures[table+"."+field]; ok {
		return f
	}
	if core := auth.CoreSchema(); core.Table(table) != nil {
		return "the core (sign-up, sign-in, sessions)"
	}
	if f, ok := tableFeatures[table]; ok {
		return f
	}
	return "the plugin that declares " + table
}

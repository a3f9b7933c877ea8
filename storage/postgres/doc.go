// Package postgres is the production [storage.Adapter], on PostgreSQL via
// pgx/v5 and its connection pool (pgxpool).
//
// Usage:
//
//	db, err := postgres.Open(ctx, postgres.Options{
//		URL:    os.Getenv("DATABASE_URL"), // postgres://user:pass@host:5432/db?sslmode=require
//		Schema: "auth",                    // PostgreSQL schema of the tables; default "public"
//	})
//	if err != nil {
//		return err
//	}
//	defer db.Close()
//	if err := db.Bind(schema); err != nil {
//		return err
//	}
//	if err := db.Migrate(ctx, schema); err != nil { // creates / upgrades tables
//		return err
//	}
//
// A caller that owns a pool passes it to [New] instead; Close then leaves
// the pool open.
//
// # Storage format
//
// The table layout is Better Auth's (Kysely, PostgreSQL dialect): every
// identifier is quoted, so camelCase names such as "emailVerified" keep their
// case; strings are text, booleans boolean, integers bigint and dates
// timestamptz (read back in UTC, truncated to milliseconds). Tables created
// by Better Auth itself (integer instead of bigint, timestamp without time
// zone) are read and written as well. Every value is passed as a
// parameter ($1, $2, …); pgx prepares and caches each statement per
// connection.
//
// Sorting and range comparisons of strings use the "C" collation (byte
// order), whatever the database's default collation, so that results match
// the other adapters.
//
// Table and column names are those of the bound schema, which a
// [storage.Naming] may have renamed (Better Auth's modelName, fields and
// usePlural). A String field whose column has a type of its own
// ([storage.Field.DBType], such as an enum "auth.user_role") is written
// cast to that type ($1::"auth"."user_role"), and read, compared and
// sorted cast to text, so that it behaves as any string (a value outside
// the enum matches nothing, it does not fail); writing such a value is
// refused ([storage.ErrConstraint]).
//
// # Errors
//
// Unique violations (SQLSTATE 23505) wrap [storage.ErrConflict]; foreign key,
// CHECK and NOT NULL violations (23503, 23514, 23502) and values a
// column's type refuses (22P02, a label outside an enum) wrap
// [storage.ErrConstraint]; failures to reach the server wrap
// [storage.ErrUnavailable]. A cancelled or expired context aborts the
// statement and the error wraps the context's error.
//
// # Transactions
//
// [Adapter.Tx] runs its function in a READ COMMITTED transaction on one
// pooled connection; a Tx call on the transaction's adapter runs in the
// same transaction, inside a savepoint. Each write inside a transaction is
// itself guarded by a savepoint (sent in the same round trip), so that a
// failed statement, such as a unique violation the caller handles, leaves
// the transaction usable, as in SQLite.
//
// [Adapter.ScopedTx] ([storage.ScopedTxer]) is Tx in a transaction that
// first runs SELECT set_config(name, value, true) for each of its
// settings, in the same round trip as its first statement; the settings
// end with the transaction, so a pooled connection never carries them to
// its next user. Row-level security policies read them.
//
// # Migrations
//
// [Adapter.Migrate] runs in one transaction under a PostgreSQL advisory lock
// (so that instances starting together take turns). It creates the schema
// if missing, the tables (referenced tables first), indexes, columns and
// CHECK constraints that are missing, and records each step in the table
// mana_migrations of that schema together with [SchemaVersion]. It never
// drops or rewrites data: a required column added to a table that already
// has rows is added as nullable, and a CHECK constraint that existing rows
// violate is added NOT VALID (enforced for new writes only), both with a
// warning on the configured logger. [Adapter.PlanMigration] returns the
// statements Migrate would run.
//
// Before it changes anything, Migrate (and PlanMigration) refuses a schema
// whose names the database does not seem to use: a table to create while
// the database holds it under another name Better Auth could give it (the
// logical name, its plural or its snake_case form), or a column to add
// while the table has it under its logical or snake_case name. The error
// names each; the naming is then wrong or missing. [Adapter.CheckSchema]
// ([storage.SchemaChecker]) lists, without changing anything, the tables
// and columns missing and the columns of a type that cannot hold their
// field.
//
// A table that declares a [storage.RowSecurity] gets row-level security,
// enabled and forced, and the policies it describes (created when missing
// by name, after the tables). Migrate logs a warning when it runs as a
// superuser or a BYPASSRLS role, which the policies do not bind.
//
// A database whose mana_migrations records a version newer than
// [SchemaVersion] is refused by Open, Migrate and PlanMigration with
// [ErrSchemaTooNew].
//
// The rate-limit store on PostgreSQL (Better Auth's "rateLimit" table) is
// package ratelimit/postgres.
package postgres

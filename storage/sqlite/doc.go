// Package sqlite is the embedded [storage.Adapter]: a single database file,
// pure Go (modernc.org/sqlite, no cgo), the default backend of the mana-auth
// server when no PostgreSQL URL is configured.
//
// Usage:
//
//	db, err := sqlite.Open(ctx, sqlite.Options{Path: "data/auth.db"})
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
//	err = db.Create(ctx, "user", storage.Record{"id": "u1", "email": "a@example.com", ...})
//
// # Connections and concurrency
//
// Every connection is opened with the pragmas journal_mode=WAL,
// busy_timeout (5 s by default), foreign_keys=ON and synchronous=NORMAL, and
// with SQLite's double-quoted-string quirk off (a double-quoted name that is
// not a column is an error, not a string).
// SQLite allows one writer at a time, so the adapter keeps two pools: a
// single write connection (every Create / Update / Delete and every
// transaction, which starts with BEGIN IMMEDIATE) and a pool of read-only
// connections for queries outside a transaction. Writers in this process
// queue for the write connection instead of failing with SQLITE_BUSY;
// readers never block the writer (WAL). Another process writing the same
// file is waited for up to the busy timeout.
//
// Inside [Adapter.Tx] all work must go through the adapter passed to the
// function: the write connection is held by the transaction, so a write
// through the outer adapter would wait until the transaction ends (with
// [MemoryPath], which has a single connection, so would a read). A Tx call on
// the transaction's adapter runs in the same transaction, in a savepoint.
//
// # Prepared statements
//
// The adapter prepares each distinct SQL statement once and keeps it, keyed
// by its text, which depends on the schema and the shape of a call (table,
// fields, operators, sort) but never on values. The read pool and the write
// connection each keep up to 256 statements; past that, and for statements
// with an In / NotIn list longer than 8 values, statements are prepared on
// each call. Transactions use the write connection's statements; one first
// run inside a transaction is added to them when the transaction ends.
// Migrations, including another process's, do not invalidate them: SQLite
// prepares a statement again when the schema has changed. Close closes them.
//
// # Storage format
//
// The table layout is Better Auth's (Kysely, SQLite dialect): strings are
// TEXT, booleans INTEGER 0/1, integers INTEGER and dates TEXT in ISO-8601 UTC
// with millisecond precision ("2006-01-02T15:04:05.000Z"), so that dates
// compare and sort chronologically as strings. Dates stored in other forms
// (RFC 3339 with an offset, "YYYY-MM-DD HH:MM:SS", or an integer epoch in
// seconds or milliseconds) are read back correctly, but only the canonical
// form compares correctly in where-clauses.
//
// # Migrations
//
// [Adapter.Migrate] creates missing tables (referenced tables first),
// indexes and columns, in one IMMEDIATE transaction, and records each step in
// the table mana_migrations together with [SchemaVersion]. It never drops or
// rewrites data. SQLite cannot add a NOT NULL column without a default or a
// CHECK constraint to an existing table: such columns are added as nullable
// and such checks are skipped, with a warning on the configured logger (the
// adapter still rejects a missing required value itself).
// [Adapter.PlanMigration] returns the statements Migrate would run.
//
// Table and column names are those of the bound schema, which a
// [storage.Naming] may have renamed (SQLite compares them ignoring case);
// [storage.Field.DBType] is ignored (such a column is text). Before it
// changes anything, Migrate refuses a schema whose names the database does
// not seem to use (a table or column to create that exists under its
// logical, plural or snake_case name), naming each; [Adapter.CheckSchema]
// lists the tables and columns missing.
//
// A database whose mana_migrations records a version newer than
// [SchemaVersion] is refused by Open, Migrate and PlanMigration with
// [ErrSchemaTooNew].
package sqlite

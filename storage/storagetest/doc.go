// Package storagetest is a conformance suite for [storage.Adapter]
// implementations. An adapter – in this repository or a third party's –
// runs the whole suite with one call to [Run] from one of its tests:
//
//	package mydb_test
//
//	import (
//		"testing"
//
//		"github.com/managarten/mana-auth/storage"
//		"github.com/managarten/mana-auth/storage/storagetest"
//		"example.com/mydb"
//	)
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Adapter {
//			db, err := mydb.Open(t.TempDir() + "/test.db") // a fresh, empty database
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { db.Close() })
//			return db
//		})
//	}
//
// Run calls open once per subtest, from parallel subtests, so open must be
// safe for concurrent use and must return an adapter over an empty database
// that no other subtest uses. It must not call Bind: Run binds the adapter to
// [Schema] and, if the adapter implements [storage.Migrator], migrates it.
// Releasing resources is open's job (register a t.Cleanup).
//
// [RunNamed] runs the same suite on the schema renamed by a
// [storage.Naming], usually [Naming]: snake_case columns, plural table
// names and, where the database has such types, owner.kind in an enum
// column that the test creates beforehand with the labels of [Kinds]:
//
//	storagetest.RunNamed(t, storagetest.Naming("myschema.owner_kind"), open)
//
// The suite checks the contract of package storage:
//
//   - records round-trip with canonical types (string, bool, int64,
//     time.Time in UTC truncated to milliseconds, nil for NULL), every field
//     of the table present in every returned record, under logical names
//     even where the column or table name differs;
//   - every operator on strings, ints, dates and bools, the Or connector
//     (AND binds tighter), sorting, Limit and Offset;
//   - Update and Delete counts, atomic statements, unique (ErrConflict),
//     NOT NULL, CHECK and foreign key (ErrConstraint) enforcement –
//     including changing a referenced key – and ON DELETE CASCADE / SET NULL
//     / RESTRICT;
//   - transactions (commit; rollback when fn returns an error, panics, or
//     its context is cancelled before it returns; nesting; the adapter of a
//     finished transaction refuses work) and concurrent writers;
//   - errors, never panics, for unknown tables and fields, values of the
//     wrong type and cancelled contexts;
//   - strings that are not [storage.Storable] (invalid UTF-8, lone
//     surrogates, NUL bytes): every write of one is refused with
//     storage.ErrInvalidValue, naming no value, and stores nothing; as a
//     lookup value one matches as [storage.Where] says, with every
//     operator and connector, in FindOne, FindMany, Count, Update and
//     Delete;
//   - a String column that a naming may give a type of its own (an
//     enum): written, found with every operator, sorted in byte order and
//     updated like any string;
//   - after Migrate, no migration planned ([storage.MigrationPlanner]) and
//     no problem found ([storage.SchemaChecker]);
//   - [storage.ScopedTx] (the adapter's [storage.ScopedTxer], or Tx):
//     a transaction like Tx whatever its settings' values, settings with an
//     invalid name or a value that is not storable refused before fn runs,
//     and ScopedTxer.ScopedTx refused on the adapter of a transaction.
//
// Where SQL and Go could disagree, the suite follows SQL: a comparison with
// a NULL value never matches except Eq nil / Ne nil (so Ne "x" and NotIn do
// not match NULLs), In with an empty list matches nothing and NotIn with an
// empty list matches every non-NULL value. Contains, StartsWith and EndsWith
// are case-sensitive and treat the SQL LIKE metacharacters % and _ (and the
// backslash) literally. Query results are not assumed to come in any
// particular order unless sorted, the order of NULLs in a sort is left open,
// and the strings the suite sorts or compares with Lt/Gt are ordered alike
// byte-wise and by the usual collations, so the database's collation does
// not matter.
package storagetest

//lint:file-ignore ST1005 the error strings of these checks start with the adapter method they name (Update, FindOne).

package storagetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/managarten/mana-auth/storage"
)

// record is shorthand for storage.Record.
type record = storage.Record

// Schema returns the schema the suite binds every adapter to. It has these
// tables (logical name, with the database name in brackets where it
// differs):
//
//   - owner [st_owner]: email (required, unique), name [display_name]
//     (required), active (bool), score (int, indexed), joinedAt [joined_at]
//     (date), and the optional handle (unique), note, tier (int), seenAt
//     (date), vip (bool) and kind (one of [Kinds]; an enum under
//     [Naming] with a type);
//   - item [st_item]: ownerId [owner_id] → owner.id ON DELETE CASCADE
//     (indexed), title;
//   - part: itemId → item.id ON DELETE CASCADE, label;
//   - memo: ownerId, optional, → owner.id ON DELETE SET NULL, body;
//   - pin: ownerId, optional, → owner.id ON DELETE RESTRICT;
//   - pair: optional a (string) and b [b_val] (int) with a check that both
//     or neither are NULL.
//
// Each call returns a fresh copy.
func Schema() storage.Schema {
	return storage.Schema{Tables: []storage.Table{
		{
			Name:   "owner",
			DBName: "st_owner",
			Fields: []storage.Field{
				{Name: "email", Type: storage.String, Required: true, Unique: true},
				{Name: "name", Column: "display_name", Type: storage.String, Required: true},
				{Name: "active", Type: storage.Bool, Required: true},
				{Name: "score", Type: storage.Int, Required: true, Index: true},
				{Name: "joinedAt", Column: "joined_at", Type: storage.Date, Required: true},
				{Name: "handle", Type: storage.String, Unique: true},
				{Name: "note", Type: storage.String},
				{Name: "tier", Type: storage.Int},
				{Name: "seenAt", Type: storage.Date},
				{Name: "vip", Type: storage.Bool},
				{Name: "kind", Type: storage.String},
			},
		},
		{
			Name:   "item",
			DBName: "st_item",
			Fields: []storage.Field{
				{Name: "ownerId", Column: "owner_id", Type: storage.String, Required: true, Index: true,
					References: &storage.Reference{Table: "owner", Field: "id", OnDelete: storage.Cascade}},
				{Name: "title", Type: storage.String, Required: true},
			},
		},
		{
			Name: "part",
			Fields: []storage.Field{
				{Name: "itemId", Type: storage.String, Required: true, Index: true,
					References: &storage.Reference{Table: "item", Field: "id", OnDelete: storage.Cascade}},
				{Name: "label", Type: storage.String, Required: true},
			},
		},
		{
			Name: "memo",
			Fields: []storage.Field{
				{Name: "ownerId", Type: storage.String, Index: true,
					References: &storage.Reference{Table: "owner", Field: "id", OnDelete: storage.SetNull}},
				{Name: "body", Type: storage.String, Required: true},
			},
		},
		{
			Name: "pin",
			Fields: []storage.Field{
				{Name: "ownerId", Type: storage.String, Index: true,
					References: &storage.Reference{Table: "owner", Field: "id", OnDelete: storage.Restrict}},
			},
		},
		{
			Name: "pair",
			Fields: []storage.Field{
				{Name: "a", Type: storage.String},
				{Name: "b", Column: "b_val", Type: storage.Int},
			},
			Checks: []storage.Check{{
				Name: "pair_both_or_neither",
				Expr: `("a" IS NULL) = ("b_val" IS NULL)`,
				Func: func(r storage.Record) bool { return (r["a"] == nil) == (r["b"] == nil) },
			}},
		},
	}}
}

// Kinds are the values the suite writes to owner.kind: the labels of the
// enum type a [Naming] with a type declares for it (on PostgreSQL:
// CREATE TYPE … AS ENUM ('basic', 'gold', 'platinum')).
var Kinds = []string{"basic", "gold", "platinum"}

// Naming returns the mapping [RunNamed] is meant to run the suite under,
// with the names a Drizzle schema would have: every column in snake_case
// (storage.SnakeCase of the logical name, so "b_val" becomes "b" and the
// CHECK constraint on it follows), plural table names ("st_owners",
// "st_items", "parts", …) except memo, named "st_notes", and, if
// enumType is not empty, owner.kind of that type (an enum with the
// labels of [Kinds] that the adapter's database holds, e.g.
// "myschema.owner_kind").
func Naming(enumType string) storage.Naming {
	n := storage.Naming{
		Plural: true,
		Tables: map[string]string{"memo": "st_notes"},
		Fields: map[string]map[string]string{},
	}
	for _, t := range Schema().Tables {
		n.Fields[t.Name] = map[string]string{}
		for _, f := range t.Fields {
			n.Fields[t.Name][f.Name] = storage.SnakeCase(f.Name)
		}
	}
	if enumType != "" {
		n.Types = map[string]map[string]string{"owner": {"kind": enumType}}
	}
	return n
}

// schema is a read-only copy of Schema used to build expectations.
var schema = Schema()

// Run runs the conformance suite against adapters returned by open: one
// fresh, empty, unbound adapter per subtest (see the package documentation).
// Subtests run in parallel.
func Run(t *testing.T, open func(t *testing.T) storage.Adapter) {
	t.Helper()
	run(t, Schema(), open)
}

// RunNamed runs the suite as [Run] does, on [Schema] renamed by n
// (storage.Naming.Apply; usually [Naming]): every check holds whatever the
// tables and columns are called in the database, and the records keep
// their logical names.
func RunNamed(t *testing.T, n storage.Naming, open func(t *testing.T) storage.Adapter) {
	t.Helper()
	s := Schema()
	if err := n.Apply(&s); err != nil {
		t.Fatalf("storagetest: %v", err)
	}
	run(t, s, open)
}

func run(t *testing.T, bound storage.Schema, open func(t *testing.T) storage.Adapter) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, db storage.Adapter)
	}{
		{"RoundTrip", testRoundTrip},
		{"RecordsAreCopies", testRecordsAreCopies},
		{"NotFound", testNotFound},
		{"Operators", testOperators},
		{"Sort", testSort},
		{"Update", testUpdate},
		{"Delete", testDelete},
		{"Unique", testUnique},
		{"NotNull", testNotNull},
		{"Check", testCheck},
		{"ForeignKey", testForeignKey},
		{"TxCommit", testTxCommit},
		{"TxRollback", testTxRollback},
		{"TxRollbackAfterFailedWrite", testTxRollbackAfterFailedWrite},
		{"TxNested", testTxNested},
		{"TxNestedError", testTxNestedError},
		{"TxPanic", testTxPanic},
		{"TxDone", testTxDone},
		{"ConcurrentUnique", testConcurrentUnique},
		{"ConcurrentTx", testConcurrentTx},
		{"ConcurrentMixed", testConcurrentMixed},
		{"Unknown", testUnknown},
		{"WrongType", testWrongType},
		{"CancelledContext", testCancelledContext},
		{"MigrateIdempotent", func(t *testing.T, db storage.Adapter) { testMigrateIdempotent(t, db, bound) }},
		{"Kinds", testKinds},
		{"Joined", testJoined},
		{"Unstorable", testUnstorable},
		{"ScopedTx", testScopedTx},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, setup(t, bound, open))
		})
	}
}

func setup(t *testing.T, bound storage.Schema, open func(t *testing.T) storage.Adapter) storage.Adapter {
	t.Helper()
	db := open(t)
	if db == nil {
		t.Fatal("storagetest: open returned a nil adapter")
	}
	if err := db.Bind(bound.Clone()); err != nil {
		t.Fatalf("Bind: %v", err)
	}
	if m, ok := db.(storage.Migrator); ok {
		if err := m.Migrate(t.Context(), bound.Clone()); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
	}
	return db
}

// --- helpers ---------------------------------------------------------------

func utc(y int, mo time.Month, d, h, mi, s, ms int) time.Time {
	return time.Date(y, mo, d, h, mi, s, ms*int(time.Millisecond), time.UTC)
}

func ptr[T any](v T) *T { return &v }

func cond(field string, op storage.Op, v any) storage.Where {
	return storage.Where{Field: field, Op: op, Value: v}
}

func or(w storage.Where) storage.Where { w.Or = true; return w }

var errPanic = errors.New("storagetest: adapter panicked")

// call runs f, turning a panic into an error wrapping errPanic.
func call(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", errPanic, p)
		}
	}()
	return f()
}

// full returns the record the adapter should return for r in table: every
// field present, values canonical.
func full(table string, r record) record {
	tb := schema.Table(table)
	if tb == nil {
		panic("storagetest: no table " + table)
	}
	out := record{}
	for _, f := range tb.AllFields() {
		v, err := storage.Normalize(f.Type, r[f.Name])
		if err != nil {
			panic(fmt.Sprintf("storagetest: bad expectation %s.%s: %v", table, f.Name, err))
		}
		out[f.Name] = v
	}
	return out
}

func byID(a, b record) int { return strings.Compare(a.String("id"), b.String("id")) }

// checkCanonical reports values of the wrong Go type, times not in UTC or
// not truncated to milliseconds.
func checkCanonical(t *testing.T, table string, recs ...record) {
	t.Helper()
	tb := schema.Table(table)
	for _, r := range recs {
		for _, f := range tb.AllFields() {
			v := r[f.Name]
			if v == nil {
				continue
			}
			ok := false
			switch f.Type {
			case storage.String:
				_, ok = v.(string)
			case storage.Bool:
				_, ok = v.(bool)
			case storage.Int:
				_, ok = v.(int64)
			case storage.Date:
				var tm time.Time
				if tm, ok = v.(time.Time); ok {
					if tm.Location() != time.UTC {
						t.Errorf("%s %v: %s is in location %v, want UTC", table, r["id"], f.Name, tm.Location())
					}
					if tm.Nanosecond()%int(time.Millisecond) != 0 {
						t.Errorf("%s %v: %s = %v is not truncated to milliseconds", table, r["id"], f.Name, tm)
					}
				}
			}
			if !ok {
				t.Errorf("%s %v: %s has Go type %T, want the canonical type of a %s field", table, r["id"], f.Name, v, f.Type)
			}
		}
	}
}

func create(t *testing.T, db storage.Adapter, table string, recs ...record) {
	t.Helper()
	for _, r := range recs {
		if err := db.Create(t.Context(), table, r); err != nil {
			t.Fatalf("Create(%s, %v): %v", table, r["id"], err)
		}
	}
}

func count(t *testing.T, db storage.Adapter, table string, where ...storage.Where) int64 {
	t.Helper()
	n, err := db.Count(t.Context(), table, where...)
	if err != nil {
		t.Fatalf("Count(%s, %v): %v", table, where, err)
	}
	return n
}

// checkTable compares the whole content of table with want (order ignored).
func checkTable(t *testing.T, db storage.Adapter, table string, want ...record) {
	t.Helper()
	got, err := db.FindMany(t.Context(), table, storage.Query{})
	if err != nil {
		t.Fatalf("FindMany(%s): %v", table, err)
	}
	checkCanonical(t, table, got...)
	exp := make([]record, len(want))
	for i, r := range want {
		exp[i] = full(table, r)
	}
	slices.SortFunc(exp, byID)
	got = slices.Clone(got)
	slices.SortFunc(got, byID)
	if diff := cmp.Diff(exp, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("content of %s (-want +got):\n%s", table, diff)
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	switch {
	case errors.Is(err, errPanic):
		t.Errorf("%s: %v", what, err)
	case err == nil:
		t.Errorf("%s: no error, want %v", what, target)
	case target != nil && !errors.Is(err, target):
		t.Errorf("%s: error %q does not wrap %v", what, err, target)
	}
}

// owners returns the fixture of the owner table.
func owners() []record {
	return []record{
		{"id": "o1", "email": "ann@example.com", "name": "ann", "active": true, "score": int64(10),
			"joinedAt": utc(2021, 1, 1, 0, 0, 0, 0), "note": "alpha", "handle": "h-ann", "vip": false},
		{"id": "o2", "email": "bob@example.com", "name": "bob", "active": false, "score": int64(-5),
			"joinedAt": utc(2021, 6, 15, 12, 30, 0, 0), "seenAt": utc(2024, 1, 1, 0, 0, 0, 0)},
		{"id": "o3", "email": "cid@example.org", "name": "cid", "active": true, "score": int64(0),
			"joinedAt": utc(2022, 3, 1, 0, 0, 0, 0), "note": "beta%_", "tier": int64(3)},
		{"id": "o4", "email": "dee@example.org", "name": "dee", "active": false, "score": int64(1 << 40),
			"joinedAt": utc(2019, 12, 31, 23, 59, 59, 999), "note": "Alpha", "tier": int64(1)},
		{"id": "o5", "email": "eve@test.net", "name": "éve ☃", "active": true, "score": int64(10),
			"joinedAt": utc(2023, 7, 4, 0, 0, 0, 0), "note": "gamma alpha", "vip": true},
	}
}

func seedOwners(t *testing.T, db storage.Adapter) {
	t.Helper()
	create(t, db, "owner", owners()...)
}

// ownerMap returns the fixture keyed by id, for building expectations.
func ownerMap() map[string]record {
	m := map[string]record{}
	for _, r := range owners() {
		m[r.String("id")] = r
	}
	return m
}

func values(m map[string]record) []record {
	var out []record
	for _, r := range m {
		out = append(out, r)
	}
	return out
}

func newOwner(id, email string) record {
	return record{"id": id, "email": email, "name": id, "active": true, "score": int64(1), "joinedAt": utc(2024, 5, 6, 7, 8, 9, 10)}
}

// --- tests -----------------------------------------------------------------

func testRoundTrip(t *testing.T, db storage.Adapter) {
	ist := time.FixedZone("IST", 5*3600+1800)
	pst := time.FixedZone("PST", -8*3600)
	long := strings.Repeat("é👩‍💻", 2000)
	cases := []struct {
		name string
		in   record
		want record
	}{
		{
			name: "all fields set",
			in: record{"id": "rt1", "email": "ünïcødé+tag@exämple.com", "name": `Zoë 👩‍💻 日本語 "q" 'q' \ % _`,
				"active": true, "score": int64(math.MaxInt64), "joinedAt": time.Date(2024, 2, 29, 23, 59, 59, 123456789, ist),
				"handle": "h1", "note": "line1\nline2\ttab", "tier": int64(7), "seenAt": time.Date(1960, 7, 1, 12, 0, 0, 999999, pst), "vip": true, "kind": "gold"},
			want: record{"id": "rt1", "email": "ünïcødé+tag@exämple.com", "name": `Zoë 👩‍💻 日本語 "q" 'q' \ % _`,
				"active": true, "score": int64(math.MaxInt64), "joinedAt": utc(2024, 2, 29, 18, 29, 59, 123),
				"handle": "h1", "note": "line1\nline2\ttab", "tier": int64(7), "seenAt": utc(1960, 7, 1, 20, 0, 0, 0), "vip": true, "kind": "gold"},
		},
		{
			name: "zero values are not NULL",
			in: record{"id": "rt2", "email": "zero@example.com", "name": "", "active": false, "score": int64(0),
				"joinedAt": time.Unix(0, 0), "handle": "", "note": "", "tier": int64(0), "seenAt": time.Unix(0, 0), "vip": false},
			want: record{"id": "rt2", "email": "zero@example.com", "name": "", "active": false, "score": int64(0),
				"joinedAt": utc(1970, 1, 1, 0, 0, 0, 0), "handle": "", "note": "", "tier": int64(0), "seenAt": utc(1970, 1, 1, 0, 0, 0, 0), "vip": false, "kind": nil},
		},
		{
			name: "optional fields omitted",
			in: record{"id": "rt3", "email": "min@example.com", "name": "min", "active": false, "score": int64(math.MinInt64),
				"joinedAt": utc(2100, 12, 31, 23, 59, 59, 999)},
			want: record{"id": "rt3", "email": "min@example.com", "name": "min", "active": false, "score": int64(math.MinInt64),
				"joinedAt": utc(2100, 12, 31, 23, 59, 59, 999), "handle": nil, "note": nil, "tier": nil, "seenAt": nil, "vip": nil, "kind": nil},
		},
		{
			name: "explicit nil and nil pointers",
			in: record{"id": "rt4", "email": "nil@example.com", "name": "nil", "active": true, "score": int64(-1),
				"joinedAt": utc(2000, 1, 1, 0, 0, 0, 1), "handle": nil, "note": (*string)(nil), "tier": (*int64)(nil),
				"seenAt": (*time.Time)(nil), "vip": (*bool)(nil)},
			want: record{"id": "rt4", "email": "nil@example.com", "name": "nil", "active": true, "score": int64(-1),
				"joinedAt": utc(2000, 1, 1, 0, 0, 0, 1), "handle": nil, "note": nil, "tier": nil, "seenAt": nil, "vip": nil, "kind": nil},
		},
		{
			name: "pointers, int and a long string",
			in: record{"id": "rt5", "email": ptr("ptr@example.com"), "name": long, "active": ptr(true), "score": 42,
				"joinedAt": ptr(time.Date(2038, 1, 19, 3, 14, 8, 500_000_000, time.UTC)), "note": ptr("p"), "tier": ptr(int64(1) << 53),
				"seenAt": ptr(time.Date(2024, 6, 1, 0, 0, 0, 0, pst)), "vip": ptr(false)},
			want: record{"id": "rt5", "email": "ptr@example.com", "name": long, "active": true, "score": int64(42),
				"joinedAt": utc(2038, 1, 19, 3, 14, 8, 500), "handle": nil, "note": "p", "tier": int64(1) << 53,
				"seenAt": utc(2024, 6, 1, 8, 0, 0, 0), "vip": false, "kind": nil},
		},
	}
	for _, tc := range cases {
		if err := db.Create(t.Context(), "owner", tc.in); err != nil {
			t.Fatalf("%s: Create: %v", tc.name, err)
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id := tc.want.String("id")
			got, err := db.FindOne(t.Context(), "owner", storage.W("id", id))
			if err != nil {
				t.Fatalf("FindOne: %v", err)
			}
			checkCanonical(t, "owner", got)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("FindOne by id (-want +got):\n%s", diff)
			}
			got, err = db.FindOne(t.Context(), "owner", storage.W("email", tc.want["email"]))
			if err != nil {
				t.Fatalf("FindOne by email: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("FindOne by email (-want +got):\n%s", diff)
			}
			many, err := db.FindMany(t.Context(), "owner", storage.Query{Where: []storage.Where{storage.W("name", tc.want["name"])}})
			if err != nil {
				t.Fatalf("FindMany by name: %v", err)
			}
			if diff := cmp.Diff([]record{tc.want}, many); diff != "" {
				t.Errorf("FindMany by name (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("item", func(t *testing.T) {
		t.Parallel()
		want := record{"id": "it1", "ownerId": "rt1", "title": "Ünïcode ✓"}
		create(t, db, "item", want)
		got, err := db.FindOne(t.Context(), "item", storage.W("ownerId", "rt1"))
		if err != nil {
			t.Fatalf("FindOne: %v", err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("item (-want +got):\n%s", diff)
		}
	})
}

func testRecordsAreCopies(t *testing.T, db storage.Adapter) {
	in := newOwner("c1", "copy@example.com")
	create(t, db, "owner", in)
	in["name"] = "changed after Create"
	in["score"] = int64(99)
	got, err := db.FindOne(t.Context(), "owner", storage.W("id", "c1"))
	if err != nil {
		t.Fatal(err)
	}
	got["name"] = "changed after FindOne"
	got["note"] = "x"
	many, err := db.FindMany(t.Context(), "owner", storage.Query{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range many {
		r["name"] = "changed after FindMany"
	}
	set := record{"tier": int64(5)}
	if _, err := db.Update(t.Context(), "owner", set, storage.W("id", "c1")); err != nil {
		t.Fatal(err)
	}
	set["tier"] = int64(6)
	want := newOwner("c1", "copy@example.com")
	want["tier"] = int64(5)
	checkTable(t, db, "owner", want)
}

func testNotFound(t *testing.T, db storage.Adapter) {
	ctx := t.Context()
	if _, err := db.FindOne(ctx, "owner", storage.W("id", "nobody")); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("FindOne on an empty table: err = %v, want ErrNotFound", err)
	}
	if _, err := db.FindOne(ctx, "owner"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("FindOne without conditions on an empty table: err = %v, want ErrNotFound", err)
	}
	seedOwners(t, db)
	if _, err := db.FindOne(ctx, "owner", storage.W("email", "nobody@example.com")); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("FindOne without a match: err = %v, want ErrNotFound", err)
	}
	if _, err := db.FindOne(ctx, "owner", storage.W("active", true), storage.W("score", -5)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("FindOne without a match of both conditions: err = %v, want ErrNotFound", err)
	}
	got, err := db.FindMany(ctx, "owner", storage.Query{Where: []storage.Where{storage.W("email", "nobody@example.com")}})
	if err != nil || len(got) != 0 {
		t.Errorf("FindMany without a match = %v, %v; want nothing, nil", got, err)
	}
	if n := count(t, db, "owner", storage.W("email", "nobody@example.com")); n != 0 {
		t.Errorf("Count without a match = %d, want 0", n)
	}
	r, err := db.FindOne(ctx, "owner", storage.W("active", false))
	if err != nil {
		t.Fatalf("FindOne with two matches: %v", err)
	}
	if id := r.String("id"); id != "o2" && id != "o4" {
		t.Errorf("FindOne(active = false) returned %q, want o2 or o4", id)
	}
}

func testOperators(t *testing.T, db storage.Adapter) {
	seedOwners(t, db)
	plus2 := time.FixedZone("+02", 2*3600)
	minus7 := time.FixedZone("-07", -7*3600)
	all := []string{"o1", "o2", "o3", "o4", "o5"}
	cases := []struct {
		name  string
		where []storage.Where
		want  []string
	}{
		// strings
		{"string eq", []storage.Where{cond("email", storage.Eq, "bob@example.com")}, []string{"o2"}},
		{"string ne", []storage.Where{cond("email", storage.Ne, "bob@example.com")}, []string{"o1", "o3", "o4", "o5"}},
		{"string lt", []storage.Where{cond("email", storage.Lt, "cid@example.org")}, []string{"o1", "o2"}},
		{"string lte", []storage.Where{cond("email", storage.Lte, "cid@example.org")}, []string{"o1", "o2", "o3"}},
		{"string gt", []storage.Where{cond("email", storage.Gt, "dee@example.org")}, []string{"o5"}},
		{"string gte", []storage.Where{cond("email", storage.Gte, "dee@example.org")}, []string{"o4", "o5"}},
		{"string in []string", []storage.Where{cond("email", storage.In, []string{"ann@example.com", "eve@test.net", "nobody@example.com"})}, []string{"o1", "o5"}},
		{"string in []any", []storage.Where{cond("email", storage.In, []any{"ann@example.com", "eve@test.net"})}, []string{"o1", "o5"}},
		{"string not in []string", []storage.Where{cond("email", storage.NotIn, []string{"ann@example.com", "eve@test.net"})}, []string{"o2", "o3", "o4"}},
		{"string not in []any", []storage.Where{cond("email", storage.NotIn, []any{"ann@example.com", "eve@test.net"})}, []string{"o2", "o3", "o4"}},
		{"in empty list", []storage.Where{cond("email", storage.In, []string{})}, nil},
		{"not in empty list", []storage.Where{cond("email", storage.NotIn, []string{})}, all},
		{"id in", []storage.Where{cond("id", storage.In, []string{"o2", "o4", "zz"})}, []string{"o2", "o4"}},
		{"contains", []storage.Where{cond("email", storage.Contains, "@example.")}, []string{"o1", "o2", "o3", "o4"}},
		{"starts with", []storage.Where{cond("email", storage.StartsWith, "d")}, []string{"o4"}},
		{"ends with", []storage.Where{cond("email", storage.EndsWith, ".org")}, []string{"o3", "o4"}},
		{"contains is case-sensitive (upper)", []storage.Where{cond("note", storage.Contains, "Alpha")}, []string{"o4"}},
		{"contains is case-sensitive (lower)", []storage.Where{cond("note", storage.Contains, "alpha")}, []string{"o1", "o5"}},
		{"starts with is case-sensitive (lower)", []storage.Where{cond("note", storage.StartsWith, "alpha")}, []string{"o1"}},
		{"starts with is case-sensitive (upper)", []storage.Where{cond("note", storage.StartsWith, "A")}, []string{"o4"}},
		{"ends with is case-sensitive (lower)", []storage.Where{cond("note", storage.EndsWith, "alpha")}, []string{"o1", "o5"}},
		{"ends with is case-sensitive (upper)", []storage.Where{cond("note", storage.EndsWith, "ALPHA")}, nil},
		{"contains % literally", []storage.Where{cond("note", storage.Contains, "%")}, []string{"o3"}},
		{"contains _ literally", []storage.Where{cond("note", storage.Contains, "_")}, []string{"o3"}},
		{"contains a% literally", []storage.Where{cond("note", storage.Contains, "a%")}, []string{"o3"}},
		{"starts with % literally", []storage.Where{cond("note", storage.StartsWith, "%")}, nil},
		{"starts with beta% literally", []storage.Where{cond("note", storage.StartsWith, "beta%")}, []string{"o3"}},
		{"ends with _ literally", []storage.Where{cond("note", storage.EndsWith, "_")}, []string{"o3"}},
		{"contains backslash literally", []storage.Where{cond("note", storage.Contains, `\`)}, nil},
		{"contains backslash-percent literally", []storage.Where{cond("note", storage.Contains, `\%`)}, nil},
		{"contains unicode", []storage.Where{cond("name", storage.Contains, "☃")}, []string{"o5"}},
		{"starts with unicode", []storage.Where{cond("name", storage.StartsWith, "é")}, []string{"o5"}},
		{"ends with unicode", []storage.Where{cond("name", storage.EndsWith, " ☃")}, []string{"o5"}},
		{"eq unicode on a renamed column", []storage.Where{storage.W("name", "éve ☃")}, []string{"o5"}},
		{"eq on a renamed column", []storage.Where{storage.W("name", "cid")}, []string{"o3"}},
		{"eq nil", []storage.Where{cond("note", storage.Eq, nil)}, []string{"o2"}},
		{"ne nil", []storage.Where{cond("note", storage.Ne, nil)}, []string{"o1", "o3", "o4", "o5"}},
		{"ne does not match NULL", []storage.Where{cond("note", storage.Ne, "alpha")}, []string{"o3", "o4", "o5"}},
		{"not in does not match NULL", []storage.Where{cond("note", storage.NotIn, []string{"alpha"})}, []string{"o3", "o4", "o5"}},
		// NOT IN (…, NULL) is never true; the condition after it must still
		// get its own value (SQLite once bound the list's values to it).
		{"not in a list holding NULL, or eq", []storage.Where{cond("email", storage.NotIn, []any{"ann@example.com", nil}),
			{Field: "id", Op: storage.Eq, Value: "o2", Or: true}}, []string{"o2"}},
		{"in a list holding NULL", []storage.Where{cond("note", storage.In, []any{"alpha", nil})}, []string{"o1"}},
		// ints
		{"int eq", []storage.Where{cond("score", storage.Eq, int64(10))}, []string{"o1", "o5"}},
		{"int eq given an int", []storage.Where{cond("score", storage.Eq, 10)}, []string{"o1", "o5"}},
		{"int ne", []storage.Where{cond("score", storage.Ne, int64(10))}, []string{"o2", "o3", "o4"}},
		{"int lt", []storage.Where{cond("score", storage.Lt, int64(0))}, []string{"o2"}},
		{"int lte", []storage.Where{cond("score", storage.Lte, int64(0))}, []string{"o2", "o3"}},
		{"int gt", []storage.Where{cond("score", storage.Gt, int64(10))}, []string{"o4"}},
		{"int gte", []storage.Where{cond("score", storage.Gte, int64(10))}, []string{"o1", "o4", "o5"}},
		{"int gt large", []storage.Where{cond("score", storage.Gt, int64(1<<40-1))}, []string{"o4"}},
		{"int eq large", []storage.Where{cond("score", storage.Eq, int64(1<<40))}, []string{"o4"}},
		{"int in []any", []storage.Where{cond("score", storage.In, []any{int64(0), int64(1 << 40)})}, []string{"o3", "o4"}},
		{"int in []int64", []storage.Where{cond("score", storage.In, []int64{-5, 7})}, []string{"o2"}},
		{"int not in", []storage.Where{cond("score", storage.NotIn, []any{10})}, []string{"o2", "o3", "o4"}},
		{"optional int gt skips NULL", []storage.Where{cond("tier", storage.Gt, int64(0))}, []string{"o3", "o4"}},
		{"optional int lt skips NULL", []storage.Where{cond("tier", storage.Lt, int64(100))}, []string{"o3", "o4"}},
		{"optional int ne skips NULL", []storage.Where{cond("tier", storage.Ne, int64(3))}, []string{"o4"}},
		{"optional int eq nil", []storage.Where{cond("tier", storage.Eq, nil)}, []string{"o1", "o2", "o5"}},
		{"optional int ne nil", []storage.Where{cond("tier", storage.Ne, nil)}, []string{"o3", "o4"}},
		// dates
		{"date lt", []storage.Where{cond("joinedAt", storage.Lt, utc(2021, 1, 1, 0, 0, 0, 0))}, []string{"o4"}},
		{"date lte", []storage.Where{cond("joinedAt", storage.Lte, utc(2021, 1, 1, 0, 0, 0, 0))}, []string{"o1", "o4"}},
		{"date gt", []storage.Where{cond("joinedAt", storage.Gt, utc(2022, 3, 1, 0, 0, 0, 0))}, []string{"o5"}},
		{"date gte", []storage.Where{cond("joinedAt", storage.Gte, utc(2022, 3, 1, 0, 0, 0, 0))}, []string{"o3", "o5"}},
		{"date ne", []storage.Where{cond("joinedAt", storage.Ne, utc(2021, 1, 1, 0, 0, 0, 0))}, []string{"o2", "o3", "o4", "o5"}},
		{"date eq in another zone", []storage.Where{cond("joinedAt", storage.Eq, time.Date(2021, 6, 15, 14, 30, 0, 0, plus2))}, []string{"o2"}},
		{"date eq is normalized to ms", []storage.Where{cond("joinedAt", storage.Eq, utc(2019, 12, 31, 23, 59, 59, 999).Add(123456))}, []string{"o4"}},
		{"date lt keeps ms", []storage.Where{cond("joinedAt", storage.Lt, utc(2019, 12, 31, 23, 59, 59, 999))}, nil},
		{"date gt keeps ms", []storage.Where{cond("joinedAt", storage.Gt, utc(2019, 12, 31, 23, 59, 59, 998))}, all},
		{"date lte keeps ms", []storage.Where{cond("joinedAt", storage.Lte, utc(2019, 12, 31, 23, 59, 59, 999))}, []string{"o4"}},
		{"date in", []storage.Where{cond("joinedAt", storage.In, []any{utc(2021, 1, 1, 0, 0, 0, 0), time.Date(2023, 7, 3, 17, 0, 0, 0, minus7)})}, []string{"o1", "o5"}},
		{"date not in", []storage.Where{cond("joinedAt", storage.NotIn, []any{utc(2021, 1, 1, 0, 0, 0, 0)})}, []string{"o2", "o3", "o4", "o5"}},
		{"optional date eq nil", []storage.Where{cond("seenAt", storage.Eq, nil)}, []string{"o1", "o3", "o4", "o5"}},
		{"optional date lt skips NULL", []storage.Where{cond("seenAt", storage.Lt, utc(2030, 1, 1, 0, 0, 0, 0))}, []string{"o2"}},
		// bools
		{"bool eq true", []storage.Where{storage.W("active", true)}, []string{"o1", "o3", "o5"}},
		{"bool eq false", []storage.Where{storage.W("active", false)}, []string{"o2", "o4"}},
		{"bool ne true", []storage.Where{cond("active", storage.Ne, true)}, []string{"o2", "o4"}},
		{"bool ne false", []storage.Where{cond("active", storage.Ne, false)}, []string{"o1", "o3", "o5"}},
		{"bool in", []storage.Where{cond("active", storage.In, []any{false})}, []string{"o2", "o4"}},
		{"bool in both", []storage.Where{cond("active", storage.In, []any{true, false})}, all},
		{"bool not in", []storage.Where{cond("active", storage.NotIn, []any{true})}, []string{"o2", "o4"}},
		{"optional bool eq false skips NULL", []storage.Where{storage.W("vip", false)}, []string{"o1"}},
		{"optional bool ne true skips NULL", []storage.Where{cond("vip", storage.Ne, true)}, []string{"o1"}},
		{"optional bool eq nil", []storage.Where{cond("vip", storage.Eq, nil)}, []string{"o2", "o3", "o4"}},
		// connectors
		{"no conditions", nil, all},
		{"and", []storage.Where{storage.W("active", true), cond("score", storage.Gte, 10), cond("joinedAt", storage.Lt, utc(2022, 1, 1, 0, 0, 0, 0))}, []string{"o1"}},
		{"or", []storage.Where{storage.W("email", "ann@example.com"), or(storage.W("email", "dee@example.org"))}, []string{"o1", "o4"}},
		{"and binds tighter than a leading or", []storage.Where{storage.W("email", "bob@example.com"), or(storage.W("active", true)), storage.W("score", 10)}, []string{"o1", "o2", "o5"}},
		{"and binds tighter than a trailing or", []storage.Where{storage.W("active", true), storage.W("score", 0), or(storage.W("email", "dee@example.org"))}, []string{"o3", "o4"}},
		{"two and-groups", []storage.Where{storage.W("active", true), cond("score", storage.Lt, 5), or(storage.W("active", false)), cond("score", storage.Gt, 5)}, []string{"o3", "o4"}},
		{"three alternatives", []storage.Where{storage.W("active", false), or(cond("score", storage.Gt, 5)), or(cond("note", storage.Eq, nil))}, []string{"o1", "o2", "o4", "o5"}},
		{"or with NULL tests", []storage.Where{cond("note", storage.Eq, nil), or(cond("tier", storage.Gt, 2))}, []string{"o2", "o3"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			var got []record
			err := call(func() (err error) {
				got, err = db.FindMany(ctx, "owner", storage.Query{Where: tc.where})
				return err
			})
			if err != nil {
				t.Fatalf("FindMany(%v): %v", tc.where, err)
			}
			ids := make([]string, len(got))
			for i, r := range got {
				ids[i] = r.String("id")
			}
			slices.Sort(ids)
			if diff := cmp.Diff(tc.want, ids, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("FindMany(%v) ids (-want +got):\n%s", tc.where, diff)
			}
			m := ownerMap()
			for _, r := range got {
				if diff := cmp.Diff(full("owner", m[r.String("id")]), r); diff != "" {
					t.Errorf("FindMany returned a wrong record (-want +got):\n%s", diff)
				}
			}
			if n, err := db.Count(ctx, "owner", tc.where...); err != nil || n != int64(len(tc.want)) {
				t.Errorf("Count(%v) = %d, %v; want %d", tc.where, n, err, len(tc.want))
			}
			r, err := db.FindOne(ctx, "owner", tc.where...)
			switch {
			case len(tc.want) == 0 && !errors.Is(err, storage.ErrNotFound):
				t.Errorf("FindOne(%v) = %v, %v; want ErrNotFound", tc.where, r["id"], err)
			case len(tc.want) > 0 && err != nil:
				t.Errorf("FindOne(%v): %v", tc.where, err)
			case len(tc.want) > 0 && !slices.Contains(tc.want, r.String("id")):
				t.Errorf("FindOne(%v) = %v, want one of %v", tc.where, r["id"], tc.want)
			}
		})
	}
}

func testSort(t *testing.T, db storage.Adapter) {
	seedOwners(t, db)
	asc := func(f string) storage.Sort { return storage.Sort{Field: f} }
	desc := func(f string) storage.Sort { return storage.Sort{Field: f, Desc: true} }
	cases := []struct {
		name string
		q    storage.Query
		want []string
	}{
		{"string asc", storage.Query{Sort: []storage.Sort{asc("email")}}, []string{"o1", "o2", "o3", "o4", "o5"}},
		{"string desc", storage.Query{Sort: []storage.Sort{desc("email")}}, []string{"o5", "o4", "o3", "o2", "o1"}},
		{"renamed column desc", storage.Query{Sort: []storage.Sort{desc("name")}}, []string{"o5", "o4", "o3", "o2", "o1"}},
		{"int asc", storage.Query{Sort: []storage.Sort{asc("score"), asc("email")}}, []string{"o2", "o3", "o1", "o5", "o4"}},
		{"date asc", storage.Query{Sort: []storage.Sort{asc("joinedAt")}}, []string{"o4", "o1", "o2", "o3", "o5"}},
		{"date desc", storage.Query{Sort: []storage.Sort{desc("joinedAt")}}, []string{"o5", "o3", "o2", "o1", "o4"}},
		{"bool, int desc, string", storage.Query{Sort: []storage.Sort{asc("active"), desc("score"), asc("email")}}, []string{"o4", "o2", "o1", "o5", "o3"}},
		{"int desc, string desc", storage.Query{Sort: []storage.Sort{desc("score"), desc("email")}}, []string{"o4", "o5", "o1", "o3", "o2"}},
		{"bool desc, date", storage.Query{Sort: []storage.Sort{desc("active"), asc("joinedAt")}}, []string{"o1", "o3", "o5", "o4", "o2"}},
		{"where and sort", storage.Query{Where: []storage.Where{storage.W("active", true)}, Sort: []storage.Sort{asc("score"), asc("email")}}, []string{"o3", "o1", "o5"}},
		{"limit", storage.Query{Sort: []storage.Sort{asc("email")}, Limit: 1}, []string{"o1"}},
		{"page 1", storage.Query{Sort: []storage.Sort{asc("email")}, Limit: 2}, []string{"o1", "o2"}},
		{"page 2", storage.Query{Sort: []storage.Sort{asc("email")}, Limit: 2, Offset: 2}, []string{"o3", "o4"}},
		{"page 3", storage.Query{Sort: []storage.Sort{asc("email")}, Limit: 2, Offset: 4}, []string{"o5"}},
		{"page 4", storage.Query{Sort: []storage.Sort{asc("email")}, Limit: 2, Offset: 6}, nil},
		{"offset without limit", storage.Query{Sort: []storage.Sort{asc("email")}, Offset: 3}, []string{"o4", "o5"}},
		{"limit above count", storage.Query{Sort: []storage.Sort{desc("email")}, Limit: 10}, []string{"o5", "o4", "o3", "o2", "o1"}},
		{"where, sort desc, limit, offset", storage.Query{Where: []storage.Where{storage.W("active", true)}, Sort: []storage.Sort{desc("email")}, Limit: 2, Offset: 1}, []string{"o3", "o1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []record
			err := call(func() (err error) {
				got, err = db.FindMany(t.Context(), "owner", tc.q)
				return err
			})
			if err != nil {
				t.Fatalf("FindMany(%+v): %v", tc.q, err)
			}
			ids := make([]string, len(got))
			for i, r := range got {
				ids[i] = r.String("id")
			}
			if diff := cmp.Diff(tc.want, ids, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("FindMany(%+v) ids (-want +got):\n%s", tc.q, diff)
			}
		})
	}
}

func testUpdate(t *testing.T, db storage.Adapter) {
	ctx := t.Context()
	seedOwners(t, db)
	want := ownerMap()
	ist := time.FixedZone("IST", 5*3600+1800)
	steps := []struct {
		name  string
		set   record
		where []storage.Where
		n     int64
		apply func()
	}{
		{"several rows", record{"score": int64(99), "note": "upd"}, []storage.Where{storage.W("active", true)}, 3, func() {
			for _, id := range []string{"o1", "o3", "o5"} {
				want[id]["score"], want[id]["note"] = int64(99), "upd"
			}
		}},
		{"no match", record{"score": int64(1)}, []storage.Where{storage.W("email", "nobody@example.com")}, 0, func() {}},
		{"unchanged value still counts as matched", record{"score": int64(99)}, []storage.Where{storage.W("id", "o1")}, 1, func() {}},
		{"to NULL", record{"note": nil, "vip": nil}, []storage.Where{storage.W("id", "o1")}, 1, func() {
			want["o1"]["note"], want["o1"]["vip"] = nil, nil
		}},
		{"from NULL, all types, renamed columns", record{"tier": 7, "seenAt": time.Date(2025, 1, 2, 3, 4, 5, 678_900_000, ist), "name": "Bøb", "joinedAt": ptr(utc(2020, 2, 2, 2, 2, 2, 2)), "active": true, "vip": true},
			[]storage.Where{storage.W("id", "o2")}, 1, func() {
				want["o2"]["tier"], want["o2"]["seenAt"], want["o2"]["name"] = int64(7), utc(2025, 1, 1, 21, 34, 5, 678), "Bøb"
				want["o2"]["joinedAt"], want["o2"]["active"], want["o2"]["vip"] = utc(2020, 2, 2, 2, 2, 2, 2), true, true
			}},
		{"or", record{"handle": nil, "score": int64(math.MinInt64)}, []storage.Where{storage.W("id", "o1"), or(storage.W("id", "o4"))}, 2, func() {
			want["o1"]["handle"], want["o1"]["score"] = nil, int64(math.MinInt64)
			want["o4"]["handle"], want["o4"]["score"] = nil, int64(math.MinInt64)
		}},
		{"unique field to a free value", record{"email": "ann2@example.com", "handle": "h-new"}, []storage.Where{storage.W("email", "ann@example.com")}, 1, func() {
			want["o1"]["email"], want["o1"]["handle"] = "ann2@example.com", "h-new"
		}},
		{"where on a field being set", record{"score": int64(1)}, []storage.Where{cond("score", storage.Eq, int64(99))}, 2, func() {
			want["o3"]["score"], want["o5"]["score"] = int64(1), int64(1)
		}},
	}
	for _, st := range steps {
		var n int64
		err := call(func() (err error) { n, err = db.Update(ctx, "owner", st.set, st.where...); return err })
		if err != nil {
			t.Fatalf("%s: Update: %v", st.name, err)
		}
		if n != st.n {
			t.Errorf("%s: Update returned %d, want %d", st.name, n, st.n)
		}
		st.apply()
		checkTable(t, db, "owner", values(want)...)
		if t.Failed() {
			t.Fatalf("after step %q", st.name)
		}
	}
}

func testDelete(t *testing.T, db storage.Adapter) {
	ctx := t.Context()
	seedOwners(t, db)
	want := ownerMap()
	steps := []struct {
		name  string
		where []storage.Where
		n     int64
		gone  []string
	}{
		{"two rows", []storage.Where{storage.W("score", 10)}, 2, []string{"o1", "o5"}},
		{"no match", []storage.Where{storage.W("id", "o1")}, 0, nil},
		{"or", []storage.Where{storage.W("id", "o2"), or(storage.W("email", "cid@example.org"))}, 2, []string{"o2", "o3"}},
		{"all", nil, 1, []string{"o4"}},
	}
	for _, st := range steps {
		var n int64
		err := call(func() (err error) { n, err = db.Delete(ctx, "owner", st.where...); return err })
		if err != nil {
			t.Fatalf("%s: Delete: %v", st.name, err)
		}
		if n != st.n {
			t.Errorf("%s: Delete returned %d, want %d", st.name, n, st.n)
		}
		for _, id := range st.gone {
			delete(want, id)
		}
		if c := count(t, db, "owner"); c != int64(len(want)) {
			t.Errorf("%s: Count = %d, want %d", st.name, c, len(want))
		}
		checkTable(t, db, "owner", values(want)...)
		if t.Failed() {
			t.Fatalf("after step %q", st.name)
		}
	}
	create(t, db, "owner", owners()[0])
	checkTable(t, db, "owner", owners()[0])
}

func testUnique(t *testing.T, db storage.Adapter) {
	ctx := t.Context()
	seedOwners(t, db)
	want := owners()
	creates := []struct {
		name string
		rec  record
	}{
		{"same email", newOwner("n1", "ann@example.com")},
		{"same id", newOwner("o1", "new@example.com")},
		{"same handle", func() record { r := newOwner("n2", "new2@example.com"); r["handle"] = "h-ann"; return r }()},
	}
	for _, c := range creates {
		err := call(func() error { return db.Create(ctx, "owner", c.rec) })
		wantErr(t, "Create with "+c.name, err, storage.ErrConflict)
	}
	updates := []struct {
		name  string
		set   record
		where []storage.Where
	}{
		{"email of another row", record{"email": "ann@example.com"}, []storage.Where{storage.W("id", "o2")}},
		{"id of another row", record{"id": "o1"}, []storage.Where{storage.W("id", "o2")}},
		{"handle of another row", record{"handle": "h-ann"}, []storage.Where{storage.W("id", "o3")}},
		{"a new email on several rows", record{"email": "same@example.com"}, []storage.Where{storage.W("active", true)}},
		{"a new handle on several rows", record{"handle": "h-same", "score": int64(3)}, []storage.Where{storage.W("active", false)}},
	}
	for _, u := range updates {
		err := call(func() error { _, err := db.Update(ctx, "owner", u.set, u.where...); return err })
		wantErr(t, "Update setting "+u.name, err, storage.ErrConflict)
	}
	checkTable(t, db, "owner", want...)

	// A row does not conflict with itself, and NULLs never conflict.
	if n, err := db.Update(ctx, "owner", record{"email": "ann@example.com", "handle": "h-ann"}, storage.W("id", "o1")); err != nil || n != 1 {
		t.Errorf("Update keeping unique values = %d, %v; want 1, nil", n, err)
	}
	n1, n2 := newOwner("n1", "n1@example.com"), newOwner("n2", "n2@example.com")
	n2["handle"] = nil
	create(t, db, "owner", n1, n2)
	if n, err := db.Update(ctx, "owner", record{"handle": nil}, storage.W("active", false)); err != nil || n != 2 {
		t.Errorf("Update setting a unique field to NULL on two rows = %d, %v; want 2, nil", n, err)
	}
	want = append(want, n1, n2)
	checkTable(t, db, "owner", want...)
}

func testNotNull(t *testing.T, db storage.Adapter) {
	ctx := t.Context()
	seedOwners(t, db)
	creates := []struct {
		name  string
		table string
		rec   record
	}{
		{"a required field missing", "owner", func() record { r := newOwner("n1", "n1@example.com"); delete(r, "name"); return r }()},
		{"a required field nil", "owner", func() record { r := newOwner("n1", "n1@example.com"); r["joinedAt"] = nil; return r }()},
		{"a required bool nil pointer", "owner", func() record { r := newOwner("n1", "n1@example.com"); r["active"] = (*bool)(nil); return r }()},
		{"a required foreign key missing", "item", record{"id": "i1", "title": "t"}},
	}
	for _, c := range creates {
		err := call(func() error { return db.Create(ctx, c.table, c.rec) })
		wantErr(t, "Create with "+c.name, err, storage.ErrConstraint)
	}
	err := call(func() error {
		return db.Create(ctx, "owner", record{"email": "x@example.com", "name": "x", "active": true, "score": 1, "joinedAt": time.Now()})
	})
	wantErr(t, "Create without id", err, nil)
	err = call(func() error {
		_, err := db.Update(ctx, "owner", record{"name": nil}, storage.W("id", "o1"))
		return err
	})
	wantErr(t, "Update setting a required field to nil", err, storage.ErrConstraint)
	err = call(func() error { _, err := db.Update(ctx, "owner", record{"score": nil, "note": "z"}); return err })
	wantErr(t, "Update setting a required field to nil on every row", err, storage.ErrConstraint)
	checkTable(t, db, "owner", owners()...)
	checkTable(t, db, "item")
}

func testCheck(t *testing.T, db storage.Adapter) {
	ctx := t.Context()
	create(t, db, "pair",
		record{"id": "p1"},
		record{"id": "p2", "a": "x", "b": int64(1)},
		record{"id": "p3", "a": "z", "b": int64(5)},
	)
	for _, r := range []record{{"id": "p4", "a": "x"}, {"id": "p5", "b": int64(2)}, {"id": "p6", "a": "", "b": nil}} {
		err := call(func() error { return db.Create(ctx, "pair", r) })
		wantErr(t, fmt.Sprintf("Create(%v)", r), err, storage.ErrConstraint)
	}
	bad := []struct {
		set   record
		where []storage.Where
	}{
		{record{"a": "y"}, []storage.Where{storage.W("id", "p1")}},
		{record{"b": nil}, []storage.Where{storage.W("id", "p2")}},
		// p3 alone would pass; p1 fails, so neither may change.
		{record{"b": int64(9)}, []storage.Where{cond("id", storage.In, []string{"p1", "p3"})}},
	}
	for _, u := range bad {
		err := call(func() error { _, err := db.Update(ctx, "pair", u.set, u.where...); return err })
		wantErr(t, fmt.Sprintf("Update(%v, %v)", u.set, u.where), err, storage.ErrConstraint)
	}
	want := []record{{"id": "p1"}, {"id": "p2", "a": "x", "b": int64(1)}, {"id": "p3", "a": "z", "b": int64(5)}}
	checkTable(t, db, "pair", want...)
	if n, err := db.Update(ctx, "pair", record{"a": nil, "b": nil}, storage.W("id", "p2")); err != nil || n != 1 {
		t.Errorf("Update to both NULL = %d, %v; want 1, nil", n, err)
	}
	if n, err := db.Update(ctx, "pair", record{"a": "q", "b": int64(0)}, storage.W("id", "p1")); err != nil || n != 1 {
		t.Errorf("Update to both set = %d, %v; want 1, nil", n, err)
	}
	want = []record{{"id": "p1", "a": "q", "b": int64(0)}, {"id": "p2"}, {"id": "p3", "a": "z", "b": int64(5)}}
	checkTable(t, db, "pair", want...)
	if n := count(t, db, "pair", cond("b", storage.Eq, nil)); n != 1 {
		t.Errorf("Count(b IS NULL) = %d, want 1", n)
	}
}

func testForeignKey(t *testing.T, db storage.Adapter) {
	ctx := t.Context()
	seedOwners(t, db)
	items := map[string]record{
		"i1": {"id": "i1", "ownerId": "o1", "title": "one"},
		"i2": {"id": "i2", "ownerId": "o1", "title": "two"},
		"i3": {"id": "i3", "ownerId": "o2", "title": "three"},
		"i5": {"id": "i5", "ownerId": "o5", "title": "five"},
	}
	parts := map[string]record{
		"p1": {"id": "p1", "itemId": "i1", "label": "a"},
		"p2": {"id": "p2", "itemId": "i3", "label": "b"},
		"p5": {"id": "p5", "itemId": "i5", "label": "c"},
	}
	memos := map[string]record{
		"m1": {"id": "m1", "ownerId": "o1", "body": "x"},
		"m2": {"id": "m2", "body": "y"},
		"m3": {"id": "m3", "ownerId": "o2", "body": "z"},
	}
	pins := map[string]record{
		"pin3": {"id": "pin3", "ownerId": "o3"},
		"pin5": {"id": "pin5", "ownerId": "o5"},
	}
	own := ownerMap()
	create(t, db, "item", values(items)...)
	create(t, db, "part", values(parts)...)
	create(t, db, "memo", values(memos)...)
	create(t, db, "pin", values(pins)...)
	checkAll := func(step string) {
		t.Helper()
		checkTable(t, db, "owner", values(own)...)
		checkTable(t, db, "item", values(items)...)
		checkTable(t, db, "part", values(parts)...)
		checkTable(t, db, "memo", values(memos)...)
		checkTable(t, db, "pin", values(pins)...)
		if t.Failed() {
			t.Fatalf("after %s", step)
		}
	}
	checkAll("setup")

	err := call(func() error { return db.Create(ctx, "item", record{"id": "i9", "ownerId": "nobody", "title": "t"}) })
	wantErr(t, "Create of an item with a missing owner", err, storage.ErrConstraint)
	err = call(func() error { return db.Create(ctx, "part", record{"id": "p9", "itemId": "o1", "label": "t"}) })
	wantErr(t, "Create of a part referencing an owner id as an item", err, storage.ErrConstraint)
	err = call(func() error {
		_, err := db.Update(ctx, "item", record{"ownerId": "nobody"}, storage.W("id", "i3"))
		return err
	})
	wantErr(t, "Update of an item to a missing owner", err, storage.ErrConstraint)
	err = call(func() error {
		_, err := db.Update(ctx, "owner", record{"id": "o1-renamed"}, storage.W("id", "o1"))
		return err
	})
	wantErr(t, "Update of a referenced owner id", err, storage.ErrConstraint)
	err = call(func() error { _, err := db.Delete(ctx, "owner", storage.W("id", "o3")); return err })
	wantErr(t, "Delete of an owner with a RESTRICT pin", err, storage.ErrConstraint)
	err = call(func() error { _, err := db.Delete(ctx, "owner", storage.W("id", "o5")); return err })
	wantErr(t, "Delete of an owner with cascading items and a RESTRICT pin", err, storage.ErrConstraint)
	err = call(func() error {
		_, err := db.Delete(ctx, "owner", cond("id", storage.In, []string{"o4", "o5"}))
		return err
	})
	wantErr(t, "Delete of a free owner together with a pinned one", err, storage.ErrConstraint)
	checkAll("failed writes")

	if n, err := db.Update(ctx, "item", record{"ownerId": "o4"}, storage.W("id", "i3")); err != nil || n != 1 {
		t.Fatalf("Update of an item to another owner = %d, %v; want 1, nil", n, err)
	}
	items["i3"]["ownerId"] = "o4"
	checkAll("moving an item")

	// Deleting o1 cascades to its items and, recursively, their parts, and
	// nulls its memo; Delete counts only the owner.
	if n, err := db.Delete(ctx, "owner", storage.W("id", "o1")); err != nil || n != 1 {
		t.Fatalf("Delete of an owner with items = %d, %v; want 1, nil", n, err)
	}
	delete(own, "o1")
	delete(items, "i1")
	delete(items, "i2")
	delete(parts, "p1")
	memos["m1"]["ownerId"] = nil
	checkAll("deleting o1")

	// Without its pin, o3 can go.
	if n, err := db.Delete(ctx, "pin", storage.W("ownerId", "o3")); err != nil || n != 1 {
		t.Fatalf("Delete of a pin = %d, %v; want 1, nil", n, err)
	}
	delete(pins, "pin3")
	if n, err := db.Delete(ctx, "owner", storage.W("id", "o3")); err != nil || n != 1 {
		t.Fatalf("Delete of an unpinned owner = %d, %v; want 1, nil", n, err)
	}
	delete(own, "o3")
	checkAll("deleting o3")

	// o2 and o4 together: i3 (now o4's) and its part go, m3 is nulled.
	if n, err := db.Delete(ctx, "owner", cond("id", storage.In, []string{"o2", "o4"})); err != nil || n != 2 {
		t.Fatalf("Delete of two owners = %d, %v; want 2, nil", n, err)
	}
	delete(own, "o2")
	delete(own, "o4")
	delete(items, "i3")
	delete(parts, "p2")
	memos["m3"]["ownerId"] = nil
	checkAll("deleting o2 and o4")

	create(t, db, "item", record{"id": "i6", "ownerId": "o5", "title": "six"})
	items["i6"] = record{"id": "i6", "ownerId": "o5", "title": "six"}
	checkAll("creating an item")
}

var errBoom = errors.New("storagetest: boom")

func testTxCommit(t *testing.T, db storage.Adapter) {
	ctx := t.Context()
	o := newOwner("t1", "t1@example.com")
	err := call(func() error {
		return db.Tx(ctx, func(tx storage.Adapter) error {
			if err := tx.Create(ctx, "owner", o); err != nil {
				return err
			}
			if err := tx.Create(ctx, "item", record{"id": "ti1", "ownerId": "t1", "title": "x"}); err != nil {
				return err
			}
			if n, err := tx.Update(ctx, "owner", record{"score": int64(2)}, storage.W("id", "t1")); err != nil || n != 1 {
				return fmt.Errorf("Update in tx = %d, %v; want 1, nil", n, err)
			}
			got, err := tx.FindOne(ctx, "owner", storage.W("id", "t1"))
			if err != nil {
				return fmt.Errorf("FindOne in tx: %w", err)
			}
			if got.Int("score") != 2 {
				return fmt.Errorf("the tx does not see its own update: score = %v", got["score"])
			}
			if n, err := tx.Count(ctx, "item"); err != nil || n != 1 {
				return fmt.Errorf("Count in tx = %d, %v; want 1, nil", n, err)
			}
			recs, err := tx.FindMany(ctx, "item", storage.Query{})
			if err != nil || len(recs) != 1 {
				return fmt.Errorf("FindMany in tx = %v, %v; want one item", recs, err)
			}
			if err := tx.Create(ctx, "item", record{"id": "ti2", "ownerId": "t1", "title": "y"}); err != nil {
				return err
			}
			if n, err := tx.Delete(ctx, "item", storage.W("id", "ti2")); err != nil || n != 1 {
				return fmt.Errorf("Delete in tx = %d, %v; want 1, nil", n, err)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatalf("Tx: %v", err)
	}
	o["score"] = int64(2)
	checkTable(t, db, "owner", o)
	checkTable(t, db, "item", record{"id": "ti1", "ownerId": "t1", "title": "x"})
}

func testTxRollback(t *testing.T, db storage.Adapter) {
	ctx := t.Context()
	seedOwners(t, db)
	items := []record{{"id": "i1", "ownerId": "o1", "title": "x"}, {"id": "i2", "ownerId": "o2", "title": "y"}}
	create(t, db, "item", items...)
	err := call(func() error {
		return db.Tx(ctx, func(tx storage.Adapter) error {
			if err := tx.Create(ctx, "owner", newOwner("t1", "t1@example.com")); err != nil {
				return fmt.Errorf("Create in tx: %v", err)
			}
			if _, err := tx.Update(ctx, "owner", record{"score": int64(0)}, storage.W("id", "o2")); err != nil {
				return fmt.Errorf("Update in tx: %v", err)
			}
			if _, err := tx.Delete(ctx, "owner", storage.W("id", "o1")); err != nil {
				return fmt.Errorf("Delete in tx: %v", err)
			}
			if n, err := tx.Count(ctx, "item"); err != nil || n != 1 {
				return fmt.Errorf("Count of items in tx after a cascading delete = %d, %v; want 1, nil", n, err)
			}
			return errBoom
		})
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Tx = %v, want the error of fn", err)
	}
	checkTable(t, db, "owner", owners()...)
	checkTable(t, db, "item", items...)
}

func testTxRollbackAfterFailedWrite(t *testing.T, db storage.Adapter) {
	ctx := t.Context()
	seedOwners(t, db)
	err := call(func() error {
		return db.Tx(ctx, func(tx storage.Adapter) error {
			if err := tx.Create(ctx, "owner", newOwner("t1", "t1@example.com")); err != nil {
				return fmt.Errorf("first Create in tx: %v", err)
			}
			err := tx.Create(ctx, "owner", newOwner("t2", "ann@example.com"))
			if !errors.Is(err, storage.ErrConflict) {
				t.Errorf("conflicting Create in tx = %v, want ErrConflict", err)
			}
			return err
		})
	})
	if !errors.Is(err, storage.ErrConflict) {
		t.Errorf("Tx = %v, want the ErrConflict fn returned", err)
	}
	checkTable(t, db, "owner", owners()...)
}

func testTxNested(t *testing.T, db storage.Adapter) {
	ctx := t.Context()
	a, b := newOwner("ta", "ta@example.com"), newOwner("tb", "tb@example.com")
	err := call(func() error {
		return db.Tx(ctx, func(tx storage.Adapter) error {
			if err := tx.Create(ctx, "owner", a); err != nil {
				return err
			}
			if err := tx.Tx(ctx, func(tx2 storage.Adapter) error {
				if _, err := tx2.FindOne(ctx, "owner", storage.W("id", "ta")); err != nil {
					return fmt.Errorf("nested tx does not see the outer write: %w", err)
				}
				return tx2.Create(ctx, "owner", b)
			}); err != nil {
				return fmt.Errorf("nested Tx: %w", err)
			}
			if n, err := tx.Count(ctx, "owner"); err != nil || n != 2 {
				return fmt.Errorf("Count after the nested tx = %d, %v; want 2", n, err)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatalf("Tx: %v", err)
	}
	checkTable(t, db, "owner", a, b)
}

func testTxNestedError(t *testing.T, db storage.Adapter) {
	ctx := t.Context()
	err := call(func() error {
		return db.Tx(ctx, func(tx storage.Adapter) error {
			if err := tx.Create(ctx, "owner", newOwner("ta", "ta@example.com")); err != nil {
				return err
			}
			err := tx.Tx(ctx, func(tx2 storage.Adapter) error {
				if err := tx2.Create(ctx, "owner", newOwner("tb", "tb@example.com")); err != nil {
					return err
				}
				return errBoom
			})
			if !errors.Is(err, errBoom) {
				t.Errorf("nested Tx = %v, want the error of its fn", err)
			}
			return err
		})
	})
	if !errors.Is(err, errBoom) {
		t.Errorf("Tx = %v, want the error of the nested fn", err)
	}
	checkTable(t, db, "owner")
}

// within runs f and fails the test if it has not returned after a while
// (a deadlocked adapter).
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not return within 30s (deadlock?)", what)
	}
}

func testTxPanic(t *testing.T, db storage.Adapter) {
	ctx := t.Context()
	var recovered any
	within(t, "Tx with a panicking fn", func() {
		defer func() { recovered = recover() }()
		_ = db.Tx(ctx, func(tx storage.Adapter) error {
			if err := tx.Create(ctx, "owner", newOwner("ta", "ta@example.com")); err != nil {
				t.Errorf("Create in tx: %v", err)
			}
			panic(errBoom)
		})
	})
	if recovered != errBoom {
		t.Errorf("Tx recovered %v; the panic of fn must propagate", recovered)
	}
	var n int64
	var err error
	within(t, "the adapter after a panicking Tx", func() {
		if err = db.Create(ctx, "owner", newOwner("tb", "tb@example.com")); err == nil {
			n, err = db.Count(ctx, "owner")
		}
	})
	if err != nil || n != 1 {
		t.Errorf("after a panicking Tx, Create and Count = %d, %v; want 1, nil (the tx's write must be gone)", n, err)
	}
}

func testTxDone(t *testing.T, db storage.Adapter) {
	ctx := t.Context()
	var saved storage.Adapter
	if err := db.Tx(ctx, func(tx storage.Adapter) error { saved = tx; return nil }); err != nil {
		t.Fatalf("Tx: %v", err)
	}
	err := call(func() error { return saved.Create(ctx, "owner", newOwner("ta", "ta@example.com")) })
	wantErr(t, "Create on the adapter of a committed tx", err, nil)
	if err := db.Tx(ctx, func(tx storage.Adapter) error { saved = tx; return errBoom }); !errors.Is(err, errBoom) {
		t.Fatalf("Tx = %v, want the error of fn", err)
	}
	err = call(func() error { return saved.Create(ctx, "owner", newOwner("tb", "tb@example.com")) })
	wantErr(t, "Create on the adapter of a rolled back tx", err, nil)
	checkTable(t, db, "owner")
}

const workers = 16

func testConcurrentUnique(t *testing.T, db storage.Adapter) {
	ctx := t.Context()
	start := make(chan struct{})
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			<-start
			errs[i] = call(func() error {
				return db.Create(ctx, "owner", newOwner(fmt.Sprintf("c%02d", i), "same@example.com"))
			})
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, storage.ErrConflict):
			t.Errorf("writer %d: %v, want nil or ErrConflict", i, err)
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d concurrent Creates of the same email succeeded, want exactly 1", ok, workers)
	}
	if n := count(t, db, "owner", storage.W("email", "same@example.com")); n != 1 {
		t.Errorf("Count = %d, want 1", n)
	}
}

func testConcurrentTx(t *testing.T, db storage.Adapter) {
	ctx := t.Context()
	create(t, db, "owner", newOwner("o1", "o1@example.com"))
	start := make(chan struct{})
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			<-start
			errs[i] = call(func() error {
				return db.Tx(ctx, func(tx storage.Adapter) error {
					n, err := tx.Count(ctx, "item", storage.W("ownerId", "o1"))
					if err != nil {
						return err
					}
					id := fmt.Sprintf("seq%03d", n)
					if err := tx.Create(ctx, "item", record{"id": id, "ownerId": "o1", "title": fmt.Sprint(i)}); err != nil {
						return err
					}
					return tx.Create(ctx, "part", record{"id": "part" + id, "itemId": id, "label": fmt.Sprint(i)})
				})
			})
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for i, err := range errs {
		if errors.Is(err, errPanic) {
			t.Errorf("writer %d: %v", i, err)
		}
		if err == nil {
			ok++
		}
	}
	if ok == 0 {
		t.Fatalf("none of %d concurrent transactions succeeded: %v", workers, errors.Join(errs...))
	}
	items, err := db.FindMany(ctx, "item", storage.Query{})
	if err != nil {
		t.Fatal(err)
	}
	parts, err := db.FindMany(ctx, "part", storage.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != ok || len(parts) != ok {
		t.Errorf("%d transactions succeeded, but there are %d items and %d parts", ok, len(items), len(parts))
	}
	titles := map[string]string{}
	for _, it := range items {
		titles[it.String("id")] = it.String("title")
	}
	for _, p := range parts {
		title, found := titles[p.String("itemId")]
		if !found || p.String("id") != "part"+p.String("itemId") || title != p.String("label") {
			t.Errorf("part %v does not match an item of the same transaction (items: %v)", p, titles)
		}
	}
}

func testConcurrentMixed(t *testing.T, db storage.Adapter) {
	ctx := t.Context()
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			<-start
			id := fmt.Sprintf("c%02d", i)
			err := call(func() error {
				if err := db.Create(ctx, "owner", newOwner(id, id+"@example.com")); err != nil {
					return err
				}
				if _, err := db.FindMany(ctx, "owner", storage.Query{Sort: []storage.Sort{{Field: "email"}}, Limit: 5}); err != nil {
					return err
				}
				if _, err := db.Count(ctx, "owner", cond("score", storage.Gte, 0)); err != nil {
					return err
				}
				if n, err := db.Update(ctx, "owner", record{"score": int64(i)}, storage.W("id", id)); err != nil || n != 1 {
					return fmt.Errorf("Update = %d, %v", n, err)
				}
				if err := db.Create(ctx, "item", record{"id": "i" + id, "ownerId": id, "title": id}); err != nil {
					return err
				}
				r, err := db.FindOne(ctx, "owner", storage.W("id", id))
				if err != nil {
					return err
				}
				if r.Int("score") != int64(i) {
					return fmt.Errorf("score = %v, want %d", r["score"], i)
				}
				return nil
			})
			if err != nil {
				t.Errorf("worker %d: %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if n := count(t, db, "owner"); n != workers {
		t.Errorf("Count(owner) = %d, want %d", n, workers)
	}
	if n := count(t, db, "item"); n != workers {
		t.Errorf("Count(item) = %d, want %d", n, workers)
	}
}

func testUnknown(t *testing.T, db storage.Adapter) {
	seedOwners(t, db)
	create(t, db, "item", record{"id": "i1", "ownerId": "o1", "title": "x"})
	withExtra := func(k string, v any) record { r := newOwner("n1", "n1@example.com"); r[k] = v; return r }
	where := func(f string) []storage.Where { return []storage.Where{storage.W(f, "x")} }
	cases := []struct {
		name string
		fn   func(ctx context.Context, db storage.Adapter) error
	}{
		{"Create in an unknown table", func(ctx context.Context, db storage.Adapter) error {
			return db.Create(ctx, "nosuchtable", record{"id": "x"})
		}},
		{"FindOne in an unknown table", func(ctx context.Context, db storage.Adapter) error {
			_, err := db.FindOne(ctx, "nosuchtable", storage.W("id", "x"))
			if errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("%w (ErrNotFound hides the unknown table)", errPanic)
			}
			return err
		}},
		{"FindMany in an unknown table", func(ctx context.Context, db storage.Adapter) error {
			_, err := db.FindMany(ctx, "nosuchtable", storage.Query{})
			return err
		}},
		{"Update in an unknown table", func(ctx context.Context, db storage.Adapter) error {
			_, err := db.Update(ctx, "nosuchtable", record{"x": "y"}, storage.W("id", "x"))
			return err
		}},
		{"Delete in an unknown table", func(ctx context.Context, db storage.Adapter) error {
			_, err := db.Delete(ctx, "nosuchtable")
			return err
		}},
		{"Count in an unknown table", func(ctx context.Context, db storage.Adapter) error {
			_, err := db.Count(ctx, "nosuchtable")
			return err
		}},
		{"Count by database table name", func(ctx context.Context, db storage.Adapter) error {
			_, err := db.Count(ctx, "st_owner")
			return err
		}},
		{"Create with an unknown field", func(ctx context.Context, db storage.Adapter) error {
			return db.Create(ctx, "owner", withExtra("nickname", "x"))
		}},
		{"Create with a column name", func(ctx context.Context, db storage.Adapter) error {
			return db.Create(ctx, "owner", withExtra("display_name", "x"))
		}},
		{"FindOne where an unknown field", func(ctx context.Context, db storage.Adapter) error {
			_, err := db.FindOne(ctx, "owner", where("nickname")...)
			if errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("%w (ErrNotFound hides the unknown field)", errPanic)
			}
			return err
		}},
		{"FindOne where a column name", func(ctx context.Context, db storage.Adapter) error {
			_, err := db.FindOne(ctx, "item", where("owner_id")...)
			if errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("%w (ErrNotFound hides the unknown field)", errPanic)
			}
			return err
		}},
		{"FindMany where an unknown field", func(ctx context.Context, db storage.Adapter) error {
			_, err := db.FindMany(ctx, "owner", storage.Query{Where: where("nickname")})
			return err
		}},
		{"FindMany where an unknown field after an or", func(ctx context.Context, db storage.Adapter) error {
			_, err := db.FindMany(ctx, "owner", storage.Query{Where: []storage.Where{storage.W("id", "o1"), or(storage.W("nickname", "x"))}})
			return err
		}},
		{"FindMany sorted by an unknown field", func(ctx context.Context, db storage.Adapter) error {
			_, err := db.FindMany(ctx, "owner", storage.Query{Sort: []storage.Sort{{Field: "nickname"}}})
			return err
		}},
		{"FindMany sorted by a column name", func(ctx context.Context, db storage.Adapter) error {
			_, err := db.FindMany(ctx, "owner", storage.Query{Sort: []storage.Sort{{Field: "joined_at"}}})
			return err
		}},
		{"FindMany with an unknown operator", func(ctx context.Context, db storage.Adapter) error {
			_, err := db.FindMany(ctx, "owner", storage.Query{Where: []storage.Where{{Field: "email", Op: "like", Value: "%"}}})
			return err
		}},
		{"Update setting an unknown field", func(ctx context.Context, db storage.Adapter) error {
			_, err := db.Update(ctx, "owner", record{"nickname": "x"}, storage.W("id", "o1"))
			return err
		}},
		{"Update setting a known and an unknown field", func(ctx context.Context, db storage.Adapter) error {
			_, err := db.Update(ctx, "owner", record{"score": int64(0), "nickname": "x"})
			return err
		}},
		{"Update where an unknown field", func(ctx context.Context, db storage.Adapter) error {
			_, err := db.Update(ctx, "owner", record{"score": int64(0)}, where("nickname")...)
			return err
		}},
		{"Delete where an unknown field", func(ctx context.Context, db storage.Adapter) error {
			_, err := db.Delete(ctx, "owner", where("nickname")...)
			return err
		}},
		{"Delete where an unknown operator", func(ctx context.Context, db storage.Adapter) error {
			_, err := db.Delete(ctx, "owner", storage.Where{Field: "email", Op: "like", Value: "%"})
			return err
		}},
		{"Count where an unknown field", func(ctx context.Context, db storage.Adapter) error {
			_, err := db.Count(ctx, "owner", where("nickname")...)
			return err
		}},
		{"an unknown table inside a Tx", func(ctx context.Context, db storage.Adapter) error {
			return db.Tx(ctx, func(tx storage.Adapter) error {
				_, err := tx.Count(ctx, "nosuchtable")
				return err
			})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := call(func() error { return tc.fn(t.Context(), db) })
			wantErr(t, tc.name, err, nil)
		})
	}
	checkTable(t, db, "owner", owners()...)
	checkTable(t, db, "item", record{"id": "i1", "ownerId": "o1", "title": "x"})
}

func testWrongType(t *testing.T, db storage.Adapter) {
	seedOwners(t, db)
	withValue := func(k string, v any) record { r := newOwner("n1", "n1@example.com"); r[k] = v; return r }
	find := func(w ...storage.Where) func(ctx context.Context, db storage.Adapter) error {
		return func(ctx context.Context, db storage.Adapter) error {
			_, err := db.FindMany(ctx, "owner", storage.Query{Where: w})
			return err
		}
	}
	createOwner := func(r record) func(ctx context.Context, db storage.Adapter) error {
		return func(ctx context.Context, db storage.Adapter) error { return db.Create(ctx, "owner", r) }
	}
	cases := []struct {
		name string
		fn   func(ctx context.Context, db storage.Adapter) error
	}{
		{"Create with a string for an int", createOwner(withValue("score", "12"))},
		{"Create with a float for an int", createOwner(withValue("tier", 1.5))},
		{"Create with a string for a bool", createOwner(withValue("active", "true"))},
		{"Create with an int for a bool", createOwner(withValue("active", 1))},
		{"Create with a string for a date", createOwner(withValue("joinedAt", "2020-01-01T00:00:00Z"))},
		{"Create with an int for a date", createOwner(withValue("seenAt", int64(1700000000)))},
		{"Create with an int for a string", createOwner(withValue("email", 42))},
		{"Create with an int id", createOwner(withValue("id", 7))},
		{"Create with a []byte for a string", createOwner(withValue("note", []byte("x")))},
		{"where string eq an int", find(storage.W("email", 5))},
		{"where int eq a string", find(storage.W("score", "10"))},
		{"where bool eq a string", find(storage.W("active", "true"))},
		{"where date gt a string", find(cond("joinedAt", storage.Gt, "2020-01-01"))},
		{"where in with a scalar", find(cond("email", storage.In, "ann@example.com"))},
		{"where not in with a scalar", find(cond("score", storage.NotIn, int64(10)))},
		{"where int in []string", find(cond("score", storage.In, []string{"10"}))},
		{"where contains an int", find(cond("email", storage.Contains, 5))},
		{"where int field contains a string", find(cond("score", storage.Contains, "1"))},
		{"Update setting a string for an int", func(ctx context.Context, db storage.Adapter) error {
			_, err := db.Update(ctx, "owner", record{"score": "x"}, storage.W("id", "o1"))
			return err
		}},
		{"Update setting an int for a date", func(ctx context.Context, db storage.Adapter) error {
			_, err := db.Update(ctx, "owner", record{"joinedAt": 12345})
			return err
		}},
		{"Update where a wrong type", func(ctx context.Context, db storage.Adapter) error {
			_, err := db.Update(ctx, "owner", record{"score": int64(0)}, storage.W("score", "10"))
			return err
		}},
		{"Delete where a wrong type", func(ctx context.Context, db storage.Adapter) error {
			_, err := db.Delete(ctx, "owner", storage.W("score", "10"))
			return err
		}},
		{"Count where a wrong type", func(ctx context.Context, db storage.Adapter) error {
			_, err := db.Count(ctx, "owner", storage.W("active", 1))
			return err
		}},
		{"FindOne where a wrong type", func(ctx context.Context, db storage.Adapter) error {
			_, err := db.FindOne(ctx, "owner", storage.W("joinedAt", "2021-01-01"))
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := call(func() error { return tc.fn(t.Context(), db) })
			wantErr(t, tc.name, err, nil)
		})
	}
	checkTable(t, db, "owner", owners()...)
}

func testCancelledContext(t *testing.T, db storage.Adapter) {
	seedOwners(t, db)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	cases := []struct {
		name string
		fn   func() error
	}{
		{"Create", func() error { return db.Create(ctx, "owner", newOwner("n1", "n1@example.com")) }},
		{"FindOne", func() error { _, err := db.FindOne(ctx, "owner", storage.W("id", "o1")); return err }},
		{"FindMany", func() error { _, err := db.FindMany(ctx, "owner", storage.Query{}); return err }},
		{"Update", func() error { _, err := db.Update(ctx, "owner", record{"score": int64(0)}); return err }},
		{"Delete", func() error { _, err := db.Delete(ctx, "owner"); return err }},
		{"Count", func() error { _, err := db.Count(ctx, "owner"); return err }},
		{"Tx", func() error {
			return db.Tx(ctx, func(tx storage.Adapter) error {
				if _, err := tx.Delete(ctx, "owner"); err != nil {
					return err
				}
				return tx.Create(ctx, "owner", newOwner("n2", "n2@example.com"))
			})
		}},
		{"Tx with a live context inside", func() error {
			return db.Tx(ctx, func(tx storage.Adapter) error {
				return tx.Create(t.Context(), "owner", newOwner("n3", "n3@example.com"))
			})
		}},
	}
	for _, tc := range cases {
		err := call(tc.fn)
		wantErr(t, tc.name+" with a cancelled context", err, nil)
	}
	checkTable(t, db, "owner", owners()...)

	// A context cancelled during a transaction must not commit it.
	ctx2, cancel2 := context.WithCancel(t.Context())
	err := call(func() error {
		return db.Tx(ctx2, func(tx storage.Adapter) error {
			_ = tx.Create(ctx2, "owner", newOwner("n4", "n4@example.com"))
			cancel2()
			return nil
		})
	})
	cancel2()
	if errors.Is(err, errPanic) {
		t.Fatal(err)
	}
	if err == nil {
		t.Errorf("Tx whose context was cancelled before it returned: committed without error")
	}
	checkTable(t, db, "owner", owners()...)
}

func testMigrateIdempotent(t *testing.T, db storage.Adapter, bound storage.Schema) {
	m, ok := db.(storage.Migrator)
	if !ok {
		t.Skip("the adapter does not implement storage.Migrator")
	}
	seedOwners(t, db)
	for range 2 {
		if err := m.Migrate(t.Context(), bound.Clone()); err != nil {
			t.Fatalf("Migrate again: %v", err)
		}
	}
	if p, ok := db.(storage.MigrationPlanner); ok {
		if plan, err := p.PlanMigration(t.Context(), bound.Clone()); err != nil || len(plan) > 0 {
			t.Errorf("PlanMigration after Migrate = %q, %v; want nothing", plan, err)
		}
	}
	if c, ok := db.(storage.SchemaChecker); ok {
		if problems, err := c.CheckSchema(t.Context(), bound.Clone()); err != nil || len(problems) > 0 {
			t.Errorf("CheckSchema after Migrate = %v, %v; want no problem", problems, err)
		}
	}
	checkTable(t, db, "owner", owners()...)
}

// testKinds writes, finds, sorts and updates owner.kind, the column that
// a Naming may give an enum type: values are written as the type and
// compared as text, and a value outside the type matches nothing rather
// than failing.
func testKinds(t *testing.T, db storage.Adapter) {
	ctx := t.Context()
	seedOwners(t, db)
	want := ownerMap()
	for id, kind := range map[string]string{"o1": "gold", "o2": "basic", "o3": "platinum", "o4": "gold"} {
		if n, err := db.Update(ctx, "owner", record{"kind": kind}, storage.W("id", id)); err != nil || n != 1 {
			t.Fatalf("Update kind of %s = %d, %v", id, n, err)
		}
		want[id]["kind"] = kind
	}
	o6 := newOwner("o6", "o6@example.com")
	o6["kind"] = "basic"
	create(t, db, "owner", o6)
	want["o6"] = o6
	checkTable(t, db, "owner", values(want)...)

	ids := func(recs []record) []string {
		var out []string
		for _, r := range recs {
			out = append(out, r.String("id"))
		}
		return out
	}
	queries := []struct {
		name  string
		where []storage.Where
		want  []string // sorted by kind, then id
	}{
		{"eq", []storage.Where{storage.W("kind", "gold")}, []string{"o1", "o4"}},
		{"eq outside the type", []storage.Where{storage.W("kind", "diamond")}, nil},
		{"eq nil", []storage.Where{storage.W("kind", nil)}, []string{"o5"}},
		{"ne", []storage.Where{cond("kind", storage.Ne, "gold")}, []string{"o2", "o6", "o3"}},
		{"in", []storage.Where{cond("kind", storage.In, []string{"platinum", "diamond", "basic"})}, []string{"o2", "o6", "o3"}},
		{"not in", []storage.Where{cond("kind", storage.NotIn, []any{"basic", "diamond"})}, []string{"o1", "o4", "o3"}},
		{"lt (text order)", []storage.Where{cond("kind", storage.Lt, "gold")}, []string{"o2", "o6"}},
		{"gte (text order)", []storage.Where{cond("kind", storage.Gte, "gold")}, []string{"o1", "o4", "o3"}},
		{"contains", []storage.Where{cond("kind", storage.Contains, "ol")}, []string{"o1", "o4"}},
		{"starts with", []storage.Where{cond("kind", storage.StartsWith, "pla")}, []string{"o3"}},
		{"ends with", []storage.Where{cond("kind", storage.EndsWith, "ic")}, []string{"o2", "o6"}},
		{"not storable", []storage.Where{storage.W("kind", "go\x00ld"), or(cond("kind", storage.Gt, "\xff"))}, nil},
		{"or", []storage.Where{storage.W("kind", "platinum"), or(storage.W("id", "o5"))}, []string{"o5", "o3"}},
	}
	for _, q := range queries {
		got, err := db.FindMany(ctx, "owner", storage.Query{Where: q.where, Sort: []storage.Sort{{Field: "kind"}, {Field: "id"}}})
		if err != nil {
			t.Errorf("FindMany %s: %v", q.name, err)
			continue
		}
		if diff := cmp.Diff(q.want, ids(got), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("FindMany %s sorted by kind (-want +got):\n%s", q.name, diff)
		}
		if n := count(t, db, "owner", q.where...); n != int64(len(q.want)) {
			t.Errorf("Count %s = %d, want %d", q.name, n, len(q.want))
		}
	}
	got, err := db.FindMany(ctx, "owner", storage.Query{Sort: []storage.Sort{{Field: "kind", Desc: true}, {Field: "id", Desc: true}}, Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"o3", "o4", "o1"}, ids(got)); diff != "" {
		t.Errorf("FindMany sorted by kind descending (-want +got):\n%s", diff)
	}
	if r, err := db.FindOne(ctx, "owner", storage.W("kind", "platinum")); err != nil || r.String("id") != "o3" {
		t.Errorf("FindOne kind platinum = %v, %v", r, err)
	}
	if n, err := db.Update(ctx, "owner", record{"kind": nil}, storage.W("kind", "gold")); err != nil || n != 2 {
		t.Errorf("Update kind to nil where gold = %d, %v; want 2", n, err)
	}
	if n, err := db.Delete(ctx, "owner", storage.W("kind", "basic"), storage.W("id", "o6")); err != nil || n != 1 {
		t.Errorf("Delete where kind basic and id o6 = %d, %v; want 1", n, err)
	}
	if j, ok := db.(storage.Joiner); ok {
		create(t, db, "item", record{"id": "i1", "ownerId": "o3", "title": "x"})
		_, owner, err := j.FindOneJoined(ctx, "item", "ownerId", storage.W("id", "i1"))
		if err != nil || owner.String("kind") != "platinum" {
			t.Errorf("FindOneJoined item with its owner: owner %v, %v; want kind platinum", owner, err)
		}
	}
}

// testJoined checks storage.Joiner, for adapters that implement it.
func testJoined(t *testing.T, db storage.Adapter) {
	j, ok := db.(storage.Joiner)
	if !ok {
		t.Skip("the adapter does not implement storage.Joiner")
	}
	ctx := t.Context()
	joined := func(table, ref string, where ...storage.Where) (rec, refRec record, err error) {
		err = call(func() (err error) {
			rec, refRec, err = j.FindOneJoined(ctx, table, ref, where...)
			return err
		})
		return rec, refRec, err
	}
	check := func(what string, gotRec, gotRef record, err error, table string, want record, refTable string, wantRef record) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
		checkCanonical(t, table, gotRec)
		checkCanonical(t, refTable, gotRef)
		if diff := cmp.Diff(full(table, want), gotRec); diff != "" {
			t.Errorf("%s: record (-want +got):\n%s", what, diff)
		}
		if diff := cmp.Diff(full(refTable, wantRef), gotRef); diff != "" {
			t.Errorf("%s: referenced record (-want +got):\n%s", what, diff)
		}
	}

	if _, _, err := joined("item", "ownerId", storage.W("id", "i1")); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("FindOneJoined on an empty table: err = %v, want ErrNotFound", err)
	}

	// Every owner of the fixture (NULLs included) and one with extreme
	// values round-trip as the referenced record, under renamed columns
	// and tables.
	extreme := record{"id": "ox", "email": "ünïcødé+tag@exämple.com", "name": `Zoë 👩‍💻 日本語 "q" 'q' \ % _`,
		"active": true, "score": int64(math.MaxInt64), "joinedAt": time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.FixedZone("IST", 5*3600+1800)),
		"handle": "h-x", "note": "line1\nline2\ttab", "tier": int64(math.MinInt64), "seenAt": time.Date(1960, 7, 1, 12, 0, 0, 999999, time.UTC), "vip": true}
	seedOwners(t, db)
	create(t, db, "owner", extreme)
	om := ownerMap()
	om["ox"] = extreme
	items := map[string]record{}
	for _, id := range slices.Sorted(maps.Keys(om)) {
		it := record{"id": "i-" + id, "ownerId": id, "title": "title of " + id}
		items[it.String("id")] = it
		create(t, db, "item", it)
	}
	for _, id := range slices.Sorted(maps.Keys(om)) {
		rec, ref, err := joined("item", "ownerId", storage.W("id", "i-"+id))
		check("FindOneJoined(item, ownerId, id = i-"+id+")", rec, ref, err, "item", items["i-"+id], "owner", om[id])
	}
	part := record{"id": "p1", "itemId": "i-o5", "label": "☃"}
	create(t, db, "part", part)
	rec, ref, err := joined("part", "itemId", storage.W("label", "☃"))
	check("FindOneJoined(part, itemId)", rec, ref, err, "part", part, "item", items["i-o5"])

	// Where operators and connectors are honoured, on the first table only
	// (both tables have an id).
	cases := []struct {
		name  string
		where []storage.Where
		want  []string // item ids
	}{
		{"id eq", []storage.Where{storage.W("id", "i-o3")}, []string{"i-o3"}},
		{"renamed column eq", []storage.Where{storage.W("ownerId", "o4")}, []string{"i-o4"}},
		{"ne", []storage.Where{cond("title", storage.Ne, "title of o1"), cond("ownerId", storage.Lt, "o3")}, []string{"i-o2"}},
		{"in", []storage.Where{cond("id", storage.In, []string{"i-o2", "i-o5", "zz"})}, []string{"i-o2", "i-o5"}},
		{"not in", []storage.Where{cond("ownerId", storage.NotIn, []any{"o1", "o2", "o3", "o4", "o5"})}, []string{"i-ox"}},
		{"starts with", []storage.Where{cond("title", storage.StartsWith, "title of o")}, []string{"i-o1", "i-o2", "i-o3", "i-o4", "i-o5", "i-ox"}},
		{"ends with", []storage.Where{cond("title", storage.EndsWith, "x")}, []string{"i-ox"}},
		{"contains", []storage.Where{cond("title", storage.Contains, "of o4")}, []string{"i-o4"}},
		{"gte and lte", []storage.Where{cond("id", storage.Gte, "i-o2"), cond("id", storage.Lte, "i-o2")}, []string{"i-o2"}},
		{"or", []storage.Where{storage.W("id", "nobody"), or(storage.W("ownerId", "o5"))}, []string{"i-o5"}},
		{"and binds tighter than or", []storage.Where{storage.W("id", "i-o1"), storage.W("title", "nope"), or(storage.W("id", "i-o2"))}, []string{"i-o2"}},
		{"eq nil", []storage.Where{cond("title", storage.Eq, nil)}, nil},
		{"no match", []storage.Where{storage.W("title", "nope")}, nil},
		{"no conditions", nil, []string{"i-o1", "i-o2", "i-o3", "i-o4", "i-o5", "i-ox"}},
	}
	mj, isMany := db.(storage.ManyJoiner)
	for _, tc := range cases {
		if isMany {
			checkManyJoined(t, mj, "item", "ownerId", tc.where, tc.want, items, "owner", om)
		}
		rec, ref, err := joined("item", "ownerId", tc.where...)
		switch {
		case len(tc.want) == 0:
			if !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("%s: FindOneJoined(%v) = %v, %v; want ErrNotFound", tc.name, tc.where, rec["id"], err)
			}
		case err != nil:
			t.Errorf("%s: FindOneJoined(%v): %v", tc.name, tc.where, err)
		case !slices.Contains(tc.want, rec.String("id")):
			t.Errorf("%s: FindOneJoined(%v) = %v, want one of %v", tc.name, tc.where, rec["id"], tc.want)
		default:
			it := items[rec.String("id")]
			check(tc.name, rec, ref, err, "item", it, "owner", om[it.String("ownerId")])
		}
	}

	// A missing referenced record (a NULL reference, or one set to NULL by
	// ON DELETE SET NULL) is ErrNotFound; matching records without one are
	// skipped, as in an inner join.
	create(t, db, "memo",
		record{"id": "m1", "body": "orphan"},
		record{"id": "m2", "ownerId": "o3", "body": "soon orphaned"},
		record{"id": "m3", "body": "twin"},
		record{"id": "m4", "ownerId": "o2", "body": "twin"})
	if isMany {
		memos := map[string]record{"m2": {"id": "m2", "ownerId": "o3", "body": "soon orphaned"}, "m4": {"id": "m4", "ownerId": "o2", "body": "twin"}}
		checkManyJoined(t, mj, "memo", "ownerId", nil, []string{"m2", "m4"}, memos, "owner", om)
		// Values no database stores match nothing and fail nothing.
		in := append([]any{"m4"}, func() (v []any) {
			for _, u := range unstorable {
				v = append(v, u)
			}
			return v
		}()...)
		checkManyJoined(t, mj, "memo", "ownerId", []storage.Where{cond("id", storage.In, in)}, []string{"m4"}, memos, "owner", om)
	}
	if _, _, err := joined("memo", "ownerId", storage.W("id", "m1")); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("FindOneJoined with a NULL reference: err = %v, want ErrNotFound", err)
	}
	rec, ref, err = joined("memo", "ownerId", storage.W("body", "twin"))
	check("FindOneJoined skipping a NULL reference", rec, ref, err, "memo", record{"id": "m4", "ownerId": "o2", "body": "twin"}, "owner", om["o2"])
	rec, ref, err = joined("memo", "ownerId", storage.W("id", "m2"))
	check("FindOneJoined(memo, ownerId)", rec, ref, err, "memo", record{"id": "m2", "ownerId": "o3", "body": "soon orphaned"}, "owner", om["o3"])
	if _, err := db.Delete(ctx, "owner", storage.W("id", "o3")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := joined("memo", "ownerId", storage.W("id", "m2")); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("FindOneJoined after the referenced record was deleted: err = %v, want ErrNotFound", err)
	}
	if _, _, err := joined("item", "ownerId", storage.W("id", "i-o3")); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("FindOneJoined of a record deleted by cascade: err = %v, want ErrNotFound", err)
	}

	// Returned records are copies.
	rec, ref, err = joined("item", "ownerId", storage.W("id", "i-o1"))
	if err != nil {
		t.Fatal(err)
	}
	rec["title"], ref["name"] = "changed", "changed"
	rec, ref, err = joined("item", "ownerId", storage.W("id", "i-o1"))
	check("FindOneJoined after changing a returned record", rec, ref, err, "item", items["i-o1"], "owner", om["o1"])

	// Errors, never ErrNotFound, for what the schema does not have.
	bad := []struct {
		name       string
		table, ref string
		where      []storage.Where
	}{
		{"an unknown table", "nosuchtable", "ownerId", []storage.Where{storage.W("id", "x")}},
		{"an unknown ref field", "item", "nosuchfield", []storage.Where{storage.W("id", "x")}},
		{"a ref by column name", "item", "owner_id", []storage.Where{storage.W("id", "x")}},
		{"a ref that is not a reference", "item", "title", []storage.Where{storage.W("id", "x")}},
		{"a where on an unknown field", "item", "ownerId", []storage.Where{storage.W("nickname", "x")}},
		{"a where on a field of the referenced table", "item", "ownerId", []storage.Where{storage.W("email", "ann@example.com")}},
		{"a where of the wrong type", "item", "ownerId", []storage.Where{storage.W("title", 5)}},
		{"an unknown operator", "item", "ownerId", []storage.Where{{Field: "title", Op: "like", Value: "%"}}},
	}
	for _, tc := range bad {
		_, _, err := joined(tc.table, tc.ref, tc.where...)
		wantErr(t, "FindOneJoined with "+tc.name, err, nil)
		if errors.Is(err, storage.ErrNotFound) {
			t.Errorf("FindOneJoined with %s: ErrNotFound hides the mistake: %v", tc.name, err)
		}
		if isMany {
			err := call(func() error {
				_, _, err := mj.FindManyJoined(ctx, tc.table, tc.ref, tc.where...)
				return err
			})
			wantErr(t, "FindManyJoined with "+tc.name, err, nil)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	err = call(func() error {
		_, _, err := j.FindOneJoined(cctx, "item", "ownerId", storage.W("id", "i-o1"))
		return err
	})
	wantErr(t, "FindOneJoined with a cancelled context", err, nil)

	// Inside a transaction (when its adapter is a Joiner too), the join sees
	// the transaction's own writes.
	errRollback := errors.New("roll back")
	err = call(func() error {
		return db.Tx(ctx, func(tx storage.Adapter) error {
			tj, ok := tx.(storage.Joiner)
			if !ok {
				return errRollback
			}
			if err := tx.Create(ctx, "owner", newOwner("tx1", "tx1@example.com")); err != nil {
				return err
			}
			if err := tx.Create(ctx, "item", record{"id": "i-tx1", "ownerId": "tx1", "title": "in tx"}); err != nil {
				return err
			}
			rec, ref, err := tj.FindOneJoined(ctx, "item", "ownerId", storage.W("title", "in tx"))
			check("FindOneJoined in a transaction", rec, ref, err, "item", record{"id": "i-tx1", "ownerId": "tx1", "title": "in tx"}, "owner", newOwner("tx1", "tx1@example.com"))
			return errRollback
		})
	})
	if !errors.Is(err, errRollback) {
		t.Errorf("Tx: %v", err)
	}
	if _, _, err := joined("item", "ownerId", storage.W("id", "i-tx1")); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("FindOneJoined after a rolled-back transaction: err = %v, want ErrNotFound", err)
	}
}

// checkManyJoined checks that FindManyJoined(table, ref, where...) returns
// exactly the records of table with the ids want (in any order), each
// with the record of refTable it references.
func checkManyJoined(t *testing.T, mj storage.ManyJoiner, table, ref string, where []storage.Where, want []string, recs map[string]record, refTable string, refs map[string]record) {
	t.Helper()
	var got, gotRefs []record
	err := call(func() (err error) {
		got, gotRefs, err = mj.FindManyJoined(t.Context(), table, ref, where...)
		return err
	})
	if err != nil {
		t.Errorf("FindManyJoined(%s, %s, %v): %v", table, ref, where, err)
		return
	}
	if len(got) != len(gotRefs) {
		t.Fatalf("FindManyJoined(%s, %s, %v): %d records, %d referenced records", table, ref, where, len(got), len(gotRefs))
	}
	var ids []string
	for i, rec := range got {
		ids = append(ids, rec.String("id"))
		checkCanonical(t, table, rec)
		checkCanonical(t, refTable, gotRefs[i])
		if diff := cmp.Diff(full(table, recs[rec.String("id")]), rec); diff != "" {
			t.Errorf("FindManyJoined(%s, %s, %v): record (-want +got):\n%s", table, ref, where, diff)
		}
		if diff := cmp.Diff(full(refTable, refs[rec.String(ref)]), gotRefs[i]); diff != "" {
			t.Errorf("FindManyJoined(%s, %s, %v): record referenced by %s (-want +got):\n%s", table, ref, where, rec.String("id"), diff)
		}
	}
	slices.Sort(ids)
	if diff := cmp.Diff(want, ids, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("FindManyJoined(%s, %s, %v): ids (-want +got):\n%s", table, ref, where, diff)
	}
}

// unstorable are strings no database stores (see [storage.Storable]): a
// cut two-byte sequence, a lone surrogate in WTF-8, NUL bytes, a byte that
// starts no character.
var unstorable = []string{"\xc3(", "\xed\xa0\x80", "a\x00b", "\x00", "\xff", "ann@example.com\x00"}

// testUnstorable checks that a string that is not storage.Storable is
// refused in every write (ErrInvalidValue, naming no value, storing
// nothing) and, as a lookup value, matches what it would match in byte
// order among stored strings (see storage.Where).
func testUnstorable(t *testing.T, db storage.Adapter) {
	ctx := t.Context()
	seedOwners(t, db)
	create(t, db, "item", record{"id": "i1", "ownerId": "o1", "title": "x"})
	item := record{"id": "i1", "ownerId": "o1", "title": "x"}

	// Writes.
	for _, bad := range unstorable {
		with := func(k string) record { r := newOwner("n1", "n1@example.com"); r[k] = bad; return r }
		writes := []struct {
			name string
			fn   func() error
		}{
			{"Create with it as id", func() error { return db.Create(ctx, "owner", with("id")) }},
			{"Create with it in a unique field", func() error { return db.Create(ctx, "owner", with("email")) }},
			{"Create with it in a renamed column", func() error { return db.Create(ctx, "owner", with("name")) }},
			{"Create with it in an optional field", func() error { return db.Create(ctx, "owner", with("note")) }},
			{"Create with it as a reference", func() error {
				return db.Create(ctx, "item", record{"id": "i2", "ownerId": bad, "title": "y"})
			}},
			{"Update setting it", func() error {
				_, err := db.Update(ctx, "owner", record{"note": bad, "score": int64(1)}, storage.W("id", "o1"))
				return err
			}},
			{"Update setting it where nothing matches", func() error {
				_, err := db.Update(ctx, "owner", record{"handle": bad}, storage.W("id", "nobody"))
				return err
			}},
			{"Update setting it in a transaction", func() error {
				return db.Tx(ctx, func(tx storage.Adapter) error {
					_, err := tx.Update(ctx, "item", record{"title": bad}, storage.W("id", "i1"))
					return err
				})
			}},
		}
		for _, w := range writes {
			err := call(w.fn)
			what := fmt.Sprintf("%s (%q)", w.name, bad)
			wantErr(t, what, err, storage.ErrInvalidValue)
			if err != nil && strings.Contains(err.Error(), bad) {
				t.Errorf("%s: the error %q holds the value", what, err)
			}
		}
	}
	checkTable(t, db, "owner", owners()...)
	checkTable(t, db, "item", item)

	// Lookups. Byte-wise, "éve ☃" is c3 a9 … e2 98 83.
	all := []string{"o1", "o2", "o3", "o4", "o5"}
	withNote := []string{"o1", "o3", "o4", "o5"}
	cases := []struct {
		name  string
		where []storage.Where
		want  []string
	}{
		{"eq", []storage.Where{storage.W("email", "\xc3(")}, nil},
		{"eq a stored value and a NUL", []storage.Where{storage.W("email", "ann@example.com\x00")}, nil},
		{"eq on the id", []storage.Where{storage.W("id", "o1\x00")}, nil},
		{"ne", []storage.Where{cond("email", storage.Ne, "\xc3(")}, all},
		{"ne skips NULL", []storage.Where{cond("note", storage.Ne, "a\x00b")}, withNote},
		{"in", []storage.Where{cond("email", storage.In, []string{"\xed\xa0\x80"})}, nil},
		{"in with a stored value", []storage.Where{cond("email", storage.In, []any{"\xc3(", "ann@example.com", "\x00"})}, []string{"o1"}},
		{"not in", []storage.Where{cond("email", storage.NotIn, []string{"\xc3("})}, all},
		{"not in with a stored value, skipping NULL", []storage.Where{cond("note", storage.NotIn, []any{"alpha", "a\x00b"})}, []string{"o3", "o4", "o5"}},
		{"lt a cut character", []storage.Where{cond("name", storage.Lt, "\xc3(")}, []string{"o1", "o2", "o3", "o4"}},
		{"lte a cut character", []storage.Where{cond("name", storage.Lte, "\xc3(")}, []string{"o1", "o2", "o3", "o4"}},
		{"gt a cut character", []storage.Where{cond("name", storage.Gt, "\xc3(")}, []string{"o5"}},
		{"gte a cut character", []storage.Where{cond("name", storage.Gte, "\xc3(")}, []string{"o5"}},
		{"lt a surrogate", []storage.Where{cond("name", storage.Lt, "\xed\xa0\x80")}, all},
		{"gt a surrogate", []storage.Where{cond("name", storage.Gt, "\xed\xa0\x80")}, nil},
		{"lte 0xff", []storage.Where{cond("email", storage.Lte, "\xff")}, all},
		{"gte 0xff", []storage.Where{cond("email", storage.Gte, "\xff")}, nil},
		{"lt 0xff skips NULL", []storage.Where{cond("note", storage.Lt, "\xff")}, withNote},
		{"lt a stored value and a NUL", []storage.Where{cond("email", storage.Lt, "bob@example.com\x00")}, []string{"o1", "o2"}},
		{"gt a stored value and a NUL", []storage.Where{cond("email", storage.Gt, "bob@example.com\x00")}, []string{"o3", "o4", "o5"}},
		{"lte a prefix and a NUL", []storage.Where{cond("email", storage.Lte, "b\x00")}, []string{"o1"}},
		{"gt a prefix and a NUL", []storage.Where{cond("email", storage.Gt, "b\x00")}, []string{"o2", "o3", "o4", "o5"}},
		{"lt NUL", []storage.Where{cond("note", storage.Lt, "\x00")}, nil},
		{"gte NUL skips NULL", []storage.Where{cond("note", storage.Gte, "\x00")}, withNote},
		{"contains a byte of a character", []storage.Where{cond("name", storage.Contains, "\xa9")}, nil},
		{"starts with a cut character", []storage.Where{cond("name", storage.StartsWith, "\xc3")}, nil},
		{"ends with a cut character", []storage.Where{cond("name", storage.EndsWith, "\x83")}, nil},
		{"contains NUL", []storage.Where{cond("note", storage.Contains, "\x00")}, nil},
		{"contains a stored value and a NUL", []storage.Where{cond("note", storage.Contains, "alpha\x00")}, nil},
		{"starts with NUL", []storage.Where{cond("email", storage.StartsWith, "a\x00")}, nil},
		{"or", []storage.Where{storage.W("email", "\xc3("), or(storage.W("email", "bob@example.com"))}, []string{"o2"}},
		{"or after it", []storage.Where{storage.W("email", "bob@example.com"), or(cond("email", storage.Contains, "\x00"))}, []string{"o2"}},
		{"and", []storage.Where{cond("note", storage.Ne, "\xc3("), storage.W("score", 10)}, []string{"o1", "o5"}},
		{"and binds tighter than or", []storage.Where{storage.W("email", "\xc3("), storage.W("score", 10), or(storage.W("id", "o3"))}, []string{"o3"}},
		{"or ne", []storage.Where{cond("note", storage.Ne, "\xed\xa0\x80"), or(cond("note", storage.Eq, nil))}, all},
	}
	errRollback := errors.New("roll back")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []record
			err := call(func() (err error) {
				got, err = db.FindMany(ctx, "owner", storage.Query{Where: tc.where})
				return err
			})
			if err != nil {
				t.Fatalf("FindMany(where %s): %v", tc.name, err)
			}
			ids := make([]string, len(got))
			for i, r := range got {
				ids[i] = r.String("id")
			}
			slices.Sort(ids)
			if diff := cmp.Diff(tc.want, ids, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("FindMany(where %s) ids (-want +got):\n%s", tc.name, diff)
			}
			if n, err := db.Count(ctx, "owner", tc.where...); err != nil || n != int64(len(tc.want)) {
				t.Errorf("Count(where %s) = %d, %v; want %d", tc.name, n, err, len(tc.want))
			}
			r, err := db.FindOne(ctx, "owner", tc.where...)
			switch {
			case len(tc.want) == 0 && !errors.Is(err, storage.ErrNotFound):
				t.Errorf("FindOne(where %s) = %v, %v; want ErrNotFound", tc.name, r["id"], err)
			case len(tc.want) > 0 && (err != nil || !slices.Contains(tc.want, r.String("id"))):
				t.Errorf("FindOne(where %s) = %v, %v; want one of %v", tc.name, r["id"], err, tc.want)
			}
			// Update and Delete match the same records (and are rolled
			// back).
			err = call(func() error {
				return db.Tx(ctx, func(tx storage.Adapter) error {
					if n, err := tx.Update(ctx, "owner", record{"vip": true}, tc.where...); err != nil || n != int64(len(tc.want)) {
						t.Errorf("Update(where %s) = %d, %v; want %d", tc.name, n, err, len(tc.want))
					}
					if n, err := tx.Delete(ctx, "owner", tc.where...); err != nil || n != int64(len(tc.want)) {
						t.Errorf("Delete(where %s) = %d, %v; want %d", tc.name, n, err, len(tc.want))
					}
					return errRollback
				})
			})
			if !errors.Is(err, errRollback) {
				t.Errorf("Tx: %v", err)
			}
		})
	}
	checkTable(t, db, "owner", owners()...)
	checkTable(t, db, "item", item)
}

// testScopedTx checks storage.ScopedTx: on an adapter that implements
// storage.ScopedTxer its ScopedTx, on any other Tx (the settings
// ignored). Either way it is a transaction like Tx, whatever the settings'
// values (quotes, backslashes, SQL, non-ASCII), its first statement a read
// or a write, with a nested Tx; and settings with an invalid name or a
// value that is not storable are refused before fn runs.
func testScopedTx(t *testing.T, db storage.Adapter) {
	ctx := t.Context()
	seedOwners(t, db)
	want := owners()
	settings := map[string]string{
		"storagetest.owner": `o'1"\'); DROP TABLE st_owner; --`,
		"storagetest.other": "éve ☃",
		"application_name":  "storagetest",
	}
	scoped := func(settings map[string]string, fn func(tx storage.Adapter) error) error {
		return call(func() error { return storage.ScopedTx(ctx, db, settings, fn) })
	}

	for i, first := range []string{"read", "write"} {
		id := fmt.Sprintf("s%d", i)
		err := scoped(settings, func(tx storage.Adapter) error {
			if first == "read" {
				if _, err := tx.FindOne(ctx, "owner", storage.W("id", "o1")); err != nil {
					return fmt.Errorf("FindOne first in ScopedTx: %w", err)
				}
			}
			if err := tx.Create(ctx, "owner", newOwner(id, id+"@example.com")); err != nil {
				return fmt.Errorf("Create in ScopedTx: %w", err)
			}
			if n, err := tx.Count(ctx, "owner"); err != nil || n != int64(len(want)+1) {
				return fmt.Errorf("Count in ScopedTx = %d, %v; want %d", n, err, len(want)+1)
			}
			return tx.Tx(ctx, func(tx2 storage.Adapter) error {
				_, err := tx2.Update(ctx, "owner", record{"score": int64(7)}, storage.W("id", id))
				return err
			})
		})
		if err != nil {
			t.Fatalf("ScopedTx, %s first: %v", first, err)
		}
		o := newOwner(id, id+"@example.com")
		o["score"] = int64(7)
		want = append(want, o)
	}
	checkTable(t, db, "owner", want...)

	err := scoped(settings, func(tx storage.Adapter) error {
		if err := tx.Create(ctx, "owner", newOwner("gone", "gone@example.com")); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Errorf("ScopedTx = %v, want the error of fn", err)
	}
	if err := scoped(nil, func(tx storage.Adapter) error { return nil }); err != nil {
		t.Errorf("ScopedTx without settings: %v", err)
	}

	refused := []struct {
		name     string
		settings map[string]string
		target   error
	}{
		{"empty name", map[string]string{"": "x"}, nil},
		{"name with a quote", map[string]string{"app.x'y": "x"}, nil},
		{"name with SQL", map[string]string{"app.x', 'y', true); DROP TABLE st_owner; --": "x"}, nil},
		{"name with a space", map[string]string{"app.current user": "x"}, nil},
		{"name starting with a digit", map[string]string{"1app.x": "x"}, nil},
		{"three parts", map[string]string{"a.b.c": "x"}, nil},
		{"trailing dot", map[string]string{"app.": "x"}, nil},
		{"name too long", map[string]string{"app." + strings.Repeat("x", 64): "x"}, nil},
		{"value with a NUL", map[string]string{"app.x": "a\x00b"}, storage.ErrInvalidValue},
		{"value with invalid UTF-8", map[string]string{"app.x": "\xff"}, storage.ErrInvalidValue},
		{"one bad among good", map[string]string{"app.ok": "x", "app.x;": "y"}, nil},
	}
	for _, tc := range refused {
		ran := false
		err := scoped(tc.settings, func(tx storage.Adapter) error {
			ran = true
			return tx.Create(ctx, "owner", newOwner("bad", "bad@example.com"))
		})
		wantErr(t, "ScopedTx with "+tc.name, err, tc.target)
		if ran {
			t.Errorf("ScopedTx with %s ran fn", tc.name)
		}
	}
	checkTable(t, db, "owner", want...)

	if s, ok := db.(storage.ScopedTxer); ok {
		ran := false
		err := call(func() error {
			return db.Tx(ctx, func(tx storage.Adapter) error {
				inner, ok := tx.(storage.ScopedTxer)
				if !ok {
					return nil
				}
				return inner.ScopedTx(ctx, settings, func(storage.Adapter) error { ran = true; return nil })
			})
		})
		if err == nil || ran {
			t.Errorf("ScopedTx on the adapter of a transaction = %v (fn ran: %v), want an error", err, ran)
		}
		if err := call(func() error { return s.ScopedTx(ctx, settings, func(storage.Adapter) error { return nil }) }); err != nil {
			t.Errorf("ScopedTxer.ScopedTx: %v", err)
		}
	}
}

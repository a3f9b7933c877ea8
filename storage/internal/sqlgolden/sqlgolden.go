// Package sqlgolden is test support for the SQL adapters: a schema, an
// upgrade of it and a list of operations that together exercise every
// statement shape the adapters generate (each operator, NULL tests, OR
// groups, sorts, limits, joins, inserts, updates, migrations), and golden
// files to compare the generated SQL against.
//
// An adapter's test runs the operations and records, for each, the SQL text
// the adapter sent to the database; [Check] compares the record with the
// file under testdata/ and, with SQLGOLDEN_UPDATE=1 in the environment,
// rewrites the file instead. The files pin the generated SQL byte for byte.
package sqlgolden

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/managarten/mana-auth/storage"
)

// When is the fixed time the operations use.
var When = time.Date(2024, 5, 6, 7, 8, 9, 123_000_000, time.UTC)

// LongField is a field name long enough that its index name is shortened
// with a hash.
const LongField = "aVeryLongFieldNameThatMakesTheIndexNameLongerThanSixtyThree"

// Schema is the base schema: renamed table and column, references with
// several OnDelete actions (and one declared before the table it
// references), a check, and a field whose index name is too long.
func Schema() storage.Schema {
	return storage.Schema{Tables: []storage.Table{
		{
			Name: "session",
			Fields: []storage.Field{
				{Name: "userId", Type: storage.String, Required: true, Index: true,
					References: &storage.Reference{Table: "user", Field: "id", OnDelete: storage.Cascade}},
				{Name: "token", Type: storage.String, Required: true, Unique: true},
				{Name: "expiresAt", Type: storage.Date, Required: true},
				{Name: "ip", Type: storage.String},
			},
		},
		{
			Name:   "user",
			DBName: "users",
			Fields: []storage.Field{
				{Name: "email", Type: storage.String, Required: true, Unique: true},
				{Name: "emailVerified", Type: storage.Bool, Required: true},
				{Name: "name", Type: storage.String},
				{Name: "age", Column: "user_age", Type: storage.Int},
				{Name: "createdAt", Type: storage.Date, Required: true, Index: true},
			},
			Checks: []storage.Check{{Name: "user_email_not_empty", Expr: `"email" <> ''`,
				Func: func(r storage.Record) bool { return r.String("email") != "" }}},
		},
		{
			Name: "account",
			Fields: []storage.Field{
				{Name: "userId", Type: storage.String,
					References: &storage.Reference{Table: "user", Field: "id", OnDelete: storage.SetNull}},
				{Name: "providerId", Type: storage.String, Required: true, Index: true},
				{Name: "ownerEmail", Type: storage.String,
					References: &storage.Reference{Table: "user", Field: "email", OnDelete: storage.Restrict}},
				{Name: "parentId", Type: storage.String,
					References: &storage.Reference{Table: "account", Field: "id", OnDelete: "no action"}},
				{Name: LongField, Type: storage.Int, Index: true},
			},
		},
	}}
}

// Upgraded is Schema with fields and a check added to "user" and a new
// table, as a plugin adds them.
func Upgraded() storage.Schema {
	s := Schema()
	if err := s.Merge(storage.Schema{Tables: []storage.Table{
		{
			Name: "user",
			Fields: []storage.Field{
				{Name: "twoFactorEnabled", Type: storage.Bool},
				{Name: "username", Type: storage.String, Unique: true},
				{Name: "role", Type: storage.String, Required: true, Index: true},
				{Name: "loginCount", Type: storage.Int, Index: true},
			},
			Checks: []storage.Check{{Name: "user_name_short", Expr: `length("name") < 100`,
				Func: func(r storage.Record) bool { return len(r.String("name")) < 100 }}},
		},
		{
			Name: "note",
			Fields: []storage.Field{
				{Name: "sessionId", Type: storage.String, Required: true, Unique: true,
					References: &storage.Reference{Table: "session", Field: "id"}},
				{Name: "body", Type: storage.String, Required: true},
			},
		},
	}}); err != nil {
		panic(err)
	}
	// An existing optional field becomes required.
	s.Tables[0].Fields[3].Required = true
	return s
}

// NameLabels are the values [Ops] writes to user.name: the labels of the
// enum type [Naming] may give it.
var NameLabels = []string{"Ann", "Bo"}

// Naming renames every table of s (Schema or Upgraded) to its plural
// (user, already "users", keeps that name), every column to snake_case,
// and, if typ is not empty, gives user.name the database type typ (an
// enum with the labels of [NameLabels]).
func Naming(s storage.Schema, typ string) storage.Naming {
	n := storage.Naming{Plural: true, Tables: map[string]string{"user": "users"},
		Fields: map[string]map[string]string{}}
	for _, t := range s.Tables {
		n.Fields[t.Name] = map[string]string{}
		for _, f := range t.Fields {
			if c := storage.SnakeCase(f.Name); len(c) <= 63 { // LongField keeps its name
				n.Fields[t.Name][f.Name] = c
			}
		}
	}
	if typ != "" {
		n.Types = map[string]map[string]string{"user": {"name": typ}}
	}
	return n
}

// Named is s renamed by Naming(s, typ).
func Named(s storage.Schema, typ string) storage.Schema {
	if err := Naming(s, typ).Apply(&s); err != nil {
		panic(err)
	}
	return s
}

// Op is one adapter call.
type Op struct {
	Name string
	Run  func(ctx context.Context, db storage.Adapter) error
}

func where(field string, op storage.Op, v any) storage.Where {
	return storage.Where{Field: field, Op: op, Value: v}
}

func or(w storage.Where) storage.Where { w.Or = true; return w }

func find(q storage.Query) func(context.Context, storage.Adapter) error {
	return func(ctx context.Context, db storage.Adapter) error {
		_, err := db.FindMany(ctx, "user", q)
		return err
	}
}

func count(table string, ws ...storage.Where) func(context.Context, storage.Adapter) error {
	return func(ctx context.Context, db storage.Adapter) error {
		_, err := db.Count(ctx, table, ws...)
		return err
	}
}

// Ops are the operations, on an adapter bound to and migrated with Schema.
// Each succeeds; their SQL texts are distinct.
func Ops() []Op {
	create := func(table string, rec storage.Record) func(context.Context, storage.Adapter) error {
		return func(ctx context.Context, db storage.Adapter) error { return db.Create(ctx, table, rec) }
	}
	return []Op{
		{"create user", create("user", storage.Record{"id": "u1", "email": "a@example.com", "emailVerified": true,
			"name": "Ann", "age": 41, "createdAt": When})},
		{"create user without optional fields", create("user", storage.Record{"id": "u2", "email": "b@example.com",
			"emailVerified": false, "createdAt": When.Add(time.Hour)})},
		{"create user with nil optional field", create("user", storage.Record{"id": "u3", "email": "c@example.com",
			"emailVerified": false, "name": nil, "createdAt": When.Add(2 * time.Hour)})},
		{"create session", create("session", storage.Record{"id": "s1", "userId": "u1", "token": "t1",
			"expiresAt": When.Add(24 * time.Hour), "ip": "127.0.0.1"})},
		{"create account", create("account", storage.Record{"id": "a1", "userId": "u1", "providerId": "github",
			"ownerEmail": "a@example.com", LongField: int64(7)})},
		{"find one by id", func(ctx context.Context, db storage.Adapter) error {
			_, err := db.FindOne(ctx, "user", storage.W("id", "u1"))
			return err
		}},
		{"find one by token", func(ctx context.Context, db storage.Adapter) error {
			_, err := db.FindOne(ctx, "session", storage.W("token", "t1"))
			return err
		}},
		{"find all", find(storage.Query{})},
		{"find ne", find(storage.Query{Where: []storage.Where{where("email", storage.Ne, "x")}})},
		{"find string ranges", find(storage.Query{Where: []storage.Where{where("email", storage.Lt, "z"),
			where("email", storage.Lte, "z"), where("name", storage.Gt, ""), where("name", storage.Gte, "")}})},
		{"find int, bool and date ranges", find(storage.Query{Where: []storage.Where{where("age", storage.Gt, 1),
			where("emailVerified", storage.Eq, true), where("createdAt", storage.Lte, When.Add(time.Hour)),
			where("createdAt", storage.Gte, When)}})},
		{"find null tests", find(storage.Query{Where: []storage.Where{where("name", storage.Eq, nil),
			where("age", storage.Ne, nil)}})},
		{"find in", find(storage.Query{Where: []storage.Where{where("id", storage.In, []string{"u1", "u2"})}})},
		{"find in ints", find(storage.Query{Where: []storage.Where{where("age", storage.In, []any{41, int64(42), nil})}})},
		{"find in empty", find(storage.Query{Where: []storage.Where{where("id", storage.In, []string{}),
			where("name", storage.Eq, "Ann")}})},
		{"find not in", find(storage.Query{Where: []storage.Where{where("id", storage.NotIn, []any{"u1"}),
			where("createdAt", storage.NotIn, []any{When})}})},
		{"find not in empty", find(storage.Query{Where: []storage.Where{where("name", storage.NotIn, []any{})}})},
		{"find not in with null", find(storage.Query{Where: []storage.Where{where("name", storage.NotIn, []any{"x", nil}),
			where("emailVerified", storage.In, []any{true, false})}})},
		{"find patterns", find(storage.Query{Where: []storage.Where{where("name", storage.Contains, "n*?[%_!"),
			where("email", storage.StartsWith, "a"), where("email", storage.EndsWith, ".com")}})},
		{"find by strings no database stores", find(storage.Query{Where: []storage.Where{where("email", storage.Eq, "\xc3("),
			or(where("name", storage.Ne, "a\x00")), where("email", storage.Lt, "\xc3("), where("name", storage.Gte, "é\xff"),
			or(where("email", storage.Lte, "\xff")), where("name", storage.Gt, "\xff"),
			or(where("id", storage.In, []string{"u1", "\x00"})), where("id", storage.NotIn, []string{"\xc3"}),
			or(where("name", storage.Contains, "a\x00"))}})},
		{"find or groups", find(storage.Query{Where: []storage.Where{where("name", storage.Eq, "Ann"),
			where("age", storage.Gt, 40), or(where("id", storage.Eq, "u2")), or(where("email", storage.StartsWith, "c")),
			where("emailVerified", storage.Eq, false)}})},
		{"find or on the first condition", find(storage.Query{Where: []storage.Where{or(where("id", storage.Eq, "u1"))}})},
		{"find sorted", find(storage.Query{Sort: []storage.Sort{{Field: "name"}, {Field: "createdAt", Desc: true},
			{Field: "age"}}})},
		{"find sorted by id", find(storage.Query{Sort: []storage.Sort{{Field: "emailVerified", Desc: true},
			{Field: "id", Desc: true}}})},
		{"find limit", find(storage.Query{Where: []storage.Where{where("emailVerified", storage.Eq, false)}, Limit: 2})},
		{"find offset", find(storage.Query{Sort: []storage.Sort{{Field: "email"}}, Offset: 1})},
		{"find limit and offset", find(storage.Query{Where: []storage.Where{where("name", storage.Ne, nil)},
			Sort: []storage.Sort{{Field: "email", Desc: true}}, Limit: 5, Offset: 1})},
		{"find one joined", func(ctx context.Context, db storage.Adapter) error {
			_, _, err := db.(storage.Joiner).FindOneJoined(ctx, "session", "userId", storage.W("token", "t1"))
			return err
		}},
		{"find one joined by another field", func(ctx context.Context, db storage.Adapter) error {
			_, _, err := db.(storage.Joiner).FindOneJoined(ctx, "account", "ownerEmail", storage.W("providerId", "github"),
				or(where("id", storage.In, []string{"a1", "a2"})))
			return err
		}},
		{"find one joined without where", func(ctx context.Context, db storage.Adapter) error {
			_, _, err := db.(storage.Joiner).FindOneJoined(ctx, "account", "userId")
			return err
		}},
		{"count all", count("session")},
		{"count where", count("account", where(LongField, storage.Gte, 7), where("parentId", storage.Eq, nil))},
		{"update", func(ctx context.Context, db storage.Adapter) error {
			_, err := db.Update(ctx, "user", storage.Record{"name": "Bo", "age": nil, "emailVerified": true,
				"createdAt": When}, storage.W("id", "u2"), where("name", storage.Eq, nil))
			return err
		}},
		{"update all", func(ctx context.Context, db storage.Adapter) error {
			_, err := db.Update(ctx, "session", storage.Record{"expiresAt": When.Add(48 * time.Hour)})
			return err
		}},
		{"delete", func(ctx context.Context, db storage.Adapter) error {
			_, err := db.Delete(ctx, "account", storage.W("id", "a1"), or(where("providerId", storage.StartsWith, "x")))
			return err
		}},
		{"delete all", func(ctx context.Context, db storage.Adapter) error {
			_, err := db.Delete(ctx, "account")
			return err
		}},
	}
}

// Check compares got with the golden file testdata/<name>.golden, or
// writes the file when SQLGOLDEN_UPDATE=1.
func Check(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if os.Getenv("SQLGOLDEN_UPDATE") == "1" {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with SQLGOLDEN_UPDATE=1 to create it)", err)
	}
	if got == string(want) {
		return
	}
	g, w := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			t.Fatalf("%s differs from the generated SQL at line %d:\n got: %s\nwant: %s", path, i+1, gl, wl)
		}
	}
}

// Run runs Ops on db and returns, for each, its name and the lines that
// record(after it) returns, typically the SQL text it sent.
func Run(t *testing.T, db storage.Adapter, record func() []string) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	record()
	for _, op := range Ops() {
		if err := op.Run(ctx, db); err != nil {
			t.Fatalf("%s: %v", op.Name, err)
		}
		fmt.Fprintf(&b, "-- %s\n", op.Name)
		for _, l := range record() {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// Migrations records the steps of a migration test: for each, the
// statements planned and, where the step migrates, those the migration ran
// and the messages it logged.
type Migrations struct {
	t    *testing.T
	logs func() []string
	b    strings.Builder
}

// NewMigrations returns a record of migration steps; logs returns the
// messages logged since its last call (see [Logger]).
func NewMigrations(t *testing.T, logs func() []string) *Migrations {
	return &Migrations{t: t, logs: logs}
}

// Step records the statements plan returns and, if migrate is not nil, the
// statements migrate returns it ran (none recorded when it returns nil) and
// the messages logged meanwhile.
func (m *Migrations) Step(title string, plan func() ([]string, error), migrate func() ([]string, error)) {
	m.t.Helper()
	stmts, err := plan()
	if err != nil {
		m.t.Fatal(err)
	}
	m.b.WriteString("-- plan: " + title + "\n")
	for _, q := range stmts {
		m.b.WriteString(q + ";\n")
	}
	if migrate == nil {
		return
	}
	ran, err := migrate()
	if err != nil {
		m.t.Fatal(err)
	}
	if ran != nil {
		m.b.WriteString("-- ran\n")
		for _, q := range ran {
			m.b.WriteString(q + ";\n")
		}
	}
	m.b.WriteString("-- warnings\n")
	for _, l := range m.logs() {
		m.b.WriteString(l + "\n")
	}
}

// String returns the record.
func (m *Migrations) String() string { return m.b.String() }

// Logger returns a logger and a function that returns the messages (with
// their attributes, without time and level) logged since its last call.
func Logger() (*slog.Logger, func() []string) {
	var mu sync.Mutex
	var buf strings.Builder
	h := slog.NewTextHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey) {
				return slog.Attr{}
			}
			return a
		},
	})
	return slog.New(h), func() []string {
		mu.Lock()
		defer mu.Unlock()
		s := strings.TrimSuffix(buf.String(), "\n")
		buf.Reset()
		if s == "" {
			return nil
		}
		return strings.Split(s, "\n")
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

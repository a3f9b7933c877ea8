package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/managarten/mana-auth/internal/testpg"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/internal/sqlgolden"
	"github.com/managarten/mana-auth/storage/postgres"
)

// tracer records the statements and arguments pgx sends.
type tracer struct {
	mu    sync.Mutex
	lines []string
}

func (tr *tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	var b strings.Builder
	b.WriteString(d.SQL)
	for i, a := range d.Args {
		fmt.Fprintf(&b, "\n  $%d = %T(%v)", i+1, a, a)
	}
	tr.mu.Lock()
	tr.lines = append(tr.lines, b.String())
	tr.mu.Unlock()
	return ctx
}

func (tr *tracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (tr *tracer) take() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := tr.lines
	tr.lines = nil
	return out
}

// tracedAdapter returns an adapter, on a fresh schema, whose statements tr
// records, and the schema's name.
func tracedAdapter(t *testing.T, tr *tracer, opts postgres.Options) (*postgres.Adapter, string) {
	t.Helper()
	sch := testpg.SchemaName(t, "st_")
	opts.Schema = sch
	db, err := postgres.New(testpg.TracedPool(t, tr), opts)
	if err != nil {
		t.Fatal(err)
	}
	return db, sch
}

// TestGoldenSQL pins the text and arguments of every statement shape the
// adapter generates (see package sqlgolden).
func TestGoldenSQL(t *testing.T) {
	ctx := context.Background()
	tr := &tracer{}
	db, sch := tracedAdapter(t, tr, postgres.Options{})
	s := sqlgolden.Schema()
	if err := db.Bind(s); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx, s); err != nil {
		t.Fatal(err)
	}
	got := sqlgolden.Run(t, db, tr.take)
	sqlgolden.Check(t, "sql", strings.ReplaceAll(got, sch, "SCHEMA"))
}

// TestGoldenMigration pins the migration statements (those run, the
// bookkeeping included) and warnings for a fresh schema and for an upgrade
// of one holding rows, with a column of an unexpected type.
func TestGoldenMigration(t *testing.T) {
	ctx := context.Background()
	tr := &tracer{}
	logger, logs := sqlgolden.Logger()
	db, sch := tracedAdapter(t, tr, postgres.Options{Logger: logger})
	m := sqlgolden.NewMigrations(t, logs)
	plan := func(s storage.Schema) func() ([]string, error) {
		return func() ([]string, error) { return db.PlanMigration(ctx, s) }
	}
	migrate := func(s storage.Schema) func() ([]string, error) {
		return func() ([]string, error) {
			tr.take()
			if err := db.Migrate(ctx, s); err != nil {
				return nil, err
			}
			ran := []string{}
			for _, q := range tr.take() {
				if strings.HasPrefix(q, "SELECT") {
					continue // catalog reads
				}
				// The bookkeeping rows record the time of the migration.
				if i := strings.Index(q, "\n  $5 = time.Time("); i >= 0 {
					q = q[:i] + "\n  $5 = time.Time(now)"
				}
				ran = append(ran, q)
			}
			return ran, nil
		}
	}
	m.Step("fresh", plan(sqlgolden.Schema()), migrate(sqlgolden.Schema()))
	if err := db.Bind(sqlgolden.Schema()); err != nil {
		t.Fatal(err)
	}
	sqlgolden.Run(t, db, func() []string { return nil })
	if _, err := testpg.Conn(t).Exec(ctx, `CREATE TABLE "`+sch+`"."legacy" ("id" text PRIMARY KEY, "n" text, "at" timestamp,
  "ok" smallint, "s" uuid)`); err != nil {
		t.Fatal(err)
	}
	up := sqlgolden.Upgraded()
	up.Tables = append(up.Tables, storage.Table{Name: "legacy", Fields: []storage.Field{
		{Name: "n", Type: storage.Int}, {Name: "at", Type: storage.Date}, {Name: "ok", Type: storage.Bool},
		{Name: "s", Type: storage.String}, {Name: "fresh", Type: storage.Bool, Required: true},
	}})
	m.Step("upgrade", plan(up), migrate(up))
	m.Step("up to date", plan(up), nil)
	sqlgolden.Check(t, "migration", strings.ReplaceAll(m.String(), sch, "SCHEMA"))
}

package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/managarten/mana-auth/internal/testpg"
	"github.com/managarten/mana-auth/ratelimit"
	"github.com/managarten/mana-auth/ratelimit/postgres"
	"github.com/managarten/mana-auth/ratelimit/ratelimittest"
	"github.com/managarten/mana-auth/storage"
	storagepg "github.com/managarten/mana-auth/storage/postgres"
)

// naming is a deployment's naming: snake_case columns and plural table
// names, with entries for other tables that the store ignores.
var naming = storage.Naming{
	Plural: true,
	Fields: map[string]map[string]string{
		"rateLimit": {"lastRequest": "last_request", "count": "hits"},
		"user":      {"emailVerified": "email_verified"},
	},
	Types: map[string]map[string]string{"user": {"role": "auth.user_role"}},
}

func TestStoreNamedConformance(t *testing.T) {
	testpg.Require(t)
	ratelimittest.Run(t, func(t *testing.T) ratelimit.Store {
		db := open(t, storagepg.Options{MaxConns: 8})
		s, err := postgres.NewFromPool(db.Pool(), db.SchemaName(), postgres.Options{Naming: naming})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// The table and columns a naming gives, created lazily, used by Hit and
// Cleanup; Table overrides the table's name.
func TestStoreNamedTable(t *testing.T) {
	ctx := context.Background()
	conn := testpg.Conn(t)
	for _, tc := range []struct {
		name  string
		opts  postgres.Options
		table string
	}{
		{"plural", postgres.Options{Naming: naming, RefusalCache: -1}, "rateLimits"},
		{"tables", postgres.Options{Naming: storage.Naming{Plural: true, Tables: map[string]string{"rateLimit": "rate_limit"},
			Fields: naming.Fields}, RefusalCache: -1}, "rate_limit"},
		{"Table wins", postgres.Options{Table: "limits", Naming: naming, RefusalCache: -1}, "limits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := open(t, storagepg.Options{})
			s, err := postgres.NewFromPool(db.Pool(), db.SchemaName(), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			rule := ratelimit.Rule{Window: 10 * time.Second, Max: 1}
			for i, want := range []bool{true, false} {
				ok, _, err := s.Hit(ctx, "k", rule, ratelimittest.T0.Add(time.Duration(i)*time.Second))
				if err != nil || ok != want {
					t.Fatalf("hit %d = %v, %v; want %v", i, ok, err, want)
				}
			}
			var cols string
			if err := conn.QueryRow(ctx, `SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns
WHERE table_schema = $1 AND table_name = $2`, db.SchemaName(), tc.table).Scan(&cols); err != nil || cols != "id,key,hits,last_request" {
				t.Fatalf("columns of %s = %q, %v", tc.table, cols, err)
			}
			if n, err := s.Cleanup(ctx, ratelimittest.T0.Add(time.Hour)); err != nil || n != 1 {
				t.Errorf("Cleanup = %d, %v; want 1", n, err)
			}
		})
	}
}

func TestStoreNamingRefused(t *testing.T) {
	testpg.Require(t)
	db := open(t, storagepg.Options{})
	for _, tc := range []struct {
		n    storage.Naming
		want string
	}{
		{storage.Naming{Fields: map[string]map[string]string{"rateLimit": {"last_request": "x"}}}, `table "rateLimit" has no field "last_request"`},
		{storage.Naming{Fields: map[string]map[string]string{"rateLimit": {"count": "key"}}}, `fields key, count all map to column "key"`},
		{storage.Naming{Tables: map[string]string{"rateLimit": "rate limit"}}, `invalid table name "rate limit"`},
		{storage.Naming{Types: map[string]map[string]string{"rateLimit": {"key": "citext"}}}, "Naming.Types is not supported"},
	} {
		_, err := postgres.NewFromPool(db.Pool(), db.SchemaName(), postgres.Options{Naming: tc.n})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewFromPool with %+v = %v, want an error saying %s", tc.n, err, tc.want)
		}
	}
}

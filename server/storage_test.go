package server

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/managarten/mana-auth/internal/testpg"
	"github.com/managarten/mana-auth/storage/postgres"
)

// The server's PostgreSQL pool is larger than pgx's default unless the URL
// sizes it.
func TestOpenStoragePoolSize(t *testing.T) {
	testpg.Require(t)
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	sep := "?"
	if strings.Contains(testpg.URL(), "?") {
		sep = "&"
	}
	for _, tc := range []struct {
		name, url string
		want      int32
	}{
		{"default", testpg.URL(), defaultPoolMaxConns},
		{"pool_max_conns in the URL", testpg.URL() + sep + "pool_max_conns=5", 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			schema := "pool_" + miRandHex(6)
			st, err := OpenStorage(ctx, Config{DatabaseURL: tc.url, DatabaseSchema: schema}, log)
			if err != nil {
				t.Fatal(err)
			}
			db := st.(*postgres.Adapter)
			defer db.Close()
			defer db.Pool().Exec(ctx, `DROP SCHEMA IF EXISTS "`+schema+`" CASCADE`)
			if got := db.Pool().Config().MaxConns; got != tc.want {
				t.Errorf("MaxConns = %d, want %d", got, tc.want)
			}
		})
	}
}

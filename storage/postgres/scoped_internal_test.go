package postgres

import (
	"context"
	"log/slog"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/internal/testpg"
	"github.com/managarten/mana-auth/storage"
)

// setting reads current_setting(name, true) through the adapter's own
// query path (so that, first in a ScopedTx, it goes out with the
// settings); a setting never made is "".
func setting(ctx context.Context, db storage.Adapter, name string) (string, error) {
	var v string
	err := db.(*Adapter).query(ctx, "SELECT COALESCE(current_setting($1, true), '')", []any{name}, func(vals []any) error {
		v, _ = vals[0].(string)
		return nil
	})
	return v, err
}

// ScopedTx makes its settings inside its transaction, whatever statement
// comes first (a read, a write, a nested Tx), and only there: the next
// transaction on the same connection sees none of them.
func TestScopedTxSettings(t *testing.T) {
	t.Parallel()
	schema := testpg.SchemaName(t, "st_")
	ctx := t.Context()
	// One connection, so that the transaction after a ScopedTx runs on the
	// connection it used.
	db, err := Open(ctx, Options{URL: testpg.URL(), Schema: schema, MaxConns: 1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	s := storage.Schema{Tables: []storage.Table{{Name: "note", Fields: []storage.Field{{Name: "body", Type: storage.String}}}}}
	if err := db.Bind(s); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx, s); err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{
		"app.current_user_id": `u'1"\'); SELECT 1; --`,
		"app.other":           "éve ☃",
		"synchronous_commit":  "off",
	}
	names := []string{"app.current_user_id", "app.other", "synchronous_commit"}
	read := func(ctx context.Context, tx storage.Adapter) (map[string]string, error) {
		got := map[string]string{}
		for _, n := range names {
			v, err := setting(ctx, tx, n)
			if err != nil {
				return nil, err
			}
			got[n] = v
		}
		return got, nil
	}
	for _, tc := range []struct {
		name  string
		first func(ctx context.Context, tx storage.Adapter) error
	}{
		{"read first", func(ctx context.Context, tx storage.Adapter) error { return nil }},
		{"write first", func(ctx context.Context, tx storage.Adapter) error {
			return tx.Create(ctx, "note", storage.Record{"id": "n1", "body": "x"})
		}},
		{"nested Tx first", func(ctx context.Context, tx storage.Adapter) error {
			return tx.Tx(ctx, func(tx storage.Adapter) error { return nil })
		}},
	} {
		var got map[string]string
		err := db.ScopedTx(ctx, settings, func(tx storage.Adapter) error {
			if err := tc.first(ctx, tx); err != nil {
				return err
			}
			var err error
			got, err = read(ctx, tx)
			return err
		})
		if err != nil {
			t.Fatalf("%s: ScopedTx: %v", tc.name, err)
		}
		if diff := cmp.Diff(settings, got); diff != "" {
			t.Errorf("%s: settings inside ScopedTx (-want +got):\n%s", tc.name, diff)
		}
		err = db.Tx(ctx, func(tx storage.Adapter) error {
			got, err = read(ctx, tx)
			return err
		})
		if err != nil {
			t.Fatalf("%s: Tx: %v", tc.name, err)
		}
		if got["app.current_user_id"] != "" || got["app.other"] != "" || got["synchronous_commit"] != "on" {
			t.Errorf("%s: the next transaction on the connection sees %q", tc.name, got)
		}
	}
}

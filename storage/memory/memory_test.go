package memory_test

import (
	"context"
	"errors"
	"testing"

	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
	"github.com/managarten/mana-auth/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(*testing.T) storage.Adapter { return memory.New() })
}

func TestBindRejectsInvalidSchemas(t *testing.T) {
	ref := func(on storage.OnDelete) *storage.Reference {
		return &storage.Reference{Table: "a", Field: "id", OnDelete: on}
	}
	cases := map[string]storage.Schema{
		"bad table name": {Tables: []storage.Table{{Name: "a b"}}},
		"field twice": {Tables: []storage.Table{{Name: "a", Fields: []storage.Field{
			{Name: "x", Type: storage.String}, {Name: "x", Column: "y", Type: storage.String}}}}},
		"table twice": {Tables: []storage.Table{{Name: "a"}, {Name: "a", DBName: "b"}}},
		"unknown reference": {Tables: []storage.Table{{Name: "a", Fields: []storage.Field{
			{Name: "x", Type: storage.String, References: &storage.Reference{Table: "zz", Field: "id"}}}}}},
		"unknown OnDelete": {Tables: []storage.Table{{Name: "a", Fields: []storage.Field{
			{Name: "x", Type: storage.String, References: ref("CASCADE")}}}}},
	}
	for name, s := range cases {
		if err := memory.New().Bind(s); err == nil {
			t.Errorf("%s: Bind accepted an invalid schema", name)
		}
	}
	if err := memory.New().Bind(storage.Schema{Tables: []storage.Table{{Name: "a", Fields: []storage.Field{
		{Name: "x", Type: storage.String, References: ref("")}}}}}); err != nil {
		t.Errorf("Bind with an empty OnDelete: %v", err)
	}
}

func TestUnbound(t *testing.T) {
	db := memory.New()
	ctx := context.Background()
	if err := db.Create(ctx, "a", storage.Record{"id": "1"}); err == nil {
		t.Error("Create before Bind succeeded")
	}
	if _, err := db.Count(ctx, "a"); err == nil {
		t.Error("Count before Bind succeeded")
	}
	if err := db.Tx(ctx, func(storage.Adapter) error { return nil }); err == nil {
		t.Error("Tx before Bind succeeded")
	}
}

// TestRebind checks that binding an extended schema keeps the rows and
// reports new fields as NULL.
func TestRebind(t *testing.T) {
	ctx := context.Background()
	db := memory.New()
	s := storage.Schema{Tables: []storage.Table{{Name: "a", Fields: []storage.Field{{Name: "x", Type: storage.String}}}}}
	if err := db.Bind(s); err != nil {
		t.Fatal(err)
	}
	if err := db.Create(ctx, "a", storage.Record{"id": "1", "x": "v"}); err != nil {
		t.Fatal(err)
	}
	s.Tables[0].Fields = append(s.Tables[0].Fields, storage.Field{Name: "y", Type: storage.Int})
	if err := db.Bind(s); err != nil {
		t.Fatal(err)
	}
	r, err := db.FindOne(ctx, "a", storage.W("y", nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(r) != 3 || r["x"] != "v" || r["y"] != nil {
		t.Errorf("after rebinding: %v", r)
	}
	if _, err := db.FindOne(ctx, "a", storage.W("y", int64(1))); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("FindOne(y = 1) = %v, want ErrNotFound", err)
	}
}

package sqlite_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/sqlite"
)

// Example opens a database, shows the migration plan (a dry run),
// migrates, and finds the plan empty afterwards.
func Example() {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlite.Options{Path: sqlite.MemoryPath}) // or a file path
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	schema := storage.Schema{Tables: []storage.Table{{Name: "note", Fields: []storage.Field{
		{Name: "body", Type: storage.String, Required: true},
	}}}}
	if err := db.Bind(schema); err != nil {
		log.Fatal(err)
	}
	plan, err := db.PlanMigration(ctx, schema)
	if err != nil {
		log.Fatal(err)
	}
	for _, stmt := range plan {
		first, _, _ := strings.Cut(stmt, "\n")
		fmt.Println(first)
	}
	if err := db.Migrate(ctx, schema); err != nil {
		log.Fatal(err)
	}
	plan, _ = db.PlanMigration(ctx, schema)
	fmt.Println("after Migrate:", len(plan), "statements")

	_ = db.Create(ctx, "note", storage.Record{"id": "n1", "body": "hello"})
	n, _ := db.Count(ctx, "note")
	fmt.Println(n)
	// Output:
	// CREATE TABLE IF NOT EXISTS "mana_migrations" (
	// CREATE TABLE IF NOT EXISTS "note" (
	// after Migrate: 0 statements
	// 1
}

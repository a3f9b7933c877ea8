package postgres_test

import (
	"context"
	"log"
	"os"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/storage/postgres"
)

// Example opens PostgreSQL for an Auth. (Not run: it needs a server.)
func Example() {
	ctx := context.Background()
	db, err := postgres.Open(ctx, postgres.Options{
		URL:    os.Getenv("DATABASE_URL"), // postgres://user:pass@host:5432/db?sslmode=require
		Schema: "auth",                    // the tables' PostgreSQL schema, created if missing
	})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	a, err := auth.New(auth.Config{BaseURL: "https://auth.example.com", Secret: os.Getenv("AUTH_SECRET")}, db)
	if err != nil {
		log.Fatal(err)
	}
	// Creates or upgrades the tables (additive only, under an advisory lock,
	// so instances starting together take turns).
	if err := a.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
}

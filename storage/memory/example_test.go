package memory_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
)

// Example binds a schema and uses the generic operations every adapter
// serves. The memory adapter enforces constraints as SQL would.
func Example() {
	ctx := context.Background()
	db := memory.New()
	err := db.Bind(storage.Schema{Tables: []storage.Table{
		{Name: "user", Fields: []storage.Field{
			{Name: "email", Type: storage.String, Required: true, Unique: true},
		}},
		{Name: "note", Fields: []storage.Field{
			{Name: "userId", Type: storage.String, Required: true, Index: true,
				References: &storage.Reference{Table: "user", Field: "id", OnDelete: storage.Cascade}},
			{Name: "body", Type: storage.String, Required: true},
		}},
	}})
	if err != nil {
		log.Fatal(err)
	}

	_ = db.Create(ctx, "user", storage.Record{"id": "u1", "email": "ada@example.com"})
	_ = db.Create(ctx, "note", storage.Record{"id": "n1", "userId": "u1", "body": "remember the milk"})

	rec, _ := db.FindOne(ctx, "note", storage.W("userId", "u1"))
	fmt.Println(rec.String("body"))

	err = db.Create(ctx, "user", storage.Record{"id": "u2", "email": "ada@example.com"})
	fmt.Println(errors.Is(err, storage.ErrConflict))
	err = db.Create(ctx, "note", storage.Record{"id": "n2", "userId": "nobody", "body": "x"})
	fmt.Println(errors.Is(err, storage.ErrConstraint))

	// Deleting the user cascades to the notes.
	n, _ := db.Delete(ctx, "user", storage.W("id", "u1"))
	left, _ := db.Count(ctx, "note")
	fmt.Println(n, left)
	// Output:
	// remember the milk
	// true
	// true
	// 1 0
}

package storage_test

import (
	"fmt"
	"log"

	"github.com/managarten/mana-auth/storage"
)

// ExampleSchema_Merge is what auth.New does with a plugin's schema: a table
// named like an existing one gains the plugin's fields, a new table is
// added.
func ExampleSchema_Merge() {
	core := storage.Schema{Tables: []storage.Table{{Name: "user", Fields: []storage.Field{
		{Name: "email", Type: storage.String, Required: true, Unique: true},
	}}}}
	plugin := storage.Schema{Tables: []storage.Table{
		{Name: "user", Fields: []storage.Field{{Name: "role", Type: storage.String}}},
		{Name: "note", Fields: []storage.Field{
			{Name: "userId", Type: storage.String, Required: true, Index: true,
				References: &storage.Reference{Table: "user", Field: "id", OnDelete: storage.Cascade}},
		}},
	}}
	if err := core.Merge(plugin); err != nil {
		log.Fatal(err)
	}
	for _, t := range core.Tables {
		fmt.Print(t.TableName(), ":")
		for _, f := range t.AllFields() {
			fmt.Print(" ", f.Name)
		}
		fmt.Println()
	}
	// Output:
	// user: id email role
	// note: id userId
}

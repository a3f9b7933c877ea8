package storage_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"
	"testing"

	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
)

// ExampleScopedTx runs a transaction as one user. On PostgreSQL the
// setting is what the row-level security policies of the note table
// (declared by its RowSecurity) read; the memory adapter ignores both.
func ExampleScopedTx() {
	ctx := context.Background()
	s := storage.Schema{Tables: []storage.Table{{
		Name: "note",
		Fields: []storage.Field{
			{Name: "userId", Type: storage.String, Required: true, Index: true},
			{Name: "body", Type: storage.String, Required: true},
		},
		RowSecurity: &storage.RowSecurity{Field: "userId", Setting: "app.current_user_id"},
	}}}
	db := memory.New()
	if err := db.Bind(s); err != nil {
		log.Fatal(err)
	}
	as := map[string]string{"app.current_user_id": "u1"}
	err := storage.ScopedTx(ctx, db, as, func(tx storage.Adapter) error {
		return tx.Create(ctx, "note", storage.Record{"id": "n1", "userId": "u1", "body": "hi"})
	})
	if err != nil {
		log.Fatal(err)
	}
	n, _ := db.Count(ctx, "note", storage.W("userId", "u1"))
	fmt.Println(n, "note")
	// Output: 1 note
}

func TestCheckSettings(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		setting string
		value   string
		ok      bool
		invalid bool // the error wraps ErrInvalidValue
	}{
		{"custom", "app.current_user_id", "u1", true, false},
		{"built-in", "synchronous_commit", "off", true, false},
		{"any value", "app.x", `'); DROP TABLE "user"; --`, true, false},
		{"63 bytes each", strings.Repeat("a", 63) + "." + strings.Repeat("b", 63), "", true, false},
		{"empty", "", "x", false, false},
		{"64 bytes", strings.Repeat("a", 64), "x", false, false},
		{"quote", "app.x'", "x", false, false},
		{"three parts", "a.b.c", "x", false, false},
		{"leading digit", "app.1x", "x", false, false},
		{"non-ASCII", "app.é", "x", false, false},
		{"NUL in the value", "app.x", "secret\x00", false, true},
		{"invalid UTF-8 in the value", "app.x", "secret\xff", false, true},
	}
	for _, tc := range cases {
		err := storage.CheckSettings(map[string]string{tc.setting: tc.value})
		if (err == nil) != tc.ok || errors.Is(err, storage.ErrInvalidValue) != tc.invalid {
			t.Errorf("%s: CheckSettings(%q: %q) = %v", tc.name, tc.setting, tc.value, err)
		}
		if tc.invalid && err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: the error shows the value: %v", tc.name, err)
		}
	}
}

// Validate accepts a RowSecurity on a String field (id included) with
// valid setting names, and refuses anything else; Merge and Clone keep it.
func TestRowSecurityValidate(t *testing.T) {
	t.Parallel()
	schema := func(rs storage.RowSecurity) storage.Schema {
		return storage.Schema{Tables: []storage.Table{{Name: "note", Fields: []storage.Field{
			{Name: "userId", Type: storage.String},
			{Name: "n", Type: storage.Int},
		}, RowSecurity: &rs}}}
	}
	cases := []struct {
		name string
		rs   storage.RowSecurity
		ok   bool
	}{
		{"field", storage.RowSecurity{Field: "userId", Setting: "app.uid"}, true},
		{"id", storage.RowSecurity{Field: "id", Setting: "app.uid", ReadAllSetting: "app.all"}, true},
		{"unknown field", storage.RowSecurity{Field: "owner", Setting: "app.uid"}, false},
		{"int field", storage.RowSecurity{Field: "n", Setting: "app.uid"}, false},
		{"no setting", storage.RowSecurity{Field: "userId"}, false},
		{"bad setting", storage.RowSecurity{Field: "userId", Setting: "app.uid', true) OR (true"}, false},
		{"bad read-all setting", storage.RowSecurity{Field: "userId", Setting: "app.uid", ReadAllSetting: "x'"}, false},
	}
	for _, tc := range cases {
		s := schema(tc.rs)
		if err := s.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate = %v", tc.name, err)
		}
	}

	s := schema(cases[0].rs)
	c := s.Clone()
	c.Tables[0].RowSecurity.Setting = "app.changed"
	if s.Tables[0].RowSecurity.Setting != "app.uid" {
		t.Error("Clone shares the RowSecurity")
	}
	if err := s.Merge(schema(cases[0].rs)); err != nil {
		t.Errorf("Merge of the same RowSecurity: %v", err)
	}
	if err := s.Merge(schema(cases[1].rs)); err == nil {
		t.Error("Merge of another RowSecurity for the same table succeeded")
	}
	plain := storage.Schema{Tables: []storage.Table{{Name: "note"}}}
	if err := plain.Merge(schema(cases[0].rs)); err != nil || plain.Tables[0].RowSecurity == nil {
		t.Errorf("Merge into a table without RowSecurity = %v, %+v", err, plain.Tables[0].RowSecurity)
	}
}

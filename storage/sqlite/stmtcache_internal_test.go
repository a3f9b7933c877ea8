package sqlite

import (
	"context"
	"testing"
)

// TestIsStmtClosed checks that isStmtClosed recognizes database/sql's error
// for a closed statement (its text is not exported), which the adapter
// relies on to fall back when Close races with a query.
func TestIsStmtClosed(t *testing.T) {
	ctx := context.Background()
	a, err := Open(ctx, Options{Path: MemoryPath})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	s := a.c.rs.get(ctx, "SELECT 1")
	if s == nil {
		t.Fatal("statement not cached")
	}
	if err := a.c.rs.close(); err != nil {
		t.Fatal(err)
	}
	if a.c.rs.get(ctx, "SELECT 1") != nil {
		t.Error("closed cache returned a statement")
	}
	_, err = s.QueryContext(ctx)
	if !isStmtClosed(err) {
		t.Errorf("query on a closed statement: %v; isStmtClosed false", err)
	}
	var one int
	if err := a.c.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Errorf("database after closing the cache: %d, %v", one, err)
	}
}

package apikey

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestMemoForgetsRequests checks that the memo of request sessions
// forgets a request when its context ends, and prunes old entries of
// requests whose context never ends once it grows large.
func TestMemoForgetsRequests(t *testing.T) {
	t.Parallel()
	m := sessionMemo{m: map[*http.Request]*memoEntry{}}
	size := func() int { m.mu.Lock(); defer m.mu.Unlock(); return len(m.m) }

	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequest("GET", "/", nil).WithContext(ctx)
	if e := m.entry(r); m.entry(r) != e {
		t.Fatal("two entries for one request")
	}
	cancel()
	for deadline := time.Now().Add(5 * time.Second); size() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the entry of an ended request is kept")
		}
	}

	for range memoPrune {
		e := m.entry(httptest.NewRequest("GET", "/", nil)) // context.Background: never ends
		e.at = e.at.Add(-2 * memoTTL)
	}
	if n := size(); n != memoPrune {
		t.Fatalf("%d entries, want %d", n, memoPrune)
	}
	m.entry(httptest.NewRequest("GET", "/", nil))
	if n := size(); n != 1 {
		t.Fatalf("%d entries after pruning, want 1", n)
	}
}

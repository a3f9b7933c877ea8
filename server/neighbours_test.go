package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/managarten/mana-auth/plugin"
)

// TestHTTPCredits runs the mana-credits client against an httptest server
// that checks the calls as mana-credits would.
func TestHTTPCredits(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var calls []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Service-Key") != "svc-key" {
			http.Error(w, "bad key", http.StatusUnauthorized)
			return
		}
		var body map[string]string
		json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		calls = append(calls, r.Method+" "+r.URL.Path+" "+body["userId"]+" "+body["email"])
		mu.Unlock()
		switch {
		case r.URL.Path == "/api/v1/internal/credits/balance/u1" && r.Method == "GET":
			w.Write([]byte(`{"userId":"u1","balance":12.5,"totalEarned":20,"totalSpent":7.5,"version":3}`))
		case r.URL.Path == "/api/v1/internal/credits/balance/u1" && r.Method == "DELETE":
			http.NotFound(w, r) // upstream has no such route: nothing to delete
		case r.URL.Path == "/api/v1/internal/credits/balance/u2" && r.Method == "DELETE":
			w.Write([]byte(`{"deletedCount":4}`))
		case strings.HasSuffix(r.URL.Path, "/init"), strings.HasSuffix(r.URL.Path, "/redeem-pending"):
			w.Write([]byte(`{}`))
		default:
			http.Error(w, "boom", 500)
		}
	}))
	defer srv.Close()
	c := &HTTPCredits{BaseURL: srv.URL, ServiceKey: "svc-key"}
	ctx := context.Background()
	if err := c.Init(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if err := c.RedeemPendingGifts(ctx, "u1", "a@example.com"); err != nil {
		t.Fatal(err)
	}
	b, err := c.Balance(ctx, "u1")
	if d := cmp.Diff(Balance{Balance: 12.5, TotalEarned: 20, TotalSpent: 7.5}, b); err != nil || d != "" {
		t.Fatalf("balance: %v %s", err, d)
	}
	if n, err := c.DeleteUser(ctx, "u1"); err != nil || n != 0 {
		t.Fatalf("delete (404) = %d, %v", n, err)
	}
	if n, err := c.DeleteUser(ctx, "u2"); err != nil || n != 4 {
		t.Fatalf("delete = %d, %v", n, err)
	}
	if _, err := c.Balance(ctx, "u3"); err == nil {
		t.Fatal("a 500 was not an error")
	}
	bad := &HTTPCredits{BaseURL: srv.URL, ServiceKey: "wrong"}
	if err := bad.Init(ctx, "u1"); err == nil {
		t.Fatal("a 401 was not an error")
	}
	want := []string{
		"POST /api/v1/internal/credits/init u1 ",
		"POST /api/v1/internal/gifts/redeem-pending u1 a@example.com",
		"GET /api/v1/internal/credits/balance/u1  ",
		"DELETE /api/v1/internal/credits/balance/u1  ",
		"DELETE /api/v1/internal/credits/balance/u2  ",
		"GET /api/v1/internal/credits/balance/u3  ",
	}
	if d := cmp.Diff(want, calls); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}
	down := &HTTPCredits{BaseURL: "http://127.0.0.1:1", ServiceKey: "k", Client: &http.Client{Timeout: time.Second}}
	if err := down.Init(ctx, "u1"); err == nil {
		t.Fatal("an unreachable server was not an error")
	}
}

func testDatabaseURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// TestPostgresSyncUnderRLS builds a mana-sync table with forced row-level
// security and queries it as an ordinary role: the statements must see the
// user's rows (and only those) because they set app.current_user_id.
func TestPostgresSyncUnderRLS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	admin, err := pgxpool.New(ctx, testDatabaseURL())
	if err == nil {
		err = admin.Ping(ctx)
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL unreachable: %v", err)
		}
		t.Skipf("PostgreSQL unreachable (%v); set TEST_DATABASE_URL", err)
	}
	defer admin.Close()
	suffix := strings.ToLower(plugin.RandomString(8, "abcdefghijklmnopqrstuvwxyz"))
	schema, role := "sync_"+suffix, "sync_reader_"+suffix
	exec := func(sql string) {
		t.Helper()
		if _, err := admin.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`CREATE SCHEMA ` + schema)
	exec(`CREATE ROLE ` + role + ` LOGIN NOSUPERUSER NOBYPASSRLS`)
	t.Cleanup(func() {
		admin.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`)
		admin.Exec(ctx, `DROP OWNED BY `+role)
		admin.Exec(ctx, `DROP ROLE `+role)
	})
	exec(`CREATE TABLE ` + schema + `.sync_changes (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), app_id text NOT NULL,
		table_name text NOT NULL, record_id text NOT NULL, user_id text NOT NULL, op text NOT NULL,
		data jsonb, created_at timestamptz NOT NULL DEFAULT now())`)
	exec(`ALTER TABLE ` + schema + `.sync_changes ENABLE ROW LEVEL SECURITY`)
	exec(`ALTER TABLE ` + schema + `.sync_changes FORCE ROW LEVEL SECURITY`)
	exec(`CREATE POLICY sync_changes_user_isolation ON ` + schema + `.sync_changes
		USING (user_id = current_setting('app.current_user_id', true))
		WITH CHECK (user_id = current_setting('app.current_user_id', true))`)
	exec(`GRANT USAGE ON SCHEMA ` + schema + ` TO ` + role)
	exec(`GRANT SELECT, DELETE ON ` + schema + `.sync_changes TO ` + role)
	// Rows inserted as the owner (FORCE applies to it too: set the user).
	ins := func(user, app, table, rec, op string, at time.Time) {
		t.Helper()
		err := pgx.BeginFunc(ctx, admin, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT set_config('app.current_user_id', $1, true)", user); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO `+schema+`.sync_changes (app_id, table_name, record_id, user_id, op, created_at) VALUES ($1,$2,$3,$4,$5,$6)`,
				app, table, rec, user, op, at)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	ins("alice", "todo", "tasks", "t1", "insert", t0)
	ins("alice", "todo", "tasks", "t1", "update", t0.Add(time.Hour))
	ins("alice", "todo", "tasks", "t2", "insert", t0)
	ins("alice", "todo", "tasks", "t2", "delete", t0.Add(2*time.Hour)) // deleted: not counted
	ins("alice", "chat", "messages", "m1", "insert", t0.Add(3*time.Hour))
	ins("bob", "todo", "tasks", "b1", "insert", t0)

	u, _ := url.Parse(testDatabaseURL())
	u.User = url.User(role)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	pool, err := pgxpool.New(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s := &PostgresSync{Pool: pool}
	counts, activity, err := s.Counts(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	wantCounts := []EntityCount{{"chat", "messages", 1}, {"todo", "tasks", 1}}
	if d := cmp.Diff(wantCounts, counts); d != "" {
		t.Errorf("counts (-want +got):\n%s", d)
	}
	wantAct := map[string]time.Time{"todo": t0.Add(2 * time.Hour), "chat": t0.Add(3 * time.Hour)}
	if d := cmp.Diff(wantAct, activity); d != "" {
		t.Errorf("activity (-want +got):\n%s", d)
	}
	n, err := s.DeleteUser(ctx, "alice")
	if err != nil || n != 5 {
		t.Fatalf("delete alice = %d, %v", n, err)
	}
	var left int
	if err := admin.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM (SELECT set_config('app.current_user_id','bob',false)) s, %s.sync_changes`, schema)).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 1 {
		t.Fatalf("bob's rows after deleting alice: %d, want 1", left)
	}
}

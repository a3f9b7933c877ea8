package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/managarten/mana-auth/internal/testpg"
	"github.com/managarten/mana-auth/internal/testproc"
	"github.com/managarten/mana-auth/storage/memory"
	"github.com/managarten/mana-auth/storage/postgres"
)

// The server's PostgreSQL pool is larger than pgx's default unless the URL
// sizes it.
func TestOpenStoragePoolSize(t *testing.T) {
	testpg.Require(t)
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	sep := "?"
	if strings.Contains(testpg.URL(), "?") {
		sep = "&"
	}
	for _, tc := range []struct {
		name, url string
		want      int32
	}{
		{"default", testpg.URL(), defaultPoolMaxConns},
		{"pool_max_conns in the URL", testpg.URL() + sep + "pool_max_conns=5", 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			schema := "pool_" + miRandHex(6)
			st, err := OpenStorage(ctx, Config{DatabaseURL: tc.url, DatabaseSchema: schema}, log)
			if err != nil {
				t.Fatal(err)
			}
			db := st.(*postgres.Adapter)
			defer db.Close()
			defer db.Pool().Exec(ctx, `DROP SCHEMA IF EXISTS "`+schema+`" CASCADE`)
			if got := db.Pool().Config().MaxConns; got != tc.want {
				t.Errorf("MaxConns = %d, want %d", got, tc.want)
			}
		})
	}
}

// Without SMTP_HOST the development mailer writes mails to the server's
// logger, not to slog.Default.
func TestDevMailerUsesServerLogger(t *testing.T) {
	t.Parallel()
	var buf testproc.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	cfg := Config{BaseURL: "http://localhost:3001", Secret: "a-dev-mailer-test-secret-of-enough-length",
		AutoMigrate: true, DataDir: t.TempDir()}
	s, err := NewWithStorage(context.Background(), cfg, memory.New(), Deps{}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	resp, err := http.Post(ts.URL+"/api/auth/sign-up/email", "application/json",
		strings.NewReader(`{"name":"D","email":"dev-mail@example.com","password":"password123"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(buf.String(), "to=dev-mail@example.com") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(buf.String(), "to=dev-mail@example.com") {
		t.Fatalf("sign-up %d; the verification mail is not in the server's log:\n%s", resp.StatusCode, buf.String())
	}
}

package server

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/managarten/mana-auth/auth"
)

// TestRewrapVaults moves every vault to a new KEK with the command's
// function and reads the same master key afterwards with the new KEK alone.
func TestRewrapVaults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	oldKEK := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("o", 32)))
	newKEK := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("n", 32)))
	cfg := Config{BaseURL: "http://localhost:3001", Secret: "a-secret-for-the-rewrap-command-test",
		DataDir: t.TempDir(), AutoMigrate: true, KEK: oldKEK, JWTAudience: "mana"}
	s, err := New(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.auth.SignUpEmail(ctx, auth.SignUpInput{Name: "K", Email: "k@example.com", Password: "password123"})
	if err != nil {
		t.Fatal(err)
	}
	k1, err := s.vault.Service().Init(ctx, res.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	cfg.KEK, cfg.KEKID, cfg.KEKPrevious = newKEK, "env-v2", "env-v1:"+oldKEK
	var last [2]int
	if err := RewrapVaults(ctx, cfg, log, 10, func(done, total int) { last = [2]int{done, total} }); err != nil {
		t.Fatal(err)
	}
	if last != [2]int{1, 1} {
		t.Errorf("progress = %v, want [1 1]", last)
	}
	cfg.KEKPrevious = "" // the old key is gone now
	s2, err := New(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	k2, err := s2.vault.Service().Key(ctx, res.User.ID)
	if err != nil {
		t.Fatalf("key after rewrap without the old KEK: %v", err)
	}
	if string(k1.MasterKey) != string(k2.MasterKey) || k2.KEKID != "env-v2" {
		t.Fatalf("after rewrap: kek %q, same key %v", k2.KEKID, string(k1.MasterKey) == string(k2.MasterKey))
	}
}

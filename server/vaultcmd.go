package server

import (
	"context"
	"log/slog"

	"github.com/managarten/mana-auth/storage"
)

// RewrapVaults re-wraps every vault master key under the current KEK
// (MANA_AUTH_KEK), reading old wraps with the keys of
// MANA_AUTH_KEK_PREVIOUS. It works online in batches, only touches rows
// whose KEK is not the current one (so it resumes where a previous run
// stopped), and reports progress. Reads keep working throughout.
func RewrapVaults(ctx context.Context, cfg Config, log *slog.Logger, batch int, progress func(done, total int)) error {
	if cfg.Secret == "" {
		cfg.Secret = "rewrap-command-secret-not-used-for-signing-0"
	}
	db, err := OpenStorage(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		if c, ok := db.(storage.Closer); ok {
			c.Close()
		}
	}()
	cfg.AutoMigrate = false
	s, err := NewWithStorage(ctx, cfg, db, Deps{}, log)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.vault.Service().RewrapAll(ctx, batch, progress)
}

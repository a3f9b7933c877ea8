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
	return offline(ctx, cfg, log, func(s *Server, _ storage.Adapter) error {
		return s.vault.Service().RewrapAll(ctx, batch, progress)
	})
}

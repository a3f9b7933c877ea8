package auth

import (
	"context"
	"fmt"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// DeleteExpired deletes the sessions and verification values (reset,
// magic-link, change-email and two-factor tokens) whose expiry has passed.
// No request can use them any more: an expired session is refused, and
// deleted when it is presented, as Better Auth does; DeleteExpired removes
// the ones nobody presents again, which would otherwise stay for ever.
//
// Run it periodically (the reference server does every 10 minutes). It is
// safe on several instances at once and beside a Better Auth server on the
// same database. It returns how many rows it deleted.
func (a *Auth) DeleteExpired(ctx context.Context) (int64, error) {
	now := a.clockNow()
	var total int64
	for _, table := range []string{plugin.TableSession, plugin.TableVerification} {
		n, err := a.db.Delete(ctx, table, storage.Where{Field: "expiresAt", Op: storage.Lt, Value: now})
		total += n
		if err != nil {
			return total, fmt.Errorf("auth: deleting expired rows of %s: %w", table, err)
		}
	}
	return total, nil
}

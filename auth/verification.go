package auth

import (
	"context"
	"time"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// createVerification stores value under identifier for ttl.
func (a *Auth) createVerification(ctx context.Context, identifier, value string, ttl time.Duration) error {
	now := a.clockNow()
	err := a.db.Create(ctx, plugin.TableVerification, storage.Record{"id": plugin.NewID(), "identifier": identifier, "value": value,
		"expiresAt": now.Add(ttl), "createdAt": now, "updatedAt": now})
	if err != nil {
		return plugin.StorageError(err)
	}
	return nil
}

// findVerification returns the newest unexpired value under identifier, or
// plugin.ErrVerificationNotFound.
func (a *Auth) findVerification(ctx context.Context, identifier string) (*plugin.Verification, error) {
	recs, err := a.db.FindMany(ctx, plugin.TableVerification, storage.Query{
		Where: []storage.Where{storage.W("identifier", identifier), {Field: "expiresAt", Op: storage.Gt, Value: a.clockNow()}},
		Sort:  []storage.Sort{{Field: "createdAt", Desc: true}}, Limit: 1,
	})
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	if len(recs) == 0 {
		return nil, plugin.ErrVerificationNotFound
	}
	r := recs[0]
	return &plugin.Verification{ID: r.String("id"), Identifier: r.String("identifier"), Value: r.String("value"),
		ExpiresAt: r.Time("expiresAt"), CreatedAt: r.Time("createdAt")}, nil
}

// consumeVerification returns the value under identifier and deletes it,
// so that it can be used once: of two concurrent calls exactly one
// succeeds. Missing, expired or consumed values are plugin.ErrVerificationNotFound.
func (a *Auth) consumeVerification(ctx context.Context, identifier string) (*plugin.Verification, error) {
	v, err := a.findVerification(ctx, identifier)
	if err != nil {
		return nil, err
	}
	n, err := a.db.Delete(ctx, plugin.TableVerification, storage.W("id", v.ID))
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	if n == 0 {
		return nil, plugin.ErrVerificationNotFound
	}
	return v, nil
}

// deleteVerification deletes every value under identifier.
func (a *Auth) deleteVerification(ctx context.Context, identifier string) error {
	if _, err := a.db.Delete(ctx, plugin.TableVerification, storage.W("identifier", identifier)); err != nil {
		return plugin.StorageError(err)
	}
	return nil
}

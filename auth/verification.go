package auth

import (
	"context"
	"errors"
	"time"

	"github.com/managarten/mana-auth/storage"
)

// Verification is a row of the verification table: a short-lived value
// under an identifier (a reset token, a magic link, a pending second
// factor).
type Verification struct {
	ID         string
	Identifier string
	Value      string
	ExpiresAt  time.Time
	CreatedAt  time.Time
}

// ErrVerificationNotFound is returned for a missing, expired or already
// consumed verification value.
var ErrVerificationNotFound = errors.New("auth: verification value not found")

// CreateVerification stores value under identifier for ttl.
func (a *Auth) CreateVerification(ctx context.Context, identifier, value string, ttl time.Duration) error {
	now := a.Now()
	err := a.db.Create(ctx, TableVerification, storage.Record{"id": NewID(), "identifier": identifier, "value": value,
		"expiresAt": now.Add(ttl), "createdAt": now, "updatedAt": now})
	if err != nil {
		return storageErr(err)
	}
	return nil
}

// FindVerification returns the newest unexpired value under identifier, or
// ErrVerificationNotFound.
func (a *Auth) FindVerification(ctx context.Context, identifier string) (*Verification, error) {
	recs, err := a.db.FindMany(ctx, TableVerification, storage.Query{
		Where: []storage.Where{storage.W("identifier", identifier), {Field: "expiresAt", Op: storage.Gt, Value: a.Now()}},
		Sort:  []storage.Sort{{Field: "createdAt", Desc: true}}, Limit: 1,
	})
	if err != nil {
		return nil, storageErr(err)
	}
	if len(recs) == 0 {
		return nil, ErrVerificationNotFound
	}
	r := recs[0]
	return &Verification{ID: r.String("id"), Identifier: r.String("identifier"), Value: r.String("value"),
		ExpiresAt: r.Time("expiresAt"), CreatedAt: r.Time("createdAt")}, nil
}

// ConsumeVerification returns the value under identifier and deletes it,
// so that it can be used once: of two concurrent calls exactly one
// succeeds. Missing, expired or consumed values are ErrVerificationNotFound.
func (a *Auth) ConsumeVerification(ctx context.Context, identifier string) (*Verification, error) {
	v, err := a.FindVerification(ctx, identifier)
	if err != nil {
		return nil, err
	}
	n, err := a.db.Delete(ctx, TableVerification, storage.W("id", v.ID))
	if err != nil {
		return nil, storageErr(err)
	}
	if n == 0 {
		return nil, ErrVerificationNotFound
	}
	return v, nil
}

// DeleteVerification deletes every value under identifier.
func (a *Auth) DeleteVerification(ctx context.Context, identifier string) error {
	if _, err := a.db.Delete(ctx, TableVerification, storage.W("identifier", identifier)); err != nil {
		return storageErr(err)
	}
	return nil
}

package emailotp

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/managarten/mana-auth/plugin"
)

// Export is what ExportUser returns about a user: the codes waiting to be
// used for their address, described, never the codes themselves.
type Export struct {
	// PendingCodes are the unexpired codes, by type.
	PendingCodes []ExportCode `json:"pendingCodes"`
}

// ExportCode describes a code waiting to be used.
type ExportCode struct {
	// Type is what the code is for.
	Type Type `json:"type"`
	// ExpiresAt is when it expires (plugin.TimeFormat).
	ExpiresAt string `json:"expiresAt"`
	// FailedAttempts counts the wrong guesses so far.
	FailedAttempts int `json:"failedAttempts"`
}

// types are the types whose codes a user's address may have.
var types = []Type{TypeSignIn, TypeEmailVerification, TypeForgetPassword, TypeChangeEmail}

// ExportUser implements plugin.DataSource.
func (p *Plugin) ExportUser(ctx context.Context, userID string) (any, error) {
	u, err := p.h.FindUserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := Export{PendingCodes: []ExportCode{}}
	for _, t := range types {
		v, err := p.h.FindVerification(ctx, identifier(t, u.Email))
		if errors.Is(err, plugin.ErrVerificationNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		n := 0
		if i := strings.LastIndexByte(v.Value, ':'); i >= 0 {
			n, _ = strconv.Atoi(v.Value[i+1:])
		}
		out.PendingCodes = append(out.PendingCodes, ExportCode{Type: t, ExpiresAt: plugin.FormatTime(v.ExpiresAt), FailedAttempts: n})
	}
	return out, nil
}

// DeleteUser implements plugin.DataSource: it deletes the codes of the
// user's address and the sign-up's password binding.
func (p *Plugin) DeleteUser(ctx context.Context, userID string) error {
	u, err := p.h.FindUserByID(ctx, userID)
	if isUserNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	ids := []string{vouchID(u.Email)}
	for _, t := range types {
		ids = append(ids, identifier(t, u.Email))
	}
	for _, id := range ids {
		if err := p.h.DeleteVerification(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

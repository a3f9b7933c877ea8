package auth

import (
	"context"
	"strings"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// ListAccounts returns the user's accounts, the ways they sign in, oldest
// first: "credential" for a password, a provider's id for each linked
// provider (with its tokens, sealed as the plugin that stored them seals
// them). GET /list-accounts answers them without secrets.
func (a *Auth) ListAccounts(ctx context.Context, userID string) ([]*plugin.Account, error) {
	recs, err := a.accountRecords(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]*plugin.Account, len(recs))
	for i, r := range recs {
		out[i] = plugin.AccountFromRecord(r)
	}
	return out, nil
}

func (a *Auth) accountRecords(ctx context.Context, userID string) ([]storage.Record, error) {
	recs, err := a.db.FindMany(ctx, plugin.TableAccount, storage.Query{Where: []storage.Where{storage.W("userId", userID)},
		Sort: []storage.Sort{{Field: "createdAt"}}})
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	return recs, nil
}

// UnlinkAccount removes the user's account whose row id is id (the "id"
// of list-accounts, not the provider's "accountId"): the operation behind
// POST /unlink-account. As in Better Auth, a user's only account is
// refused first, whatever id is given (ErrFailedToUnlinkLastAccount),
// unless Config.Account.AccountLinking.AllowUnlinkingAll; an id that is
// not one of the user's accounts is ErrAccountNotFound. Unlinks of a
// user's last two accounts at once cannot both succeed: an unlink that
// finds no account left behind it puts its account back and fails with
// ErrFailedToUnlinkLastAccount.
func (a *Auth) UnlinkAccount(ctx context.Context, userID, id string) error {
	recs, err := a.accountRecords(ctx, userID)
	if err != nil {
		return err
	}
	keepOne := !a.cfg.Account.AccountLinking.AllowUnlinkingAll
	if len(recs) == 1 && keepOne {
		return ErrFailedToUnlinkLastAccount
	}
	var rec storage.Record
	for _, r := range recs {
		if r.String("id") == id {
			rec = r
			break
		}
	}
	if rec == nil {
		return ErrAccountNotFound
	}
	n, err := a.db.Delete(ctx, plugin.TableAccount, storage.W("id", id), storage.W("userId", userID))
	if err != nil {
		return plugin.StorageError(err)
	}
	if n == 0 { // unlinked meanwhile
		return ErrAccountNotFound
	}
	if !keepOne {
		return nil
	}
	left, err := a.db.Count(ctx, plugin.TableAccount, storage.W("userId", userID))
	if err != nil {
		return plugin.StorageError(err)
	}
	if left > 0 {
		return nil
	}
	// A concurrent unlink removed the other account: this one was the
	// last after all.
	if err := a.db.Create(context.WithoutCancel(ctx), plugin.TableAccount, rec); err != nil {
		a.log.ErrorContext(ctx, "auth: putting back a user's last account", "user", userID, "account", id, "err", err)
		return plugin.StorageError(err)
	}
	return ErrFailedToUnlinkLastAccount
}

// accountJSON is an account as GET /list-accounts answers it (no password,
// no tokens; the scope as a list).
type accountJSON struct {
	ID         string   `json:"id"`
	ProviderID string   `json:"providerId"`
	AccountID  string   `json:"accountId"`
	UserID     string   `json:"userId"`
	CreatedAt  string   `json:"createdAt"`
	UpdatedAt  string   `json:"updatedAt"`
	Scopes     []string `json:"scopes"`
}

// scopes splits a stored scope ("openid,email") as Better Auth's
// parseStoredScopes does.
func scopes(s *string) []string {
	out := []string{}
	if s == nil {
		return out
	}
	for _, x := range strings.Split(*s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func (a *Auth) handleListAccounts(c *plugin.Context) (any, error) {
	accs, err := a.ListAccounts(c.Context(), c.Session().User.ID)
	if err != nil {
		return nil, err
	}
	out := make([]accountJSON, len(accs))
	for i, acc := range accs {
		out[i] = accountJSON{ID: acc.ID, ProviderID: acc.ProviderID, AccountID: acc.AccountID, UserID: acc.UserID,
			CreatedAt: plugin.FormatTime(acc.CreatedAt), UpdatedAt: plugin.FormatTime(acc.UpdatedAt), Scopes: scopes(acc.Scope)}
	}
	return out, nil
}

func (a *Auth) handleUnlinkAccount(c *plugin.Context) (any, error) {
	if err := a.UnlinkAccount(c.Context(), c.Session().User.ID, c.String("accountId")); err != nil {
		return nil, err
	}
	return statusTrue{true}, nil
}

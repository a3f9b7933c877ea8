package vault_test

import (
	"testing"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin/plugintest"
	"github.com/managarten/mana-auth/vault"
)

// TestErrorCodes checks ErrorCodes (plugin.ErrorSource) against every error
// the package declares: Decl is the error that declares each one's code
// (itself, another of the package's, or the core's).
func TestErrorCodes(t *testing.T) {
	t.Parallel()
	plugintest.CheckErrorCodes(t, vault.New(vault.Options{}), ".", []plugintest.ErrorCase{
		{Name: "ErrNotInitialised", Err: vault.ErrNotInitialised, Decl: vault.ErrNotInitialised},
		{Name: "ErrZKRotateForbidden", Err: vault.ErrZKRotateForbidden, Decl: vault.ErrZKRotateForbidden},
		{Name: "ErrZKActive", Err: vault.ErrZKActive, Decl: vault.ErrZKActive},
		{Name: "ErrZKActiveReplace", Err: vault.ErrZKActiveReplace, Decl: vault.ErrZKActive},
		{Name: "ErrRecoveryWrapMissing", Err: vault.ErrRecoveryWrapMissing, Decl: vault.ErrRecoveryWrapMissing},
		{Name: "ErrBadRequest", Err: vault.ErrBadRequest, Decl: auth.ErrBadRequest},
		{Name: "ErrUnwrapFailed", Err: vault.ErrUnwrapFailed, Decl: vault.ErrUnwrapFailed},
		{Name: "ErrKEKNotConfigured", Err: vault.ErrKEKNotConfigured, Decl: vault.ErrKEKNotConfigured},
		{Name: "ErrKEKMismatch", Err: vault.ErrKEKMismatch, Decl: vault.ErrKEKMismatch},
		{Name: "ErrKEKUnavailable", Err: vault.ErrKEKUnavailable, Decl: vault.ErrKEKUnavailable},
		{Name: "ErrConcurrentUpdate", Err: vault.ErrConcurrentUpdate, Decl: vault.ErrConcurrentUpdate},
		{Name: "ErrUnknownUser", Err: vault.ErrUnknownUser, Decl: auth.ErrUserNotFound},
		{Name: "ErrUnauthenticated", Err: vault.ErrUnauthenticated, Decl: auth.ErrUnauthorized},
	})
}

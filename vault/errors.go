package vault

import (
	"net/http"

	"github.com/managarten/mana-auth/plugin"
)

// The errors of the vault. They are *plugin.Error values: Status is the HTTP
// status, Code the stable code clients (and operators) key on, Message
// the text sent as "error". Compare with errors.Is.
var (
	// ErrNotInitialised: the user has no vault (call Init).
	ErrNotInitialised = plugin.NewError(http.StatusNotFound, "VAULT_NOT_INITIALISED", "vault not initialised")
	// ErrZKRotateForbidden: Rotate in zero-knowledge mode.
	ErrZKRotateForbidden = plugin.NewError(http.StatusConflict, "ZK_ROTATE_FORBIDDEN", "cannot rotate in zero-knowledge mode")
	// ErrZKActive: DeleteRecoveryWrap in zero-knowledge mode (it would lock
	// the user out).
	ErrZKActive = plugin.NewError(http.StatusConflict, "ZK_ACTIVE", "cannot clear recovery wrap while zero-knowledge is active")
	// ErrZKActiveReplace: SetRecoveryWrap in zero-knowledge mode. The
	// recovery wrap is then the only copy of the master key and the server
	// cannot check a replacement, so replacing it could lock the user out;
	// disable zero-knowledge first.
	ErrZKActiveReplace = plugin.NewError(http.StatusConflict, "ZK_ACTIVE", "cannot replace recovery wrap while zero-knowledge is active")
	// ErrRecoveryWrapMissing: enabling zero-knowledge without a recovery
	// wrap.
	ErrRecoveryWrapMissing = plugin.NewError(http.StatusBadRequest, "RECOVERY_WRAP_MISSING", "set a recovery wrap before enabling zero-knowledge")
	// ErrBadRequest: invalid input; the message says what is wrong.
	ErrBadRequest = plugin.NewError(http.StatusBadRequest, "BAD_REQUEST", "bad request")
	// ErrUnwrapFailed: a stored wrap is malformed or fails AES-GCM
	// authentication (tampered row, or the KEK under its kek_id is not
	// the key that made it). An operator problem: the key is never
	// returned.
	ErrUnwrapFailed = plugin.NewError(http.StatusInternalServerError, "VAULT_UNWRAP_FAILED", "vault key could not be unwrapped")
	// ErrKEKNotConfigured: a stored wrap names a kek_id the KEKProvider
	// does not have (a retired KEK was removed before RewrapAll finished).
	ErrKEKNotConfigured = plugin.NewError(http.StatusInternalServerError, "VAULT_KEK_UNKNOWN", "vault key-encryption key not configured")
	// ErrKEKMismatch: a stored wrap fails under the KEK its kek_id names but
	// opens under another configured KEK: the key behind an id was changed
	// without changing the id. The key is not returned; fix the KEK
	// configuration.
	ErrKEKMismatch = plugin.NewError(http.StatusInternalServerError, "VAULT_KEK_MISMATCH", "vault key-encryption key does not match the stored key id")
	// ErrKEKUnavailable: the KEKProvider failed (a KMS is unreachable).
	ErrKEKUnavailable = plugin.NewError(http.StatusServiceUnavailable, "VAULT_KEK_UNAVAILABLE", "vault key-encryption key unavailable")
	// ErrConcurrentUpdate: the vault kept changing under the operation;
	// retry.
	ErrConcurrentUpdate = plugin.NewError(http.StatusConflict, "CONCURRENT_UPDATE", "vault changed concurrently, retry")
	// ErrUnknownUser: the user id an operation acts for names no user,
	// typically a still-valid access token (JWT) of a deleted account. The
	// vault's foreign keys refuse rows for such an id; the client has to
	// sign in again, so it is a 401, not a server error.
	ErrUnknownUser = plugin.NewError(http.StatusUnauthorized, "USER_NOT_FOUND", "User not found")
	// ErrUnauthenticated: the request carries no valid credentials.
	ErrUnauthenticated = plugin.NewError(http.StatusUnauthorized, "UNAUTHORIZED", "Missing or invalid Authorization header")
)

func badRequest(msg string) error { return ErrBadRequest.WithMessage(msg) }

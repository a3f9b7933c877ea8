// Package vault is the encryption vault: per-user master-key custody for
// Mana's client-side data encryption (the routes under
// /api/v1/me/encryption-vault/ of the mana-auth service).
//
// Each user has one 32-byte random master key (MK). The server stores it
// only wrapped, with AES-256-GCM under a service-wide key-encryption key
// (KEK, from MANA_AUTH_KEK), and hands it to the user's browser over
// HTTPS. In zero-knowledge mode the server deletes its KEK wrap and keeps
// only a recovery wrap built by the client under a key derived from a
// recovery secret the server never sees; it then returns that blob
// instead, and can no longer produce the key.
//
// # Usage
//
//	keks, err := vault.KEKFromEnv(os.Getenv, production)
//	if err != nil { ... }                      // names MANA_AUTH_KEK
//	vp := vault.New(vault.Options{KEKs: keks})
//	a, err := auth.New(cfg, db, vp)            // adds the vault tables
//	if err := a.Migrate(ctx); err != nil { ... } // and, on PostgreSQL, their row-level security
//	h := vp.Service().Handler(vault.HandlerOptions{
//		Prefix:       "/api/v1/me/encryption-vault",
//		Authenticate: bearerOrSession, // func(*http.Request) (userID string, err error)
//	})
//	mux.Handle("/api/v1/me/encryption-vault/", a.Protect(h))
//
// Go code calls the same operations directly: Service.Status, Init, Key,
// Rotate, SetRecoveryWrap, DeleteRecoveryWrap, SetZeroKnowledge and
// RewrapAll.
//
// # State machine
//
//	(none)      --Init / Rotate------------> standard (KEK wrap)
//	standard    --Rotate-------------------> standard, new MK, recovery wrap cleared
//	standard    --SetRecoveryWrap----------> standard + recovery wrap
//	+ recovery  --DeleteRecoveryWrap-------> standard
//	+ recovery  --SetZeroKnowledge(true)---> zero-knowledge (KEK wrap deleted)
//	zero-knowl. --SetZeroKnowledge(false,MK)-> standard + recovery (MK re-wrapped)
//
// Refused: Rotate, DeleteRecoveryWrap and SetRecoveryWrap in
// zero-knowledge mode (409 ZK_ROTATE_FORBIDDEN / ZK_ACTIVE), enabling
// zero-knowledge without a recovery wrap (400 RECOVERY_WRAP_MISSING),
// every operation but Init, Rotate and Status without a vault (404
// VAULT_NOT_INITIALISED), and every operation for an id that names no
// user, such as the still-valid access token of a deleted account (401
// USER_NOT_FOUND). Enabling when on and disabling when off are
// no-ops. Three CHECK constraints (see Checks) make the database refuse a
// row without any wrap, a wrap without its IV, or a zero-knowledge row
// that still has a KEK wrap or lacks a recovery wrap.
//
// # Formats
//
// Format version 1, wire-compatible with the original service: MK 32
// bytes; KEK wrap AES-256-GCM with a random 12-byte IV and no AAD, stored
// as ciphertext||tag (48 bytes); everything binary in padded standard
// base64 (MK 44 characters, IV 16, wrap 64). Inputs are decoded leniently
// (missing padding and whitespace are accepted, the URL-safe alphabet is
// not). Recovery wraps are checked for shape only (48-byte ciphertext,
// 12-byte IV): the server cannot open them.
//
// # Keys
//
// A KEKProvider supplies the current KEK and any retired one by id; each
// wrap records the id of its KEK (kek_id), and Key opens a wrap with the
// KEK its row names. KEKFromEnv reads MANA_AUTH_KEK (id "env-v1" unless
// MANA_AUTH_KEK_ID says otherwise) and MANA_AUTH_KEK_PREVIOUS; a KMS can
// implement KEKProvider instead. To rotate the KEK, make the new key
// current, keep the old one readable, and run Service.RewrapAll, which
// re-wraps every row online, in batches, resumably. A wrap that fails
// authentication is never returned: Key answers 500 VAULT_UNWRAP_FAILED
// (tampered row or wrong key), VAULT_KEK_MISMATCH (the row opens under
// another configured KEK than the one it names) or VAULT_KEK_UNKNOWN (its
// kek_id is not configured), and logs the detail for operators.
//
// # Audit
//
// Every operation but Status writes an encryption_vault_audit row (user,
// action, HTTP status, context, client IP, user agent, time) in the
// operation's transaction: init (201 created | 200 already-exists | 200
// already-exists-zk), fetch (200 | 200 zk-recovery-blob), failed_fetch
// (404 not-initialised | 500 unwrap-failed: …), rotate (200 | 201
// init-on-rotate | 409 zk-rotate-forbidden), recovery_set (200 | 404
// no-vault | 409 zk-active | 400 bad-request: …), recovery_clear (200 |
// 404 no-vault | 409 zk-active), zk_enable (200 | 200 already-enabled |
// 404 no-vault | 400 no-recovery-wrap), zk_disable (200 | 200
// already-disabled | 404 no-vault | 400 bad-request: …), zk_toggle (400
// bad-request: …) and kek_rewrap (200 "<old> -> <new>"). A failing KEK
// provider or unwrap is recorded under the operation's action with the
// error's status and the context "unwrap-failed: <CODE>: <detail>" or
// "error: <CODE>: <detail>". Unlike the original service, failure rows are
// committed, not rolled back. Only a database failure leaves no row.
//
// # Storage and row-level security
//
// The vault works through the storage API alone (memory, SQLite,
// PostgreSQL or any adapter). Its tables declare row-level security by
// user (storage.RowSecurity, see Schema), which the PostgreSQL adapter's
// Migrate turns into forced policies admitting only the rows whose user_id
// equals the setting PostgresUserSetting; every vault transaction is
// scoped to its user with storage.ScopedTx (on PostgreSQL
// set_config('app.current_user_id', <user id>, true), sent with the
// transaction's first statement). RewrapAll finds the rows to re-wrap in a
// transaction that sets PostgresMaintenanceSetting, which may read every
// row and write none. So an Auth connected as an ordinary role (neither
// superuser nor BYPASSRLS) reaches one user's vault rows at a time, even
// if a query forgot its where-clause. Other adapters ignore both.
//
// # Differences from the original service
//
// Failure audit rows persist; recovery wraps are validated (base64, sizes)
// and cannot be replaced in zero-knowledge mode (the wrap is then the only
// copy of the key); malformed input is 400, not 500; a deleted account's
// still-valid token gets 401 USER_NOT_FOUND, not a 500 from the foreign
// key; client IPs come from
// auth's trusted-proxy logic, not a spoofable first X-Forwarded-For entry.
// Disabling zero-knowledge still trusts the 32 bytes the client sends: the
// server has nothing to check them against (see SetZeroKnowledge).
package vault

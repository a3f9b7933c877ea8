package vault

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// Audit actions (encryption_vault_audit.action), as in the original
// service.
const (
	ActionInit          = "init"
	ActionFetch         = "fetch"
	ActionFailedFetch   = "failed_fetch"
	ActionRotate        = "rotate"
	ActionRecoverySet   = "recovery_set"
	ActionRecoveryClear = "recovery_clear"
	ActionZKEnable      = "zk_enable"
	ActionZKDisable     = "zk_disable"
	// ActionKEKRewrap records a re-wrap under a new KEK by RewrapAll
	// (context "<old id> -> <new id>"). The master key is unchanged.
	ActionKEKRewrap = "kek_rewrap"
)

// maxAttempts bounds the retries of an operation that lost a
// compare-and-swap race (two requests for the same user at once).
const maxAttempts = 8

// Service is the vault: per-user master-key custody. Every method takes
// the user id the caller has authenticated and writes an audit row (all
// but Status), with the client IP and user agent of
// plugin.RequestInfoFrom(ctx). It is safe for concurrent use; get it from
// Plugin.Service once auth.New has run.
type Service struct {
	db   storage.Adapter
	keks KEKProvider
	log  *slog.Logger
	now  func() time.Time
	rnd  io.Reader
	a    plugin.Host

	asyncFetchAudit bool
}

// Status is the cheap metadata read of GET /status.
type Status struct {
	VaultExists     bool       `json:"vaultExists"`
	HasRecoveryWrap bool       `json:"hasRecoveryWrap"`
	ZeroKnowledge   bool       `json:"zeroKnowledge"`
	RecoverySetAt   *time.Time `json:"-"`
}

// MarshalJSON renders recoverySetAt as ISO 8601 with milliseconds, or null.
func (s Status) MarshalJSON() ([]byte, error) {
	var at *string
	if s.RecoverySetAt != nil {
		v := plugin.FormatTime(*s.RecoverySetAt)
		at = &v
	}
	return json.Marshal(struct {
		VaultExists     bool    `json:"vaultExists"`
		HasRecoveryWrap bool    `json:"hasRecoveryWrap"`
		ZeroKnowledge   bool    `json:"zeroKnowledge"`
		RecoverySetAt   *string `json:"recoverySetAt"`
	}{s.VaultExists, s.HasRecoveryWrap, s.ZeroKnowledge, at})
}

// Key is what Init, Key and Rotate return. In standard mode MasterKey
// holds the 32-byte master key, with the FormatVersion and KEKID of its
// wrap. In zero-knowledge mode RequiresRecoveryCode is set, MasterKey is
// nil and the recovery wrap is returned instead (FormatVersion is then the
// recovery format version) for the client to open with its recovery code.
//
// The JSON form is the wire body: {"masterKey","formatVersion","kekId"} or
// {"requiresRecoveryCode":true,"recoveryWrappedMk","recoveryIv",
// "formatVersion"}, binary values in padded standard base64. String never
// shows the key. Callers should clear MasterKey when done with it.
type Key struct {
	MasterKey            []byte
	FormatVersion        int
	KEKID                string
	RequiresRecoveryCode bool
	RecoveryWrappedMK    []byte
	RecoveryIV           []byte
}

// MarshalJSON renders the wire body.
func (k Key) MarshalJSON() ([]byte, error) {
	if k.RequiresRecoveryCode {
		return json.Marshal(struct {
			RequiresRecoveryCode bool   `json:"requiresRecoveryCode"`
			RecoveryWrappedMK    string `json:"recoveryWrappedMk"`
			RecoveryIV           string `json:"recoveryIv"`
			FormatVersion        int    `json:"formatVersion"`
		}{true, b64.EncodeToString(k.RecoveryWrappedMK), b64.EncodeToString(k.RecoveryIV), k.FormatVersion})
	}
	return json.Marshal(struct {
		MasterKey     string `json:"masterKey"`
		FormatVersion int    `json:"formatVersion"`
		KEKID         string `json:"kekId"`
	}{b64.EncodeToString(k.MasterKey), k.FormatVersion, k.KEKID})
}

// String describes the key without revealing it.
func (k Key) String() string {
	if k.RequiresRecoveryCode {
		return fmt.Sprintf("vault.Key{zero-knowledge, recovery format %d}", k.FormatVersion)
	}
	return fmt.Sprintf("vault.Key{masterKey: [redacted], formatVersion: %d, kekId: %q}", k.FormatVersion, k.KEKID)
}

// GoString describes the key without revealing it (for %#v).
func (k Key) GoString() string { return k.String() }

// LogValue implements slog.LogValuer without the key.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }

// outcome is what an operation decided inside its transaction: the audit
// row to write and the error to return after committing (failure rows are
// committed too, unlike the original service).
type outcome struct {
	action  string
	status  int
	context string
	err     error
}

func ok(action string, status int, context string) outcome {
	return outcome{action: action, status: status, context: context}
}

func fail(action string, status int, context string, err error) outcome {
	return outcome{action: action, status: status, context: context, err: err}
}

// do runs op in a transaction scoped to userID, writes op's audit row in
// the same transaction and commits, then returns op's error. A lost
// compare-and-swap race retries op from scratch.
func (s *Service) do(ctx context.Context, userID string, op func(q txn) (outcome, error)) error {
	return s.doAsync(ctx, userID, false, op)
}

// doAsync is do, with the commit optionally not waiting for durability.
func (s *Service) doAsync(ctx context.Context, userID string, asyncCommit bool, op func(q txn) (outcome, error)) error {
	if userID == "" {
		return badRequest("a user id is required")
	}
	for attempt := 0; attempt < maxAttempts; attempt++ {
		var out outcome
		err := s.run(ctx, userID, asyncCommit, func(q txn) error {
			var err error
			out, err = op(q)
			if err != nil {
				return err
			}
			return q.audit(ctx, s.auditRow(ctx, userID, out))
		})
		if errors.Is(err, errCASMiss) {
			continue
		}
		if err != nil {
			return s.storageErr(ctx, userID, err)
		}
		return out.err
	}
	return ErrConcurrentUpdate
}

func (s *Service) storageErr(ctx context.Context, userID string, err error) error {
	var ae *plugin.Error
	if errors.As(err, &ae) {
		return err
	}
	if errors.Is(err, storage.ErrConstraint) {
		if s.userGone(ctx, userID) {
			return ErrUnknownUser.With(err)
		}
		s.log.ErrorContext(ctx, "vault: constraint violated (a bug caught by a CHECK?)", "user_id", userID, "err", err)
	} else {
		s.log.ErrorContext(ctx, "vault: storage failure", "user_id", userID, "err", err)
	}
	return plugin.StorageError(err)
}

// userGone reports whether userID names no user: the vault tables'
// foreign keys refuse its rows (an access token outlives the account it
// was minted for). Adapters report a foreign-key violation and a CHECK
// violation alike (storage.ErrConstraint), so the user table is asked,
// after the failed transaction; a failed lookup counts as "not gone".
func (s *Service) userGone(ctx context.Context, userID string) bool {
	_, err := s.a.FindUserByID(ctx, userID)
	return errors.Is(err, auth.ErrUserNotFound)
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (s *Service) auditRow(ctx context.Context, userID string, o outcome) *auditRow {
	info := plugin.RequestInfoFrom(ctx)
	ua := info.UserAgent
	if len(ua) > 512 {
		ua = ua[:512]
	}
	return &auditRow{
		ID: plugin.RandomString(21, nanoidAlphabet), UserID: userID, Action: o.action,
		IP: strPtr(info.IP), UserAgent: strPtr(ua), Context: strPtr(o.context),
		Status: o.status, CreatedAt: s.nowMS(),
	}
}

const nanoidAlphabet = "useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict"

func (s *Service) nowMS() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// currentKEK returns the KEK new wraps use.
func (s *Service) currentKEK() (KEK, error) {
	k, err := s.keks.Current()
	if err != nil {
		return KEK{}, ErrKEKUnavailable.With(err)
	}
	if k.IsZero() {
		return KEK{}, ErrKEKUnavailable.With(errors.New("KEKProvider.Current returned a zero KEK"))
	}
	return k, nil
}

// open unwraps r's KEK wrap with the KEK its kek_id names. The errors say
// what an operator has to fix; the key is never returned on failure.
func (s *Service) open(r *row) ([]byte, error) {
	if r.WrappedMK == nil || r.WrapIV == nil {
		return nil, ErrUnwrapFailed.With(errors.New("row has no KEK wrap"))
	}
	kek, err := s.keks.ByID(r.KEKID)
	if err != nil {
		if errors.Is(err, ErrKEKUnknown) {
			return nil, ErrKEKNotConfigured.With(fmt.Errorf("kek_id %q is not configured", r.KEKID))
		}
		return nil, ErrKEKUnavailable.With(err)
	}
	if kek.ID() != r.KEKID {
		return nil, ErrKEKMismatch.With(fmt.Errorf("KEKProvider.ByID(%q) returned KEK %q", r.KEKID, kek.ID()))
	}
	mk, err := unwrapMK(kek, *r.WrappedMK, *r.WrapIV)
	if err == nil {
		return mk, nil
	}
	if !errors.Is(err, errAuth) {
		return nil, ErrUnwrapFailed.With(err)
	}
	// Diagnose: does another configured key open it? Then the key behind
	// this id was swapped; otherwise the row was tampered with (or the key
	// is simply wrong and no other candidate exists).
	if st, ok := s.keks.(interface{ IDs() []string }); ok {
		for _, id := range st.IDs() {
			if id == r.KEKID {
				continue
			}
			if other, err := s.keks.ByID(id); err == nil {
				if m, err := unwrapMK(other, *r.WrappedMK, *r.WrapIV); err == nil {
					clear(m)
					return nil, ErrKEKMismatch.With(fmt.Errorf("wrap names kek_id %q (fp %s) but opens only under kek_id %q", r.KEKID, kek.Fingerprint(), id))
				}
			}
		}
	}
	return nil, ErrUnwrapFailed.With(fmt.Errorf("%w under kek_id %q (fp %s): tampered row or wrong key for this id", errAuth, r.KEKID, kek.Fingerprint()))
}

// opFailure turns an error of the KEK provider or of the crypto (not of
// the database) into a failure outcome, so that it is audited too.
func (s *Service) opFailure(ctx context.Context, userID, action string, err error) outcome {
	ae := plugin.AsError(err)
	s.log.ErrorContext(ctx, "vault: operation failed", "user_id", userID, "action", action, "err", err)
	detail := ae.Code
	if ae.Err != nil {
		detail += ": " + ae.Err.Error()
	}
	return fail(action, ae.Status, "error: "+detail, ae)
}

// unwrapFailure logs an unwrap failure for operators and returns the
// audit context ("unwrap-failed: <detail>").
func (s *Service) unwrapFailure(ctx context.Context, userID string, err error) string {
	s.log.ErrorContext(ctx, "vault: cannot unwrap master key", "user_id", userID, "err", err)
	detail := err.Error()
	var ae *plugin.Error
	if errors.As(err, &ae) && ae.Err != nil {
		detail = ae.Code + ": " + ae.Err.Error()
	}
	return "unwrap-failed: " + detail
}

func zkKey(r *row) (*Key, error) {
	if r.RecoveryWrappedMK == nil || r.RecoveryIV == nil {
		return nil, ErrUnwrapFailed.With(errors.New("zero-knowledge row without a recovery wrap"))
	}
	wrapped, err1 := b64.DecodeString(*r.RecoveryWrappedMK)
	iv, err2 := b64.DecodeString(*r.RecoveryIV)
	if err1 != nil || err2 != nil {
		// Stored unvalidated by the original service: hand back the raw
		// text's bytes as the client would have sent them.
		wrapped, _ = DecodeBase64(*r.RecoveryWrappedMK)
		iv, _ = DecodeBase64(*r.RecoveryIV)
	}
	return &Key{RequiresRecoveryCode: true, RecoveryWrappedMK: wrapped, RecoveryIV: iv,
		FormatVersion: int(r.RecoveryFormatVersion)}, nil
}

// newWrap mints a master key and wraps it under the current KEK.
func (s *Service) newWrap() (mk []byte, wrapped, iv string, kek KEK, err error) {
	if kek, err = s.currentKEK(); err != nil {
		return nil, "", "", KEK{}, err
	}
	if mk, err = newMasterKey(s.rnd); err != nil {
		return nil, "", "", KEK{}, err
	}
	if wrapped, iv, err = wrapMK(s.rnd, kek, mk); err != nil {
		clear(mk)
		return nil, "", "", KEK{}, err
	}
	return mk, wrapped, iv, kek, nil
}

// Status returns the vault metadata of userID without decrypting anything
// and without an audit row. A user without a vault gets the zero Status;
// an id that names no user (a deleted account) gets ErrUnknownUser, as
// from every other operation.
func (s *Service) Status(ctx context.Context, userID string) (*Status, error) {
	if userID == "" {
		return nil, badRequest("a user id is required")
	}
	var st Status
	err := s.run(ctx, userID, false, func(q txn) error {
		r, err := q.get(ctx, userID)
		if err != nil || r == nil {
			return err
		}
		st = Status{VaultExists: true, HasRecoveryWrap: r.RecoveryWrappedMK != nil,
			ZeroKnowledge: r.ZeroKnowledge, RecoverySetAt: r.RecoverySetAt}
		return nil
	})
	if err != nil {
		return nil, s.storageErr(ctx, userID, err)
	}
	if !st.VaultExists && s.userGone(ctx, userID) {
		return nil, ErrUnknownUser
	}
	return &st, nil
}

// Init returns the user's key, creating the vault with a fresh master key
// on the first call. It is idempotent, also under concurrency: parallel
// first calls create exactly one master key and all return it. In
// zero-knowledge mode it returns the recovery wrap.
func (s *Service) Init(ctx context.Context, userID string) (*Key, error) {
	var key *Key
	err := s.do(ctx, userID, func(q txn) (outcome, error) {
		key = nil
		r, err := q.get(ctx, userID)
		if err != nil {
			return outcome{}, err
		}
		if r != nil {
			if r.ZeroKnowledge {
				k, err := zkKey(r)
				if err != nil {
					return fail(ActionInit, plugin.AsError(err).Status, s.unwrapFailure(ctx, userID, err), err), nil
				}
				key = k
				return ok(ActionInit, 200, "already-exists-zk"), nil
			}
			mk, err := s.open(r)
			if err != nil {
				return fail(ActionInit, plugin.AsError(err).Status, s.unwrapFailure(ctx, userID, err), err), nil
			}
			key = &Key{MasterKey: mk, FormatVersion: int(r.FormatVersion), KEKID: r.KEKID}
			return ok(ActionInit, 200, "already-exists"), nil
		}
		mk, wrapped, iv, kek, err := s.newWrap()
		if err != nil {
			return s.opFailure(ctx, userID, ActionInit, err), nil
		}
		nr := &row{UserID: userID, WrappedMK: &wrapped, WrapIV: &iv, FormatVersion: FormatVersion,
			KEKID: kek.ID(), RecoveryFormatVersion: RecoveryFormatVersion, CreatedAt: s.nowMS()}
		if err := q.insert(ctx, nr); err != nil {
			clear(mk)
			return outcome{}, err
		}
		key = &Key{MasterKey: mk, FormatVersion: FormatVersion, KEKID: kek.ID()}
		return ok(ActionInit, 201, "created"), nil
	})
	if err != nil {
		if key != nil {
			clear(key.MasterKey)
		}
		return nil, err
	}
	return key, nil
}

// Key returns the user's key: the unwrapped master key, or in
// zero-knowledge mode the recovery wrap. ErrNotInitialised if the user has
// no vault. It is the hot path: one read and one audit insert in a
// transaction (see Options.AsyncFetchAudit).
func (s *Service) Key(ctx context.Context, userID string) (*Key, error) {
	var key *Key
	err := s.doAsync(ctx, userID, s.asyncFetchAudit, func(q txn) (outcome, error) {
		key = nil
		r, err := q.get(ctx, userID)
		if err != nil {
			return outcome{}, err
		}
		if r == nil {
			return fail(ActionFailedFetch, 404, "not-initialised", ErrNotInitialised), nil
		}
		if r.ZeroKnowledge {
			k, err := zkKey(r)
			if err != nil {
				return fail(ActionFailedFetch, plugin.AsError(err).Status, s.unwrapFailure(ctx, userID, err), err), nil
			}
			key = k
			return ok(ActionFetch, 200, "zk-recovery-blob"), nil
		}
		mk, err := s.open(r)
		if err != nil {
			return fail(ActionFailedFetch, plugin.AsError(err).Status, s.unwrapFailure(ctx, userID, err), err), nil
		}
		key = &Key{MasterKey: mk, FormatVersion: int(r.FormatVersion), KEKID: r.KEKID}
		return ok(ActionFetch, 200, ""), nil
	})
	if err != nil {
		if key != nil {
			clear(key.MasterKey)
		}
		return nil, err
	}
	return key, nil
}

// Rotate replaces the user's master key with a fresh one and returns it.
// The old key is gone: data encrypted with it must be re-encrypted first
// or is lost. The recovery wrap is cleared (it wraps the old key). A user
// without a vault gets one (as Init would). ErrZKRotateForbidden in
// zero-knowledge mode.
func (s *Service) Rotate(ctx context.Context, userID string) (*Key, error) {
	var key *Key
	err := s.do(ctx, userID, func(q txn) (outcome, error) {
		if key != nil {
			clear(key.MasterKey)
			key = nil
		}
		r, err := q.get(ctx, userID)
		if err != nil {
			return outcome{}, err
		}
		if r != nil && r.ZeroKnowledge {
			return fail(ActionRotate, 409, "zk-rotate-forbidden", ErrZKRotateForbidden), nil
		}
		mk, wrapped, iv, kek, err := s.newWrap()
		if err != nil {
			return s.opFailure(ctx, userID, ActionRotate, err), nil
		}
		key = &Key{MasterKey: mk, FormatVersion: FormatVersion, KEKID: kek.ID()}
		now := s.nowMS()
		if r == nil {
			nr := &row{UserID: userID, WrappedMK: &wrapped, WrapIV: &iv, FormatVersion: FormatVersion,
				KEKID: kek.ID(), RecoveryFormatVersion: RecoveryFormatVersion, CreatedAt: now}
			if err := q.insert(ctx, nr); err != nil {
				return outcome{}, err
			}
			return ok(ActionRotate, 201, "init-on-rotate"), nil
		}
		nr := r.clone()
		nr.WrappedMK, nr.WrapIV, nr.FormatVersion, nr.KEKID, nr.RotatedAt = &wrapped, &iv, FormatVersion, kek.ID(), &now
		nr.RecoveryWrappedMK, nr.RecoveryIV, nr.RecoverySetAt = nil, nil, nil
		if err := q.update(ctx, r, nr); err != nil {
			return outcome{}, err
		}
		return ok(ActionRotate, 200, ""), nil
	})
	if err != nil {
		if key != nil {
			clear(key.MasterKey)
		}
		return nil, err
	}
	return key, nil
}

// ValidateRecoveryWrap checks a client-built recovery wrap: a 48-byte
// AES-GCM ciphertext (32-byte key + 16-byte tag) and a 12-byte IV.
func ValidateRecoveryWrap(wrappedMK, iv []byte) error {
	if len(wrappedMK) != WrappedKeySize {
		return badRequest(fmt.Sprintf("recoveryWrappedMk must decode to %d bytes", WrappedKeySize))
	}
	if len(iv) != IVSize {
		return badRequest(fmt.Sprintf("recoveryIv must decode to %d bytes", IVSize))
	}
	return nil
}

// SetRecoveryWrap stores (or replaces) the user's recovery wrap: the
// master key encrypted by the client under a key derived from its recovery
// secret, which never reaches the server. It does not enable
// zero-knowledge mode. ErrBadRequest for wrong sizes, ErrNotInitialised
// without a vault, and ErrZKActiveReplace in zero-knowledge mode (the
// wrap is then the only copy of the key and a bad replacement would lock
// the user out; the original service allowed it).
func (s *Service) SetRecoveryWrap(ctx context.Context, userID string, wrappedMK, iv []byte) error {
	verr := ValidateRecoveryWrap(wrappedMK, iv)
	return s.do(ctx, userID, func(q txn) (outcome, error) {
		if verr != nil {
			return fail(ActionRecoverySet, 400, "bad-request: "+plugin.AsError(verr).Message, verr), nil
		}
		r, err := q.get(ctx, userID)
		if err != nil {
			return outcome{}, err
		}
		if r == nil {
			return fail(ActionRecoverySet, 404, "no-vault", ErrNotInitialised), nil
		}
		if r.ZeroKnowledge {
			return fail(ActionRecoverySet, 409, "zk-active", ErrZKActiveReplace), nil
		}
		w, v, now := b64.EncodeToString(wrappedMK), b64.EncodeToString(iv), s.nowMS()
		nr := r.clone()
		nr.RecoveryWrappedMK, nr.RecoveryIV, nr.RecoveryFormatVersion, nr.RecoverySetAt = &w, &v, RecoveryFormatVersion, &now
		if err := q.update(ctx, r, nr); err != nil {
			return outcome{}, err
		}
		return ok(ActionRecoverySet, 200, ""), nil
	})
}

// DeleteRecoveryWrap removes the user's recovery wrap. ErrNotInitialised
// without a vault; ErrZKActive in zero-knowledge mode.
func (s *Service) DeleteRecoveryWrap(ctx context.Context, userID string) error {
	return s.do(ctx, userID, func(q txn) (outcome, error) {
		r, err := q.get(ctx, userID)
		if err != nil {
			return outcome{}, err
		}
		if r == nil {
			return fail(ActionRecoveryClear, 404, "no-vault", ErrNotInitialised), nil
		}
		if r.ZeroKnowledge {
			return fail(ActionRecoveryClear, 409, "zk-active", ErrZKActive), nil
		}
		nr := r.clone()
		nr.RecoveryWrappedMK, nr.RecoveryIV, nr.RecoverySetAt = nil, nil, nil
		if err := q.update(ctx, r, nr); err != nil {
			return outcome{}, err
		}
		return ok(ActionRecoveryClear, 200, ""), nil
	})
}

// SetZeroKnowledge turns zero-knowledge mode on or off.
//
// Enabling (masterKey ignored) needs a recovery wrap (else
// ErrRecoveryWrapMissing) and deletes the KEK wrap: from then on the server
// cannot produce the master key. Enabling when already on is a no-op.
//
// Disabling needs masterKey, the 32-byte master key the client just
// opened with its recovery code; the server wraps it under the current KEK
// and keeps the recovery wrap. Disabling when already off is a no-op, but
// masterKey is still required (and checked) as in the original service.
// The server cannot check that masterKey is the key the recovery wrap
// holds: it has neither the key nor the recovery secret. A client that
// sends another key replaces the user's key (as Rotate does, except that
// the recovery wrap no longer matches); the route is authenticated as the
// user, who could rotate anyway.
func (s *Service) SetZeroKnowledge(ctx context.Context, userID string, enable bool, masterKey []byte) error {
	if enable {
		return s.do(ctx, userID, func(q txn) (outcome, error) {
			r, err := q.get(ctx, userID)
			if err != nil {
				return outcome{}, err
			}
			switch {
			case r == nil:
				return fail(ActionZKEnable, 404, "no-vault", ErrNotInitialised), nil
			case r.ZeroKnowledge:
				return ok(ActionZKEnable, 200, "already-enabled"), nil
			case r.RecoveryWrappedMK == nil || r.RecoveryIV == nil:
				return fail(ActionZKEnable, 400, "no-recovery-wrap", ErrRecoveryWrapMissing), nil
			}
			nr := r.clone()
			nr.ZeroKnowledge, nr.WrappedMK, nr.WrapIV = true, nil, nil
			if err := q.update(ctx, r, nr); err != nil {
				return outcome{}, err
			}
			return ok(ActionZKEnable, 200, ""), nil
		})
	}
	var verr error
	switch {
	case len(masterKey) == 0:
		verr = badRequest("`masterKey: base64` is required when disabling zero-knowledge")
	case len(masterKey) != MasterKeySize:
		verr = badRequest("masterKey must decode to 32 bytes")
	}
	return s.do(ctx, userID, func(q txn) (outcome, error) {
		if verr != nil {
			return fail(ActionZKDisable, 400, "bad-request: "+plugin.AsError(verr).Message, verr), nil
		}
		r, err := q.get(ctx, userID)
		if err != nil {
			return outcome{}, err
		}
		if r == nil {
			return fail(ActionZKDisable, 404, "no-vault", ErrNotInitialised), nil
		}
		if !r.ZeroKnowledge {
			return ok(ActionZKDisable, 200, "already-disabled"), nil
		}
		kek, err := s.currentKEK()
		if err != nil {
			return s.opFailure(ctx, userID, ActionZKDisable, err), nil
		}
		wrapped, iv, err := wrapMK(s.rnd, kek, masterKey)
		if err != nil {
			return s.opFailure(ctx, userID, ActionZKDisable, err), nil
		}
		nr := r.clone()
		nr.ZeroKnowledge, nr.WrappedMK, nr.WrapIV, nr.FormatVersion, nr.KEKID = false, &wrapped, &iv, FormatVersion, kek.ID()
		if err := q.update(ctx, r, nr); err != nil {
			return outcome{}, err
		}
		return ok(ActionZKDisable, 200, ""), nil
	})
}

// AuditEntry is one audit row, as ExportUser returns it.
type AuditEntry struct {
	Action    string  `json:"action"`
	Status    int     `json:"status"`
	Context   *string `json:"context"`
	IPAddress *string `json:"ipAddress"`
	UserAgent *string `json:"userAgent"`
	CreatedAt string  `json:"createdAt"` // plugin.TimeFormat, as every date of an export
}

// Export is the vault data of a user for a GDPR export: metadata and the
// audit trail, never key material (no wrapped keys, IVs or recovery
// blobs).
type Export struct {
	VaultExists           bool         `json:"vaultExists"`
	ZeroKnowledge         bool         `json:"zeroKnowledge"`
	HasRecoveryWrap       bool         `json:"hasRecoveryWrap"`
	FormatVersion         int          `json:"formatVersion,omitempty"`
	KEKID                 string       `json:"kekId,omitempty"`
	RecoveryFormatVersion int          `json:"recoveryFormatVersion,omitempty"`
	CreatedAt             *string      `json:"createdAt"` // plugin.TimeFormat
	RotatedAt             *string      `json:"rotatedAt"`
	RecoverySetAt         *string      `json:"recoverySetAt"`
	Audit                 []AuditEntry `json:"audit"`
}

// ExportUser returns the user's vault metadata and audit trail (never key
// material), or nil if there is neither.
func (s *Service) ExportUser(ctx context.Context, userID string) (*Export, error) {
	var ex *Export
	err := s.run(ctx, userID, false, func(q txn) error {
		r, err := q.get(ctx, userID)
		if err != nil {
			return err
		}
		audit, err := q.listAudit(ctx, userID)
		if err != nil {
			return err
		}
		if r == nil && len(audit) == 0 {
			return nil
		}
		ex = &Export{Audit: []AuditEntry{}}
		if r != nil {
			created := r.CreatedAt
			ex.VaultExists, ex.ZeroKnowledge, ex.HasRecoveryWrap = true, r.ZeroKnowledge, r.RecoveryWrappedMK != nil
			ex.CreatedAt, ex.RotatedAt, ex.RecoverySetAt = formatTime(&created), formatTime(r.RotatedAt), formatTime(r.RecoverySetAt)
			ex.RecoveryFormatVersion = int(r.RecoveryFormatVersion)
			if r.WrappedMK != nil {
				ex.FormatVersion, ex.KEKID = int(r.FormatVersion), r.KEKID
			}
		}
		for _, a := range audit {
			ex.Audit = append(ex.Audit, AuditEntry{Action: a.Action, Status: a.Status, Context: a.Context,
				IPAddress: a.IP, UserAgent: a.UserAgent, CreatedAt: plugin.FormatTime(a.CreatedAt)})
		}
		return nil
	})
	if err != nil {
		return nil, s.storageErr(ctx, userID, err)
	}
	return ex, nil
}

// formatTime is t in plugin.TimeFormat, or nil.
func formatTime(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := plugin.FormatTime(*t)
	return &s
}

// DeleteUser erases the user's vault and audit rows.
func (s *Service) DeleteUser(ctx context.Context, userID string) error {
	err := s.run(ctx, userID, false, func(q txn) error { return q.deleteUser(ctx, userID) })
	if err != nil {
		return s.storageErr(ctx, userID, err)
	}
	return nil
}

// defaultRand is crypto/rand.
var defaultRand io.Reader = rand.Reader

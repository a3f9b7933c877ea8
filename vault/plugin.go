package vault

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// Options configures the plugin.
type Options struct {
	// KEKs supplies the key-encryption keys (required): KEKFromEnv,
	// NewStaticKEKs, or a KMS-backed KEKProvider.
	KEKs KEKProvider
	// Logger receives operator errors (unwrap failures, storage errors).
	// Default: the Auth's logger.
	Logger *slog.Logger
	// Now returns the current time. Default: the Auth's clock.
	Now func() time.Time
	// Rand is the source of master keys and IVs. Default crypto/rand.
	Rand io.Reader
	// AsyncFetchAudit, on PostgreSQL, commits the transaction of Key (GET
	// /key) with synchronous_commit off. Its only write is the fetch (or
	// failed_fetch) audit row, so the commit need not wait for the WAL
	// flush: on storage with slow fsync GET /key gets many times faster,
	// and a database crash can lose at most the last fraction of a second
	// of fetch audit rows (never a vault change; every other operation
	// still commits durably). Off by default.
	AsyncFetchAudit bool
}

// Plugin is the encryption-vault plugin for auth.New. It declares the
// vault tables (SchemaSource), erases and exports a user's vault with the
// user (DataSource, metadata only) and builds the Service (Initializer).
type Plugin struct {
	opts Options
	svc  *Service
}

var (
	_ plugin.Plugin       = (*Plugin)(nil)
	_ plugin.Initializer  = (*Plugin)(nil)
	_ plugin.SchemaSource = (*Plugin)(nil)
	_ plugin.DataSource   = (*Plugin)(nil)
	_ plugin.ErrorSource  = (*Plugin)(nil)
)

// New returns the plugin. Options.KEKs is required (auth.New fails
// without it).
func New(opts Options) *Plugin { return &Plugin{opts: opts} }

// ID implements plugin.Plugin: "vault".
func (p *Plugin) ID() string { return "vault" }

// ErrorCodes implements plugin.ErrorSource: the vault's own codes, once
// each (ErrZKActiveReplace is ErrZKActive's code with another message).
// ErrBadRequest, ErrUnknownUser and ErrUnauthenticated carry the core's
// codes BAD_REQUEST, USER_NOT_FOUND and UNAUTHORIZED and are not declared
// here.
func (p *Plugin) ErrorCodes() []*plugin.Error {
	return []*plugin.Error{
		ErrNotInitialised, ErrZKRotateForbidden, ErrZKActive, ErrRecoveryWrapMissing,
		ErrUnwrapFailed, ErrKEKNotConfigured, ErrKEKMismatch, ErrKEKUnavailable, ErrConcurrentUpdate,
	}
}

// Schema implements plugin.SchemaSource (see the package-level Schema).
func (p *Plugin) Schema() storage.Schema { return Schema() }

// Init implements plugin.Initializer: it builds the Service over the Auth's
// adapter. Every vault transaction is scoped to its user
// (storage.ScopedTx), for the row-level security the vault tables declare.
func (p *Plugin) Init(a plugin.Host) error {
	if p.opts.KEKs == nil {
		return errors.New("vault: Options.KEKs is required (see vault.KEKFromEnv)")
	}
	if _, err := p.opts.KEKs.Current(); err != nil {
		return errors.New("vault: KEKProvider.Current: " + err.Error())
	}
	s := &Service{db: a.DB(), keks: p.opts.KEKs, log: p.opts.Logger, now: p.opts.Now, rnd: p.opts.Rand, a: a,
		asyncFetchAudit: p.opts.AsyncFetchAudit}
	if s.log == nil {
		s.log = a.Logger()
	}
	if s.now == nil {
		s.now = a.Now
	}
	if s.rnd == nil {
		s.rnd = defaultRand
	}
	p.svc = s
	return nil
}

// Service returns the vault service, or nil before auth.New has run.
func (p *Plugin) Service() *Service { return p.svc }

// ExportUser implements plugin.DataSource: vault metadata and the audit
// trail, never key material. It returns nil (nothing exported) for a user
// without either.
func (p *Plugin) ExportUser(ctx context.Context, userID string) (any, error) {
	ex, err := p.svc.ExportUser(ctx, userID)
	if ex == nil || err != nil {
		return nil, err
	}
	return ex, nil
}

// DeleteUser implements plugin.DataSource: it erases the user's vault and
// audit rows.
func (p *Plugin) DeleteUser(ctx context.Context, userID string) error {
	return p.svc.DeleteUser(ctx, userID)
}

package passkey

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// ChallengeMaxAge is how long a challenge (and its cookie) lives.
const ChallengeMaxAge = 300 * time.Second

// DefaultChallengeCookie is the challenge cookie's name before the prefix
// (Better Auth's advanced.webAuthnChallengeCookie).
const DefaultChallengeCookie = "better-auth-passkey"

// Options configures the plugin. The zero value is Better Auth's default
// configuration.
type Options struct {
	// RPID is the relying party ID, a registrable domain such as
	// "example.com" (no scheme or port). Default: Config.Cookies.Domain if
	// set, else the BaseURL host.
	RPID string
	// RPName is the relying party name authenticators show. Default
	// Config.AppName.
	RPName string
	// Origins are the origins ceremonies may come from (the clientDataJSON
	// origin), e.g. "https://app.example.com", or opaque origins of native
	// apps such as "android:apk-key-hash:…". Default: the BaseURL origin
	// and the exact http(s) entries of Config.TrustedOrigins.
	Origins []string
	// AuthenticatorSelection overrides the registration defaults
	// (residentKey and userVerification "preferred"). UserVerification
	// "required" is also enforced when verifying, and used for
	// authentication options.
	AuthenticatorSelection AuthenticatorSelection
	// ChallengeCookie names the challenge cookie (before the prefix).
	// Default DefaultChallengeCookie.
	ChallengeCookie string
	// Timeout is the ceremony timeout sent to the browser. Default 60 s.
	Timeout time.Duration
	// AllowUnknownUserHandles accepts assertions whose user handle is not
	// the handle this package derives for the credential's owner. Passkeys
	// registered by a Better Auth server carry random handles that are not
	// stored anywhere; set this while such passkeys are in use. The
	// credential is identified by its ID and proven by its signature
	// either way.
	AllowUnknownUserHandles bool
}

// AuthenticatorSelection is the authenticatorSelection of registration
// options. Empty fields keep the defaults.
type AuthenticatorSelection struct {
	// AuthenticatorAttachment is "platform" or "cross-platform".
	AuthenticatorAttachment string `json:"authenticatorAttachment,omitempty"`
	// ResidentKey is "discouraged", "preferred" or "required".
	ResidentKey string `json:"residentKey,omitempty"`
	// UserVerification is "discouraged", "preferred" or "required".
	UserVerification string `json:"userVerification,omitempty"`
}

// Plugin is the passkey plugin. Build it with New and pass it to auth.New.
type Plugin struct {
	opts    Options
	a       plugin.Host
	wa      *webauthn.WebAuthn
	rpID    string
	rpName  string
	origins []string
}

// New returns the plugin.
func New(opts Options) *Plugin {
	if opts.ChallengeCookie == "" {
		opts.ChallengeCookie = DefaultChallengeCookie
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 60 * time.Second
	}
	return &Plugin{opts: opts}
}

// ID implements plugin.Plugin.
func (p *Plugin) ID() string { return "passkey" }

// Init implements plugin.Initializer: it derives the relying party from the
// configuration and checks it.
func (p *Plugin) Init(a plugin.Host) error {
	p.a = a
	cfg := a.Settings()
	base, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return err
	}
	p.rpID = p.opts.RPID
	if p.rpID == "" {
		p.rpID = strings.TrimPrefix(cfg.CookieDomain, ".")
	}
	if p.rpID == "" {
		p.rpID = base.Hostname()
	}
	p.rpID = strings.ToLower(p.rpID)
	if err := protocol.ValidateRPID(p.rpID); err != nil {
		return fmt.Errorf("passkey: relying party ID %q: %w (set Options.RPID to a domain)", p.rpID, err)
	}
	p.rpName = p.opts.RPName
	if p.rpName == "" {
		p.rpName = cfg.AppName
	}
	if len(p.opts.Origins) > 0 {
		p.origins = slices.Clone(p.opts.Origins)
	} else {
		p.origins = defaultOrigins(base, cfg.TrustedOrigins)
	}
	var web, opaque []string
	for _, o := range p.origins {
		if protocol.IsOpaqueOrigin(o) {
			opaque = append(opaque, o)
			continue
		}
		web = append(web, o)
		if u, err := url.Parse(o); err == nil && !domainWithin(u.Hostname(), p.rpID) {
			a.Logger().Warn("passkey: origin is not within the relying party ID; browsers will refuse ceremonies from it",
				"origin", o, "rpID", p.rpID)
		}
	}
	if len(web) == 0 {
		return errors.New("passkey: at least one http(s) origin is required")
	}
	uv := protocol.UserVerificationRequirement(p.userVerification())
	p.wa, err = webauthn.New(&webauthn.Config{
		RPID:                  p.rpID,
		RPDisplayName:         p.rpName,
		RPOrigins:             web,
		RPOpaqueOrigins:       opaque,
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementPreferred, UserVerification: uv,
		},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: p.opts.Timeout, TimeoutUVD: p.opts.Timeout},
			Registration: webauthn.TimeoutConfig{Timeout: p.opts.Timeout, TimeoutUVD: p.opts.Timeout},
		},
		// Better Auth does not check extension outputs, and the requested
		// extensions are not part of the challenge row it stores.
		ExtensionsUnsolicitedOutputPolicy: protocol.UnsolicitedOutputPolicyIgnore,
	})
	if err != nil {
		return fmt.Errorf("passkey: %w", err)
	}
	return nil
}

// defaultOrigins is the BaseURL origin and the exact http(s) trusted
// origins.
func defaultOrigins(base *url.URL, trusted []string) []string {
	out := []string{base.Scheme + "://" + base.Host}
	for _, t := range trusted {
		if strings.ContainsAny(t, "*?") {
			continue
		}
		u, err := url.Parse(t)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			continue
		}
		o := strings.ToLower(u.Scheme + "://" + u.Host)
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out
}

// domainWithin reports whether host is domain or a subdomain of it.
func domainWithin(host, domain string) bool {
	host = strings.ToLower(host)
	return host == domain || strings.HasSuffix(host, "."+domain)
}

// RPID returns the relying party ID in use.
func (p *Plugin) RPID() string { return p.rpID }

// RPName returns the relying party name in use.
func (p *Plugin) RPName() string { return p.rpName }

// Origins returns the origins ceremonies are accepted from.
func (p *Plugin) Origins() []string { return slices.Clone(p.origins) }

// WebAuthn returns the go-webauthn relying party the plugin verifies with.
func (p *Plugin) WebAuthn() *webauthn.WebAuthn { return p.wa }

func (p *Plugin) userVerification() string {
	if uv := p.opts.AuthenticatorSelection.UserVerification; uv != "" {
		return uv
	}
	return "preferred"
}

// ExportUser implements plugin.DataSource: the metadata of the user's
// passkeys (no key material).
func (p *Plugin) ExportUser(ctx context.Context, userID string) (any, error) {
	keys, err := p.ListPasskeys(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]ExportedPasskey, 0, len(keys))
	for _, k := range keys {
		e := ExportedPasskey{ID: k.ID, Name: k.Name, DeviceType: k.DeviceType, BackedUp: k.BackedUp, Transports: k.Transports}
		if k.CreatedAt != nil {
			t := plugin.FormatTime(*k.CreatedAt)
			e.CreatedAt = &t
		}
		out = append(out, e)
	}
	return map[string]any{"passkeys": out}, nil
}

// DeleteUser implements plugin.DataSource: it deletes the user's passkeys.
func (p *Plugin) DeleteUser(ctx context.Context, userID string) error {
	if _, err := p.a.DB().Delete(ctx, TablePasskey, storage.W("userId", userID)); err != nil {
		return plugin.StorageError(err)
	}
	return nil
}

// ListPasskeys returns the user's passkeys, oldest first.
func (p *Plugin) ListPasskeys(ctx context.Context, userID string) ([]*Passkey, error) {
	recs, err := p.a.DB().FindMany(ctx, TablePasskey, storage.Query{
		Where: []storage.Where{storage.W("userId", userID)},
		Sort:  []storage.Sort{{Field: "createdAt"}},
	})
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	out := make([]*Passkey, 0, len(recs))
	for _, r := range recs {
		out = append(out, passkeyFromRecord(r))
	}
	return out, nil
}

// owned loads passkey id and checks that userID owns it.
func (p *Plugin) owned(ctx context.Context, userID, id string, notOwner error) (*Passkey, error) {
	if id == "" {
		return nil, missingParam("id")
	}
	rec, err := p.a.DB().FindOne(ctx, TablePasskey, storage.W("id", id))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrPasskeyNotFoundByID
	}
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	k := passkeyFromRecord(rec)
	if k.UserID != userID {
		return nil, notOwner
	}
	return k, nil
}

// UpdatePasskey renames passkey id of userID. The name is trimmed and must
// not be empty. Another user's passkey is ErrNotAllowedToRegister, an
// unknown one ErrPasskeyNotFoundByID.
func (p *Plugin) UpdatePasskey(ctx context.Context, userID, id, name string) (*Passkey, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, plugin.ErrValidation.WithMessage("[body.name] Too small: expected string to have >=1 characters")
	}
	k, err := p.owned(ctx, userID, id, ErrNotAllowedToRegister)
	if err != nil {
		return nil, err
	}
	n, err := p.a.DB().Update(ctx, TablePasskey, storage.Record{"name": name},
		storage.W("id", k.ID), storage.W("userId", userID))
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	if n == 0 {
		return nil, ErrFailedToUpdatePasskey
	}
	k.Name = &name
	return k, nil
}

// DeletePasskey deletes passkey id of userID. Another user's passkey is
// ErrNotOwner, an unknown one ErrPasskeyNotFoundByID.
func (p *Plugin) DeletePasskey(ctx context.Context, userID, id string) error {
	k, err := p.owned(ctx, userID, id, ErrNotOwner)
	if err != nil {
		return err
	}
	if _, err := p.a.DB().Delete(ctx, TablePasskey, storage.W("id", k.ID), storage.W("userId", userID)); err != nil {
		return plugin.StorageError(err)
	}
	return nil
}

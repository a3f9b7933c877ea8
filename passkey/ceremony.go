package passkey

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// CreationOptions is PublicKeyCredentialCreationOptionsJSON as Better
// Auth's registration options route answers it (SimpleWebAuthn 13's
// generateRegistrationOptions), to be passed to navigator.credentials.create
// (e.g. through SimpleWebAuthn's startRegistration).
type CreationOptions struct {
	// Challenge is the base64url challenge (32 random bytes).
	Challenge string `json:"challenge"`
	// RP is the relying party.
	RP RelyingParty `json:"rp"`
	// User is the account the credential is created for.
	User UserEntity `json:"user"`
	// PubKeyCredParams lists the accepted algorithms: EdDSA, ES256, RS256.
	PubKeyCredParams []CredentialParameter `json:"pubKeyCredParams"`
	// Timeout is the ceremony timeout in milliseconds.
	Timeout int `json:"timeout"`
	// Attestation is the attestation conveyance preference ("none").
	Attestation string `json:"attestation"`
	// ExcludeCredentials are the user's registered credentials.
	ExcludeCredentials []CredentialDescriptor `json:"excludeCredentials"`
	// AuthenticatorSelection are the authenticator criteria.
	AuthenticatorSelection SelectionCriteria `json:"authenticatorSelection"`
	// Extensions are the requested extensions ({"credProps": true}).
	Extensions map[string]any `json:"extensions"`
	// Hints are the authenticator hints (empty).
	Hints []string `json:"hints"`
}

// RequestOptions is PublicKeyCredentialRequestOptionsJSON as Better Auth's
// authentication options route answers it, to be passed to
// navigator.credentials.get (e.g. through SimpleWebAuthn's
// startAuthentication).
type RequestOptions struct {
	// RPID is the relying party ID.
	RPID string `json:"rpId"`
	// Challenge is the base64url challenge (32 random bytes).
	Challenge string `json:"challenge"`
	// AllowCredentials are the signed-in user's credentials (absent
	// without a session, so that any discoverable credential may answer).
	AllowCredentials []CredentialDescriptor `json:"allowCredentials,omitempty"`
	// Timeout is the ceremony timeout in milliseconds.
	Timeout int `json:"timeout"`
	// UserVerification is the user verification requirement.
	UserVerification string `json:"userVerification"`
}

// RelyingParty is the rp member of creation options.
type RelyingParty struct {
	// Name is shown by authenticators.
	Name string `json:"name"`
	// ID is the RP ID, a domain.
	ID string `json:"id"`
}

// UserEntity is the user member of creation options.
type UserEntity struct {
	// ID is the base64url user handle (see UserHandle).
	ID string `json:"id"`
	// Name is the account name (the email, or the query name).
	Name string `json:"name"`
	// DisplayName is the name shown by authenticators (the email).
	DisplayName string `json:"displayName"`
}

// CredentialParameter is one entry of pubKeyCredParams.
type CredentialParameter struct {
	// Alg is a COSE algorithm identifier.
	Alg int64 `json:"alg"`
	// Type is "public-key".
	Type string `json:"type"`
}

// CredentialDescriptor names a registered credential (excludeCredentials,
// allowCredentials).
type CredentialDescriptor struct {
	// ID is the base64url credential ID.
	ID string `json:"id"`
	// Transports are the stored authenticator transports.
	Transports []string `json:"transports,omitempty"`
	// Type is "public-key".
	Type string `json:"type"`
}

// SelectionCriteria is the authenticatorSelection member of creation
// options.
type SelectionCriteria struct {
	// ResidentKey is "discouraged", "preferred" or "required".
	ResidentKey string `json:"residentKey,omitempty"`
	// UserVerification is "discouraged", "preferred" or "required".
	UserVerification string `json:"userVerification,omitempty"`
	// AuthenticatorAttachment is "platform", "cross-platform" or empty.
	AuthenticatorAttachment string `json:"authenticatorAttachment,omitempty"`
	// RequireResidentKey is true exactly when ResidentKey is "required".
	RequireResidentKey bool `json:"requireResidentKey"`
}

// pubKeyCredParams are SimpleWebAuthn's defaults: EdDSA, ES256, RS256.
var pubKeyCredParams = []protocol.CredentialParameter{
	{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgEdDSA},
	{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgES256},
	{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgRS256},
}

// The challenge row, as Better Auth stores it in verification.value.
const (
	ceremonyRegistration   = "registration"
	ceremonyAuthentication = "authentication"
)

type regUserData struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
}

type regChallenge struct {
	Type              string      `json:"type"`
	ExpectedChallenge string      `json:"expectedChallenge"`
	UserData          regUserData `json:"userData"`
	Context           *string     `json:"context"`
}

type authUserData struct {
	ID string `json:"id"`
}

type authChallenge struct {
	Type              string       `json:"type"`
	ExpectedChallenge string       `json:"expectedChallenge"`
	UserData          authUserData `json:"userData"`
}

type storedChallenge struct {
	Type              string `json:"type"`
	ExpectedChallenge string `json:"expectedChallenge"`
	UserData          struct {
		ID string `json:"id"`
	} `json:"userData"`
}

// UserHandle returns the WebAuthn user handle (user.id) of a user: 32
// characters of [a-z0-9] derived from the user ID with SHA-256. It is not
// a secret; it lets an assertion's user handle be checked against the
// credential's owner.
func UserHandle(userID string) []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	sum := sha256.Sum256([]byte("mana-auth passkey user handle\x00" + userID))
	out := make([]byte, 32)
	for i := range out {
		out[i] = alphabet[int(sum[i])%len(alphabet)]
	}
	return out
}

// waUser is a user as go-webauthn sees it.
type waUser struct {
	id          []byte
	name        string
	displayName string
	creds       []webauthn.Credential
}

func (u *waUser) WebAuthnID() []byte                         { return u.id }
func (u *waUser) WebAuthnName() string                       { return u.name }
func (u *waUser) WebAuthnDisplayName() string                { return u.displayName }
func (u *waUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// RegistrationInput tunes RegistrationOptions (the query parameters of the
// registration options route).
type RegistrationInput struct {
	// Name replaces user.name in the options (default: the email).
	Name string
	// AuthenticatorAttachment is "", "platform" or "cross-platform".
	AuthenticatorAttachment string
	// Context is opaque data kept with the challenge.
	Context *string
}

func descriptors(keys []*Passkey) []CredentialDescriptor {
	out := make([]CredentialDescriptor, 0, len(keys))
	for _, k := range keys {
		d := CredentialDescriptor{ID: strings.TrimRight(k.CredentialID, "="), Type: string(protocol.PublicKeyCredentialType)}
		if k.Transports != nil && *k.Transports != "" {
			d.Transports = strings.Split(*k.Transports, ",")
		}
		out = append(out, d)
	}
	return out
}

// RegistrationOptions begins registering a passkey for u: it returns the
// creation options for the browser and the id of the stored challenge
// (valid for ChallengeMaxAge, single use), which VerifyRegistration needs.
func (p *Plugin) RegistrationOptions(ctx context.Context, u *plugin.User, in RegistrationInput) (*CreationOptions, string, error) {
	switch in.AuthenticatorAttachment {
	case "", "platform", "cross-platform":
	default:
		return nil, "", plugin.ErrValidation.WithMessage(`[query.authenticatorAttachment] Invalid option: expected one of "platform"|"cross-platform"`)
	}
	existing, err := p.ListPasskeys(ctx, u.ID)
	if err != nil {
		return nil, "", err
	}
	name := u.Email
	if name == "" {
		name = u.ID
	}
	userName := name
	if in.Name != "" {
		userName = in.Name
	}
	handle := UserHandle(u.ID)
	creation, _, err := p.wa.BeginRegistration(&waUser{id: handle, name: userName, displayName: name},
		webauthn.WithCredentialParameters(pubKeyCredParams),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation))
	if err != nil {
		return nil, "", plugin.ErrInternal.With(err)
	}
	sel := SelectionCriteria{ResidentKey: "preferred", UserVerification: "preferred"}
	o := p.opts.AuthenticatorSelection
	if o.ResidentKey != "" {
		sel.ResidentKey = o.ResidentKey
	}
	if o.UserVerification != "" {
		sel.UserVerification = o.UserVerification
	}
	sel.AuthenticatorAttachment = o.AuthenticatorAttachment
	if in.AuthenticatorAttachment != "" {
		sel.AuthenticatorAttachment = in.AuthenticatorAttachment
	}
	sel.RequireResidentKey = sel.ResidentKey == "required"
	opts := &CreationOptions{
		Challenge: creation.Response.Challenge.String(),
		RP:        RelyingParty{Name: p.rpName, ID: p.rpID},
		User: UserEntity{ID: base64.RawURLEncoding.EncodeToString(handle), Name: userName,
			DisplayName: name},
		Timeout:                creation.Response.Timeout,
		Attestation:            string(protocol.PreferNoAttestation),
		ExcludeCredentials:     descriptors(existing),
		AuthenticatorSelection: sel,
		Extensions:             map[string]any{"credProps": true},
		Hints:                  []string{},
	}
	for _, c := range pubKeyCredParams {
		opts.PubKeyCredParams = append(opts.PubKeyCredParams, CredentialParameter{Alg: int64(c.Algorithm), Type: string(c.Type)})
	}
	val, _ := json.Marshal(regChallenge{Type: ceremonyRegistration, ExpectedChallenge: opts.Challenge,
		UserData: regUserData{ID: u.ID, Name: name, DisplayName: name}, Context: in.Context})
	id, err := p.storeChallenge(ctx, val)
	if err != nil {
		return nil, "", err
	}
	return opts, id, nil
}

// AuthenticationOptions begins a passkey sign-in. With a signed-in user u
// the options list u's passkeys in allowCredentials and the challenge only
// signs u in; with u nil any registered passkey may answer. It returns the
// options and the id of the stored challenge (valid for ChallengeMaxAge,
// single use), which VerifyAuthentication needs.
func (p *Plugin) AuthenticationOptions(ctx context.Context, u *plugin.User) (*RequestOptions, string, error) {
	var keys []*Passkey
	uid := ""
	if u != nil {
		var err error
		if keys, err = p.ListPasskeys(ctx, u.ID); err != nil {
			return nil, "", err
		}
		uid = u.ID
	}
	uv := p.userVerification()
	assertion, _, err := p.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.UserVerificationRequirement(uv)))
	if err != nil {
		return nil, "", plugin.ErrInternal.With(err)
	}
	opts := &RequestOptions{
		RPID:             p.rpID,
		Challenge:        assertion.Response.Challenge.String(),
		AllowCredentials: descriptors(keys),
		Timeout:          assertion.Response.Timeout,
		UserVerification: uv,
	}
	val, _ := json.Marshal(authChallenge{Type: ceremonyAuthentication, ExpectedChallenge: opts.Challenge,
		UserData: authUserData{ID: uid}})
	id, err := p.storeChallenge(ctx, val)
	if err != nil {
		return nil, "", err
	}
	return opts, id, nil
}

func (p *Plugin) storeChallenge(ctx context.Context, value []byte) (string, error) {
	id := plugin.RandomString(32, "")
	if err := p.a.CreateVerification(ctx, id, string(value), ChallengeMaxAge); err != nil {
		return "", err
	}
	return id, nil
}

// consumeChallenge takes the challenge stored under id (once) and checks
// that it belongs to the ceremony.
func (p *Plugin) consumeChallenge(ctx context.Context, id, ceremony string) (*storedChallenge, error) {
	if len(id) != 32 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" {
		return nil, ErrChallengeNotFound
	}
	v, err := p.a.ConsumeVerification(ctx, id)
	if errors.Is(err, plugin.ErrVerificationNotFound) {
		return nil, ErrChallengeNotFound
	}
	if err != nil {
		return nil, err
	}
	var c storedChallenge
	if json.Unmarshal([]byte(v.Value), &c) != nil || c.Type != ceremony || c.ExpectedChallenge == "" {
		return nil, ErrChallengeNotFound
	}
	return &c, nil
}

// VerifyRegistration completes a registration begun by RegistrationOptions
// for u: it consumes the challenge challengeID, verifies the attestation
// response (the JSON the browser's create() produced, as SimpleWebAuthn's
// startRegistration returns it) and stores the passkey under name (trimmed;
// empty for none).
func (p *Plugin) VerifyRegistration(ctx context.Context, challengeID string, u *plugin.User, response []byte, name string) (*Passkey, error) {
	ch, err := p.consumeChallenge(ctx, challengeID, ceremonyRegistration)
	if err != nil {
		return nil, err
	}
	if ch.UserData.ID != u.ID {
		return nil, ErrNotAllowedToRegister
	}
	fail := func(err error) error {
		p.a.Logger().InfoContext(ctx, "passkey: registration refused", append([]any{"userId", u.ID}, errAttrs(err)...)...)
		return ErrFailedToVerifyRegistration.With(err)
	}
	if len(response) == 0 || bytes.Equal(response, []byte("null")) {
		return nil, fail(errors.New("no response"))
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, fail(err)
	}
	handle := UserHandle(u.ID)
	sess := webauthn.SessionData{
		Challenge:        ch.ExpectedChallenge,
		RelyingPartyID:   p.rpID,
		UserID:           handle,
		UserVerification: protocol.UserVerificationRequirement(p.userVerification()),
		CredParams:       pubKeyCredParams,
		Extensions:       protocol.SessionExtensions{Requested: []string{protocol.ExtensionCredProps}},
	}
	cred, err := p.wa.CreateCredential(&waUser{id: handle}, sess, parsed)
	if err != nil {
		return nil, fail(err)
	}
	credID := base64.RawURLEncoding.EncodeToString(cred.ID)
	db := p.a.DB()
	n, err := db.Count(ctx, TablePasskey, storage.W("credentialID", credID))
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	if n > 0 {
		return nil, fail(ErrCredentialExists)
	}
	now := p.a.Now()
	transports := strings.Join(parsed.Raw.AttestationResponse.Transports, ",")
	aaguid := formatAAGUID(cred.Authenticator.AAGUID)
	device := DeviceTypeSingle
	if cred.Flags.BackupEligible {
		device = DeviceTypeMulti
	}
	k := &Passkey{
		ID: plugin.NewID(), PublicKey: base64.StdEncoding.EncodeToString(cred.PublicKey), UserID: u.ID,
		CredentialID: credID, Counter: int64(cred.Authenticator.SignCount), DeviceType: device,
		BackedUp: cred.Flags.BackupState, Transports: &transports, CreatedAt: &now, AAGUID: &aaguid,
	}
	if name = strings.TrimSpace(name); name != "" {
		k.Name = &name
	}
	if err := db.Create(ctx, TablePasskey, k.record()); err != nil {
		return nil, plugin.StorageError(err)
	}
	return k, nil
}

// formatAAGUID renders 16 bytes as a UUID string, as SimpleWebAuthn does.
func formatAAGUID(b []byte) string {
	if len(b) != 16 {
		b = make([]byte, 16)
	}
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// decodeBase64 decodes standard or URL base64, padded or not (Better
// Auth's decoder accepts both alphabets).
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// VerifyAuthentication completes a passkey sign-in begun by
// AuthenticationOptions: it consumes the challenge challengeID, verifies
// the assertion response (the JSON the browser's get() produced, as
// SimpleWebAuthn's startAuthentication returns it), updates the stored
// counter and backup state, and creates a session for the passkey's owner
// under plugin.WithSignIn(ctx, "passkey"). A plugin that interrupts the
// sign-in (a second factor) makes it return that *plugin.Interruption
// unchanged.
func (p *Plugin) VerifyAuthentication(ctx context.Context, challengeID string, response []byte) (*plugin.AuthResult, *Passkey, error) {
	ch, err := p.consumeChallenge(ctx, challengeID, ceremonyAuthentication)
	if err != nil {
		return nil, nil, err
	}
	log := p.a.Logger()
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		log.InfoContext(ctx, "passkey: malformed assertion", errAttrs(err)...)
		return nil, nil, ErrAuthenticationFailed.With(err)
	}
	credID := base64.RawURLEncoding.EncodeToString(parsed.RawID)
	db := p.a.DB()
	recs, err := db.FindMany(ctx, TablePasskey, storage.Query{Where: []storage.Where{storage.W("credentialID", credID)}, Limit: 2})
	if err != nil {
		return nil, nil, plugin.StorageError(err)
	}
	if len(recs) == 0 {
		return nil, nil, ErrPasskeyNotFound
	}
	if len(recs) > 1 {
		err := errors.New("passkey: credential ID registered more than once")
		log.ErrorContext(ctx, "passkey: refusing an ambiguous credential", "credentialID", credID, "err", err)
		return nil, nil, ErrAuthenticationFailed.With(err)
	}
	k := passkeyFromRecord(recs[0])
	refuse := func(e *plugin.Error, cause error) (*plugin.AuthResult, *Passkey, error) {
		log.InfoContext(ctx, "passkey: assertion refused", append([]any{"passkeyId", k.ID, "userId", k.UserID}, errAttrs(cause)...)...)
		return nil, nil, e.With(cause)
	}
	if ch.UserData.ID != "" && ch.UserData.ID != k.UserID {
		return refuse(ErrAuthenticationFailed, ErrWrongUser)
	}
	u, err := p.a.FindUserByID(ctx, k.UserID)
	if errors.Is(err, auth.ErrUserNotFound) {
		return nil, nil, ErrUserNotFound
	}
	if err != nil {
		return nil, nil, err
	}
	handle := UserHandle(k.UserID)
	if uh := parsed.Response.UserHandle; len(uh) > 0 && !bytes.Equal(uh, handle) {
		if !p.opts.AllowUnknownUserHandles {
			log.WarnContext(ctx, "passkey: assertion user handle does not match the credential's owner",
				"passkeyId", k.ID, "userId", k.UserID)
			return nil, nil, ErrAuthenticationFailed.With(ErrUserHandleMismatch)
		}
		parsed.Response.UserHandle = nil
	}
	pub, err := decodeBase64(k.PublicKey)
	if err != nil {
		return refuse(ErrAuthenticationFailed, err)
	}
	var flags protocol.AuthenticatorFlags
	if k.DeviceType == DeviceTypeMulti {
		flags |= protocol.FlagBackupEligible
	}
	if k.BackedUp {
		flags |= protocol.FlagBackupState
	}
	stored := webauthn.Credential{
		ID: parsed.RawID, PublicKey: pub, Flags: webauthn.NewCredentialFlags(flags),
		Authenticator: webauthn.Authenticator{SignCount: uint32(k.Counter)},
	}
	sess := webauthn.SessionData{
		Challenge:        ch.ExpectedChallenge,
		RelyingPartyID:   p.rpID,
		UserID:           handle,
		UserVerification: protocol.UserVerificationRequirement(p.userVerification()),
	}
	cred, err := p.wa.ValidateLogin(&waUser{id: handle, creds: []webauthn.Credential{stored}}, sess, parsed)
	if err != nil {
		var pe *protocol.Error
		if errors.As(err, &pe) && pe.Type == protocol.ErrAssertionSignature.Type {
			return refuse(ErrInvalidSignature, err)
		}
		return refuse(ErrAuthenticationFailed, err)
	}
	newCounter := int64(parsed.Response.AuthenticatorData.Counter)
	if cred.Authenticator.CloneWarning {
		log.WarnContext(ctx, "passkey: signature counter did not increase; possible cloned authenticator, sign-in refused",
			"passkeyId", k.ID, "userId", k.UserID, "storedCounter", k.Counter, "receivedCounter", newCounter)
		return nil, nil, ErrAuthenticationFailed.With(ErrCounterNotIncreased)
	}
	backedUp := parsed.Response.AuthenticatorData.Flags.HasBackupState()
	where := []storage.Where{storage.W("id", k.ID)}
	if newCounter > 0 {
		// Compare-and-set: of two assertions racing with the same counter
		// only one may pass.
		where = append(where, storage.Where{Field: "counter", Op: storage.Lt, Value: newCounter})
	}
	n, err := db.Update(ctx, TablePasskey, storage.Record{"counter": newCounter, "backedUp": backedUp}, where...)
	if err != nil {
		return nil, nil, plugin.StorageError(err)
	}
	if n == 0 {
		if newCounter > 0 {
			log.WarnContext(ctx, "passkey: signature counter did not increase; possible cloned authenticator, sign-in refused",
				"passkeyId", k.ID, "userId", k.UserID, "receivedCounter", newCounter)
			return nil, nil, ErrAuthenticationFailed.With(ErrCounterNotIncreased)
		}
		return nil, nil, ErrPasskeyNotFound
	}
	k.Counter, k.BackedUp = newCounter, backedUp
	res, err := p.a.CreateSession(plugin.WithSignIn(ctx, "passkey"), u, true)
	if err != nil {
		return nil, nil, err
	}
	return res, k, nil
}

// errAttrs are the log attributes of a refused ceremony: the error and
// go-webauthn's debug detail.
func errAttrs(err error) []any {
	attrs := []any{"err", err}
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.DevInfo != "" {
		attrs = append(attrs, "detail", pe.DevInfo)
	}
	return attrs
}

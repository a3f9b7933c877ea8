package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/passkey"
	"github.com/managarten/mana-auth/plugin"
)

// The /api/v1/auth/passkeys routes of upstream mana-auth
// (services/mana-auth/src/routes/passkeys.ts at 7b362066b), which mana's
// shared client calls (registerPasskey, signInWithPasskey, listPasskeys,
// deletePasskey, renamePasskey, getPasskeyCapability), served by the
// passkey plugin's Go methods. As upstream's proxies to Better Auth's
// passkey routes, the options answers are the raw WebAuthn options JSON
// and the challenge travels in the plugin's signed challenge cookie (the
// client sends credentials: "include"). Errors are in the auth envelope.
//
// Callers: GET /capability and the two /authenticate routes need nobody;
// the others a signed-in user (v1Session: bearer JWT of a live session,
// or a session), and registration a fresh session (signed in within
// Session.FreshAge, as Better Auth's FreshSessionRequired routes).

// Security events of the passkey routes (upstream's names).
const (
	EventPasskeyRegistered   = "PASSKEY_REGISTERED"
	EventPasskeyLoginSuccess = "PASSKEY_LOGIN_SUCCESS"
	EventPasskeyLoginFailure = "PASSKEY_LOGIN_FAILURE"
	EventPasskeyDeleted      = "PASSKEY_DELETED"
	EventPasskeyRenamed      = "PASSKEY_RENAMED"
)

var (
	errPasskeyNotEnabled = plugin.NewError(http.StatusNotFound, "PASSKEY_NOT_ENABLED", "Passkey authentication is not enabled")
	errPasskeyNotFound   = plugin.NewError(http.StatusNotFound, "NOT_FOUND", "Passkey not found")
	errPasskeyFailed     = plugin.NewError(http.StatusUnauthorized, "PASSKEY_VERIFICATION_FAILED", "Passkey verification failed")
	errPasskeyResponse   = plugin.NewError(http.StatusBadRequest, "VALIDATION", "response (the WebAuthn credential, an object) is required")
	errPasskeyName       = plugin.NewError(http.StatusBadRequest, "VALIDATION", "friendlyName (or name) must be a non-empty string")
)

// writePasskeyErr writes err in the auth envelope, keeping the passkey
// codes (which writeAuthErr would fold into NOT_FOUND and UNAUTHORIZED).
func (s *Server) writePasskeyErr(w http.ResponseWriter, r *http.Request, err error) {
	if e := plugin.AsError(err); e.Code == errPasskeyNotEnabled.Code || e.Code == errPasskeyFailed.Code {
		writeEnvelope(w, e.Status, e.Code, e.Message, 0)
		return
	}
	s.writeAuthErr(w, r, err)
}

// passkeys returns the passkey plugin, nil when it is off (no relying
// party: BASE_URL is an IP address and WEBAUTHN_RP_ID is unset).
func (s *Server) passkeys() *passkey.Plugin {
	p, _ := s.host.Plugin("passkey").(*passkey.Plugin)
	return p
}

func (s *Server) v1PasskeyRoutes(mux *http.ServeMux) {
	p := "/api/v1/auth/passkeys"
	mux.HandleFunc("GET "+p+"/capability", s.handlePasskeyCapability)
	mux.HandleFunc("POST "+p+"/register/options", s.withPasskeys(s.handlePasskeyRegisterOptions))
	mux.HandleFunc("POST "+p+"/register/verify", s.withPasskeys(s.handlePasskeyRegisterVerify))
	mux.HandleFunc("POST "+p+"/authenticate/options", s.withPasskeys(s.handlePasskeyAuthOptions))
	mux.HandleFunc("POST "+p+"/authenticate/verify", s.withPasskeys(s.handlePasskeyAuthVerify))
	mux.HandleFunc("GET "+p, s.withPasskeys(s.handleListPasskeys))
	mux.HandleFunc("DELETE "+p+"/{id}", s.withPasskeys(s.handleDeletePasskey))
	mux.HandleFunc("PATCH "+p+"/{id}", s.withPasskeys(s.handleRenamePasskey))
}

// withPasskeys answers 404 PASSKEY_NOT_ENABLED while the plugin is off.
func (s *Server) withPasskeys(h func(http.ResponseWriter, *http.Request, *passkey.Plugin)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		pk := s.passkeys()
		if pk == nil {
			s.writePasskeyErr(w, r, errPasskeyNotEnabled)
			return
		}
		h(w, r, pk)
	}
}

// handlePasskeyCapability is upstream's probe: {enabled,
// conditionalUIAvailable, rpId}; with the plugin off false, false, null.
func (s *Server) handlePasskeyCapability(w http.ResponseWriter, r *http.Request) {
	out := map[string]any{"enabled": false, "conditionalUIAvailable": false, "rpId": nil}
	if pk := s.passkeys(); pk != nil {
		out = map[string]any{"enabled": true, "conditionalUIAvailable": true, "rpId": pk.RPID()}
	}
	writeJSON(w, http.StatusOK, out)
}

// v1Passkey is a passkey as the v1 routes answer it: Better Auth's fields
// (what upstream proxied), plus the names shared-auth-ui's PasskeyManager
// reads — friendlyName (the name), credentialId (credentialID) and
// lastUsedAt (always null: last use is not recorded).
type v1Passkey struct {
	ID                 string  `json:"id"`
	Name               *string `json:"name"`
	PublicKey          string  `json:"publicKey"`
	UserID             string  `json:"userId"`
	CredentialID       string  `json:"credentialID"`
	Counter            int64   `json:"counter"`
	DeviceType         string  `json:"deviceType"`
	BackedUp           bool    `json:"backedUp"`
	Transports         *string `json:"transports"`
	CreatedAt          *string `json:"createdAt"`
	AAGUID             *string `json:"aaguid"`
	FriendlyName       *string `json:"friendlyName"`
	ClientCredentialID string  `json:"credentialId"` // CredentialID under the client's name
	LastUsedAt         *string `json:"lastUsedAt"`
}

func toV1Passkey(k *passkey.Passkey) v1Passkey {
	out := v1Passkey{ID: k.ID, Name: k.Name, PublicKey: k.PublicKey, UserID: k.UserID, CredentialID: k.CredentialID,
		Counter: k.Counter, DeviceType: k.DeviceType, BackedUp: k.BackedUp, Transports: k.Transports, AAGUID: k.AAGUID,
		FriendlyName: k.Name, ClientCredentialID: k.CredentialID}
	if k.CreatedAt != nil {
		t := plugin.FormatTime(*k.CreatedAt)
		out.CreatedAt = &t
	}
	return out
}

// setChallenge sets the signed challenge cookie of the plugin's own
// routes (the server mounts the plugin with the default name).
func (s *Server) setChallenge(w http.ResponseWriter, id string) {
	plugin.WriteCookies(w, []*http.Cookie{s.host.SignedCookie(passkey.DefaultChallengeCookie, id, int(passkey.ChallengeMaxAge.Seconds()))})
}

// takeChallenge reads the challenge id and expires the cookie: a
// challenge is used once, whatever the outcome. Without one the plugin's
// ErrChallengeNotFound answers.
func (s *Server) takeChallenge(w http.ResponseWriter, r *http.Request) string {
	id, ok := s.host.ReadSignedCookie(r, passkey.DefaultChallengeCookie)
	if !ok {
		return ""
	}
	plugin.WriteCookies(w, []*http.Cookie{s.host.NewCookie(passkey.DefaultChallengeCookie, "", -1)})
	return id
}

// freshCaller runs fn with a caller whose session is fresh.
func (s *Server) freshCaller(w http.ResponseWriter, r *http.Request, fn func(c *v1Caller)) {
	s.withCaller(w, r, func(c *v1Caller) {
		if fresh := s.auth.Config().Session.FreshAge; fresh > 0 && s.host.Now().Sub(c.sd.Session.CreatedAt) >= fresh {
			s.writeAuthErr(w, r, auth.ErrSessionNotFresh)
			return
		}
		fn(c)
	})
}

// handlePasskeyRegisterOptions answers the creation options (Better
// Auth's generate-register-options) for the caller; the query's name and
// authenticatorAttachment tune them as there.
func (s *Server) handlePasskeyRegisterOptions(w http.ResponseWriter, r *http.Request, pk *passkey.Plugin) {
	s.freshCaller(w, r, func(c *v1Caller) {
		q := r.URL.Query()
		for _, k := range []string{"name", "authenticatorAttachment"} {
			if len(q[k]) > 1 {
				s.writeAuthErr(w, r, plugin.NewError(http.StatusBadRequest, "VALIDATION", k+" must be given once"))
				return
			}
		}
		opts, id, err := pk.RegistrationOptions(r.Context(), c.sd.User,
			passkey.RegistrationInput{Name: q.Get("name"), AuthenticatorAttachment: q.Get("authenticatorAttachment")})
		if err != nil {
			s.writeAuthErr(w, r, err)
			return
		}
		s.setChallenge(w, id)
		writeJSON(w, http.StatusOK, opts)
	})
}

// credentialBody is the verify routes' body: {response, name?} (the
// client's register sends name, Better Auth's parameter).
type credentialBody struct {
	Response json.RawMessage `json:"response"`
	Name     *string         `json:"name"`
}

// readCredential reads the body and checks that response is an object.
func readCredential(r *http.Request) (*credentialBody, error) {
	var in credentialBody
	if err := readJSON(r, &in); err != nil {
		return nil, err
	}
	if b := bytes.TrimSpace(in.Response); len(b) == 0 || b[0] != '{' {
		return nil, errPasskeyResponse
	}
	return &in, nil
}

// handlePasskeyRegisterVerify verifies the attestation and stores the
// passkey; it answers the passkey (Better Auth's verify-registration
// body, with v1Passkey's extra names).
func (s *Server) handlePasskeyRegisterVerify(w http.ResponseWriter, r *http.Request, pk *passkey.Plugin) {
	in, err := readCredential(r)
	if err != nil {
		s.writeAuthErr(w, r, err)
		return
	}
	s.freshCaller(w, r, func(c *v1Caller) {
		ctx := r.Context()
		name := ""
		if in.Name != nil {
			name = *in.Name
		}
		k, err := pk.VerifyRegistration(ctx, s.takeChallenge(w, r), c.sd.User, in.Response, name)
		if err != nil {
			s.writeAuthErr(w, r, err)
			return
		}
		s.sec.record(ctx, eventFor(ctx, EventPasskeyRegistered, c.sd.User.ID, map[string]any{"passkeyId": k.ID}))
		writeJSON(w, http.StatusOK, toV1Passkey(k))
	})
}

// handlePasskeyAuthOptions answers the request options (Better Auth's
// generate-authenticate-options). A session cookie of the request, as
// there, limits them to its user's passkeys; without one any
// discoverable passkey may answer.
func (s *Server) handlePasskeyAuthOptions(w http.ResponseWriter, r *http.Request, pk *passkey.Plugin) {
	var u *plugin.User
	if !hasBearerJWT(r) {
		if sd, err := s.auth.Session(r); err == nil {
			u = sd.User
		}
	}
	opts, id, err := pk.AuthenticationOptions(r.Context(), u)
	if err != nil {
		s.writeAuthErr(w, r, err)
		return
	}
	s.setChallenge(w, id)
	writeJSON(w, http.StatusOK, opts)
}

// passkeyLoginResponse is the answer of a passkey sign-in: the session
// and user (the SDK's verify-authentication body) plus, as /login,
// accessToken (a JWT) and refreshToken (the session token).
type passkeyLoginResponse struct {
	Session      *plugin.Session `json:"session"`
	User         *plugin.User    `json:"user"`
	AccessToken  string          `json:"accessToken,omitempty"`
	RefreshToken string          `json:"refreshToken"`
}

// handlePasskeyAuthVerify verifies the assertion and signs its passkey's
// owner in: session cookies (as /login sets them) and the answer above. A
// second factor due answers as /login does.
func (s *Server) handlePasskeyAuthVerify(w http.ResponseWriter, r *http.Request, pk *passkey.Plugin) {
	in, err := readCredential(r)
	if err != nil {
		s.writeAuthErr(w, r, err)
		return
	}
	ctx := r.Context()
	res, _, err := pk.VerifyAuthentication(ctx, s.takeChallenge(w, r), in.Response)
	var intr *plugin.Interruption
	if errors.As(err, &intr) {
		s.metrics.signIn("two_factor")
		plugin.WriteCookies(w, intr.Cookies)
		writeJSON(w, http.StatusOK, intr.Body)
		return
	}
	if err != nil {
		e := plugin.AsError(err)
		switch {
		case e.Status >= 500 && !errors.Is(err, passkey.ErrUserNotFound):
			s.metrics.signIn("error")
		case e.Status == http.StatusUnauthorized || errors.Is(err, passkey.ErrUserNotFound):
			// Unknown credential, bad signature, owner gone: upstream's
			// PASSKEY_VERIFICATION_FAILED.
			err = errPasskeyFailed
			fallthrough
		default:
			s.sec.record(ctx, eventFor(ctx, EventPasskeyLoginFailure, "", map[string]any{"code": plugin.AsError(err).Code}))
			s.metrics.signIn("invalid_credentials")
		}
		s.writePasskeyErr(w, r, err)
		return
	}
	s.sec.record(ctx, eventFor(ctx, EventPasskeyLoginSuccess, res.User.ID, nil))
	s.metrics.signIn("success")
	out := passkeyLoginResponse{Session: res.Session, User: res.User, RefreshToken: res.Token()}
	if tok, err := s.jwt.Mint(ctx, &auth.SessionData{Session: res.Session, User: res.User}); err == nil {
		out.AccessToken = tok
	} else {
		s.log.ErrorContext(ctx, "passkey sign-in: minting the access token failed", "err", err)
	}
	plugin.WriteCookies(w, res.Cookies)
	writeJSON(w, http.StatusOK, out)
}

// handleListPasskeys answers the caller's passkeys, oldest first, as a
// JSON array of v1Passkey.
func (s *Server) handleListPasskeys(w http.ResponseWriter, r *http.Request, pk *passkey.Plugin) {
	s.withCaller(w, r, func(c *v1Caller) {
		keys, err := pk.ListPasskeys(r.Context(), c.sd.User.ID)
		if err != nil {
			s.writeAuthErr(w, r, err)
			return
		}
		out := make([]v1Passkey, 0, len(keys))
		for _, k := range keys {
			out = append(out, toV1Passkey(k))
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// passkeyOwnerErr turns the plugin's refusals of another user's passkey
// (401 there, as Better Auth) into 404: the caller learns nothing of
// passkeys that are not theirs.
func passkeyOwnerErr(err error) error {
	if errors.Is(err, passkey.ErrNotOwner) || errors.Is(err, passkey.ErrNotAllowedToRegister) || errors.Is(err, passkey.ErrPasskeyNotFoundByID) ||
		errors.Is(err, passkey.ErrFailedToUpdatePasskey) { // vanished while being renamed
		return errPasskeyNotFound
	}
	return err
}

// handleDeletePasskey deletes one of the caller's passkeys: {"status":
// true}, Better Auth's delete-passkey answer.
func (s *Server) handleDeletePasskey(w http.ResponseWriter, r *http.Request, pk *passkey.Plugin) {
	s.withCaller(w, r, func(c *v1Caller) {
		ctx := r.Context()
		id := r.PathValue("id")
		if err := pk.DeletePasskey(ctx, c.sd.User.ID, id); err != nil {
			s.writeAuthErr(w, r, passkeyOwnerErr(err))
			return
		}
		s.sec.record(ctx, eventFor(ctx, EventPasskeyDeleted, c.sd.User.ID, map[string]any{"passkeyId": id}))
		writeJSON(w, http.StatusOK, map[string]bool{"status": true})
	})
}

// handleRenamePasskey renames one of the caller's passkeys. The body is
// {"friendlyName"} as the shared client sends it, or {"name"} as
// upstream's route read it (friendlyName wins). It answers {"passkey"},
// Better Auth's update-passkey answer.
func (s *Server) handleRenamePasskey(w http.ResponseWriter, r *http.Request, pk *passkey.Plugin) {
	var in struct {
		FriendlyName *string `json:"friendlyName"`
		Name         *string `json:"name"`
	}
	if err := readJSON(r, &in); err != nil {
		s.writeAuthErr(w, r, err)
		return
	}
	name := in.Name
	if in.FriendlyName != nil {
		name = in.FriendlyName
	}
	s.withCaller(w, r, func(c *v1Caller) {
		if name == nil {
			s.writeAuthErr(w, r, errPasskeyName)
			return
		}
		ctx := r.Context()
		id := r.PathValue("id")
		k, err := pk.UpdatePasskey(ctx, c.sd.User.ID, id, *name)
		if errors.Is(err, plugin.ErrValidation) {
			err = errPasskeyName
		}
		if err != nil {
			s.writeAuthErr(w, r, passkeyOwnerErr(err))
			return
		}
		s.sec.record(ctx, eventFor(ctx, EventPasskeyRenamed, c.sd.User.ID, map[string]any{"passkeyId": id}))
		writeJSON(w, http.StatusOK, map[string]v1Passkey{"passkey": toV1Passkey(k)})
	})
}

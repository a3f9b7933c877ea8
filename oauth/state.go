package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"

	"github.com/managarten/mana-auth/plugin"
)

// stateData is the flow's state, Better Auth's StateData: a verification
// row under the state (with a copy of its expiry), and the state signed
// in the "state" cookie of the browser that began the flow.
type stateData struct {
	CallbackURL    string         `json:"callbackURL"`
	CodeVerifier   string         `json:"codeVerifier"`
	ErrorURL       string         `json:"errorURL,omitempty"`
	NewUserURL     string         `json:"newUserURL,omitempty"`
	Link           *linkData      `json:"link,omitempty"`
	ExpiresAt      int64          `json:"expiresAt"` // Unix milliseconds
	RequestSignUp  bool           `json:"requestSignUp,omitempty"`
	IDTokenNonce   string         `json:"idTokenNonce,omitempty"`
	OAuthState     string         `json:"oauthState"`
	Provider       string         `json:"providerId"`
	Scopes         []string       `json:"scopes,omitempty"`
	AdditionalData map[string]any `json:"additionalData,omitempty"`
}

// linkData is the user a link-social flow links to, and the session that
// asked for it (sealed with the keyring): the link fails if that session
// has ended by the callback.
type linkData struct {
	UserID       string `json:"userId"`
	Email        string `json:"email"`
	SessionToken string `json:"encryptedSessionToken"`
}

const stateCookie = "state"

// stateCookieMaxAge is Better Auth's: 5 minutes.
const stateCookieMaxAge = 300

var statePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{32}$`)

const stateAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"

// newState stores st under a new state and sets the signed state cookie.
func (p *Plugin) newState(c *plugin.Context, st *stateData) (string, error) {
	state := plugin.RandomString(32, stateAlphabet)
	st.OAuthState = state
	st.ExpiresAt = p.h.Now().Add(p.cfg.StateExpiresIn).UnixMilli()
	val, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	if err := p.h.CreateVerification(c.Context(), state, string(val), p.cfg.StateExpiresIn); err != nil {
		return "", err
	}
	c.SetCookie(p.h.SignedCookie(stateCookie, state, stateCookieMaxAge))
	return state, nil
}

// stateError is a failed state check: the error code of the redirect and,
// once the state is read, the flow's error URL.
type stateError struct {
	code     string
	errorURL string
}

func (e *stateError) Error() string { return "oauth: " + e.code }

// takeState checks the callback's state against its row and the
// browser's cookie, and consumes the row: a state works once, in the
// browser that began the flow. A state presented by another browser
// leaves the row in place (the right browser can still finish).
func (p *Plugin) takeState(c *plugin.Context, state string) (*stateData, error) {
	ctx := c.Context()
	if state == "" {
		return nil, &stateError{code: "state_not_found"}
	}
	if !statePattern.MatchString(state) {
		return nil, &stateError{code: "state_mismatch"}
	}
	v, err := p.h.FindVerification(ctx, state)
	if errors.Is(err, plugin.ErrVerificationNotFound) {
		return nil, &stateError{code: "state_mismatch"}
	}
	if err != nil {
		return nil, err
	}
	var st stateData
	if json.Unmarshal([]byte(v.Value), &st) != nil || st.OAuthState == "" || !plugin.SecureEqual(st.OAuthState, state) {
		return nil, &stateError{code: "state_mismatch"}
	}
	cookie, ok := p.h.ReadSignedCookie(c.Request(), stateCookie)
	if !ok || !plugin.SecureEqual(cookie, state) {
		return nil, &stateError{code: "state_mismatch", errorURL: st.ErrorURL}
	}
	c.SetCookie(p.h.NewCookie(stateCookie, "", -1))
	if _, err := p.h.ConsumeVerification(ctx, state); err != nil {
		if errors.Is(err, plugin.ErrVerificationNotFound) { // the same callback, twice at once
			return nil, &stateError{code: "state_mismatch", errorURL: st.ErrorURL}
		}
		return nil, err
	}
	if p.h.Now().UnixMilli() > st.ExpiresAt {
		return nil, &stateError{code: "state_mismatch", errorURL: st.ErrorURL}
	}
	return &st, nil
}

// sealSession seals a session token for the link state.
func (p *Plugin) sealSession(token string) string { return p.h.Keyring().Encrypt(token) }

// linkSession returns the session that began a link flow, if it is still
// valid and the linking user's.
func (p *Plugin) linkSession(ctx context.Context, l *linkData) bool {
	token, err := p.h.Keyring().Decrypt(l.SessionToken)
	if err != nil {
		return false
	}
	sd, err := p.h.GetSession(ctx, token)
	return err == nil && sd != nil && sd.User != nil && sd.User.ID == l.UserID
}

package twofactor

import (
	"errors"

	"github.com/managarten/mana-auth/plugin"
)

// errChallengeVoid marks an error after which the pending sign-in is gone
// (its two_factor cookie is then expired).
var errChallengeVoid = errors.New("twofactor: pending sign-in voided")

// Endpoints implements plugin.EndpointSource: Better Auth's two-factor
// routes, all POST.
func (p *Plugin) Endpoints() []plugin.Endpoint {
	pw := plugin.Required("password", plugin.KindString)
	if p.opts.AllowPasswordless {
		pw = plugin.Optional("password", plugin.KindString)
	}
	trust := plugin.Optional("trustDevice", plugin.KindBool)
	// Sensitive: as in Better Auth (sensitiveSessionMiddleware,
	// getAuthoritativeSessionFromCtx), these read the session from the
	// database even when the cookie cache is on.
	return []plugin.Endpoint{
		{Method: "POST", Path: "/two-factor/enable", Auth: plugin.SessionRequired, Sensitive: true, Handler: p.handleEnable,
			Body: []plugin.Param{pw, plugin.Optional("method", plugin.KindString), plugin.Optional("issuer", plugin.KindString)}},
		{Method: "POST", Path: "/two-factor/disable", Auth: plugin.SessionRequired, Sensitive: true, Handler: p.handleDisable,
			Body: []plugin.Param{pw}},
		{Method: "POST", Path: "/two-factor/get-totp-uri", Auth: plugin.SessionRequired, Handler: p.handleGetTOTPURI,
			Body: []plugin.Param{pw}},
		{Method: "POST", Path: "/two-factor/generate-backup-codes", Auth: plugin.SessionRequired, Handler: p.handleGenerateBackupCodes,
			Body: []plugin.Param{pw}},
		{Method: "POST", Path: "/two-factor/verify-totp", Auth: plugin.SessionOptional, Sensitive: true, Handler: p.handleVerifyTOTP,
			Body: []plugin.Param{plugin.Required("code", plugin.KindString), trust}},
		{Method: "POST", Path: "/two-factor/verify-backup-code", Auth: plugin.SessionOptional, Sensitive: true, Handler: p.handleVerifyBackupCode,
			Body: []plugin.Param{plugin.Required("code", plugin.KindString), plugin.Optional("disableSession", plugin.KindBool), trust}},
		{Method: "POST", Path: "/two-factor/send-otp", Auth: plugin.SessionOptional, Sensitive: true, Handler: p.handleSendOTP,
			Body: []plugin.Param{trust}},
		{Method: "POST", Path: "/two-factor/verify-otp", Auth: plugin.SessionOptional, Sensitive: true, Handler: p.handleVerifyOTP,
			Body: []plugin.Param{plugin.Required("code", plugin.KindString), trust}},
	}
}

func (p *Plugin) dontRemember(c *plugin.Context) bool {
	v, ok := p.a.ReadSignedCookie(c.Request(), plugin.CookieDontRemember)
	return ok && v == "true"
}

// attempt builds the Attempt of a verify request: the session if any,
// else the pending sign-in of the two_factor cookie.
func (p *Plugin) attempt(c *plugin.Context) Attempt {
	at := Attempt{Session: c.Session(), TrustDevice: c.Bool("trustDevice", false), DontRemember: p.dontRemember(c)}
	if at.Session == nil {
		at.Challenge, _ = p.a.ReadSignedCookie(c.Request(), CookieTwoFactor)
	}
	return at
}

type tokenUser struct {
	Token *string      `json:"token,omitempty"`
	User  *plugin.User `json:"user"`
}

// failed returns err, expiring the two_factor cookie when the pending
// sign-in it names is gone.
func (p *Plugin) failed(c *plugin.Context, err error) error {
	if _, e := c.Request().Cookie(p.a.CookieName(CookieTwoFactor)); e == nil && errors.Is(err, errChallengeVoid) {
		c.SetCookie(p.expiredTwoFactorCookie())
	}
	return err
}

// verified answers a verify route: {token, user} with the new session's
// cookies, or the error.
func (p *Plugin) verified(c *plugin.Context, res *plugin.AuthResult, err error) (any, error) {
	if err != nil {
		return nil, p.failed(c, err)
	}
	c.SignedIn(res)
	out := tokenUser{User: res.User}
	if res.Session != nil {
		tok := res.Session.Token
		out.Token = &tok
	}
	return out, nil
}

func (p *Plugin) handleEnable(c *plugin.Context) (any, error) {
	method := c.String("method")
	if method != "" && method != MethodOTP && method != MethodTOTP {
		return nil, plugin.ErrValidation.WithMessage(`[body.method] Invalid option: expected one of "otp"|"totp"`)
	}
	res, err := p.Enable(c.Context(), c.Session(), EnableInput{Password: c.String("password"), Method: method,
		Issuer: c.String("issuer"), DontRemember: p.dontRemember(c)})
	if err != nil {
		return nil, err
	}
	if res.Session != nil {
		c.SignedIn(res.Session)
	}
	return res, nil
}

func (p *Plugin) handleDisable(c *plugin.Context) (any, error) {
	res, err := p.Disable(c.Context(), c.Session(), DisableInput{Password: c.String("password"), DontRemember: p.dontRemember(c)})
	if err != nil {
		return nil, err
	}
	c.SignedIn(res)
	if _, err := c.Request().Cookie(p.a.CookieName(CookieTrustDevice)); err == nil {
		c.SetCookie(p.a.NewCookie(CookieTrustDevice, "", -1))
	}
	return map[string]bool{"status": true}, nil
}

func (p *Plugin) handleGetTOTPURI(c *plugin.Context) (any, error) {
	uri, err := p.GetTOTPURI(c.Context(), c.Session(), c.String("password"))
	if err != nil {
		return nil, err
	}
	return map[string]string{"totpURI": uri}, nil
}

type codesResponse struct {
	Status      bool     `json:"status"`
	BackupCodes []string `json:"backupCodes"`
}

func (p *Plugin) handleGenerateBackupCodes(c *plugin.Context) (any, error) {
	codes, err := p.GenerateBackupCodes(c.Context(), c.Session(), c.String("password"))
	if err != nil {
		return nil, err
	}
	return codesResponse{Status: true, BackupCodes: codes}, nil
}

func (p *Plugin) handleVerifyTOTP(c *plugin.Context) (any, error) {
	res, err := p.VerifyTOTP(c.Context(), p.attempt(c), c.String("code"))
	return p.verified(c, res, err)
}

func (p *Plugin) handleVerifyBackupCode(c *plugin.Context) (any, error) {
	res, err := p.VerifyBackupCode(c.Context(), p.attempt(c), c.String("code"), c.Bool("disableSession", false))
	return p.verified(c, res, err)
}

func (p *Plugin) handleVerifyOTP(c *plugin.Context) (any, error) {
	res, err := p.VerifyOTP(c.Context(), p.attempt(c), c.String("code"))
	return p.verified(c, res, err)
}

func (p *Plugin) handleSendOTP(c *plugin.Context) (any, error) {
	if err := p.SendOTP(c.Context(), p.attempt(c)); err != nil {
		return nil, p.failed(c, err)
	}
	return map[string]bool{"status": true}, nil
}

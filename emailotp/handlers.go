package emailotp

import (
	"github.com/managarten/mana-auth/plugin"
)

// typeOptions is Zod's message for a type that is not one of the enum's.
const typeOptions = `[body.type] Invalid option: expected one of "email-verification"|"sign-in"|"forget-password"|"change-email"`

// bodyType returns the body's type, or the VALIDATION_ERROR Better Auth
// answers for a missing or unknown one.
func bodyType(c *plugin.Context) (Type, error) {
	t := Type(c.String("type"))
	if !t.valid() {
		return "", plugin.ErrValidation.WithMessage(typeOptions)
	}
	return t, nil
}

type success struct {
	Success bool `json:"success"`
}

func (p *Plugin) handleSend(c *plugin.Context) (any, error) {
	t, err := bodyType(c)
	if err != nil {
		return nil, err
	}
	if err := p.SendVerificationOTP(c.Context(), c.String("email"), t); err != nil {
		return nil, err
	}
	return success{true}, nil
}

func (p *Plugin) handleCheck(c *plugin.Context) (any, error) {
	t, err := bodyType(c)
	if err != nil {
		return nil, err
	}
	if err := p.CheckVerificationOTP(c.Context(), c.String("email"), t, c.String("otp")); err != nil {
		return nil, err
	}
	return success{true}, nil
}

type tokenUser struct {
	Token string       `json:"token"`
	User  *plugin.User `json:"user"`
}

func (p *Plugin) handleSignIn(c *plugin.Context) (any, error) {
	res, err := p.SignIn(c.Context(), SignInInput{Email: c.String("email"), OTP: c.String("otp"),
		Name: c.String("name"), Image: c.OptString("image")})
	if err != nil {
		return nil, err
	}
	c.SignedIn(res)
	return tokenUser{Token: res.Token(), User: res.User}, nil
}

type statusTokenUser struct {
	Status bool         `json:"status"`
	Token  *string      `json:"token"`
	User   *plugin.User `json:"user"`
}

func (p *Plugin) handleVerifyEmail(c *plugin.Context) (any, error) {
	sd := c.Session()
	res, err := p.VerifyEmail(c.Context(), c.String("email"), c.String("otp"), sd)
	if err != nil {
		return nil, err
	}
	out := statusTokenUser{Status: true, User: res.User}
	switch {
	case res.Session != nil:
		c.SignedIn(res)
		tok := res.Session.Token
		out.Token = &tok
	case sd != nil && sd.User.ID == res.User.ID:
		// The cookie cache, if on, must show the verified address.
		c.SetSessionCookie(&plugin.SessionData{Session: sd.Session, User: res.User})
	}
	return out, nil
}

func (p *Plugin) handleRequestReset(c *plugin.Context) (any, error) {
	if err := p.RequestPasswordReset(c.Context(), c.String("email")); err != nil {
		return nil, err
	}
	return success{true}, nil
}

func (p *Plugin) handleForgetPassword(c *plugin.Context) (any, error) {
	p.deprecation.Do(func() {
		p.h.Logger().WarnContext(c.Context(), `emailotp: the "/forget-password/email-otp" endpoint is deprecated; use "/email-otp/request-password-reset" instead`)
	})
	return p.handleRequestReset(c)
}

func (p *Plugin) handleReset(c *plugin.Context) (any, error) {
	if err := p.ResetPassword(c.Context(), c.String("email"), c.String("otp"), c.String("password")); err != nil {
		return nil, err
	}
	return success{true}, nil
}

func (p *Plugin) handleChangeEmail(*plugin.Context) (any, error) {
	return nil, errChangeEmailDisabled()
}

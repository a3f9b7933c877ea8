package passkey

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/managarten/mana-auth/plugin"
)

// Endpoints implements plugin.EndpointSource: Better Auth's passkey routes.
func (p *Plugin) Endpoints() []plugin.Endpoint {
	return []plugin.Endpoint{
		{Method: "GET", Path: "/passkey/generate-register-options", Auth: plugin.FreshSessionRequired,
			Handler: p.handleRegisterOptions},
		{Method: "GET", Path: "/passkey/generate-authenticate-options", Auth: plugin.SessionOptional,
			Handler: p.handleAuthenticateOptions},
		{Method: "POST", Path: "/passkey/verify-registration", Auth: plugin.FreshSessionRequired,
			Body: []plugin.Param{plugin.Optional("response", plugin.KindAny), plugin.Optional("name", plugin.KindString),
				plugin.Optional("createSession", plugin.KindBool)},
			Handler: p.handleVerifyRegistration},
		{Method: "POST", Path: "/passkey/verify-authentication",
			Body:    []plugin.Param{plugin.Required("response", plugin.KindObject)},
			Handler: p.handleVerifyAuthentication},
		{Method: "GET", Path: "/passkey/list-user-passkeys", Auth: plugin.SessionRequired, Handler: p.handleList},
		{Method: "POST", Path: "/passkey/delete-passkey", Auth: plugin.SessionRequired,
			Body: []plugin.Param{plugin.Required("id", plugin.KindString)}, Handler: p.handleDelete},
		{Method: "POST", Path: "/passkey/update-passkey", Auth: plugin.SessionRequired,
			Body: []plugin.Param{plugin.Required("id", plugin.KindString), plugin.Required("name", plugin.KindString)}, Handler: p.handleUpdate},
	}
}

// Hooks implements plugin.HookSource. The hooks validate what Better Auth's
// schemas check before the session (query enums, a non-blank name), so
// that the answers come in Better Auth's order.
func (p *Plugin) Hooks() plugin.Hooks {
	return plugin.Hooks{Before: []plugin.Hook{
		{Match: plugin.PathIs("/passkey/generate-register-options"), Handler: validateRegisterQuery},
		{Match: plugin.PathIs("/passkey/update-passkey"), Handler: validateUpdateBody},
		{Match: plugin.PathIs("/passkey/verify-authentication"), Handler: validateAuthenticationBody},
	},
		// Passkeys registered on an account before its owner verified the
		// address may be someone else's: they go when the owner takes the
		// account over.
		ResetCredentials: p.DeleteUser,
	}
}

// validateAuthenticationBody words a missing or non-object response as
// zod's record schema does ("expected record").
func validateAuthenticationBody(c *plugin.Context) error {
	b := c.Body()
	if b == nil {
		return nil // no object at all: the declared parameters answer
	}
	v, ok := b["response"]
	if _, isObj := v.(map[string]any); isObj {
		return nil
	}
	got := "undefined"
	if ok {
		got = plugin.JSONKind(v)
	}
	return plugin.InvalidInput("body.response", "record", got)
}

func validateRegisterQuery(c *plugin.Context) error {
	q := c.Request().URL.Query()
	var issues []string
	for _, k := range []string{"authenticatorAttachment", "name", "context"} {
		vs, ok := q[k]
		switch {
		case !ok:
		case k == "authenticatorAttachment" && (len(vs) != 1 || vs[0] != "platform" && vs[0] != "cross-platform"):
			issues = append(issues, `[query.authenticatorAttachment] Invalid option: expected one of "platform"|"cross-platform"`)
		case len(vs) > 1:
			issues = append(issues, "[query."+k+"] Invalid input: expected string, received array")
		}
	}
	if len(issues) > 0 {
		return plugin.ErrValidation.WithMessage(strings.Join(issues, "; "))
	}
	return nil
}

// validateUpdateBody adds zod's min(1) check on the trimmed name to the
// declared parameters' checks.
func validateUpdateBody(c *plugin.Context) error {
	b := c.Body()
	name, ok := b["name"].(string)
	if !ok || strings.TrimSpace(name) != "" {
		return nil // the declared parameters are checked next
	}
	var issues []string
	if _, ok := b["id"].(string); !ok {
		got := "undefined"
		if v, present := b["id"]; present {
			got = plugin.JSONKind(v)
		}
		issues = append(issues, "[body.id] Invalid input: expected string, received "+got)
	}
	issues = append(issues, "[body.name] Too small: expected string to have >=1 characters")
	return plugin.ErrValidation.WithMessage(strings.Join(issues, "; "))
}

// rawParam returns body parameter name re-encoded as JSON (nil if absent).
// The body was decoded with json.Number, so numbers keep their text.
// (plugin.Context.Bind would be the natural way, but it does not see the
// raw body.)
func rawParam(c *plugin.Context, name string) []byte {
	v, ok := c.Body()[name]
	if !ok {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

func (p *Plugin) setChallengeCookie(c *plugin.Context, id string) {
	c.SetCookie(p.a.SignedCookie(p.opts.ChallengeCookie, id, int(ChallengeMaxAge.Seconds())))
}

// takeChallengeCookie reads the signed challenge id and expires the cookie
// (the challenge is single use whatever the outcome).
func (p *Plugin) takeChallengeCookie(c *plugin.Context) (string, error) {
	id, ok := p.a.ReadSignedCookie(c.Request(), p.opts.ChallengeCookie)
	if !ok {
		return "", ErrChallengeNotFound
	}
	c.SetCookie(p.a.NewCookie(p.opts.ChallengeCookie, "", -1))
	return id, nil
}

func (p *Plugin) handleRegisterOptions(c *plugin.Context) (any, error) {
	q := c.Request().URL.Query()
	in := RegistrationInput{Name: q.Get("name"), AuthenticatorAttachment: q.Get("authenticatorAttachment")}
	if q.Has("context") {
		ctx := q.Get("context")
		in.Context = &ctx
	}
	opts, id, err := p.RegistrationOptions(c.Context(), c.Session().User, in)
	if err != nil {
		return nil, err
	}
	p.setChallengeCookie(c, id)
	return opts, nil
}

func (p *Plugin) handleAuthenticateOptions(c *plugin.Context) (any, error) {
	var u *plugin.User
	if s := c.Session(); s != nil {
		u = s.User
	}
	opts, id, err := p.AuthenticationOptions(c.Context(), u)
	if err != nil {
		return nil, err
	}
	p.setChallengeCookie(c, id)
	return opts, nil
}

func (p *Plugin) handleVerifyRegistration(c *plugin.Context) (any, error) {
	id, err := p.takeChallengeCookie(c)
	if err != nil {
		return nil, err
	}
	ctx := c.Context()
	u := c.Session().User
	k, err := p.VerifyRegistration(ctx, id, u, rawParam(c, "response"), c.String("name"))
	if err != nil {
		return nil, err
	}
	if !c.Bool("createSession", false) {
		return k, nil
	}
	res, err := p.a.CreateSession(ctx, u, true)
	if err != nil {
		if derr := p.DeletePasskey(context.WithoutCancel(ctx), u.ID, k.ID); derr != nil {
			p.a.Logger().ErrorContext(ctx, "passkey: removing passkey after session failure", "err", derr)
		}
		return nil, err
	}
	c.SignedIn(res)
	return registrationResult{passkey: k, session: res.Session, user: res.User}, nil
}

func (p *Plugin) handleVerifyAuthentication(c *plugin.Context) (any, error) {
	id, err := p.takeChallengeCookie(c)
	if err != nil {
		return nil, err
	}
	res, _, err := p.VerifyAuthentication(c.Context(), id, rawParam(c, "response"))
	if err != nil {
		return nil, err // an *plugin.Interruption passes through unchanged
	}
	c.SignedIn(res)
	return &plugin.SessionData{Session: res.Session, User: res.User}, nil
}

func (p *Plugin) handleList(c *plugin.Context) (any, error) {
	return p.ListPasskeys(c.Context(), c.Session().User.ID)
}

func (p *Plugin) handleDelete(c *plugin.Context) (any, error) {
	err := p.DeletePasskey(c.Context(), c.Session().User.ID, c.String("id"))
	if errors.Is(err, ErrNotOwner) {
		// Better Auth's ownership check throws a bare 401: no body.
		c.SetStatus(http.StatusUnauthorized)
		return plugin.RawJSON(nil), nil
	}
	if err != nil {
		return nil, err
	}
	return map[string]bool{"status": true}, nil
}

func (p *Plugin) handleUpdate(c *plugin.Context) (any, error) {
	k, err := p.UpdatePasskey(c.Context(), c.Session().User.ID, c.String("id"), c.String("name"))
	if err != nil {
		return nil, err
	}
	return map[string]*Passkey{"passkey": k}, nil
}

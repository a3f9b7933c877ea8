package admin

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/managarten/mana-auth/plugin"
)

// Endpoints implements plugin.EndpointSource: Better Auth's admin routes.
// Each reads the session from the database (a revoked session or a
// changed role held in a cookie cache cannot act) and answers 401 with an
// empty body without one, after checking its input as Better Auth does.
func (p *Plugin) Endpoints() []plugin.Endpoint {
	route := func(method, path string, h plugin.HandlerFunc) plugin.Endpoint {
		return plugin.Endpoint{Method: method, Path: path, Sensitive: true, Handler: func(c *plugin.Context) (any, error) {
			v, err := h(c)
			if errors.Is(err, errUnauthorized()) {
				c.SetStatus(http.StatusUnauthorized)
				return plugin.RawJSON(nil), nil
			}
			return v, err
		}}
	}
	return []plugin.Endpoint{
		route("GET", "/admin/list-users", p.handleListUsers),
		route("GET", "/admin/get-user", p.handleGetUser),
		route("POST", "/admin/create-user", p.handleCreateUser),
		route("POST", "/admin/update-user", p.handleUpdateUser),
		route("POST", "/admin/set-role", p.handleSetRole),
		route("POST", "/admin/ban-user", p.handleBanUser),
		route("POST", "/admin/unban-user", p.handleUnbanUser),
		route("POST", "/admin/list-user-sessions", p.handleListUserSessions),
		route("POST", "/admin/revoke-user-session", p.handleRevokeUserSession),
		route("POST", "/admin/revoke-user-sessions", p.handleRevokeUserSessions),
		route("POST", "/admin/remove-user", p.handleRemoveUser),
		route("POST", "/admin/set-user-password", p.handleSetUserPassword),
		route("POST", "/admin/impersonate-user", p.handleImpersonate),
		route("POST", "/admin/stop-impersonating", p.handleStopImpersonating),
		route("POST", "/admin/has-permission", p.handleHasPermission),
	}
}

// input checks a request body as Better Auth's Zod schemas do, collecting
// every issue in the schema's order.
type input struct {
	body   map[string]any
	issues []string
}

// bodyOf returns the input of c's body; a body that is not an object is
// the first issue.
func bodyOf(c *plugin.Context) *input {
	in := &input{body: c.Body()}
	if in.body == nil {
		got := "undefined"
		if raw, present := c.RawBody(); present {
			var v any
			_ = json.Unmarshal(raw, &v)
			got = plugin.JSONKind(v)
		}
		in.issues = append(in.issues, "[body] Invalid input: expected object, received "+got)
	}
	return in
}

func (in *input) bad(key, msg string) { in.issues = append(in.issues, "[body."+key+"] "+msg) }

func (in *input) typeIssue(key, want string, v any, present bool) {
	got := "undefined"
	if present {
		got = plugin.JSONKind(v)
	}
	in.bad(key, "Invalid input: expected "+want+", received "+got)
}

// str reads a string (z.string(), optional or not).
func (in *input) str(key string, optional bool) (string, bool) {
	if in.body == nil {
		return "", false
	}
	v, ok := in.body[key]
	if !ok && optional {
		return "", false
	}
	s, isStr := v.(string)
	if !isStr {
		in.typeIssue(key, "string", v, ok)
	}
	return s, isStr
}

// coerced reads z.coerce.string(): a string, or a number or boolean as
// its text. Missing, null, objects and lists are refused (Better Auth
// would coerce them to "undefined", "null", …).
func (in *input) coerced(key string, optional bool) (string, bool) {
	if in.body == nil {
		return "", false
	}
	v, ok := in.body[key]
	if !ok && optional {
		return "", false
	}
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return jsNumberText(x), true
	case bool:
		return strconv.FormatBool(x), true
	}
	in.typeIssue(key, "string", v, ok)
	return "", false
}

// number reads an optional z.number().
func (in *input) number(key string) (float64, bool) {
	if in.body == nil {
		return 0, false
	}
	v, ok := in.body[key]
	if !ok {
		return 0, false
	}
	if n, isNum := v.(json.Number); isNum {
		f, err := n.Float64()
		if err == nil && !math.IsInf(f, 0) {
			return f, true
		}
	}
	in.typeIssue(key, "number", v, true)
	return 0, false
}

// roles reads z.union([z.string(), z.array(z.string())]).
func (in *input) roles(key string, optional bool) ([]string, bool) {
	if in.body == nil {
		return nil, false
	}
	v, ok := in.body[key]
	if !ok && optional {
		return nil, false
	}
	if ok {
		if r, err := rolesOf(v); err == nil {
			return r, true
		}
	}
	in.bad(key, "Invalid input")
	return nil, false
}

// record reads z.record(z.string(), z.any()).
func (in *input) record(key string, optional bool) (map[string]any, bool) {
	if in.body == nil {
		return nil, false
	}
	v, ok := in.body[key]
	if !ok && optional {
		return nil, false
	}
	m, isObj := v.(map[string]any)
	if !isObj {
		in.typeIssue(key, "record", v, ok)
	}
	return m, isObj
}

// err returns the issues as Better Auth's 400 VALIDATION_ERROR.
func (in *input) err() error {
	if len(in.issues) == 0 {
		return nil
	}
	return plugin.ErrValidation.WithMessage(strings.Join(in.issues, "; "))
}

// jsNumberText writes a JSON number as JavaScript's String(n) does for
// the integers and decimals ids are made of.
func jsNumberText(n json.Number) string {
	f, err := n.Float64()
	if err != nil || math.IsInf(f, 0) {
		return n.String()
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// actor returns the request's user or the empty 401.
func actor(c *plugin.Context) (*plugin.SessionData, error) {
	sd := c.Session()
	if sd == nil || sd.User == nil {
		return nil, errUnauthorized()
	}
	return sd, nil
}

type userAnswer struct {
	User *plugin.User `json:"user"`
}

type successAnswer struct {
	Success bool `json:"success"`
}

type sessionAnswer struct {
	Session *plugin.Session `json:"session"`
	User    *plugin.User    `json:"user"`
}

func (p *Plugin) handleListUsers(c *plugin.Context) (any, error) {
	q, err := parseListQuery(c.Request().URL.Query())
	if err != nil {
		return nil, err
	}
	sd, err := actor(c)
	if err != nil {
		return nil, err
	}
	return p.ListUsers(c.Context(), sd.User, q)
}

func (p *Plugin) handleGetUser(c *plugin.Context) (any, error) {
	vals := c.Request().URL.Query()
	ids, ok := vals["id"]
	switch {
	case !ok:
		return nil, plugin.InvalidInput("query.id", "string", "undefined")
	case len(ids) > 1:
		return nil, plugin.InvalidInput("query.id", "string", "array")
	}
	sd, err := actor(c)
	if err != nil {
		return nil, err
	}
	return p.GetUser(c.Context(), sd.User, ids[0])
}

func (p *Plugin) handleCreateUser(c *plugin.Context) (any, error) {
	in := bodyOf(c)
	var ci CreateUserInput
	ci.Email, _ = in.str("email", false)
	ci.Password, _ = in.str("password", true)
	ci.Name, _ = in.str("name", false)
	if r, ok := in.roles("role", true); ok {
		ci.Role = r
	}
	ci.Data, _ = in.record("data", true)
	if err := in.err(); err != nil {
		return nil, err
	}
	sd, err := actor(c)
	if err != nil {
		return nil, err
	}
	u, err := p.CreateUser(c.Context(), sd.User, ci)
	if err != nil {
		return nil, err
	}
	return userAnswer{u}, nil
}

func (p *Plugin) handleUpdateUser(c *plugin.Context) (any, error) {
	in := bodyOf(c)
	id, _ := in.coerced("userId", false)
	data, _ := in.record("data", false)
	if err := in.err(); err != nil {
		return nil, err
	}
	sd, err := actor(c)
	if err != nil {
		return nil, err
	}
	return p.UpdateUser(c.Context(), sd.User, id, data)
}

func (p *Plugin) handleSetRole(c *plugin.Context) (any, error) {
	in := bodyOf(c)
	id, _ := in.coerced("userId", false)
	roles, _ := in.roles("role", false)
	if err := in.err(); err != nil {
		return nil, err
	}
	sd, err := actor(c)
	if err != nil {
		return nil, err
	}
	u, err := p.SetRole(c.Context(), sd.User, id, roles)
	if err != nil {
		return nil, err
	}
	return userAnswer{u}, nil
}

// maxBanSeconds bounds banExpiresIn so that the end of a ban is a date
// every database stores (about 285 years).
const maxBanSeconds = 9e9

func (p *Plugin) handleBanUser(c *plugin.Context) (any, error) {
	in := bodyOf(c)
	id, _ := in.coerced("userId", false)
	reason, _ := in.str("banReason", true)
	secs, _ := in.number("banExpiresIn")
	if math.Abs(secs) > maxBanSeconds {
		in.bad("banExpiresIn", "Too big: expected number to be <="+strconv.FormatFloat(maxBanSeconds, 'f', -1, 64))
	}
	if err := in.err(); err != nil {
		return nil, err
	}
	sd, err := actor(c)
	if err != nil {
		return nil, err
	}
	u, err := p.BanUser(c.Context(), sd.User, id, BanInput{Reason: reason, ExpiresIn: time.Duration(secs * float64(time.Second))})
	if err != nil {
		return nil, err
	}
	return userAnswer{u}, nil
}

// userIDRoute reads {userId} and the session.
func userIDRoute(c *plugin.Context) (*plugin.SessionData, string, error) {
	in := bodyOf(c)
	id, _ := in.coerced("userId", false)
	if err := in.err(); err != nil {
		return nil, "", err
	}
	sd, err := actor(c)
	return sd, id, err
}

func (p *Plugin) handleUnbanUser(c *plugin.Context) (any, error) {
	sd, id, err := userIDRoute(c)
	if err != nil {
		return nil, err
	}
	u, err := p.UnbanUser(c.Context(), sd.User, id)
	if err != nil {
		return nil, err
	}
	return userAnswer{u}, nil
}

func (p *Plugin) handleListUserSessions(c *plugin.Context) (any, error) {
	sd, id, err := userIDRoute(c)
	if err != nil {
		return nil, err
	}
	list, err := p.ListUserSessions(c.Context(), sd.User, id)
	if err != nil {
		return nil, err
	}
	return struct {
		Sessions []*plugin.Session `json:"sessions"`
	}{list}, nil
}

func (p *Plugin) handleRevokeUserSession(c *plugin.Context) (any, error) {
	in := bodyOf(c)
	token, _ := in.str("sessionToken", false)
	if err := in.err(); err != nil {
		return nil, err
	}
	sd, err := actor(c)
	if err != nil {
		return nil, err
	}
	if err := p.RevokeUserSession(c.Context(), sd.User, token); err != nil {
		return nil, err
	}
	return successAnswer{true}, nil
}

func (p *Plugin) handleRevokeUserSessions(c *plugin.Context) (any, error) {
	sd, id, err := userIDRoute(c)
	if err != nil {
		return nil, err
	}
	if err := p.RevokeUserSessions(c.Context(), sd.User, id); err != nil {
		return nil, err
	}
	return successAnswer{true}, nil
}

func (p *Plugin) handleRemoveUser(c *plugin.Context) (any, error) {
	sd, id, err := userIDRoute(c)
	if err != nil {
		return nil, err
	}
	if err := p.RemoveUser(c.Context(), sd.User, id); err != nil {
		return nil, err
	}
	return successAnswer{true}, nil
}

func (p *Plugin) handleSetUserPassword(c *plugin.Context) (any, error) {
	in := bodyOf(c)
	pw, ok := in.str("newPassword", false)
	if ok && pw == "" {
		in.bad("newPassword", "newPassword cannot be empty")
	}
	id, ok := in.coerced("userId", false)
	if ok && id == "" {
		in.bad("userId", "userId cannot be empty")
	}
	if err := in.err(); err != nil {
		return nil, err
	}
	sd, err := actor(c)
	if err != nil {
		return nil, err
	}
	if err := p.SetUserPassword(c.Context(), sd.User, id, pw); err != nil {
		return nil, err
	}
	return struct {
		Status bool `json:"status"`
	}{true}, nil
}

func (p *Plugin) handleImpersonate(c *plugin.Context) (any, error) {
	sd, id, err := userIDRoute(c)
	if err != nil {
		return nil, err
	}
	res, err := p.Impersonate(c.Context(), sd, id)
	if err != nil {
		return nil, err
	}
	c.SignedIn(res)
	return sessionAnswer{res.Session, res.User}, nil
}

func (p *Plugin) handleStopImpersonating(c *plugin.Context) (any, error) {
	sd, err := actor(c)
	if err != nil {
		return nil, err
	}
	res, err := p.StopImpersonating(c.Context(), sd)
	if err != nil {
		return nil, err
	}
	c.SignedIn(res)
	return sessionAnswer{res.Session, res.User}, nil
}

// permissionsOf reads z.record(z.string(), z.array(z.string())).
func permissionsOf(v any) (Statements, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	out := make(Statements, len(m))
	for res, acts := range m {
		list, ok := acts.([]any)
		if !ok {
			return nil, false
		}
		out[res] = make([]string, len(list))
		for i, a := range list {
			if out[res][i], ok = a.(string); !ok {
				return nil, false
			}
		}
	}
	return out, true
}

func (p *Plugin) handleHasPermission(c *plugin.Context) (any, error) {
	in := bodyOf(c)
	in.coerced("userId", true)
	in.str("role", true)
	var perms Statements
	if in.body != nil {
		_, oneOK := permissionsOf(in.body["permission"])
		many, manyOK := permissionsOf(in.body["permissions"])
		if oneOK == manyOK { // z.xor: exactly one of the two shapes
			in.issues = append(in.issues, "[body] Invalid input")
		}
		if manyOK {
			perms = many
		}
	}
	if err := in.err(); err != nil {
		return nil, err
	}
	if perms == nil {
		return nil, errNoPermissions()
	}
	sd, err := actor(c)
	if err != nil {
		return nil, err
	}
	return struct {
		Error   *string `json:"error"`
		Success bool    `json:"success"`
	}{nil, p.HasPermission(sd.User, perms)}, nil
}

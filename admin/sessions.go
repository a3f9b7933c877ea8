package admin

import (
	"context"
	"net/http"
	"strings"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

var coreSessionFields = map[string]bool{"id": true, "token": true, "userId": true, "expiresAt": true,
	"createdAt": true, "updatedAt": true, "ipAddress": true, "userAgent": true}

// sessionFromRecord reads a row of the session table as the core does.
func sessionFromRecord(r storage.Record) *plugin.Session {
	s := &plugin.Session{ID: r.String("id"), Token: r.String("token"), UserID: r.String("userId"),
		ExpiresAt: r.Time("expiresAt"), CreatedAt: r.Time("createdAt"), UpdatedAt: r.Time("updatedAt"),
		IPAddress: r.StringPtr("ipAddress"), UserAgent: r.StringPtr("userAgent")}
	for k, v := range r {
		if coreSessionFields[k] {
			continue
		}
		if s.Extra == nil {
			s.Extra = map[string]any{}
		}
		s.Extra[k] = v
	}
	return s
}

// ImpersonatedBy returns the id of the admin who opened s as its user,
// or "" when s is the user's own session.
func ImpersonatedBy(s *plugin.Session) string {
	if s == nil {
		return ""
	}
	by, _ := s.Extra[FieldImpersonatedBy].(string)
	return by
}

// ListUserSessions returns the user's unexpired sessions, impersonation
// sessions included, oldest first (POST /admin/list-user-sessions). by is
// the acting user, whose permissions are checked (session:list); nil is a
// trusted caller.
func (p *Plugin) ListUserSessions(ctx context.Context, by *plugin.User, userID string) ([]*plugin.Session, error) {
	if err := p.can(by, "session", "list", ErrNotAllowedToListUsersSessions); err != nil {
		return nil, err
	}
	recs, err := p.h.DB().FindMany(ctx, plugin.TableSession, storage.Query{Where: []storage.Where{
		storage.W("userId", userID), {Field: "expiresAt", Op: storage.Gt, Value: p.h.Now()},
	}, Sort: []storage.Sort{{Field: "createdAt"}, {Field: "id"}}})
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	out := make([]*plugin.Session, len(recs))
	for i, r := range recs {
		out[i] = sessionFromRecord(r)
	}
	return out, nil
}

// RevokeUserSession ends the session with the token, whoever's it is (an
// unknown token is no error) (POST /admin/revoke-user-session). by is the
// acting user, whose permissions are checked (session:revoke); nil is a
// trusted caller.
func (p *Plugin) RevokeUserSession(ctx context.Context, by *plugin.User, token string) error {
	if err := p.can(by, "session", "revoke", ErrNotAllowedToRevokeUsersSessions); err != nil {
		return err
	}
	if _, err := p.h.DB().Delete(ctx, plugin.TableSession, storage.W("token", token)); err != nil {
		return plugin.StorageError(err)
	}
	return nil
}

// RevokeUserSessions ends every session of the user (POST
// /admin/revoke-user-sessions). by is the acting user, whose permissions
// are checked (session:revoke); nil is a trusted caller.
func (p *Plugin) RevokeUserSessions(ctx context.Context, by *plugin.User, userID string) error {
	if err := p.can(by, "session", "revoke", ErrNotAllowedToRevokeUsersSessions); err != nil {
		return err
	}
	if _, err := p.h.DB().Delete(ctx, plugin.TableSession, storage.W("userId", userID)); err != nil {
		return plugin.StorageError(err)
	}
	return nil
}

// Impersonate signs the admin of session admin in as the user (POST
// /admin/impersonate-user): it creates a session of the user that
// records the admin (impersonatedBy) and lasts
// Options.ImpersonationSessionDuration, through the host's session hooks
// (a banned user is refused). The result's cookies end the request's
// session cookies, keep the admin's session token in the signed
// admin_session cookie and carry the new session for the browser session
// only. Admins cannot be impersonated unless AllowImpersonatingAdmins or
// the admin has user:impersonate-admins, and an impersonation session
// cannot impersonate anyone. The HTTP request, if any, is read from ctx
// (plugin.RequestInfo).
func (p *Plugin) Impersonate(ctx context.Context, admin *plugin.SessionData, userID string) (*plugin.AuthResult, error) {
	if admin == nil || admin.User == nil || admin.Session == nil {
		return nil, errUnauthorized()
	}
	if err := p.can(admin.User, "user", "impersonate", ErrNotAllowedToImpersonateUsers); err != nil {
		return nil, err
	}
	if ImpersonatedBy(admin.Session) != "" {
		// Better Auth answers so when the impersonated user may not
		// impersonate; an impersonated admin may not either here, so
		// that the admin_session cookie always holds the admin's own
		// session.
		return nil, ErrNotAllowedToImpersonateUsers
	}
	target, err := p.findUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	if p.IsAdmin(target) && !p.opts.AllowImpersonatingAdmins &&
		!p.HasPermission(admin.User, Statements{"user": {"impersonate-admins"}}) {
		return nil, ErrYouCannotImpersonateAdmins
	}
	imp := &impersonation{adminID: admin.User.ID, targetID: target.ID,
		expiresAt: p.h.Now().Add(p.opts.ImpersonationSessionDuration).UTC().Truncate(1e6)}
	res, err := p.h.CreateSession(context.WithValue(ctx, impersonationKey{}, imp), target, false)
	if err != nil {
		return nil, err
	}
	r := plugin.RequestInfoFrom(ctx).Request
	var cookies []*http.Cookie
	dontRemember := ""
	if r != nil {
		cookies = append(cookies, p.h.ExpiredSessionCookies(r)...)
		dontRemember, _ = p.h.ReadSignedCookie(r, plugin.CookieDontRemember)
	}
	maxAge := int(p.h.Settings().SessionExpiresIn.Seconds())
	cookies = append(cookies, p.h.SignedCookie(CookieAdminSession, admin.Session.Token+":"+dontRemember, maxAge))
	res.Cookies = append(cookies, res.Cookies...)
	return res, nil
}

// StopImpersonating ends the impersonation session sd and returns the
// admin's session, whose token the admin_session cookie of the request
// in ctx holds (POST /admin/stop-impersonating), with the cookies that
// restore it. It succeeds once per impersonation session, whatever the
// races.
func (p *Plugin) StopImpersonating(ctx context.Context, sd *plugin.SessionData) (*plugin.AuthResult, error) {
	if sd == nil || sd.Session == nil {
		return nil, errUnauthorized()
	}
	adminID := ImpersonatedBy(sd.Session)
	if adminID == "" {
		return nil, errNotImpersonating()
	}
	adminUser, err := p.h.FindUserByID(ctx, adminID)
	if err != nil {
		if isUserNotFound(err) {
			return nil, errAdminNotFound()
		}
		return nil, err
	}
	r := plugin.RequestInfoFrom(ctx).Request
	if r == nil {
		return nil, errAdminSessionNotFound()
	}
	value, ok := p.h.ReadSignedCookie(r, CookieAdminSession)
	if !ok {
		return nil, errAdminSessionNotFound()
	}
	token, dontRemember, _ := strings.Cut(value, ":")
	adminSession, err := p.h.GetSession(ctx, token)
	if err != nil || adminSession.Session.UserID != adminUser.ID {
		return nil, errAdminSessionNotFound()
	}
	n, err := p.h.DB().Delete(ctx, plugin.TableSession, storage.W("token", sd.Session.Token))
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	if n == 0 { // stopped (or revoked) meanwhile
		return nil, errUnauthorized()
	}
	cookies := p.h.SessionCookies(r, adminSession, dontRemember != "")
	if dontRemember == "" {
		cookies = append(cookies, p.h.NewCookie(plugin.CookieDontRemember, "", -1))
	}
	cookies = append(cookies, p.h.NewCookie(CookieAdminSession, "", -1))
	return &plugin.AuthResult{User: adminSession.User, Session: adminSession.Session, Cookies: cookies}, nil
}

// errUnauthorized is the core's 401 UNAUTHORIZED, which the admin routes
// answer with an empty body, as Better Auth does.
func errUnauthorized() *plugin.Error {
	return plugin.NewError(http.StatusUnauthorized, "UNAUTHORIZED", "Unauthorized")
}

package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/managarten/mana-auth/admin"
	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// Tables and fields the service adds to the SDK's schema.
const (
	TableSecurityEvent = "securityEvent"
	TableLoginAttempt  = "loginAttempt"
	TableCreditsSync   = "creditsSync"
)

// Roles and access tiers of mana users.
const (
	RoleUser  = "user"
	RoleAdmin = "admin"
)

// Tiers are the access tiers, lowest first. New users get "public".
var Tiers = []string{"guest", "public", "beta", "alpha", "founder"}

// DefaultTier is the tier of a new user.
const DefaultTier = "public"

// ValidTier reports whether t is one of Tiers.
func ValidTier(t string) bool { return slices.Contains(Tiers, t) }

// manaPlugin is the service's own plugin: user role and access tier, the
// security log, login attempts (lockout) and the credits bookkeeping.
type manaPlugin struct {
	admins []string
	a      plugin.Host
	sec    *securityLog // set once the server has its log
	srv    *Server      // set once the server is assembled
}

// securityPaths are the SDK routes whose success goes to the security log.
var securityPaths = map[string]string{
	"/sign-in/email":                    EventLoginSuccess,
	"/sign-in/username":                 EventLoginSuccess,
	"/sign-in/email-otp":                EventLoginSuccess,
	"/email-otp/reset-password":         EventPasswordResetCompleted,
	"/magic-link/verify":                EventLoginSuccess,
	"/passkey/verify-authentication":    EventLoginSuccess,
	"/two-factor/verify-totp":           EventLoginSuccess,
	"/two-factor/verify-otp":            EventLoginSuccess,
	"/two-factor/verify-backup-code":    EventLoginSuccess,
	"/change-password":                  EventPasswordChanged,
	"/reset-password":                   EventPasswordResetCompleted,
	"/change-email":                     EventEmailChangeRequested,
	"/update-user":                      EventProfileUpdated,
	"/two-factor/enable":                EventTwoFactorChanged,
	"/two-factor/disable":               EventTwoFactorChanged,
	"/two-factor/generate-backup-codes": EventTwoFactorChanged,
	"/passkey/verify-registration":      EventTwoFactorChanged,
	"/passkey/delete-passkey":           EventTwoFactorChanged,
}

func (p *manaPlugin) ID() string { return "mana" }

// startedSession reports whether the answer of c sets a new session
// cookie (a sign-in happened, c.Session is its session).
func (p *manaPlugin) startedSession(c *plugin.Context) bool {
	name := p.a.CookieName(plugin.CookieSessionToken)
	for _, ck := range c.Cookies() {
		if ck.Name == name && ck.Value != "" && ck.MaxAge >= 0 {
			return c.Session() != nil
		}
	}
	return false
}

func (p *manaPlugin) Init(a plugin.Host) error { p.a = a; return nil }

func (p *manaPlugin) Schema() storage.Schema {
	S, B, D := storage.String, storage.Bool, storage.Date
	userRef := &storage.Reference{Table: plugin.TableUser, Field: "id", OnDelete: storage.Cascade}
	return storage.Schema{Tables: []storage.Table{
		{Name: plugin.TableUser, Fields: []storage.Field{
			{Name: "role", Type: S},
			{Name: "accessTier", Type: S},
		}},
		{Name: TableSecurityEvent, Fields: []storage.Field{
			{Name: "userId", Type: S, Index: true, References: userRef},
			{Name: "eventType", Type: S, Required: true, Index: true},
			{Name: "ipAddress", Type: S},
			{Name: "userAgent", Type: S},
			{Name: "metadata", Type: S},
			{Name: "createdAt", Type: D, Required: true, Index: true},
		}},
		{Name: TableLoginAttempt, Fields: []storage.Field{
			{Name: "email", Type: S, Required: true, Index: true},
			{Name: "ipAddress", Type: S},
			{Name: "successful", Type: B, Required: true},
			{Name: "attemptedAt", Type: D, Required: true, Index: true},
		}},
		{Name: TableCreditsSync, Fields: []storage.Field{
			{Name: "userId", Type: S, Required: true, Unique: true, References: userRef},
			{Name: "email", Type: S, Required: true},
			{Name: "initializedAt", Type: D},
			{Name: "giftsRedeemedAt", Type: D},
			{Name: "attempts", Type: storage.Int, Required: true},
			{Name: "nextAttemptAt", Type: D, Required: true, Index: true},
			{Name: "lastError", Type: S},
			{Name: "createdAt", Type: D, Required: true},
		}},
	}}
}

func (p *manaPlugin) Hooks() plugin.Hooks {
	return plugin.Hooks{
		// Sign-out ends the session before after-hooks run, so the user of
		// a LOGOUT event is read here; a sign-out without a session
		// ends nothing and is not logged.
		Before: []plugin.Hook{{
			Match: func(c *plugin.Context) bool { return c.Path() == "/sign-out" && p.sec != nil },
			Handler: func(c *plugin.Context) error {
				if sd := c.Session(); sd != nil {
					p.sec.record(c.Context(), eventFor(c.Context(), EventLogout, sd.User.ID, map[string]any{"route": c.Path()}))
				}
				return nil
			},
		}},
		After: []plugin.Hook{{
			// A social sign-in (an OAuth callback, an ID-token sign-in)
			// is logged when it set a session cookie: its routes also
			// answer flows that end in an error or a link.
			Match: func(c *plugin.Context) bool {
				return p.sec != nil && (strings.HasPrefix(c.Path(), "/callback/") || c.Path() == "/sign-in/social") && p.startedSession(c)
			},
			Handler: func(c *plugin.Context) error {
				p.sec.record(c.Context(), eventFor(c.Context(), EventLoginSuccess, c.Session().User.ID, map[string]any{"route": c.Path()}))
				return nil
			},
		}, {
			Match: func(c *plugin.Context) bool { _, ok := securityPaths[c.Path()]; return ok && p.sec != nil },
			Handler: func(c *plugin.Context) error {
				ev := securityPaths[c.Path()]
				uid := ""
				if sd := c.Session(); sd != nil {
					uid = sd.User.ID
				}
				meta := map[string]any{"route": c.Path()}
				if ev == EventLoginSuccess && uid == "" {
					return nil // answered without a session (e.g. a second factor is due)
				}
				p.sec.record(c.Context(), eventFor(c.Context(), ev, uid, meta))
				return nil
			},
		}},
		// Every way in (the v1 and SDK sign-up routes, magic links,
		// passkeys) gets the same side effects: the daily cap, the
		// credits outbox row in the user's own transaction (so a user can
		// never miss it), the REGISTER event and a first credits attempt.
		UserCreateTx: func(ctx context.Context, tx storage.Adapter, u *auth.User) error {
			if p.srv == nil || p.srv.credits == nil {
				return nil
			}
			now := p.a.Now()
			return tx.Create(ctx, TableCreditsSync, storage.Record{"id": plugin.NewID(), "userId": u.ID,
				"email": u.Email, "attempts": int64(0), "nextAttemptAt": now, "createdAt": now})
		},
		AfterUserCreate: func(ctx context.Context, u *auth.User) error {
			if p.srv == nil {
				return nil
			}
			p.srv.sec.record(ctx, eventFor(ctx, EventRegister, u.ID, nil))
			if w := p.srv.credits; w != nil {
				go w.attempt(context.WithoutCancel(ctx), u.ID)
			}
			return nil
		},
		// The lockout guards every password check, whatever the route:
		// sign-ins, and the confirmations of a signed-in user's password.
		PasswordCheck: func(ctx context.Context, email string) (func(error), error) {
			if p.srv == nil || p.srv.lock == nil {
				return nil, nil
			}
			return p.srv.guardSignIn(ctx, email)
		},
		EmailVerified: func(ctx context.Context, u *auth.User) error {
			if !p.isAdminEmail(u.Email) {
				return nil
			}
			_, err := p.a.DB().Update(ctx, plugin.TableUser, storage.Record{"role": RoleAdmin}, storage.W("id", u.ID))
			if err != nil {
				return err
			}
			if u.Extra == nil {
				u.Extra = map[string]any{}
			}
			u.Extra["role"] = RoleAdmin
			return nil
		},
		BeforeUserCreate: func(ctx context.Context, u *auth.User) error {
			if p.srv != nil && p.srv.cfg.MaxDailySignups > 0 {
				if n, _ := p.srv.signupsToday(ctx); n >= p.srv.cfg.MaxDailySignups {
					return errSignupLimit
				}
			}
			if u.Extra == nil {
				u.Extra = map[string]any{}
			}
			// MANA_ADMIN_EMAILS grants admin to verified addresses only
			// (a magic-link sign-up is one); an unverified sign-up gets it
			// when its owner verifies the address (EmailVerified), so
			// whoever signs up with an admin's address first gets nothing.
			u.Extra["role"] = RoleUser
			if u.EmailVerified && p.isAdminEmail(u.Email) {
				u.Extra["role"] = RoleAdmin
			}
			if _, ok := u.Extra["accessTier"]; !ok {
				u.Extra["accessTier"] = DefaultTier
			}
			return nil
		},
	}
}

// isAdmin reports whether u holds the admin role: role admin on a
// verified address. The role is never granted to an unverified address;
// the check here also keeps one granted otherwise (an older database, a
// direct write) from being used.
func isAdmin(u *auth.User) bool { return u != nil && u.EmailVerified && userRole(u) == RoleAdmin }

// mayAdminister reports whether u may use the /api/v1/admin routes for
// what perms asks: a verified address whose roles grant it, by the admin
// plugin's access control — the check of its /api/auth/admin/* routes —
// or, with that plugin off, role admin.
func (s *Server) mayAdminister(u *auth.User, perms admin.Statements) bool {
	if u == nil || !u.EmailVerified {
		return false
	}
	if s.admin != nil {
		return s.admin.HasPermission(u, perms)
	}
	return userRole(u) == RoleAdmin
}

// isAdminEmail reports whether email is one of MANA_ADMIN_EMAILS.
func (p *manaPlugin) isAdminEmail(email string) bool {
	return slices.Contains(p.admins, plugin.NormalizeEmail(email))
}

// ExportUser implements plugin.DataSource: the user's security events.
func (p *manaPlugin) ExportUser(ctx context.Context, userID string) (any, error) {
	recs, err := p.a.DB().FindMany(ctx, TableSecurityEvent, storage.Query{
		Where: []storage.Where{storage.W("userId", userID)},
		Sort:  []storage.Sort{{Field: "createdAt", Desc: true}}, Limit: 200,
	})
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	events := make([]map[string]any, 0, len(recs))
	for _, r := range recs {
		events = append(events, map[string]any{"eventType": r.String("eventType"), "ipAddress": r["ipAddress"], "createdAt": r.Time("createdAt")})
	}
	return map[string]any{"securityEvents": events}, nil
}

// DeleteUser implements plugin.DataSource.
func (p *manaPlugin) DeleteUser(ctx context.Context, userID string) error {
	db := p.a.DB()
	for _, t := range []string{TableSecurityEvent, TableCreditsSync} {
		if _, err := db.Delete(ctx, t, storage.W("userId", userID)); err != nil {
			return plugin.StorageError(err)
		}
	}
	return nil
}

// userRole returns the role of u ("user" when unset).
func userRole(u *auth.User) string {
	if r, ok := u.Extra["role"].(string); ok && r != "" {
		return r
	}
	return RoleUser
}

func userTier(u *auth.User) string {
	if t, ok := u.Extra["accessTier"].(string); ok && t != "" {
		return t
	}
	return DefaultTier
}

// Security event types.
const (
	EventRegister               = "REGISTER"
	EventLoginSuccess           = "LOGIN_SUCCESS"
	EventLoginFailure           = "LOGIN_FAILURE"
	EventAccountLocked          = "ACCOUNT_LOCKED"
	EventLogout                 = "LOGOUT"
	EventPasswordResetRequested = "PASSWORD_RESET_REQUESTED"
	EventPasswordResetCompleted = "PASSWORD_RESET_COMPLETED"
	EventPasswordChanged        = "PASSWORD_CHANGED"
	EventProfileUpdated         = "PROFILE_UPDATED"
	EventEmailChangeRequested   = "EMAIL_CHANGE_REQUESTED"
	EventAccountDeleted         = "ACCOUNT_DELETED"
	EventTwoFactorChanged       = "TWO_FACTOR_CHANGED"
	EventVaultKeyRead           = "VAULT_KEY_READ"
	EventAdminAction            = "ADMIN_ACTION"
	EventServiceError           = "SERVICE_ERROR"
)

// securityLog writes the security log. A failure to log never fails the
// request that caused it: it is logged and dropped.
type securityLog struct {
	db  storage.Adapter
	log *slog.Logger
	now func() time.Time
}

type securityEvent struct {
	Type      string
	UserID    string
	IP        string
	UserAgent string
	Metadata  map[string]any
}

func (l *securityLog) record(ctx context.Context, e securityEvent) {
	rec := storage.Record{"id": plugin.NewID(), "eventType": e.Type, "createdAt": l.now().UTC()}
	if e.UserID != "" {
		rec["userId"] = e.UserID
	}
	if e.IP != "" {
		rec["ipAddress"] = e.IP
	}
	if e.UserAgent != "" {
		rec["userAgent"] = e.UserAgent
	}
	if len(e.Metadata) > 0 {
		b, _ := json.Marshal(e.Metadata)
		rec["metadata"] = string(b)
	}
	if err := l.db.Create(context.WithoutCancel(ctx), TableSecurityEvent, rec); err != nil {
		l.log.WarnContext(ctx, "security log: write failed", "event", e.Type, "err", err)
	}
}

// eventFor fills IP and user agent from the request context.
func eventFor(ctx context.Context, typ, userID string, meta map[string]any) securityEvent {
	info := plugin.RequestInfoFrom(ctx)
	return securityEvent{Type: typ, UserID: userID, IP: info.IP, UserAgent: info.UserAgent, Metadata: meta}
}

// lockout is the login lockout (mana-v1 §8.6): 5 failed password
// sign-ins for an email within 15 minutes lock it until 30 minutes after
// the newest of them. It guards every email and password sign-in — POST
// /api/auth/sign-in/email, POST /api/v1/auth/login and Go calls of
// SignInEmail alike — as the mana plugin's PasswordCheck hook
// (Server.guardSignIn), so all of them share one count per email and a
// locked email is refused before any password is hashed.
//
// Only wrong passwords count, and an unknown email is one too (the SDK
// answers both alike), so the lockout tells nothing about which emails
// exist. A right password clears the email's count, also when a second
// factor is still due; wrong second factors are not counted here, the
// two-factor plugin bounds them itself (5 per pending sign-in, and 10 in a
// row lock the factor).
//
// Races: a sign-in reserves its attempt — writes its failure row — before
// the password is checked, then counts the window's rows and goes on only
// while they are within the limit; the row is dropped again when the
// password was right or the check did not run. Each statement commits on
// its own, so the n-th reservation counts at least n rows: however many
// sign-ins for one email race, on however many instances, at most
// `failures` password checks run for it within a window, and the racers
// beyond them are refused as locked. (A success clears the rows of
// attempts still in flight too: their failures then go uncounted.)
// Store errors fail open, as upstream: the sign-in goes on.
type lockout struct {
	db       storage.Adapter
	log      *slog.Logger
	now      func() time.Time
	failures int
	window   time.Duration
	lockFor  time.Duration
}

// begin runs before a password is checked. It returns how long the email
// stays locked (then the sign-in is to be refused), or else the function
// to call with the sign-in's outcome (plugin.Hooks.PasswordCheck).
func (l *lockout) begin(ctx context.Context, email string) (time.Duration, func(error)) {
	now := l.now()
	if rest := l.locked(ctx, email, now); rest > 0 {
		return rest, nil
	}
	id := plugin.NewID()
	err := l.db.Create(context.WithoutCancel(ctx), TableLoginAttempt, storage.Record{"id": id, "email": email,
		"ipAddress": plugin.RequestInfoFrom(ctx).IP, "successful": false, "attemptedAt": now.UTC()})
	if err != nil {
		l.log.WarnContext(ctx, "lockout: write failed", "err", err)
		id = "" // counted afterwards, if the write then works
	} else {
		n, err := l.db.Count(ctx, TableLoginAttempt, storage.W("email", email), storage.W("successful", false),
			storage.Where{Field: "attemptedAt", Op: storage.Gt, Value: now.Add(-l.window)})
		if err != nil {
			l.log.WarnContext(ctx, "lockout: count failed (failing open)", "err", err)
		} else if n > int64(l.failures) {
			l.drop(ctx, id) // a racer beyond the limit
			return l.lockFor, nil
		}
	}
	return 0, func(err error) { l.end(ctx, email, id, err) }
}

// end settles the attempt reserved as row id ("" if none could be
// written) by the sign-in's outcome.
func (l *lockout) end(ctx context.Context, email, id string, err error) {
	var intr *plugin.Interruption
	switch {
	case errors.Is(err, auth.ErrInvalidEmailOrPassword), errors.Is(err, auth.ErrInvalidPassword):
		if id == "" {
			l.fail(ctx, email, plugin.RequestInfoFrom(ctx).IP)
		} // else the reserved row is the failure
	case err == nil || errors.As(err, &intr): // the password was right
		l.succeed(ctx, email)
	case id != "": // no verdict on the password (unverified email, busy, …)
		l.drop(ctx, id)
	}
}

// locked returns how long the email stays locked at now (0 if it is not):
// until lockFor after the newest of `failures` failures that lie within
// one window. Store errors fail open.
func (l *lockout) locked(ctx context.Context, email string, now time.Time) time.Duration {
	recs, err := l.db.FindMany(ctx, TableLoginAttempt, storage.Query{
		Where: []storage.Where{storage.W("email", email), storage.W("successful", false),
			{Field: "attemptedAt", Op: storage.Gt, Value: now.Add(-l.window - l.lockFor)}},
		Sort: []storage.Sort{{Field: "attemptedAt", Desc: true}},
		// Enough to find the newest lock: unlocked, a window holds fewer
		// than `failures` rows (the reservations see to that).
		Limit: 4 * l.failures,
	})
	if err != nil {
		l.log.WarnContext(ctx, "lockout: read failed (failing open)", "err", err)
		return 0
	}
	for i := 0; i+l.failures <= len(recs); i++ {
		newest := recs[i].Time("attemptedAt")
		rest := newest.Add(l.lockFor).Sub(now)
		if rest <= 0 {
			break // older failures lock no longer
		}
		if newest.Sub(recs[i+l.failures-1].Time("attemptedAt")) < l.window {
			return rest
		}
	}
	return 0
}

func (l *lockout) fail(ctx context.Context, email, ip string) {
	err := l.db.Create(context.WithoutCancel(ctx), TableLoginAttempt, storage.Record{"id": plugin.NewID(), "email": email,
		"ipAddress": ip, "successful": false, "attemptedAt": l.now().UTC()})
	if err != nil {
		l.log.WarnContext(ctx, "lockout: write failed", "err", err)
	}
}

// prune deletes the attempts too old to matter: no lock reads a failure
// older than window + lockFor. Without it, guesses at emails that never
// succeed would pile up rows for ever. Server.maintain runs it.
func (l *lockout) prune(ctx context.Context) {
	cutoff := l.now().Add(-l.window - l.lockFor)
	if _, err := l.db.Delete(ctx, TableLoginAttempt, storage.Where{Field: "attemptedAt", Op: storage.Lt, Value: cutoff}); err != nil {
		l.log.WarnContext(ctx, "lockout: pruning old attempts failed", "err", err)
	}
}

func (l *lockout) drop(ctx context.Context, id string) {
	if _, err := l.db.Delete(context.WithoutCancel(ctx), TableLoginAttempt, storage.W("id", id)); err != nil {
		l.log.WarnContext(ctx, "lockout: dropping an attempt failed", "err", err)
	}
}

func (l *lockout) succeed(ctx context.Context, email string) {
	if _, err := l.db.Delete(context.WithoutCancel(ctx), TableLoginAttempt, storage.W("email", email)); err != nil {
		l.log.WarnContext(ctx, "lockout: clear failed", "err", err)
	}
}

// errAccountLocked refuses a sign-in for a locked email: on /api/auth as
// Better Auth errors are ({"message","code"}, with Retry-After), on
// /api/v1/auth in the envelope with retryAfterSec.
var errAccountLocked = plugin.NewError(http.StatusTooManyRequests, "ACCOUNT_LOCKED", "Account temporarily locked")

// guardSignIn is the mana plugin's PasswordCheck hook: the lockout, with
// an ACCOUNT_LOCKED event for each refusal. It guards every check of a
// password: sign-ins and the confirmations of a signed-in user's password
// (verify-password, delete-user, change-password, two-factor, the v1
// account deletion) share one count per email, so a stolen session cannot
// guess the password without limit.
func (s *Server) guardSignIn(ctx context.Context, email string) (func(error), error) {
	noteSignIn(ctx, email)
	rest, done := s.lock.begin(ctx, email)
	if rest > 0 {
		s.sec.record(ctx, eventFor(ctx, EventAccountLocked, "", map[string]any{"email": email}))
		s.metrics.signIn("locked")
		return nil, errAccountLocked.WithRetryAfter(rest)
	}
	return done, nil
}

func retrySeconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }

var errSignupLimit = plugin.NewError(http.StatusTooManyRequests, "SIGNUP_LIMIT_REACHED",
	"Das tägliche Registrierungslimit ist erreicht. Versuche es morgen wieder.")

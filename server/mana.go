package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/managarten/mana-auth/auth"
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
	a      *auth.Auth
	sec    *securityLog // set once the server has its log
	srv    *Server      // set once the server is assembled
}

// securityPaths are the SDK routes whose success goes to the security log.
var securityPaths = map[string]string{
	"/sign-in/email":                    EventLoginSuccess,
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

func (p *manaPlugin) Init(a *auth.Auth) error { p.a = a; return nil }

func (p *manaPlugin) Schema() storage.Schema {
	S, B, D := storage.String, storage.Bool, storage.Date
	userRef := &storage.Reference{Table: auth.TableUser, Field: "id", OnDelete: storage.Cascade}
	return storage.Schema{Tables: []storage.Table{
		{Name: auth.TableUser, Fields: []storage.Field{
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
			{Name: "attemptedAt", Type: D, Required: true},
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

func (p *manaPlugin) Hooks() auth.Hooks {
	return auth.Hooks{
		// Sign-out ends the session before after-hooks run, so the user of
		// a LOGOUT event is read here; a sign-out without a session
		// ends nothing and is not logged.
		Before: []auth.Hook{{
			Match: func(c *auth.Context) bool { return c.Path() == "/sign-out" && p.sec != nil },
			Handler: func(c *auth.Context) error {
				if sd := c.Session(); sd != nil {
					p.sec.record(c.Context(), eventFor(c.Context(), EventLogout, sd.User.ID, map[string]any{"route": c.Path()}))
				}
				return nil
			},
		}},
		After: []auth.Hook{{
			Match: func(c *auth.Context) bool { _, ok := securityPaths[c.Path()]; return ok && p.sec != nil },
			Handler: func(c *auth.Context) error {
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
			return tx.Create(ctx, TableCreditsSync, storage.Record{"id": auth.NewID(), "userId": u.ID,
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
		BeforeUserCreate: func(ctx context.Context, u *auth.User) error {
			if p.srv != nil && p.srv.cfg.MaxDailySignups > 0 {
				if n, _ := p.srv.signupsToday(ctx); n >= p.srv.cfg.MaxDailySignups {
					return errSignupLimit
				}
			}
			if u.Extra == nil {
				u.Extra = map[string]any{}
			}
			u.Extra["role"] = RoleUser
			if slices.Contains(p.admins, auth.NormalizeEmail(u.Email)) {
				u.Extra["role"] = RoleAdmin
			}
			if _, ok := u.Extra["accessTier"]; !ok {
				u.Extra["accessTier"] = DefaultTier
			}
			return nil
		},
	}
}

// ExportUser implements auth.DataSource: the user's security events.
func (p *manaPlugin) ExportUser(ctx context.Context, userID string) (any, error) {
	recs, err := p.a.DB().FindMany(ctx, TableSecurityEvent, storage.Query{
		Where: []storage.Where{storage.W("userId", userID)},
		Sort:  []storage.Sort{{Field: "createdAt", Desc: true}}, Limit: 200,
	})
	if err != nil {
		return nil, auth.StorageError(err)
	}
	events := make([]map[string]any, 0, len(recs))
	for _, r := range recs {
		events = append(events, map[string]any{"eventType": r.String("eventType"), "ipAddress": r["ipAddress"], "createdAt": r.Time("createdAt")})
	}
	return map[string]any{"securityEvents": events}, nil
}

// DeleteUser implements auth.DataSource.
func (p *manaPlugin) DeleteUser(ctx context.Context, userID string) error {
	db := p.a.DB()
	for _, t := range []string{TableSecurityEvent, TableCreditsSync} {
		if _, err := db.Delete(ctx, t, storage.W("userId", userID)); err != nil {
			return auth.StorageError(err)
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
	rec := storage.Record{"id": auth.NewID(), "eventType": e.Type, "createdAt": l.now().UTC()}
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
	info := auth.RequestInfoFrom(ctx)
	return securityEvent{Type: typ, UserID: userID, IP: info.IP, UserAgent: info.UserAgent, Metadata: meta}
}

// lockout implements the login lockout: 5 failures for an email within 15
// minutes lock it until 30 minutes after the newest failure.
type lockout struct {
	db       storage.Adapter
	log      *slog.Logger
	now      func() time.Time
	failures int
	window   time.Duration
	lockFor  time.Duration
}

// locked returns how long the email stays locked (0 if it is not). Store
// errors fail open.
func (l *lockout) locked(ctx context.Context, email string) time.Duration {
	now := l.now()
	recs, err := l.db.FindMany(ctx, TableLoginAttempt, storage.Query{
		Where: []storage.Where{storage.W("email", email), storage.W("successful", false),
			{Field: "attemptedAt", Op: storage.Gt, Value: now.Add(-l.window)}},
		Sort: []storage.Sort{{Field: "attemptedAt", Desc: true}},
	})
	if err != nil {
		l.log.WarnContext(ctx, "lockout: read failed (failing open)", "err", err)
		return 0
	}
	if len(recs) < l.failures {
		return 0
	}
	until := recs[0].Time("attemptedAt").Add(l.lockFor)
	if rest := until.Sub(now); rest > 0 {
		return rest
	}
	return 0
}

func (l *lockout) fail(ctx context.Context, email, ip string) {
	err := l.db.Create(context.WithoutCancel(ctx), TableLoginAttempt, storage.Record{"id": auth.NewID(), "email": email,
		"ipAddress": ip, "successful": false, "attemptedAt": l.now().UTC()})
	if err != nil {
		l.log.WarnContext(ctx, "lockout: write failed", "err", err)
	}
}

func (l *lockout) succeed(ctx context.Context, email string) {
	if _, err := l.db.Delete(context.WithoutCancel(ctx), TableLoginAttempt, storage.W("email", email)); err != nil {
		l.log.WarnContext(ctx, "lockout: clear failed", "err", err)
	}
}

func retrySeconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }

var errNoUser = errors.New("no such user")

var errSignupLimit = auth.NewError(http.StatusTooManyRequests, "SIGNUP_LIMIT_REACHED",
	"Das tägliche Registrierungslimit ist erreicht. Versuche es morgen wieder.")

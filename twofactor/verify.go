package twofactor

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// Attempt says who presents a second factor: a signed-in user (enrolment,
// or a check inside a session) or a pending sign-in.
type Attempt struct {
	// Session is the caller's session, if signed in. It takes precedence
	// over Challenge, as in Better Auth.
	Session *plugin.SessionData
	// Challenge identifies the pending sign-in: the verified value of the
	// two_factor cookie ("2fa-…").
	Challenge string
	// TrustDevice asks, on a successful sign-in, for a trust_device cookie
	// that lets this browser skip the second factor for TrustDeviceMaxAge.
	TrustDevice bool
	// DontRemember carries the sign-in's rememberMe:false (the
	// dont_remember cookie): the new session then ends with the browser
	// session.
	DontRemember bool
}

// pending is a resolved Attempt.
type pending struct {
	user        *plugin.User
	sd          *plugin.SessionData // nil when signing in
	challenge   string              // the pending sign-in, when signing in
	expiresAt   time.Time
	firstFactor string
}

func (pd *pending) signIn() bool { return pd.sd == nil }

// otpKey is the key of the one-time code row: the pending sign-in, or
// "<userId>!<sessionId>" inside a session (as Better Auth).
func (pd *pending) otpKey() string {
	if pd.sd != nil {
		return pd.user.ID + "!" + pd.sd.Session.ID
	}
	return pd.challenge
}

// validChallenge reports whether s has the form of a pending sign-in
// identifier: "2fa-" and 20 characters of the secret alphabet.
func validChallenge(s string) bool {
	rest, ok := strings.CutPrefix(s, "2fa-")
	if !ok || len(rest) != 20 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func attemptsID(challenge string) string { return "2fa-attempts-" + challenge }
func factorID(challenge string) string   { return "2fa-factor-" + challenge }
func otpID(key string) string            { return "2fa-otp-" + key }

// errVoid answers a verification whose pending sign-in does not exist (or
// no longer does).
var errVoid = ErrInvalidTwoFactorCookie.With(errChallengeVoid)

// resolve finds the user behind an Attempt.
func (p *Plugin) resolve(ctx context.Context, at Attempt) (*pending, error) {
	if at.Session != nil && at.Session.User != nil && at.Session.Session != nil {
		return &pending{user: at.Session.User, sd: at.Session}, nil
	}
	if !validChallenge(at.Challenge) {
		return nil, errVoid
	}
	v, err := p.a.FindVerification(ctx, at.Challenge)
	if errors.Is(err, plugin.ErrVerificationNotFound) {
		return nil, errVoid
	}
	if err != nil {
		return nil, err
	}
	u, err := p.a.FindUserByID(ctx, v.Value)
	if errors.Is(err, auth.ErrUserNotFound) {
		return nil, errVoid
	}
	if err != nil {
		return nil, err
	}
	pd := &pending{user: u, challenge: at.Challenge, expiresAt: v.ExpiresAt}
	if f, err := p.a.FindVerification(ctx, factorID(at.Challenge)); err == nil {
		pd.firstFactor = f.Value
	} else if !errors.Is(err, plugin.ErrVerificationNotFound) {
		return nil, err
	}
	return pd, nil
}

// attempt is one guess against a pending sign-in's budget. A nil attempt
// (inside a session) does nothing.
type attempt struct {
	p     *Plugin
	pd    *pending
	count int
}

// beginAttempt takes the pending sign-in's attempt counter (consuming it,
// so concurrent guesses on one sign-in are serialised: the others see no
// counter and fail). At MaxAttempts failures the sign-in is void.
func (p *Plugin) beginAttempt(ctx context.Context, pd *pending) (*attempt, error) {
	if !pd.signIn() {
		return nil, nil
	}
	v, err := p.a.ConsumeVerification(ctx, attemptsID(pd.challenge))
	if errors.Is(err, plugin.ErrVerificationNotFound) {
		// Another guess on this sign-in is in flight (or it just ended):
		// refused, but the pending sign-in is left alone.
		return nil, ErrInvalidTwoFactorCookie
	}
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(v.Value)
	if err != nil || n < 0 {
		n = p.opts.MaxAttempts
	}
	if n >= p.opts.MaxAttempts {
		p.endChallenge(ctx, pd.challenge)
		return nil, ErrTooManyAttempts.With(errChallengeVoid)
	}
	return &attempt{p: p, pd: pd, count: n}, nil
}

func (at *attempt) rearm(ctx context.Context, n int) {
	if at == nil {
		return
	}
	ttl := at.pd.expiresAt.Sub(at.p.a.Now())
	if ttl <= 0 {
		return
	}
	if err := at.p.a.CreateVerification(context.WithoutCancel(ctx), attemptsID(at.pd.challenge), strconv.Itoa(n), ttl); err != nil {
		at.p.a.Logger().ErrorContext(ctx, "twofactor: storing attempt count", "err", err)
	}
}

// fail records a wrong guess.
func (at *attempt) fail(ctx context.Context) {
	if at != nil {
		at.rearm(ctx, at.count+1)
	}
}

// restore gives the guess back (the check could not run).
func (at *attempt) restore(ctx context.Context) {
	if at != nil {
		at.rearm(ctx, at.count)
	}
}

// endChallenge voids a pending sign-in and everything attached to it.
func (p *Plugin) endChallenge(ctx context.Context, challenge string) {
	ctx = context.WithoutCancel(ctx)
	for _, id := range []string{challenge, attemptsID(challenge), factorID(challenge), otpID(challenge)} {
		if err := p.a.DeleteVerification(ctx, id); err != nil {
			p.a.Logger().ErrorContext(ctx, "twofactor: ending pending sign-in", "err", err)
		}
	}
}

// assertNotLocked refuses while the user's second factor is locked, and
// clears a lock that has run out.
func (p *Plugin) assertNotLocked(ctx context.Context, r *row) error {
	if p.opts.DisableLockout || r == nil || r.LockedUntil == nil {
		return nil
	}
	now := p.a.Now()
	if r.LockedUntil.After(now) {
		return ErrAccountLocked
	}
	_, err := p.a.DB().Update(ctx, TableTwoFactor, storage.Record{"failedVerificationCount": int64(0), "lockedUntil": nil},
		storage.W("id", r.ID), storage.Where{Field: "lockedUntil", Op: storage.Lte, Value: now})
	if err != nil {
		return plugin.StorageError(err)
	}
	zero := int64(0)
	r.Failed, r.LockedUntil = &zero, nil
	return nil
}

// recordFailure counts a wrong code toward the lockout. The increment is a
// compare-and-swap, so concurrent failures are all counted.
func (p *Plugin) recordFailure(ctx context.Context, r *row) {
	if p.opts.DisableLockout || r == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	db := p.a.DB()
	for range 16 {
		rec, err := db.FindOne(ctx, TableTwoFactor, storage.W("id", r.ID))
		if err != nil {
			if !errors.Is(err, storage.ErrNotFound) {
				p.a.Logger().ErrorContext(ctx, "twofactor: counting failure", "err", err)
			}
			return
		}
		cur, isSet := rec["failedVerificationCount"].(int64)
		set := storage.Record{"failedVerificationCount": cur + 1}
		if cur+1 >= int64(p.opts.LockoutThreshold) {
			set["lockedUntil"] = p.a.Now().Add(p.opts.LockoutDuration)
		}
		var cond storage.Where
		if isSet {
			cond = storage.W("failedVerificationCount", cur)
		} else {
			cond = storage.W("failedVerificationCount", nil)
		}
		n, err := db.Update(ctx, TableTwoFactor, set, storage.W("id", r.ID), cond)
		if err != nil {
			p.a.Logger().ErrorContext(ctx, "twofactor: counting failure", "err", err)
			return
		}
		if n > 0 {
			return
		}
	}
	p.a.Logger().WarnContext(ctx, "twofactor: failure count contended; not counted", "user", r.UserID)
}

// resetFailures clears the lockout count after a success.
func (p *Plugin) resetFailures(ctx context.Context, r *row) {
	if p.opts.DisableLockout || r == nil {
		return
	}
	if r.Failed != nil && *r.Failed == 0 && r.LockedUntil == nil {
		return // nothing to forgive (a failure racing this success stays counted)
	}
	_, err := p.a.DB().Update(context.WithoutCancel(ctx), TableTwoFactor,
		storage.Record{"failedVerificationCount": int64(0), "lockedUntil": nil}, storage.W("id", r.ID))
	if err != nil {
		p.a.Logger().ErrorContext(ctx, "twofactor: resetting failure count", "err", err)
	}
}

// complete finishes a successful verification. Signing in, it consumes
// the pending sign-in (one of two concurrent successes wins), creates the
// session and, on request, trusts the device. Inside a session it returns
// the session. withSession false (backup code with disableSession) creates
// no session.
func (p *Plugin) complete(ctx context.Context, pd *pending, at Attempt, withSession bool) (*plugin.AuthResult, error) {
	if !pd.signIn() {
		return &plugin.AuthResult{User: pd.user, Session: pd.sd.Session}, nil
	}
	v, err := p.a.ConsumeVerification(ctx, pd.challenge)
	if errors.Is(err, plugin.ErrVerificationNotFound) || err == nil && v.Value != pd.user.ID {
		return nil, errVoid
	}
	if err != nil {
		return nil, err
	}
	p.endChallenge(ctx, pd.challenge)
	if !withSession { // the pending sign-in ends without a session
		return &plugin.AuthResult{User: pd.user, Cookies: []*http.Cookie{p.expiredTwoFactorCookie()}}, nil
	}
	// Not a first-factor sign-in any more: the plugins' sign-in checks
	// (ours included) must not run again.
	res, err := p.a.CreateSession(plugin.WithSignIn(ctx, ""), pd.user, !at.DontRemember)
	if err != nil {
		return nil, err
	}
	res.Cookies = append(res.Cookies, p.expiredTwoFactorCookie())
	if at.TrustDevice {
		ck, err := p.trustDevice(ctx, pd.user.ID)
		if err != nil {
			return nil, err
		}
		res.Cookies = append(res.Cookies, ck, p.a.NewCookie(plugin.CookieDontRemember, "", -1))
	}
	return res, nil
}

// turnOn sets twoFactorEnabled after a first successful code inside a
// session and replaces the session (as Better Auth does, so that a session
// minted before two-factor does not live on).
func (p *Plugin) turnOn(ctx context.Context, pd *pending, at Attempt) (*plugin.AuthResult, error) {
	u, err := p.setEnabled(ctx, pd.user.ID, true)
	if err != nil {
		return nil, err
	}
	return p.rotate(ctx, pd.sd, u, at.DontRemember)
}

// rotate replaces the session sd by a new one for u, carrying over the
// session's plugin fields (e.g. activeOrganizationId).
func (p *Plugin) rotate(ctx context.Context, sd *plugin.SessionData, u *plugin.User, dontRemember bool) (*plugin.AuthResult, error) {
	res, err := p.a.CreateSession(plugin.WithSignIn(ctx, ""), u, !dontRemember)
	if err != nil {
		return nil, err
	}
	if extra := nonNil(sd.Session.Extra); len(extra) > 0 {
		if _, err := p.a.DB().Update(ctx, plugin.TableSession, extra, storage.W("id", res.Session.ID)); err != nil {
			return nil, plugin.StorageError(err)
		}
		if res.Session.Extra == nil {
			res.Session.Extra = map[string]any{}
		}
		for k, v := range extra {
			res.Session.Extra[k] = v
		}
		// The cookie cache, if on, must show the carried-over fields.
		res.Cookies = p.a.SessionCookies(plugin.RequestInfoFrom(ctx).Request, &plugin.SessionData{Session: res.Session, User: u}, dontRemember)
	}
	if err := p.a.RevokeSession(ctx, u.ID, sd.Session.Token); err != nil {
		return nil, err
	}
	return res, nil
}

func nonNil(m map[string]any) storage.Record {
	out := storage.Record{}
	for k, v := range m {
		if v != nil {
			out[k] = v
		}
	}
	return out
}

// expiredTwoFactorCookie is the deletion of the two_factor cookie.
func (p *Plugin) expiredTwoFactorCookie() *http.Cookie { return p.a.NewCookie(CookieTwoFactor, "", -1) }

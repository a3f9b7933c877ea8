package twofactor

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// Sign-in methods whose first factor proves control of the mailbox: an
// emailed code would not be a second factor after them.
var mailboxFactors = map[string]bool{"magic-link": true, "email-verification": true, "email-otp": true}

// redirectBody is the answer to an interrupted sign-in.
type redirectBody struct {
	TwoFactorRedirect bool     `json:"twoFactorRedirect"`
	TwoFactorMethods  []string `json:"twoFactorMethods"`
}

// beforeSessionCreate interrupts first-factor sign-ins of users with
// two-factor on, unless the request comes from a trusted device.
func (p *Plugin) beforeSessionCreate(ctx context.Context, s *plugin.Session, u *plugin.User) error {
	method := plugin.SignInMethod(ctx)
	if method == "" || !p.enforceAll() && method != "email" {
		return nil
	}
	on := Enabled(u)
	if _, loaded := u.Extra[FieldTwoFactorEnabled]; !loaded {
		fresh, err := p.a.FindUserByID(ctx, u.ID)
		if err != nil {
			return err
		}
		on = Enabled(fresh)
	}
	if !on {
		return nil
	}
	trusted, trustPresent, err := p.useTrustedDevice(ctx, u.ID)
	if err != nil || trusted {
		return err
	}
	cfg := p.a.Settings()
	rememberMe := s.ExpiresAt.Sub(s.CreatedAt) == cfg.SessionExpiresIn
	intr, err := p.Challenge(ctx, u, method, rememberMe)
	if err != nil {
		return err
	}
	if trustPresent { // present but not valid for this user: drop it
		intr.Cookies = append(intr.Cookies, p.a.NewCookie(CookieTrustDevice, "", -1))
	}
	return intr
}

// Challenge starts a pending sign-in for u (first factor method, e.g.
// "email") and returns the interruption to answer with: the body
// {"twoFactorRedirect":true,"twoFactorMethods":[…]}, the deletion of the
// session cookies and the signed two_factor cookie. The session hook calls
// it; it is exported for first-factor flows that do not create their
// session through auth.CreateSession.
func (p *Plugin) Challenge(ctx context.Context, u *plugin.User, method string, rememberMe bool) (*plugin.Interruption, error) {
	id := "2fa-" + plugin.RandomString(20, secretAlphabet)
	ttl := p.opts.TwoFactorCookieMaxAge
	if err := p.a.CreateVerification(ctx, id, u.ID, ttl); err != nil {
		return nil, err
	}
	if err := p.a.CreateVerification(ctx, attemptsID(id), "0", ttl); err != nil {
		return nil, err
	}
	if mailboxFactors[method] {
		if err := p.a.CreateVerification(ctx, factorID(id), method, ttl); err != nil {
			return nil, err
		}
	}
	methods, err := p.methods(ctx, u.ID, method)
	if err != nil {
		return nil, err
	}
	// The session cookies go (with every cache chunk the request carries);
	// dont_remember is settled below.
	var cookies []*http.Cookie
	for _, c := range p.a.ExpiredSessionCookies(plugin.RequestInfoFrom(ctx).Request) {
		if c.Name != p.a.CookieName(plugin.CookieDontRemember) {
			cookies = append(cookies, c)
		}
	}
	cookies = append(cookies, p.a.SignedCookie(CookieTwoFactor, id, int(ttl/time.Second)))
	if rememberMe {
		cookies = append(cookies, p.a.NewCookie(plugin.CookieDontRemember, "", -1))
	} else { // kept for the session the verification creates
		cookies = append(cookies, p.a.SignedCookie(plugin.CookieDontRemember, "true", 0))
	}
	return &plugin.Interruption{
		Reason:      "two-factor",
		Body:        redirectBody{TwoFactorRedirect: true, TwoFactorMethods: methods},
		Cookies:     cookies,
		RedirectURL: p.opts.TwoFactorPage,
	}, nil
}

// methods lists the second factors the user can present after a first
// factor by method: the ones they enrolled. A user with a verified TOTP
// secret enrolled TOTP and is never offered a code by mail (whoever holds
// the mailbox can also reset the password); a user with two-factor on and
// no verified secret chose one-time codes (enable with method "otp", or a
// first one-time code in a session), as Better Auth records it. A code by
// mail is no second factor after a first factor that itself came from the
// mailbox (a magic link, the auto sign-in after email verification).
// Backup codes, where the user has them, always work and are not listed,
// as in Better Auth.
func (p *Plugin) methods(ctx context.Context, userID, method string) ([]string, error) {
	r, err := p.findRow(ctx, userID)
	if err != nil {
		return nil, err
	}
	return p.methodsOf(r, method), nil
}

// methodsOf is methods for the user's twoFactor row r (nil if none).
func (p *Plugin) methodsOf(r *row, method string) []string {
	out := []string{}
	totp := r != nil && r.Verified
	if totp && !p.opts.DisableTOTP {
		out = append(out, MethodTOTP)
	}
	if !totp && p.OTPEnabled() && !mailboxFactors[method] {
		out = append(out, MethodOTP)
	}
	return out
}

// otpAllowed refuses one-time codes for a pending sign-in whose user did
// not choose them (see methods). Signing in, it returns the user's
// twoFactor row it read (nil if none).
func (p *Plugin) otpAllowed(ctx context.Context, pd *pending) (*row, error) {
	if !p.OTPEnabled() {
		return nil, ErrOTPNotConfigured
	}
	if !pd.signIn() {
		return nil, nil // enrolment, or a check inside a session
	}
	r, err := p.findRow(ctx, pd.user.ID)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(p.methodsOf(r, pd.firstFactor), MethodOTP) {
		return nil, ErrOTPNotEnabled
	}
	return r, nil
}

// trustMAC is Better Auth's trust-device token:
// base64url(HMAC-SHA256(secret, "<userId>!<trustId>")), unpadded.
func (p *Plugin) trustMAC(userID, trustID string) string {
	m := hmac.New(sha256.New, []byte(p.a.Secret()))
	m.Write([]byte(userID + "!" + trustID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// trustDevice records a trusted device for the user and returns its
// cookie: signed "<mac>!trust-device-<32>".
func (p *Plugin) trustDevice(ctx context.Context, userID string) (*http.Cookie, error) {
	id := "trust-device-" + plugin.RandomString(32, secretAlphabet)
	if err := p.a.CreateVerification(ctx, id, userID, p.opts.TrustDeviceMaxAge); err != nil {
		return nil, err
	}
	return p.a.SignedCookie(CookieTrustDevice, p.trustMAC(userID, id)+"!"+id, int(p.opts.TrustDeviceMaxAge/time.Second)), nil
}

// parseTrustCookie returns the trust id of a trust_device value whose MAC
// is right for userID.
func (p *Plugin) parseTrustCookie(value, userID string) (string, bool) {
	mac, id, ok := strings.Cut(value, "!")
	if !ok || mac == "" || !strings.HasPrefix(id, "trust-device-") || len(id) > 64 || strings.Contains(id, "!") {
		return "", false
	}
	return id, hmac.Equal([]byte(mac), []byte(p.trustMAC(userID, id)))
}

// useTrustedDevice checks the trust_device cookie of the request being
// served (plugin.RequestInfo.Request: every route, and Go callers that pass
// their request) for userID. A valid one is consumed (so it works once)
// and replaced by a new one, added to the sign-in's result.
func (p *Plugin) useTrustedDevice(ctx context.Context, userID string) (trusted, present bool, err error) {
	r := plugin.RequestInfoFrom(ctx).Request
	if r == nil {
		return false, false, nil
	}
	if _, e := r.Cookie(p.a.CookieName(CookieTrustDevice)); e != nil {
		return false, false, nil
	}
	value, ok := p.a.ReadSignedCookie(r, CookieTrustDevice)
	if !ok {
		return false, true, nil
	}
	id, ok := p.parseTrustCookie(value, userID)
	if !ok {
		return false, true, nil
	}
	v, err := p.a.ConsumeVerification(ctx, id)
	if errors.Is(err, plugin.ErrVerificationNotFound) {
		return false, true, nil
	}
	if err != nil {
		return false, true, err
	}
	if v.Value != userID {
		return false, true, nil
	}
	ck, err := p.trustDevice(ctx, userID)
	if err != nil {
		return false, true, err
	}
	p.a.AddResultCookie(ctx, ck)
	return true, true, nil
}

// forgetDevices deletes every trusted device of the user.
func (p *Plugin) forgetDevices(ctx context.Context, userID string) error {
	_, err := p.a.DB().Delete(ctx, plugin.TableVerification,
		storage.Where{Field: "identifier", Op: storage.StartsWith, Value: "trust-device-"}, storage.W("value", userID))
	if err != nil {
		return plugin.StorageError(err)
	}
	return nil
}

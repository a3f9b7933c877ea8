package emailotp

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/plugin/otp"
	"github.com/managarten/mana-auth/storage"
)

// isUserNotFound reports the host's USER_NOT_FOUND.
func isUserNotFound(err error) bool {
	return err != nil && plugin.AsError(err).Code == "USER_NOT_FOUND"
}

// codeError maps the outcome of a code check to Better Auth's errors.
func codeError(err error) error {
	switch {
	case errors.Is(err, otp.ErrExpired):
		return ErrOTPExpired
	case errors.Is(err, otp.ErrTooManyAttempts):
		return ErrTooManyAttempts
	case errors.Is(err, otp.ErrMismatch), errors.Is(err, otp.ErrNotFound):
		return ErrInvalidOTP
	}
	return err
}

// restoreOnFailure puts a consumed code back when what it was for failed
// on the server's side (a storage error), so that the user can try again
// with it; a refusal (a hook's 4xx, a second factor) keeps it used.
func (p *Plugin) restoreOnFailure(ctx context.Context, c *otp.Consumed, err error) {
	var intr *plugin.Interruption
	if err == nil || errors.As(err, &intr) || plugin.AsError(err).Status < 500 {
		return
	}
	if rerr := c.Restore(ctx); rerr != nil {
		p.h.Logger().ErrorContext(ctx, "emailotp: putting a code back", "err", rerr)
	}
}

// SendVerificationOTP sends a code of type typ to email, as POST
// /email-otp/send-verification-otp does. It answers the same, after the
// same work, whether or not a code was sent: one is sent to a user's
// address, and to an unknown one only for TypeSignIn while sign-up is
// open (see send). The code leaves in the background (see Shutdown).
func (p *Plugin) SendVerificationOTP(ctx context.Context, email string, typ Type) error {
	email = plugin.NormalizeEmail(email)
	if !plugin.ValidEmail(email) {
		return errInvalidEmail()
	}
	if typ == TypeChangeEmail {
		p.h.Logger().WarnContext(ctx, "emailotp: codes to change the address are sent by /email-otp/request-email-change, which is off")
	}
	if typ == TypeChangeEmail || !typ.valid() {
		return errInvalidOTPType()
	}
	return p.send(ctx, email, typ)
}

// RequestPasswordReset sends a forget-password code to the user with
// email, as POST /email-otp/request-password-reset does: the same answer,
// after the same work, for an unknown email (no mail then; see send).
func (p *Plugin) RequestPasswordReset(ctx context.Context, email string) error {
	email = plugin.NormalizeEmail(email)
	if !plugin.ValidEmail(email) {
		return errInvalidEmail()
	}
	return p.send(ctx, email, TypeForgetPassword)
}

// send issues a code of typ for a valid email and delivers it, unless
// the email has no user and the code is not a sign-up's: that code is
// kept but goes nowhere, so that nothing tells the two apart, neither
// the answer nor its timing nor what later guesses at the code meet
// (wrong codes, then TOO_MANY_ATTEMPTS, alike). Nobody knows it; it
// expires.
func (p *Plugin) send(ctx context.Context, email string, typ Type) error {
	u, err := p.h.FindUserByEmail(ctx, email)
	if err != nil && !isUserNotFound(err) {
		return err
	}
	code, err := otp.Issue(ctx, p.h, identifier(typ, email), p.codes)
	if err != nil {
		return err
	}
	if u == nil && (typ != TypeSignIn || p.opts.DisableSignUp) {
		return nil
	}
	to, name := email, ""
	if u != nil {
		to, name = u.Email, plugin.GreetingName(u)
	}
	p.deliver(ctx, to, name, code, typ)
	return nil
}

// CreateVerificationOTP stores a new code of type typ for email and
// returns it without sending it (Better Auth's server-only
// createVerificationOTP), for an app that delivers codes itself.
func (p *Plugin) CreateVerificationOTP(ctx context.Context, email string, typ Type) (string, error) {
	email = plugin.NormalizeEmail(email)
	if !plugin.ValidEmail(email) {
		return "", errInvalidEmail()
	}
	if !typ.valid() {
		return "", errInvalidOTPType()
	}
	return otp.Issue(ctx, p.h, identifier(typ, email), p.codes)
}

// CheckVerificationOTP checks a code without using it, as POST
// /email-otp/check-verification-otp does: a wrong code counts as an
// attempt; a right one stays valid. A right code for an email without a
// user is USER_NOT_FOUND.
func (p *Plugin) CheckVerificationOTP(ctx context.Context, email string, typ Type, code string) error {
	email = plugin.NormalizeEmail(email)
	if !plugin.ValidEmail(email) {
		return errInvalidEmail()
	}
	if !typ.valid() {
		return errInvalidOTPType()
	}
	if err := otp.Check(ctx, p.h, identifier(typ, email), code, p.codes); err != nil {
		return codeError(err)
	}
	_, err := p.h.FindUserByEmail(ctx, email)
	return err
}

// SignInInput is the input of SignIn.
type SignInInput struct {
	// Email and OTP are the address and the sign-in code sent to it.
	Email, OTP string
	// Name and Image are a new user's (checked as sign-up checks them,
	// and ignored for an existing user).
	Name  string
	Image *string
}

// SignIn signs in with a sign-in code, as POST /sign-in/email-otp does:
// an unknown email is signed up, verified (unless DisableSignUp); an
// account whose address was never verified is taken over by the
// mailbox's owner first (plugin.Host.MarkEmailVerified without vouching:
// its password, sessions and other first factors are dropped). A second
// factor may interrupt the sign-in (*plugin.Interruption).
func (p *Plugin) SignIn(ctx context.Context, in SignInInput) (*plugin.AuthResult, error) {
	if err := plugin.CheckName(in.Name); err != nil {
		return nil, err
	}
	if err := checkImage(in.Image); err != nil {
		return nil, err
	}
	email := plugin.NormalizeEmail(in.Email)
	if !plugin.ValidEmail(email) {
		return nil, ErrInvalidOTP // no code is ever sent to it
	}
	c, err := otp.Verify(ctx, p.h, identifier(TypeSignIn, email), in.OTP, p.codes)
	if err != nil {
		return nil, codeError(err)
	}
	res, err := p.signIn(ctx, email, in)
	p.restoreOnFailure(ctx, c, err)
	return res, err
}

func (p *Plugin) signIn(ctx context.Context, email string, in SignInInput) (*plugin.AuthResult, error) {
	u, err := p.h.FindUserByEmail(ctx, email)
	switch {
	case isUserNotFound(err):
		if p.opts.DisableSignUp {
			return nil, ErrInvalidOTP
		}
		u = &plugin.User{Name: in.Name, Email: email, EmailVerified: true, Image: in.Image}
		if err := p.h.CreateUser(ctx, u, nil); err != nil {
			if !errors.Is(err, storage.ErrConflict) {
				return nil, err
			}
			// Signed up concurrently: sign that user in, as an existing one.
			if u, err = p.h.FindUserByEmail(ctx, email); err != nil {
				return nil, err
			}
			if _, err := p.h.MarkEmailVerified(ctx, u, false); err != nil {
				return nil, err
			}
		}
	case err != nil:
		return nil, err
	default:
		if _, err := p.h.MarkEmailVerified(ctx, u, false); err != nil {
			return nil, err
		}
	}
	return p.h.CreateSession(plugin.WithSignIn(ctx, "email-otp"), u, true)
}

// VerifyEmail verifies the address of the user with email with an
// email-verification code, as POST /email-otp/verify-email does. sd is
// the caller's session, if any. The account keeps its password when the
// code vouches for it (see the package documentation); otherwise an
// address never verified before hands the account to the mailbox's
// owner. With auto sign-in after verification (the host's setting, or
// Options.AutoSignInAfterVerification) the result has a new session (a
// second factor may interrupt it); otherwise only the user.
func (p *Plugin) VerifyEmail(ctx context.Context, email, code string, sd *plugin.SessionData) (*plugin.AuthResult, error) {
	email = plugin.NormalizeEmail(email)
	if !plugin.ValidEmail(email) {
		return nil, errInvalidEmail()
	}
	c, err := otp.Verify(ctx, p.h, identifier(TypeEmailVerification, email), code, p.codes)
	if err != nil {
		return nil, codeError(err)
	}
	res, err := p.verifyEmail(ctx, email, code, sd)
	p.restoreOnFailure(ctx, c, err)
	return res, err
}

func (p *Plugin) verifyEmail(ctx context.Context, email, code string, sd *plugin.SessionData) (*plugin.AuthResult, error) {
	u, err := p.h.FindUserByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	vouched := sd != nil && sd.User != nil && sd.User.ID == u.ID
	if !u.EmailVerified && !vouched {
		if vouched, err = p.vouched(ctx, email, u.ID, code); err != nil {
			return nil, err
		}
	}
	if _, err := p.h.MarkEmailVerified(ctx, u, vouched); err != nil {
		return nil, err
	}
	if !p.opts.AutoSignInAfterVerification && !p.h.Settings().AutoSignInAfterVerification {
		return &plugin.AuthResult{User: u}, nil
	}
	return p.h.CreateSession(plugin.WithSignIn(ctx, "email-otp"), u, true)
}

// ResetPassword sets the password of the user with email with a
// forget-password code, as POST /email-otp/reset-password does. The
// address counts as verified (an account never verified is taken over by
// the mailbox's owner first), the user's reset links stop working and
// their sessions end, unless the host keeps them
// (plugin.Settings.KeepSessionsOnPasswordReset) or
// Options.KeepSessionsOnPasswordReset. As in Better Auth, a password of
// the wrong length (the host's bounds) is refused first, before the code
// is looked at (it stays valid, its attempts uncounted).
func (p *Plugin) ResetPassword(ctx context.Context, email, code, password string) error {
	s := p.h.Settings()
	switch n := utf16Len(password); {
	case n < s.MinPasswordLength:
		return errPasswordTooShort()
	case n > s.MaxPasswordLength:
		return errPasswordTooLong()
	}
	email = plugin.NormalizeEmail(email)
	if !plugin.ValidEmail(email) {
		return ErrInvalidOTP // no code is ever sent to it
	}
	c, err := otp.Verify(ctx, p.h, identifier(TypeForgetPassword, email), code, p.codes)
	if err != nil {
		return codeError(err)
	}
	err = p.resetPassword(ctx, email, password)
	p.restoreOnFailure(ctx, c, err)
	return err
}

// utf16Len is the length of s in UTF-16 code units, as JavaScript counts
// a password.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

func (p *Plugin) resetPassword(ctx context.Context, email, password string) error {
	u, err := p.h.FindUserByEmail(ctx, email)
	if err != nil {
		return err
	}
	if _, err := p.h.MarkEmailVerified(ctx, u, false); err != nil {
		return err
	}
	keep := p.opts.KeepSessionsOnPasswordReset || p.h.Settings().KeepSessionsOnPasswordReset
	return p.h.SetPassword(ctx, u.ID, password, !keep)
}

// checkImage refuses an image the core's sign-up refuses (longer than 2048
// bytes, control characters), and text no database can store.
func checkImage(img *string) error {
	if img == nil {
		return nil
	}
	if len(*img) > 2048 || !utf8.ValidString(*img) {
		return errInvalidImage()
	}
	for _, r := range *img {
		if unicode.IsControl(r) {
			return errInvalidImage()
		}
	}
	return nil
}

// The credential a sign-up's code vouches for. A sign-up with a password
// (SendVerificationOnSignUp) leaves, beside the code it mails, a row
// binding the new user, their password hash and that code; verify-email
// with that very code then keeps the password. Nobody else can make the
// row: it is written only for a user the sign-up created, and a code
// asked for later (by anyone) vouches for nothing, as the core's resent
// verification link does not.

// vouchID is the identifier of the row; it cannot be a code's
// ("<type>-otp-…").
func vouchID(email string) string { return "email-otp-credential:" + email }

// binding names a user's password hash and a code without revealing
// either.
func (p *Plugin) binding(userID, passwordHash, code string) string {
	m := hmac.New(sha256.New, []byte(p.h.Secret()))
	m.Write([]byte("email-otp-credential\x00" + userID + "\x00" + passwordHash + "\x00" + code))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// passwordHash returns the user's password hash, or "".
func (p *Plugin) passwordHash(ctx context.Context, userID string) (string, error) {
	rec, err := p.h.DB().FindOne(ctx, plugin.TableAccount, storage.W("userId", userID), storage.W("providerId", plugin.CredentialProvider))
	if errors.Is(err, storage.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", plugin.StorageError(err)
	}
	return rec.String("password"), nil
}

// vouched consumes the sign-up's row for email and reports whether it
// binds the user's current password and code.
func (p *Plugin) vouched(ctx context.Context, email, userID, code string) (bool, error) {
	v, err := p.h.ConsumeVerification(ctx, vouchID(email))
	if errors.Is(err, plugin.ErrVerificationNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	hash, err := p.passwordHash(ctx, userID)
	if err != nil || hash == "" {
		return false, err
	}
	return hmac.Equal([]byte(v.Value), []byte(p.binding(userID, hash, code))), nil
}

// afterSignUp mails an email-verification code after a sign-up
// (SendVerificationOnSignUp), as Better Auth does, to the address the
// answer names: for an address already taken the answer is made up
// (against enumeration), and the same work is done, so the account's
// owner gets a code and nothing tells the two apart. A failure is logged:
// the sign-up stands.
func (p *Plugin) afterSignUp(c *plugin.Context) error {
	var res struct {
		User *struct {
			ID    string `json:"id"`
			Email string `json:"email"`
		} `json:"user"`
	}
	raw, err := json.Marshal(c.Result())
	if err != nil || json.Unmarshal(raw, &res) != nil || res.User == nil || res.User.Email == "" {
		return nil
	}
	ctx := c.Context()
	email := plugin.NormalizeEmail(res.User.Email)
	if !plugin.ValidEmail(email) {
		return nil
	}
	code, err := otp.Issue(ctx, p.h, identifier(TypeEmailVerification, email), p.codes)
	if err != nil {
		p.h.Logger().ErrorContext(ctx, "emailotp: issuing the sign-up's code", "err", err)
		return nil
	}
	if err := p.vouchSignUp(ctx, email, res.User.ID, code); err != nil {
		p.h.Logger().ErrorContext(ctx, "emailotp: recording the sign-up's password", "err", err)
	}
	p.deliver(ctx, email, "", code, TypeEmailVerification)
	return nil
}

// vouchSignUp writes the row binding the password of the user the
// sign-up created to its code. For a made-up answer (the ID is nobody's)
// the same statements run and no row is written.
func (p *Plugin) vouchSignUp(ctx context.Context, email, userID, code string) error {
	u, err := p.h.FindUserByEmail(ctx, email)
	if err != nil && !isUserNotFound(err) {
		return err
	}
	hash, err := p.passwordHash(ctx, userID)
	if err != nil {
		return err
	}
	if u == nil || u.ID != userID || u.EmailVerified || hash == "" {
		// A statement on a row that cannot exist (no address ends in
		// "!"): the sign-up's own row, if any, is left alone.
		return p.h.DeleteVerification(ctx, vouchID(email)+"!")
	}
	return p.h.CreateVerification(ctx, vouchID(email), p.binding(userID, hash, code), p.opts.ExpiresIn)
}

package auth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/managarten/mana-auth/storage"
)

// Errors of the email flows.
var (
	ErrVerificationEmailNotEnabled = NewError(http.StatusBadRequest, "VERIFICATION_EMAIL_NOT_ENABLED", "Verification email isn't enabled")
	ErrEmailAlreadyVerified        = NewError(http.StatusBadRequest, "EMAIL_ALREADY_VERIFIED", "Email is already verified")
	ErrEmailMismatch               = NewError(http.StatusBadRequest, "EMAIL_MISMATCH", "Email mismatch")
	ErrResetPasswordDisabled       = NewError(http.StatusBadRequest, "RESET_PASSWORD_DISABLED", "Reset password isn't enabled")
	ErrChangeEmailDisabled         = NewError(http.StatusBadRequest, "CHANGE_EMAIL_DISABLED", "Change email is disabled")
	ErrEmailIsTheSame              = NewError(http.StatusBadRequest, "", "Email is the same")
	ErrInvalidUser                 = NewError(http.StatusUnauthorized, "INVALID_USER", "Invalid user")
	// ErrEmailSendFailed is returned when the Mailer failed; the operation
	// that needed the mail was undone.
	ErrEmailSendFailed = NewError(http.StatusServiceUnavailable, "EMAIL_SEND_FAILED", "The email could not be sent. Please try again later.")
)

const resetPasswordMessage = "If this email exists in our system, check your email for the reset link"

// URL returns BaseURL + BasePath + path: the public URL of a route.
func (a *Auth) URL(path string) string { return a.cfg.BaseURL + a.cfg.BasePath + path }

// SendEmail hands e to the configured Mailer under Config.MailTimeout. It
// fills in AppName. Without a Mailer it returns ErrVerificationEmailNotEnabled;
// a Mailer failure is logged and returned as ErrEmailSendFailed.
func (a *Auth) SendEmail(ctx context.Context, e Email) error {
	if a.cfg.Mailer == nil {
		return ErrVerificationEmailNotEnabled
	}
	if e.AppName == "" {
		e.AppName = a.cfg.AppName
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.MailTimeout)
	defer cancel()
	if err := a.cfg.Mailer.SendEmail(ctx, e); err != nil {
		a.log.ErrorContext(ctx, "auth: sending email failed", "kind", string(e.Kind), "err", err)
		return ErrEmailSendFailed.With(err)
	}
	return nil
}

// emailToken makes Better Auth's email verification token: an HS256 JWT
// signed with the secret, claims email (lower-case), userId, and for a
// change of address updateTo and requestType.
func (a *Auth) emailToken(email, userID, updateTo, requestType string) string {
	claims := map[string]any{"email": NormalizeEmail(email), "userId": userID}
	if updateTo != "" {
		claims["updateTo"] = NormalizeEmail(updateTo)
	}
	if requestType != "" {
		claims["requestType"] = requestType
	}
	return signHS256(a.secret, claims, a.Now(), a.cfg.EmailVerification.ExpiresIn)
}

func (a *Auth) verifyEmailURL(token, callbackURL string) string {
	if callbackURL == "" {
		callbackURL = "/"
	}
	return a.URL("/verify-email?token=" + token + "&callbackURL=" + EncodeURIComponent(callbackURL))
}

// SendVerificationEmail mails u a link that verifies their address.
func (a *Auth) SendVerificationEmail(ctx context.Context, u *User, callbackURL string) error {
	if a.cfg.Mailer == nil {
		return ErrVerificationEmailNotEnabled
	}
	return a.SendEmail(ctx, Email{Kind: EmailVerification, To: u.Email, Name: GreetingName(u),
		URL: a.verifyEmailURL(a.emailToken(u.Email, u.ID, "", ""), callbackURL)})
}

// ResendVerification mails a new verification link to the user with email
// if that user exists and is not verified yet. The answer does not tell
// whether the email is known: it is the same, and takes at least 500 ms,
// whatever happened (a mail failure is still returned).
func (a *Auth) ResendVerification(ctx context.Context, email, callbackURL string) error {
	start := time.Now()
	var err error
	if u, ferr := a.FindUserByEmail(ctx, email); ferr == nil && !u.EmailVerified {
		err = a.SendVerificationEmail(ctx, u, callbackURL)
	} else {
		_ = a.emailToken(email, "", "", "") // the same work as a real link
	}
	padTo(ctx, start, 500*time.Millisecond)
	return err
}

// VerifyEmailResult is what VerifyEmail did.
type VerifyEmailResult struct {
	// User is the user whose address was verified or changed.
	User *User
	// Changed is set when the address itself changed (change-email).
	Changed bool
	// AlreadyVerified is set when there was nothing to do.
	AlreadyVerified bool
	// ConfirmationSent is set when the token confirmed a change from the
	// old address and a verification link went to the new one.
	ConfirmationSent bool
}

// VerifyEmail applies an email verification token: it marks the address
// verified, or, for a change of address, applies or confirms the change.
// Errors are ErrInvalidToken, ErrTokenExpired, ErrUserNotFound (each 401
// with its code, as Better Auth answers without a callbackURL).
// sessionUserID, if not empty, must be the token's user.
func (a *Auth) VerifyEmail(ctx context.Context, token, sessionUserID, callbackURL string) (*VerifyEmailResult, error) {
	unauthorized := func(e *Error) *Error { c := *e; c.Status = http.StatusUnauthorized; return &c }
	claims, err := verifyHS256(a.secret, token, a.Now())
	if errors.Is(err, errJWTExpired) {
		return nil, ErrTokenExpired
	}
	if err != nil {
		return nil, unauthorized(ErrInvalidToken)
	}
	email, _ := claims["email"].(string)
	updateTo, _ := claims["updateTo"].(string)
	requestType, _ := claims["requestType"].(string)
	userID, _ := claims["userId"].(string)
	if !ValidEmail(email) {
		return nil, unauthorized(ErrInvalidToken)
	}
	if updateTo != "" {
		if userID == "" || !ValidEmail(updateTo) {
			return nil, unauthorized(ErrInvalidToken)
		}
		u, err := a.FindUserByID(ctx, userID)
		if err != nil {
			return nil, unauthorized(ErrUserNotFound)
		}
		// The token names the address it changes from: once the change is
		// applied it no longer matches, so each token works once.
		if u.Email != NormalizeEmail(email) {
			return nil, unauthorized(ErrInvalidToken)
		}
		if sessionUserID != "" && sessionUserID != u.ID {
			return nil, ErrInvalidUser
		}
		switch requestType {
		case "change-email-confirmation":
			t := a.emailToken(u.Email, u.ID, updateTo, "change-email-verification")
			if err := a.SendEmail(ctx, Email{Kind: EmailVerification, To: updateTo, URL: a.verifyEmailURL(t, callbackURL)}); err != nil {
				return nil, err
			}
			return &VerifyEmailResult{User: u, ConfirmationSent: true}, nil
		case "change-email-verification":
			u, err = a.setEmail(ctx, u.ID, updateTo, u.EmailVerified)
		default:
			u, err = a.setEmail(ctx, u.ID, updateTo, false)
			if err == nil && a.cfg.Mailer != nil {
				if err := a.SendVerificationEmail(ctx, u, callbackURL); err != nil {
					a.log.WarnContext(ctx, "auth: verification mail after email change failed", "err", err)
				}
			}
		}
		if err != nil {
			return nil, err
		}
		return &VerifyEmailResult{User: u, Changed: true}, nil
	}
	u, err := a.FindUserByEmail(ctx, email)
	if err != nil {
		return nil, unauthorized(ErrUserNotFound)
	}
	if userID != "" && userID != u.ID {
		return nil, unauthorized(ErrInvalidToken)
	}
	if u.EmailVerified {
		return &VerifyEmailResult{User: u, AlreadyVerified: true}, nil
	}
	if _, err := a.db.Update(ctx, TableUser, storage.Record{"emailVerified": true, "updatedAt": a.Now()}, storage.W("id", u.ID)); err != nil {
		return nil, storageErr(err)
	}
	u.EmailVerified = true
	return &VerifyEmailResult{User: u}, nil
}

func (a *Auth) setEmail(ctx context.Context, userID, email string, verified bool) (*User, error) {
	_, err := a.db.Update(ctx, TableUser, storage.Record{"email": NormalizeEmail(email), "emailVerified": verified, "updatedAt": a.Now()}, storage.W("id", userID))
	if errors.Is(err, storage.ErrConflict) {
		return nil, ErrUserAlreadyExists.WithMessage("User already exists. Use another email.")
	}
	if err != nil {
		return nil, storageErr(err)
	}
	return a.FindUserByID(ctx, userID)
}

// RequestPasswordReset mails a single-use reset link to the user with
// email, if there is one. The answer is the same either way: no error for
// an unknown email. The mail is sent in the background (Shutdown waits for
// it); if it cannot be sent, the token is deleted and the failure logged.
func (a *Auth) RequestPasswordReset(ctx context.Context, email, redirectTo string) error {
	if a.cfg.Mailer == nil {
		return ErrResetPasswordDisabled
	}
	u, err := a.FindUserByEmail(ctx, email)
	if errors.Is(err, ErrUserNotFound) {
		// Same work as a real request: a random token and a lookup.
		_ = RandomString(24, "")
		_, _ = a.FindVerification(ctx, "reset-password:dummy-verification-token")
		return nil
	}
	if err != nil {
		return err
	}
	token := RandomString(24, "")
	id := "reset-password:" + token
	if err := a.CreateVerification(ctx, id, u.ID, a.cfg.EmailPassword.ResetPasswordTokenExpiresIn); err != nil {
		return err
	}
	link := a.URL("/reset-password/" + token + "?callbackURL=" + EncodeURIComponent(redirectTo))
	// The mail goes out in the background: the answer (and its timing) must
	// be the same for known and unknown emails even when the mail server is
	// slow or down.
	a.background(ctx, func(ctx context.Context) {
		if err := a.SendEmail(ctx, Email{Kind: EmailPasswordReset, To: u.Email, Name: GreetingName(u), URL: link}); err != nil {
			// Leave no live token behind a mail that never went out.
			if derr := a.DeleteVerification(ctx, id); derr != nil {
				a.log.ErrorContext(ctx, "auth: removing reset token after mail failure", "err", derr)
			}
		}
	})
	return nil
}

// ResetPassword sets a new password with a reset token, consuming the
// token. Unknown, used or expired tokens are ErrInvalidToken. With
// EmailPassword.RevokeSessionsOnPasswordReset every session is deleted.
func (a *Auth) ResetPassword(ctx context.Context, token, newPassword string) error {
	if token == "" {
		return ErrInvalidToken
	}
	if err := a.checkPasswordLength(newPassword); err != nil {
		return err
	}
	id := "reset-password:" + token
	// Consume first: of concurrent uses exactly one goes on, and a replayed
	// token costs no hashing.
	v, err := a.ConsumeVerification(ctx, id)
	if err != nil {
		if errors.Is(err, ErrVerificationNotFound) {
			return ErrInvalidToken
		}
		return err
	}
	restore := func() {
		// The token was not used up by a change: give it back.
		if rem := v.ExpiresAt.Sub(a.Now()); rem > 0 {
			if err := a.CreateVerification(context.WithoutCancel(ctx), id, v.Value, rem); err != nil {
				a.log.WarnContext(ctx, "auth: restoring a reset token failed", "err", err)
			}
		}
	}
	if _, err := a.FindUserByID(ctx, v.Value); err != nil {
		return err
	}
	hash, err := a.HashPassword(ctx, newPassword)
	if err != nil {
		restore()
		return err
	}
	now := a.Now()
	err = a.db.Tx(ctx, func(tx storage.Adapter) error {
		if a.cfg.EmailPassword.RevokeSessionsOnPasswordReset {
			if _, err := tx.Delete(ctx, TableSession, storage.W("userId", v.Value)); err != nil {
				return storageErr(err)
			}
		}
		n, err := tx.Update(ctx, TableAccount, storage.Record{"password": hash, "updatedAt": now},
			storage.W("userId", v.Value), storage.W("providerId", CredentialProvider))
		if err != nil {
			return storageErr(err)
		}
		if n == 0 {
			acc := &Account{ID: NewID(), AccountID: v.Value, ProviderID: CredentialProvider, UserID: v.Value, Password: &hash, CreatedAt: now, UpdatedAt: now}
			if err := tx.Create(ctx, TableAccount, acc.record()); err != nil {
				return storageErr(err)
			}
		}
		return nil
	})
	if err != nil {
		restore()
	}
	return err
}

// ChangeEmail starts a change of the session user's address to newEmail,
// as Better Auth does: an unverified user with
// User.UpdateEmailWithoutVerification is changed at once (and the new
// address mailed a verification link); otherwise a link goes to the new
// address (or, with SendChangeEmailConfirmation, a confirmation to the old
// one). A taken address answers like any other and changes nothing.
// It returns the user when the address changed at once.
func (a *Auth) ChangeEmail(ctx context.Context, sd *SessionData, newEmail, callbackURL string) (*User, error) {
	uc := a.cfg.User
	if !uc.ChangeEmailEnabled {
		return nil, ErrChangeEmailDisabled
	}
	newEmail = NormalizeEmail(newEmail)
	if !ValidEmail(newEmail) {
		return nil, ErrInvalidEmail
	}
	u := sd.User
	if newEmail == u.Email {
		return nil, ErrEmailIsTheSame
	}
	immediate := !u.EmailVerified && uc.UpdateEmailWithoutVerification
	canMail := a.cfg.Mailer != nil
	if !immediate && !canMail {
		return nil, ErrVerificationEmailNotEnabled.WithMessage("Verification email isn't enabled")
	}
	if _, err := a.FindUserByEmail(ctx, newEmail); err == nil {
		_ = a.emailToken(u.Email, u.ID, newEmail, "") // same work as a real change
		return nil, nil
	} else if !errors.Is(err, ErrUserNotFound) {
		return nil, err
	}
	if immediate {
		nu, err := a.setEmail(ctx, u.ID, newEmail, false)
		if err != nil {
			if errors.Is(err, ErrUserAlreadyExists) {
				return nil, nil // lost a race for the address: answer as for a taken one
			}
			return nil, err
		}
		if canMail {
			if err := a.SendVerificationEmail(ctx, nu, callbackURL); err != nil {
				a.log.WarnContext(ctx, "auth: verification mail after email change failed", "err", err)
			}
		}
		return nu, nil
	}
	if u.EmailVerified && uc.SendChangeEmailConfirmation {
		t := a.emailToken(u.Email, u.ID, newEmail, "change-email-confirmation")
		return nil, a.SendEmail(ctx, Email{Kind: EmailChangeEmail, To: u.Email, Name: GreetingName(u),
			URL: a.verifyEmailURL(t, callbackURL), Data: map[string]string{"newEmail": newEmail}})
	}
	t := a.emailToken(u.Email, u.ID, newEmail, "change-email-verification")
	return nil, a.SendEmail(ctx, Email{Kind: EmailVerification, To: newEmail, URL: a.verifyEmailURL(t, callbackURL)})
}

// AppendQuery returns target (absolute or relative) with key=value set in
// its query.
func AppendQuery(target, key, value string) string {
	u, err := url.Parse(target)
	if err != nil {
		return target
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// ResolveURL resolves ref (a relative or absolute URL) against
// BaseURL+BasePath, as Better Auth's redirects do.
func (a *Auth) ResolveURL(ref string) string {
	base, err := url.Parse(a.URL(""))
	if err != nil {
		return ref
	}
	r, err := url.Parse(ref)
	if err != nil {
		return a.URL("/error")
	}
	return base.ResolveReference(r).String()
}

// padTo waits until at least d has passed since start, so that known and
// unknown emails answer in the same time.
func padTo(ctx context.Context, start time.Time, d time.Duration) {
	if rem := d - time.Since(start); rem > 0 {
		t := time.NewTimer(rem)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
}

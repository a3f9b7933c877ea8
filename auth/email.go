package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/managarten/mana-auth/internal/hs256"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// Errors of the email flows.
var (
	ErrVerificationEmailNotEnabled = plugin.NewError(http.StatusBadRequest, "VERIFICATION_EMAIL_NOT_ENABLED", "Verification email isn't enabled")
	ErrEmailAlreadyVerified        = plugin.NewError(http.StatusBadRequest, "EMAIL_ALREADY_VERIFIED", "Email is already verified")
	ErrEmailMismatch               = plugin.NewError(http.StatusBadRequest, "EMAIL_MISMATCH", "Email mismatch")
	ErrResetPasswordDisabled       = plugin.NewError(http.StatusBadRequest, "RESET_PASSWORD_DISABLED", "Reset password isn't enabled")
	ErrChangeEmailDisabled         = plugin.NewError(http.StatusBadRequest, "CHANGE_EMAIL_DISABLED", "Change email is disabled")
	ErrEmailIsTheSame              = plugin.NewError(http.StatusBadRequest, "", "Email is the same")
	ErrInvalidUser                 = plugin.NewError(http.StatusUnauthorized, "INVALID_USER", "Invalid user")
	// ErrEmailSendFailed is returned when the Mailer failed; the operation
	// that needed the mail was undone.
	ErrEmailSendFailed = plugin.NewError(http.StatusServiceUnavailable, "EMAIL_SEND_FAILED", "The email could not be sent. Please try again later.")
)

const resetPasswordMessage = "If this email exists in our system, check your email for the reset link"

// resetPrefix starts the identifier of a reset link's verification row
// (Better Auth's), whose value is the user id.
const resetPrefix = "reset-password:"

// absURL returns BaseURL + BasePath + path: the public URL of a route.
func (a *Auth) absURL(path string) string { return a.cfg.BaseURL + a.cfg.BasePath + path }

// sendEmail hands e to the configured Mailer under Config.MailTimeout. It
// fills in AppName. Without a Mailer it returns ErrVerificationEmailNotEnabled;
// a Mailer failure is logged and returned as ErrEmailSendFailed.
func (a *Auth) sendEmail(ctx context.Context, e Email) error {
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
// change of address updateTo and requestType. cred, if not empty, is our
// own claim: the credential binding of the password the link vouches for
// (credentialBinding); Better Auth ignores it.
func (a *Auth) emailToken(email, userID, updateTo, requestType, cred string) string {
	claims := map[string]any{"email": plugin.NormalizeEmail(email), "userId": userID}
	if updateTo != "" {
		claims["updateTo"] = plugin.NormalizeEmail(updateTo)
	}
	if requestType != "" {
		claims["requestType"] = requestType
	}
	if cred != "" {
		claims["cred"] = cred
	}
	payload, _ := json.Marshal(claims) // strings only: cannot fail
	return hs256.Sign(a.secret, payload, a.clockNow(), a.cfg.EmailVerification.ExpiresIn)
}

// credentialBinding names the password hash of a user's credential
// account without revealing anything about it: a verification link minted
// for the person who gave that password carries it, and vouches for that
// password only.
func (a *Auth) credentialBinding(userID, passwordHash string) string {
	m := hmac.New(sha256.New, a.secret)
	m.Write([]byte("email-verification-credential\x00" + userID + "\x00" + passwordHash))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// passwordHash returns the user's password hash, or "" (also when it
// cannot be read: the link then vouches for nothing, the safe side).
func (a *Auth) passwordHash(ctx context.Context, userID string) string {
	if acc, err := a.credentialAccount(ctx, userID); err == nil && acc != nil && acc.Password != nil {
		return *acc.Password
	}
	return ""
}

// vouchedCredential reports whether cred (a verification token's claim)
// binds the user's current password.
func (a *Auth) vouchedCredential(ctx context.Context, userID, cred string) (bool, error) {
	if cred == "" {
		return false, nil
	}
	acc, err := a.credentialAccount(ctx, userID)
	if err != nil || acc == nil || acc.Password == nil {
		return false, err
	}
	return hmac.Equal([]byte(cred), []byte(a.credentialBinding(userID, *acc.Password))), nil
}

func (a *Auth) verifyEmailURL(token, callbackURL string) string {
	if callbackURL == "" {
		callbackURL = "/"
	}
	return a.absURL("/verify-email?token=" + token + "&callbackURL=" + plugin.EncodeURIComponent(callbackURL))
}

// SendVerificationEmail mails u a link that verifies their address, and
// waits for the Mailer (the routes and Host.SendVerificationEmail queue
// the mail instead). The link does not vouch for the account's password:
// opened for an address that was never verified, it hands the account to
// the mailbox's owner (MarkEmailVerified without vouching), since anyone
// may have signed up with that address.
func (a *Auth) SendVerificationEmail(ctx context.Context, u *User, callbackURL string) error {
	if a.cfg.Mailer == nil {
		return ErrVerificationEmailNotEnabled
	}
	return a.sendEmail(ctx, a.verificationEmail(u, callbackURL, ""))
}

// verificationEmail is the mail with u's verification link. passwordHash,
// if not empty, is the password the requester has just given (sign-up,
// sign-in) or holds a session of: the link then vouches for it.
func (a *Auth) verificationEmail(u *User, callbackURL, passwordHash string) Email {
	cred := ""
	if passwordHash != "" {
		cred = a.credentialBinding(u.ID, passwordHash)
	}
	return Email{Kind: plugin.EmailVerification, To: u.Email, Name: plugin.GreetingName(u),
		URL: a.verifyEmailURL(a.emailToken(u.Email, u.ID, "", "", cred), callbackURL)}
}

// mailInBackground sends e off the request path (the mail queue): the
// answer, and its timing, must not depend on the mail. sendEmail logs a
// failure, and the queue a drop.
func (a *Auth) mailInBackground(ctx context.Context, e Email) {
	if a.cfg.Mailer == nil {
		return
	}
	a.queueMail(ctx, e, nil)
}

// ResendVerification mails a new verification link to the user with email
// if that user exists and is not verified yet. Anyone may ask for it, so
// the link vouches for no password (see SendVerificationEmail). The
// answer does not tell whether the email is known: it is the same, and
// takes at least 500 ms; the mail leaves in the background.
func (a *Auth) ResendVerification(ctx context.Context, email, callbackURL string) error {
	if a.cfg.Mailer == nil {
		return ErrVerificationEmailNotEnabled
	}
	start := time.Now()
	if u, ferr := a.findUserByEmail(ctx, email); ferr == nil && !u.EmailVerified {
		a.mailInBackground(ctx, a.verificationEmail(u, callbackURL, ""))
	} else {
		_ = a.verificationEmail(&User{Email: email}, callbackURL, "") // the same work as a real link
	}
	padTo(ctx, start, 500*time.Millisecond)
	return nil
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
	// Claimed is set when the address was verified for the first time by
	// a link that vouched for no password: the account's earlier
	// credentials and sessions were dropped (see MarkEmailVerified).
	Claimed bool
}

// VerifyEmail applies an email verification token: it marks the address
// verified, or, for a change of address, applies or confirms the change.
// Errors are ErrInvalidToken, ErrTokenExpired, ErrUserNotFound (each 401
// with its code, as Better Auth answers without a callbackURL).
// sessionUserID, if not empty, must be the token's user.
//
// A first verification keeps the account's password only when the link
// vouches for it — it was mailed for the sign-up or sign-in that gave the
// password, or is opened with a session of the account — and otherwise
// hands the account to the mailbox's owner (MarkEmailVerified), so that
// whoever signed up with someone else's address loses it the moment its
// owner verifies it.
func (a *Auth) VerifyEmail(ctx context.Context, token, sessionUserID, callbackURL string) (*VerifyEmailResult, error) {
	unauthorized := func(e *Error) *Error { c := *e; c.Status = http.StatusUnauthorized; return &c }
	if len(token) > 4096 { // ours are about 300 bytes: refused before any work
		return nil, unauthorized(ErrInvalidToken)
	}
	raw, _, err := hs256.Verify(a.secret, token, a.clockNow())
	if errors.Is(err, hs256.ErrExpired) {
		return nil, ErrTokenExpired
	}
	var claims map[string]any
	if err != nil || json.Unmarshal(raw, &claims) != nil {
		return nil, unauthorized(ErrInvalidToken)
	}
	email, _ := claims["email"].(string)
	updateTo, _ := claims["updateTo"].(string)
	requestType, _ := claims["requestType"].(string)
	userID, _ := claims["userId"].(string)
	if !plugin.ValidEmail(email) {
		return nil, unauthorized(ErrInvalidToken)
	}
	if updateTo != "" {
		if userID == "" || !plugin.ValidEmail(updateTo) {
			return nil, unauthorized(ErrInvalidToken)
		}
		u, err := a.findUserByID(ctx, userID)
		if err != nil {
			return nil, unauthorized(ErrUserNotFound)
		}
		// The token names the address it changes from: once the change is
		// applied it no longer matches, so each token works once.
		if u.Email != plugin.NormalizeEmail(email) {
			return nil, unauthorized(ErrInvalidToken)
		}
		if sessionUserID != "" && sessionUserID != u.ID {
			return nil, ErrInvalidUser
		}
		switch requestType {
		case "change-email-confirmation":
			// The same answer, and no mail, when the new address is
			// taken by now: the old mailbox learns nothing about it.
			if _, err := a.findUserByEmail(ctx, updateTo); errors.Is(err, ErrUserNotFound) {
				t := a.emailToken(u.Email, u.ID, updateTo, "change-email-verification", "")
				a.mailInBackground(ctx, Email{Kind: plugin.EmailVerification, To: updateTo, URL: a.verifyEmailURL(t, callbackURL)})
			} else if err != nil {
				return nil, err
			}
			return &VerifyEmailResult{User: u, ConfirmationSent: true}, nil
		case "change-email-verification":
			u, err = a.setEmail(ctx, u.ID, updateTo, u.EmailVerified)
		default:
			u, err = a.setEmail(ctx, u.ID, updateTo, false)
			if err == nil {
				a.mailInBackground(ctx, a.verificationEmail(u, callbackURL, ""))
			}
		}
		if err != nil {
			return nil, err
		}
		return &VerifyEmailResult{User: u, Changed: true}, nil
	}
	u, err := a.findUserByEmail(ctx, email)
	if err != nil {
		return nil, unauthorized(ErrUserNotFound)
	}
	if userID != "" && userID != u.ID {
		return nil, unauthorized(ErrInvalidToken)
	}
	if u.EmailVerified {
		return &VerifyEmailResult{User: u, AlreadyVerified: true}, nil
	}
	cred, _ := claims["cred"].(string)
	vouched := sessionUserID == u.ID
	if !vouched {
		if vouched, err = a.vouchedCredential(ctx, u.ID, cred); err != nil {
			return nil, err
		}
	}
	claimed, err := a.markEmailVerified(ctx, u, vouched)
	if err != nil {
		return nil, err
	}
	return &VerifyEmailResult{User: u, Claimed: claimed}, nil
}

// markEmailVerified marks u's address verified after its owner proved
// control of the mailbox (a verification link, a magic link, a password
// reset, a code by mail) and runs the plugins' EmailVerified hooks; u is
// updated. It does nothing for an address verified already.
//
// An unverified account may have been signed up by anyone in the
// address's name, with their own password, sessions or passkeys (an
// account pre-hijack). Unless credentialsVouched — the proof also vouches
// for the account's password, as a link mailed for the sign-up that set it
// does — every first factor set before is dropped first: every account
// (password or provider), every session, every reset link and each
// plugin's (plugin.Hooks.ResetCredentials: passkeys, …). Second factors stay, as
// the mailbox alone must never get past one. The owner then signs in by
// the mailbox flow they used, or sets a password through a reset. claimed
// reports that this happened.
func (a *Auth) markEmailVerified(ctx context.Context, u *User, credentialsVouched bool) (claimed bool, err error) {
	if u.EmailVerified {
		return false, nil
	}
	if !credentialsVouched {
		if err := a.resetCredentials(ctx, u.ID); err != nil {
			return false, err
		}
		claimed = true
		// The plugins may have changed the user's fields.
		fresh, err := a.findUserByID(ctx, u.ID)
		if err != nil {
			return false, err
		}
		*u = *fresh
	}
	fresh, err := a.updateUser(ctx, u.ID, map[string]any{"emailVerified": true})
	if err != nil {
		return false, err
	}
	*u = *fresh
	for _, h := range a.hooks {
		if h.EmailVerified != nil {
			if err := h.EmailVerified(ctx, u); err != nil {
				a.log.ErrorContext(ctx, "auth: email-verified hook failed", "user", u.ID, "err", err)
			}
		}
	}
	return claimed, nil
}

// resetCredentials drops every way into the user's account: accounts,
// sessions, outstanding reset links and the plugins' credentials.
func (a *Auth) resetCredentials(ctx context.Context, userID string) error {
	err := a.db.Tx(ctx, func(tx storage.Adapter) error {
		for _, t := range []string{plugin.TableAccount, plugin.TableSession} {
			if _, err := tx.Delete(ctx, t, storage.W("userId", userID)); err != nil {
				return err
			}
		}
		_, err := tx.Delete(ctx, plugin.TableVerification, resetLinksOf(userID)...)
		return err
	})
	if err != nil {
		return plugin.StorageError(err)
	}
	for _, h := range a.hooks {
		if h.ResetCredentials != nil {
			if err := h.ResetCredentials(ctx, userID); err != nil {
				return plugin.AsError(err)
			}
		}
	}
	return nil
}

// resetLinksOf selects the verification rows of the user's reset links.
func resetLinksOf(userID string) []storage.Where {
	return []storage.Where{{Field: "identifier", Op: storage.StartsWith, Value: resetPrefix}, storage.W("value", userID)}
}

func (a *Auth) setEmail(ctx context.Context, userID, email string, verified bool) (*User, error) {
	u, err := a.updateUser(ctx, userID, map[string]any{"email": plugin.NormalizeEmail(email), "emailVerified": verified})
	if errors.Is(err, storage.ErrConflict) {
		return nil, ErrUserAlreadyExists.WithMessage("User already exists. Use another email.")
	}
	return u, err
}

// RequestPasswordReset mails a single-use reset link to the user with
// email, if there is one. The answer is the same either way: no error for
// an unknown email. The mail is sent in the background (Shutdown waits for
// it); if it cannot be sent, the token is deleted and the failure logged.
func (a *Auth) RequestPasswordReset(ctx context.Context, email, redirectTo string) error {
	if a.cfg.Mailer == nil {
		return ErrResetPasswordDisabled
	}
	u, err := a.findUserByEmail(ctx, email)
	if errors.Is(err, ErrUserNotFound) {
		// Same work as a real request: a random token and a lookup.
		_ = plugin.RandomString(24, "")
		_, _ = a.findVerification(ctx, resetPrefix+"dummy-verification-token")
		return nil
	}
	if err != nil {
		return err
	}
	token := plugin.RandomString(24, "")
	id := resetPrefix + token
	if err := a.createVerification(ctx, id, u.ID, a.cfg.EmailPassword.ResetPasswordTokenExpiresIn); err != nil {
		return err
	}
	link := a.absURL("/reset-password/" + token + "?callbackURL=" + plugin.EncodeURIComponent(redirectTo))
	// The mail goes out in the background: the answer (and its timing) must
	// be the same for known and unknown emails even when the mail server is
	// slow or down.
	a.queueMail(ctx, Email{Kind: plugin.EmailPasswordReset, To: u.Email, Name: plugin.GreetingName(u), URL: link},
		func(ctx context.Context, _ error) {
			// Leave no live token behind a mail that never went out.
			if derr := a.deleteVerification(ctx, id); derr != nil {
				a.log.ErrorContext(ctx, "auth: removing reset token after mail failure", "err", derr)
			}
		})
	return nil
}

// ResetPassword sets a new password with a reset token, consuming the
// token. Unknown, used or expired tokens are ErrInvalidToken. Every other
// reset link of the user stops working, and, unless
// EmailPassword.KeepSessionsOnPasswordReset, every session ends (whoever
// knew the old password is signed out). A reset proves the mailbox: an
// address not verified yet is verified, and what someone else may have
// set on the account before is dropped first (MarkEmailVerified).
func (a *Auth) ResetPassword(ctx context.Context, token, newPassword string) error {
	if token == "" {
		return ErrInvalidToken
	}
	if err := a.checkPasswordLength(newPassword); err != nil {
		return err
	}
	id := resetPrefix + token
	// Consume first: of concurrent uses exactly one goes on, and a replayed
	// token costs no hashing.
	v, err := a.consumeVerification(ctx, id)
	if err != nil {
		if errors.Is(err, plugin.ErrVerificationNotFound) {
			return ErrInvalidToken
		}
		return err
	}
	restore := func() {
		// The token was not used up by a change: give it back.
		if rem := v.ExpiresAt.Sub(a.clockNow()); rem > 0 {
			if err := a.createVerification(context.WithoutCancel(ctx), id, v.Value, rem); err != nil {
				a.log.WarnContext(ctx, "auth: restoring a reset token failed", "err", err)
			}
		}
	}
	u, err := a.findUserByID(ctx, v.Value)
	if err != nil {
		return err
	}
	hash, err := a.hashPassword(ctx, newPassword)
	if err != nil {
		restore()
		return err
	}
	if _, err := a.markEmailVerified(ctx, u, false); err != nil {
		restore()
		return err
	}
	if err := a.setPassword(ctx, u.ID, hash, !a.cfg.EmailPassword.KeepSessionsOnPasswordReset, ""); err != nil {
		restore()
		return err
	}
	return nil
}

// setPassword stores a new password hash (creating the credential account
// if there is none) and voids every outstanding reset link of the user, in
// one transaction; with endSessions it also ends the user's sessions but
// the one with token keep ("" for none).
func (a *Auth) setPassword(ctx context.Context, userID, hash string, endSessions bool, keep string) error {
	now := a.clockNow()
	return a.db.Tx(ctx, func(tx storage.Adapter) error {
		if endSessions {
			w := []storage.Where{storage.W("userId", userID)}
			if keep != "" {
				w = append(w, storage.Where{Field: "token", Op: storage.Ne, Value: keep})
			}
			if _, err := tx.Delete(ctx, plugin.TableSession, w...); err != nil {
				return plugin.StorageError(err)
			}
		}
		if _, err := tx.Delete(ctx, plugin.TableVerification, resetLinksOf(userID)...); err != nil {
			return plugin.StorageError(err)
		}
		n, err := tx.Update(ctx, plugin.TableAccount, storage.Record{"password": hash, "updatedAt": now},
			storage.W("userId", userID), storage.W("providerId", plugin.CredentialProvider))
		if err != nil {
			return plugin.StorageError(err)
		}
		if n == 0 {
			acc := &plugin.Account{ID: plugin.NewID(), AccountID: userID, ProviderID: plugin.CredentialProvider, UserID: userID, Password: &hash, CreatedAt: now, UpdatedAt: now}
			if err := tx.Create(ctx, plugin.TableAccount, acc.Record()); err != nil {
				return plugin.StorageError(err)
			}
		}
		return nil
	})
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
	newEmail = plugin.NormalizeEmail(newEmail)
	if !plugin.ValidEmail(newEmail) {
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
	// A taken address answers as a free one, with the same work and the
	// same mails to the mailboxes the caller may read (the old one): the
	// mails leave in the background either way, so neither the answer nor
	// its timing tells whether the address is registered.
	_, err := a.findUserByEmail(ctx, newEmail)
	taken := err == nil
	if err != nil && !errors.Is(err, ErrUserNotFound) {
		return nil, err
	}
	if immediate {
		if taken {
			_ = a.emailToken(u.Email, u.ID, newEmail, "", "") // same work as a real change
			return nil, nil
		}
		nu, err := a.setEmail(ctx, u.ID, newEmail, false)
		if err != nil {
			if errors.Is(err, ErrUserAlreadyExists) {
				return nil, nil // lost a race for the address: answer as for a taken one
			}
			return nil, err
		}
		if canMail {
			// Asked for from a session of the account: the link vouches for
			// its password, as the sign-up's link does.
			a.mailInBackground(ctx, a.verificationEmail(nu, callbackURL, a.passwordHash(ctx, nu.ID)))
		}
		return nu, nil
	}
	if u.EmailVerified && uc.SendChangeEmailConfirmation {
		// To the old address whether or not the new one is taken; opening
		// it mails the new address only if it is still free.
		t := a.emailToken(u.Email, u.ID, newEmail, "change-email-confirmation", "")
		a.mailInBackground(ctx, Email{Kind: plugin.EmailChangeEmail, To: u.Email, Name: plugin.GreetingName(u),
			URL: a.verifyEmailURL(t, callbackURL), Data: map[string]string{"newEmail": newEmail}})
		return nil, nil
	}
	t := a.emailToken(u.Email, u.ID, newEmail, "change-email-verification", "")
	if !taken {
		a.mailInBackground(ctx, Email{Kind: plugin.EmailVerification, To: newEmail, URL: a.verifyEmailURL(t, callbackURL)})
	}
	return nil, nil
}

// resolveURL resolves ref (a relative or absolute URL) against
// BaseURL+BasePath, as Better Auth's redirects do.
func (a *Auth) resolveURL(ref string) string {
	base, err := url.Parse(a.absURL(""))
	if err != nil {
		return ref
	}
	r, err := url.Parse(ref)
	if err != nil {
		return a.absURL("/error")
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

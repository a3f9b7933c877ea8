package auth

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"time"

	"unicode/utf16"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// Errors of ours, beyond Better Auth's table.
var (
	ErrInvalidImage     = plugin.NewError(http.StatusBadRequest, "INVALID_IMAGE", "Image must be a URL of at most 2048 characters")
	ErrNoFieldsToUpdate = plugin.NewError(http.StatusBadRequest, "", "No fields to update")
)

// SignUpInput is the input of SignUpEmail.
type SignUpInput struct {
	Name     string
	Email    string
	Password string
	Image    *string
	// RememberMe false makes the session end with the browser session.
	// Nil means true.
	RememberMe *bool
	// CallbackURL is where the verification link leads (with email
	// verification).
	CallbackURL string
	// Extra holds values of the user fields plugins declare with
	// storage.Field.Input (a username): they are set on the new user
	// before the BeforeUserCreate hooks, which may validate and normalise
	// them. A key that is no such field is ErrFieldNotAllowed, a value of
	// the wrong type a VALIDATION_ERROR.
	Extra map[string]any
}

// SignInInput is the input of SignInEmail.
type SignInInput struct {
	Email      string
	Password   string
	RememberMe *bool
	// CallbackURL is where a re-sent verification link leads.
	CallbackURL string
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

func (a *Auth) checkPasswordLength(p string) error {
	n := utf16Len(p)
	if n < a.cfg.EmailPassword.MinPasswordLength {
		return ErrPasswordTooShort
	}
	if n > a.cfg.EmailPassword.MaxPasswordLength {
		return ErrPasswordTooLong
	}
	return nil
}

// SignUpEmail creates a user with an email and password and, unless
// auto sign-in is off or email verification is required, a session. It is
// the operation behind POST /sign-up/email and returns what that route
// returns: the user, the session and the cookies.
//
// A taken email is ErrUserAlreadyExistsUseAnother, except where no session
// would be created anyway: then, as Better Auth does against enumeration,
// it returns a made-up user and no session after the same work — the same
// hashing and database statements (rolled back), and no mail on the
// request path either way (the verification mail leaves in the
// background), so neither the answer nor its timing tells. An insert
// that conflicts with a concurrent sign-up runs the BeforeUserCreate
// hooks again, so that a plugin's unique field taken meanwhile (a
// username) is answered with the plugin's error; the email is answered as
// above.
//
// Serving an HTTP request (plugin.RequestInfo.Request in ctx), it applies the
// login CSRF guard as POST /sign-up/email does, whatever route calls it.
func (a *Auth) SignUpEmail(ctx context.Context, in SignUpInput) (*AuthResult, error) {
	ep := a.cfg.EmailPassword
	if ep.Disabled || ep.DisableSignUp {
		return nil, ErrSignUpDisabled
	}
	if err := a.checkLoginCSRFOf(ctx); err != nil {
		return nil, err
	}
	email := plugin.NormalizeEmail(in.Email)
	if !plugin.ValidEmail(email) {
		return nil, ErrInvalidEmail
	}
	if err := plugin.CheckName(in.Name); err != nil {
		return nil, err
	}
	if err := checkImage(in.Image); err != nil {
		return nil, err
	}
	if err := a.checkPasswordLength(in.Password); err != nil {
		return nil, err
	}
	if err := a.checkInputFields(in.Extra); err != nil {
		return nil, err
	}
	noSession := ep.DisableAutoSignIn || ep.RequireEmailVerification
	now := a.clockNow()
	newUser := func() *User {
		return &User{ID: plugin.NewID(), Name: in.Name, Email: email, Image: in.Image, CreatedAt: now, UpdatedAt: now,
			Extra: maps.Clone(in.Extra)}
	}
	synthetic := func() (*AuthResult, error) {
		// Shaped like a real new user, plugin fields included, so the
		// answer does not tell that the email was taken.
		u := newUser()
		for _, h := range a.hooks {
			if h.BeforeUserCreate != nil {
				if err := h.BeforeUserCreate(ctx, u); err != nil {
					return nil, err
				}
			}
		}
		u.Extra = a.withDeclaredFields(plugin.TableUser, userCore, u.Extra)
		return &AuthResult{User: u, Existing: true}, nil
	}
	if _, err := a.db.FindOne(ctx, plugin.TableUser, storage.W("email", email)); err == nil {
		if noSession {
			hash, err := a.hashPassword(ctx, in.Password)
			if err != nil {
				return nil, err
			}
			res, err := synthetic()
			if err == nil {
				a.decoyCreate(ctx, res.User, hash)
			}
			return res, err
		}
		return nil, ErrUserAlreadyExistsUseAnother
	} else if !errors.Is(err, storage.ErrNotFound) {
		return nil, plugin.StorageError(err)
	}
	hash, err := a.hashPassword(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	u := newUser()
	if err := a.createUser(ctx, u, &plugin.Account{ID: plugin.NewID(), AccountID: u.ID, ProviderID: plugin.CredentialProvider,
		UserID: u.ID, Password: &hash, CreatedAt: now, UpdatedAt: now}); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			// Taken since the checks: the email, or a unique field of a
			// plugin's (a username). The BeforeUserCreate hooks run
			// again, now seeing the other row, so that a plugin's check
			// answers for its own field.
			res, err := synthetic()
			if err != nil || noSession {
				return res, err
			}
			return nil, ErrUserAlreadyExistsUseAnother
		}
		return nil, err
	}
	if a.cfg.EmailVerification.SendOnSignUp {
		// Mailed for the person who just chose the password: the link
		// vouches for it. If the mail fails (SendEmail logs it), a sign-in
		// or a resend asks for another.
		a.mailInBackground(ctx, a.verificationEmail(u, in.CallbackURL, hash))
	}
	if noSession {
		return &AuthResult{User: u}, nil
	}
	return a.createSession(plugin.WithSignIn(ctx, "email"), u, in.RememberMe == nil || *in.RememberMe)
}

func (a *Auth) createUser(ctx context.Context, u *User, acc *plugin.Account) error {
	if u.ID == "" {
		u.ID = plugin.NewID()
	}
	u.Email = plugin.NormalizeEmail(u.Email)
	if u.CreatedAt.IsZero() {
		u.CreatedAt = a.clockNow()
	}
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = u.CreatedAt
	}
	for _, h := range a.hooks {
		if h.BeforeUserCreate != nil {
			if err := h.BeforeUserCreate(ctx, u); err != nil {
				return err
			}
		}
	}
	u.Extra = a.withDeclaredFields(plugin.TableUser, userCore, u.Extra)
	err := a.db.Tx(ctx, func(tx storage.Adapter) error {
		if err := tx.Create(ctx, plugin.TableUser, userRecord(u)); err != nil {
			return err
		}
		for _, h := range a.hooks {
			if h.UserCreateTx != nil {
				if err := h.UserCreateTx(ctx, tx, u); err != nil {
					return err
				}
			}
		}
		if acc == nil {
			return nil
		}
		acc.UserID = u.ID
		if acc.AccountID == "" {
			acc.AccountID = u.ID
		}
		return tx.Create(ctx, plugin.TableAccount, acc.Record())
	})
	if errors.Is(err, storage.ErrUnavailable) {
		// The commit's answer may have been lost with the connection while
		// the commit itself went through: look before calling it a failure.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		if _, ferr := a.db.FindOne(cctx, plugin.TableUser, storage.W("id", u.ID)); ferr == nil {
			err = nil
		}
		cancel()
	}
	if err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return err
		}
		var ae *Error
		if errors.As(err, &ae) {
			return err
		}
		return plugin.StorageError(err)
	}
	for _, h := range a.hooks {
		if h.AfterUserCreate != nil {
			if err := h.AfterUserCreate(ctx, u); err != nil {
				a.log.ErrorContext(ctx, "auth: after-user-create hook failed", "user", u.ID, "err", err)
			}
		}
	}
	return nil
}

// errDecoy rolls decoyCreate's transaction back.
var errDecoy = errors.New("auth: decoy sign-up")

// decoyCreate runs the statements that create a user like u with password
// hash — in one transaction, which it rolls back — so that a sign-up of a
// taken address does the database work a new one does.
func (a *Auth) decoyCreate(ctx context.Context, u *User, hash string) {
	d := *u
	d.Email = "decoy-" + plugin.NewID() + "@sign-up.invalid"
	acc := &plugin.Account{ID: plugin.NewID(), AccountID: d.ID, ProviderID: plugin.CredentialProvider, UserID: d.ID,
		Password: &hash, CreatedAt: d.CreatedAt, UpdatedAt: d.CreatedAt}
	err := a.db.Tx(ctx, func(tx storage.Adapter) error {
		if err := tx.Create(ctx, plugin.TableUser, userRecord(&d)); err != nil {
			return err
		}
		if err := tx.Create(ctx, plugin.TableAccount, acc.Record()); err != nil {
			return err
		}
		return errDecoy
	})
	if !errors.Is(err, errDecoy) {
		a.log.WarnContext(ctx, "auth: decoy sign-up", "err", err)
	}
}

// SignInEmail signs a user in with email and password: the operation
// behind POST /sign-in/email. Every failure (unknown email, no password,
// wrong password) is ErrInvalidEmailOrPassword after the same hashing work,
// so neither the answer nor its timing tells whether an email is known.
// Plugins' PasswordCheck hooks guard it (a lockout refuses before any
// hashing) and learn its outcome. Serving an HTTP request (plugin.RequestInfo.Request
// in ctx), it applies the login CSRF guard as POST /sign-in/email does,
// whatever route calls it.
func (a *Auth) SignInEmail(ctx context.Context, in SignInInput) (*AuthResult, error) {
	if a.cfg.EmailPassword.Disabled {
		return nil, ErrEmailPasswordDisabled
	}
	if err := a.checkLoginCSRFOf(ctx); err != nil {
		return nil, err
	}
	email := plugin.NormalizeEmail(in.Email)
	if !plugin.ValidEmail(email) {
		return nil, ErrInvalidEmail
	}
	if utf16Len(in.Password) > a.cfg.EmailPassword.MaxPasswordLength {
		return nil, ErrPasswordTooLong // says nothing about the email
	}
	done, err := a.guardPasswordCheck(ctx, email)
	if err != nil {
		return nil, err
	}
	res, err := a.signInPassword(ctx, email, in)
	done(err)
	return res, err
}

// guardPasswordCheck runs the plugins' PasswordCheck hooks. The function
// it returns reports the outcome to those that let the check through; if
// one refuses, those before it are told the refusal.
func (a *Auth) guardPasswordCheck(ctx context.Context, email string) (func(error), error) {
	var dones []func(error)
	finish := func(err error) {
		for i := len(dones) - 1; i >= 0; i-- {
			dones[i](err)
		}
	}
	for _, h := range a.hooks {
		if h.PasswordCheck == nil {
			continue
		}
		done, err := h.PasswordCheck(ctx, email)
		if err != nil {
			finish(err)
			return nil, err
		}
		if done != nil {
			dones = append(dones, done)
		}
	}
	return finish, nil
}

// signInPassword is SignInEmail past its input checks and guards.
func (a *Auth) signInPassword(ctx context.Context, email string, in SignInInput) (*AuthResult, error) {
	u, acc, err := a.credentials(ctx, email)
	if err != nil {
		return nil, err
	}
	if u == nil || acc == nil || acc.Password == nil {
		if err := a.dummyVerify(ctx, in.Password); err != nil {
			return nil, err
		}
		return nil, ErrInvalidEmailOrPassword
	}
	ok, err := a.verifyPassword(ctx, *acc.Password, in.Password)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrInvalidEmailOrPassword
	}
	if a.cfg.EmailPassword.RequireEmailVerification && !u.EmailVerified {
		if a.cfg.EmailVerification.SendOnSignIn {
			// The caller has just given the password: the link vouches for it.
			a.mailInBackground(ctx, a.verificationEmail(u, in.CallbackURL, *acc.Password))
		}
		return nil, ErrEmailNotVerified
	}
	return a.createSession(plugin.WithSignIn(ctx, "email"), u, in.RememberMe == nil || *in.RememberMe)
}

// credentials loads the user with email and their credential account.
// Missing records are nil, not errors.
func (a *Auth) credentials(ctx context.Context, email string) (*User, *plugin.Account, error) {
	urec, err := a.db.FindOne(ctx, plugin.TableUser, storage.W("email", email))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, plugin.StorageError(err)
	}
	u := userFromRecord(urec)
	acc, err := a.credentialAccount(ctx, u.ID)
	return u, acc, err
}

func (a *Auth) credentialAccount(ctx context.Context, userID string) (*plugin.Account, error) {
	arec, err := a.db.FindOne(ctx, plugin.TableAccount, storage.W("userId", userID), storage.W("providerId", plugin.CredentialProvider))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	return plugin.AccountFromRecord(arec), nil
}

// findUserByID returns the user with id, or ErrUserNotFound.
func (a *Auth) findUserByID(ctx context.Context, id string) (*User, error) {
	return a.findUser(ctx, storage.W("id", id))
}

// findUserByEmail returns the user with email (normalised), or
// ErrUserNotFound.
func (a *Auth) findUserByEmail(ctx context.Context, email string) (*User, error) {
	return a.findUser(ctx, storage.W("email", plugin.NormalizeEmail(email)))
}

func (a *Auth) findUser(ctx context.Context, w storage.Where) (*User, error) {
	rec, err := a.db.FindOne(ctx, plugin.TableUser, w)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrUserNotFound
	}
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	return userFromRecord(rec), nil
}

// SignOut deletes the session with token (if any) and returns the cookie
// deletions to send.
func (a *Auth) SignOut(ctx context.Context, token string) ([]*http.Cookie, error) {
	if token != "" {
		if _, err := a.db.Delete(ctx, plugin.TableSession, storage.W("token", token)); err != nil {
			return nil, plugin.StorageError(err)
		}
	}
	return a.expiredSessionCookies(plugin.RequestInfoFrom(ctx).Request), nil
}

// ListSessions returns the user's unexpired sessions.
func (a *Auth) ListSessions(ctx context.Context, userID string) ([]*Session, error) {
	recs, err := a.db.FindMany(ctx, plugin.TableSession, storage.Query{Where: []storage.Where{
		storage.W("userId", userID), {Field: "expiresAt", Op: storage.Gt, Value: a.clockNow()},
	}, Sort: []storage.Sort{{Field: "createdAt"}}})
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	out := make([]*Session, len(recs))
	for i, r := range recs {
		out[i] = sessionFromRecord(r)
	}
	return out, nil
}

// RevokeSession deletes the user's session with token. A token of another
// user deletes nothing and is not an error.
func (a *Auth) RevokeSession(ctx context.Context, userID, token string) error {
	_, err := a.db.Delete(ctx, plugin.TableSession, storage.W("token", token), storage.W("userId", userID))
	if err != nil {
		return plugin.StorageError(err)
	}
	return nil
}

// RevokeSessions deletes every session of the user.
func (a *Auth) RevokeSessions(ctx context.Context, userID string) error {
	if _, err := a.db.Delete(ctx, plugin.TableSession, storage.W("userId", userID)); err != nil {
		return plugin.StorageError(err)
	}
	return nil
}

// RevokeOtherSessions deletes every session of the user but the one with
// keepToken.
func (a *Auth) RevokeOtherSessions(ctx context.Context, userID, keepToken string) error {
	_, err := a.db.Delete(ctx, plugin.TableSession, storage.W("userId", userID),
		storage.Where{Field: "token", Op: storage.Ne, Value: keepToken})
	if err != nil {
		return plugin.StorageError(err)
	}
	return nil
}

// UpdateUserInput is the input of UpdateUser. Nil fields are left alone;
// ClearImage sets the image to null. Extra sets plugin fields of the user
// table.
type UpdateUserInput struct {
	Name       *string
	Image      *string
	ClearImage bool
	Extra      map[string]any
}

// UpdateUser changes the user's profile and returns the updated user:
// the operation behind POST /update-user. The plugins'
// BeforeUserUpdate hooks see the fields (name, image and in.Extra) before
// the write and may refuse or normalise them; a unique field another user
// took meanwhile runs them again, so that the plugin owning the field
// answers (else 422 FAILED_TO_UPDATE_USER); nothing is written then.
func (a *Auth) UpdateUser(ctx context.Context, userID string, in UpdateUserInput) (*User, error) {
	set := map[string]any{}
	if in.Name != nil {
		if err := plugin.CheckName(*in.Name); err != nil {
			return nil, err
		}
		set["name"] = *in.Name
	}
	if in.ClearImage {
		set["image"] = nil
	} else if in.Image != nil {
		if err := checkImage(in.Image); err != nil {
			return nil, err
		}
		set["image"] = *in.Image
	}
	for k, v := range in.Extra {
		if userCore[k] {
			return nil, ErrFieldNotAllowed.WithMessage(k + " is not allowed to be set")
		}
		set[k] = v
	}
	if len(set) == 0 {
		return nil, ErrNoFieldsToUpdate
	}
	return a.updateUser(ctx, userID, set)
}

// updateUser writes fields to the user's row, and updatedAt unless fields
// sets it, through the plugins' BeforeUserUpdate hooks, and returns the
// updated user (ErrUserNotFound if there is none). Every write of user
// fields goes through it. A unique constraint the write hits (a value
// another user took since the hooks looked) runs the hooks again with
// the fields as given, now seeing the other row, so that the plugin
// owning the field answers for it; if none refuses, the error is
// errFailedToUpdateUser, which errors.Is matches to storage.ErrConflict.
func (a *Auth) updateUser(ctx context.Context, userID string, fields map[string]any) (*User, error) {
	given := maps.Clone(fields)
	if err := a.beforeUserUpdate(ctx, userID, fields); err != nil {
		return nil, err
	}
	set := storage.Record(maps.Clone(fields))
	if _, ok := set["updatedAt"]; !ok {
		set["updatedAt"] = a.clockNow()
	}
	n, err := a.db.Update(ctx, plugin.TableUser, set, storage.W("id", userID))
	if errors.Is(err, storage.ErrConflict) {
		if herr := a.beforeUserUpdate(ctx, userID, given); herr != nil {
			return nil, herr
		}
		return nil, errFailedToUpdateUser(err)
	}
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	if n == 0 {
		return nil, ErrUserNotFound
	}
	return a.findUserByID(ctx, userID)
}

// beforeUserUpdate runs the plugins' BeforeUserUpdate hooks on fields.
func (a *Auth) beforeUserUpdate(ctx context.Context, userID string, fields map[string]any) error {
	for _, h := range a.hooks {
		if h.BeforeUserUpdate != nil {
			if err := h.BeforeUserUpdate(ctx, userID, fields); err != nil {
				return err
			}
		}
	}
	return nil
}

// withDeclaredFields sets each field that plugins declare on table (the
// core's fields aside) and extra lacks to nil, and returns extra: a
// record made in memory (a new user, a new session) then has every field
// a record read from the database has, and its JSON shows them as null,
// as Better Auth's objects do.
func (a *Auth) withDeclaredFields(table string, core map[string]bool, extra map[string]any) map[string]any {
	for _, f := range a.schema.Table(table).Fields {
		if core[f.Name] {
			continue
		}
		if _, ok := extra[f.Name]; !ok {
			if extra == nil {
				extra = map[string]any{}
			}
			extra[f.Name] = nil
		}
	}
	return extra
}

// ChangePasswordInput is the input of ChangePassword.
type ChangePasswordInput struct {
	CurrentPassword     string
	NewPassword         string
	RevokeOtherSessions bool
}

// ChangePassword checks the current password and sets a new one; every
// outstanding reset link of the user stops working. With
// RevokeOtherSessions every session of the user is deleted and a new one
// created (returned with its cookies); otherwise the result has no
// session. The check of the current password is guarded like a sign-in
// (plugin.Hooks.PasswordCheck).
func (a *Auth) ChangePassword(ctx context.Context, sd *SessionData, in ChangePasswordInput) (*AuthResult, error) {
	if err := a.checkPasswordLength(in.NewPassword); err != nil {
		return nil, err
	}
	u := sd.User
	if err := a.checkPassword(ctx, u, in.CurrentPassword); err != nil {
		return nil, err
	}
	hash, err := a.hashPassword(ctx, in.NewPassword)
	if err != nil {
		return nil, err
	}
	if err := a.setPassword(ctx, u.ID, hash, false, ""); err != nil {
		return nil, err
	}
	if !in.RevokeOtherSessions {
		return &AuthResult{User: u}, nil
	}
	if err := a.RevokeSessions(ctx, u.ID); err != nil {
		return nil, err
	}
	return a.createSession(ctx, u, true)
}

// CheckPassword verifies the user's password: nil, ErrInvalidPassword, or
// ErrCredentialAccountNotFound when the user has none (after the same
// hashing work). Every call is guarded like a sign-in (plugin.Hooks.PasswordCheck:
// the reference server's lockout counts wrong passwords here too), so a
// stolen session cannot guess the password without limit.
func (a *Auth) CheckPassword(ctx context.Context, userID, password string) error {
	u, err := a.findUserByID(ctx, userID)
	if err != nil {
		return err
	}
	return a.checkPassword(ctx, u, password)
}

// checkPassword verifies u's password under the PasswordCheck guards:
// nil, ErrInvalidPassword, or ErrCredentialAccountNotFound when u has no
// password (after the same hashing work).
func (a *Auth) checkPassword(ctx context.Context, u *User, password string) error {
	if utf16Len(password) > a.cfg.EmailPassword.MaxPasswordLength {
		return ErrInvalidPassword
	}
	done, err := a.guardPasswordCheck(ctx, u.Email)
	if err != nil {
		return err
	}
	err = a.verifyCredential(ctx, u.ID, password)
	done(err)
	return err
}

func (a *Auth) verifyCredential(ctx context.Context, userID, password string) error {
	acc, err := a.credentialAccount(ctx, userID)
	if err != nil {
		return err
	}
	if acc == nil || acc.Password == nil {
		if err := a.dummyVerify(ctx, password); err != nil {
			return err
		}
		return ErrCredentialAccountNotFound
	}
	ok, err := a.verifyPassword(ctx, *acc.Password, password)
	if err != nil {
		return err
	}
	if !ok {
		return ErrInvalidPassword
	}
	return nil
}

// DeleteUser erases a user: every plugin's data (plugin.DataSource), then the
// sessions, accounts and the user row. BeforeUserDelete hooks may refuse.
func (a *Auth) DeleteUser(ctx context.Context, userID string) error {
	u, err := a.findUserByID(ctx, userID)
	if err != nil {
		return err
	}
	for _, h := range a.hooks {
		if h.BeforeUserDelete != nil {
			if err := h.BeforeUserDelete(ctx, u); err != nil {
				return err
			}
		}
	}
	for _, d := range a.data {
		if err := d.DeleteUser(ctx, userID); err != nil {
			return plugin.AsError(err)
		}
	}
	return a.db.Tx(ctx, func(tx storage.Adapter) error {
		for _, t := range []string{plugin.TableSession, plugin.TableAccount, plugin.TableUser} {
			w := storage.W("userId", userID)
			if t == plugin.TableUser {
				w = storage.W("id", userID)
			}
			if _, err := tx.Delete(ctx, t, w); err != nil {
				return plugin.StorageError(err)
			}
		}
		return nil
	})
}

// ExportUser returns everything stored about a user: the user, their
// sessions and accounts (without secrets), and each plugin's data under its
// ID.
func (a *Auth) ExportUser(ctx context.Context, userID string) (map[string]any, error) {
	u, err := a.findUserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	sessions, err := a.db.FindMany(ctx, plugin.TableSession, storage.Query{Where: []storage.Where{storage.W("userId", userID)}})
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	accounts, err := a.db.FindMany(ctx, plugin.TableAccount, storage.Query{Where: []storage.Where{storage.W("userId", userID)}})
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	var ss []map[string]any
	for _, r := range sessions {
		s := sessionFromRecord(r)
		ss = append(ss, map[string]any{"id": s.ID, "createdAt": plugin.FormatTime(s.CreatedAt), "expiresAt": plugin.FormatTime(s.ExpiresAt),
			"ipAddress": s.IPAddress, "userAgent": s.UserAgent})
	}
	var as []map[string]any
	for _, r := range accounts {
		ac := plugin.AccountFromRecord(r)
		as = append(as, map[string]any{"id": ac.ID, "providerId": ac.ProviderID, "accountId": ac.AccountID,
			"createdAt": plugin.FormatTime(ac.CreatedAt), "hasPassword": ac.Password != nil})
	}
	out := map[string]any{"user": u, "sessions": ss, "accounts": as}
	for _, p := range a.plugins {
		if d, ok := p.(plugin.DataSource); ok {
			v, err := d.ExportUser(ctx, userID)
			if err != nil {
				return nil, plugin.AsError(err)
			}
			if v != nil {
				out[p.ID()] = v
			}
		}
	}
	return out, nil
}

package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/jwt/verify"
	"github.com/managarten/mana-auth/plugin"
)

// jwtReason is the stable code of a token verification failure.
func jwtReason(err error) string {
	var je *verify.Error
	if errors.As(err, &je) && je.Code != "" {
		return je.Code
	}
	return "INVALID_TOKEN"
}

func (s *Server) v1AuthRoutes(mux *http.ServeMux) {
	p := "/api/v1/auth"
	mux.HandleFunc("GET "+p+"/signup-status", s.handleSignupStatus)
	mux.HandleFunc("POST "+p+"/register", s.handleRegister)
	mux.HandleFunc("POST "+p+"/login", s.handleLogin)
	mux.HandleFunc("POST "+p+"/logout", s.handleLogout)
	mux.HandleFunc("GET "+p+"/session", s.proxyAuth("GET", "/get-session"))
	mux.HandleFunc("GET "+p+"/profile", s.proxyAuth("GET", "/get-session"))
	mux.HandleFunc("POST "+p+"/profile", s.handleProfile)
	mux.HandleFunc("POST "+p+"/validate", s.handleValidate)
	mux.HandleFunc("POST "+p+"/refresh", s.handleRefresh)
	mux.HandleFunc("POST "+p+"/session-to-token", s.handleSessionToToken)
	mux.HandleFunc("POST "+p+"/forgot-password", s.handleForgotPassword)
	mux.HandleFunc("POST "+p+"/reset-password", s.handleResetPassword)
	mux.HandleFunc("POST "+p+"/resend-verification", s.handleResendVerification)
	mux.HandleFunc("POST "+p+"/change-password", s.handleChangePassword)
	mux.HandleFunc("POST "+p+"/change-email", s.handleChangeEmail)
	mux.HandleFunc("DELETE "+p+"/account", s.handleDeleteAccount)
	mux.HandleFunc("GET "+p+"/security-events", s.handleOwnSecurityEvents) // v1sessions.go
	mux.HandleFunc("GET "+p+"/jwks", s.proxyAuth("GET", "/jwks"))
	s.v1SessionRoutes(mux)
	s.v1PasskeyRoutes(mux)
}

// proxyAuth serves a v1 route by the SDK route it wraps, answer verbatim.
func (s *Server) proxyAuth(method, path string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r2 := r.Clone(r.Context())
		r2.Method = method
		r2.URL.Path = s.auth.Config().BasePath + path
		r2.URL.RawPath = ""
		r2.RequestURI = ""
		s.auth.Handler().ServeHTTP(w, r2)
	}
}

// handleLogout ends the caller's session. A session cookie or bearer
// session token is Better Auth's sign-out; a bearer access token (the JWT
// login answers with) ends the session it was minted for (its sid) — an
// invalid one is 401, never a success that ended nothing.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	h := r.Header.Get("Authorization")
	if len(h) <= 7 || !strings.EqualFold(h[:7], "bearer ") || strings.Count(strings.TrimSpace(h[7:]), ".") != 2 {
		s.proxyAuth("POST", "/sign-out")(w, r)
		return
	}
	p, err := s.authenticate(r)
	if err == nil && p.SessionID == "" {
		err = errBadToken // not one of ours: it names no session to end
	}
	if errors.Is(err, errBadToken) {
		writeEnvelope(w, http.StatusUnauthorized, "UNAUTHORIZED", errBadToken.Message, 0)
		return
	}
	if err != nil {
		s.writeAuthErr(w, r, err)
		return
	}
	if _, err := s.db.Delete(r.Context(), plugin.TableSession, whereEq("id", p.SessionID), whereEq("userId", p.UserID)); err != nil {
		s.writeAuthErr(w, r, plugin.StorageError(err))
		return
	}
	s.sec.record(r.Context(), eventFor(r.Context(), EventLogout, p.UserID, map[string]any{"route": r.URL.Path}))
	plugin.WriteCookies(w, s.host.ExpiredSessionCookies(r))
	writeJSON(w, 200, map[string]bool{"success": true})
}

type signupStatus struct {
	RegistrationOpen bool   `json:"registrationOpen"`
	SpotsRemaining   *int   `json:"spotsRemaining"`
	TotalToday       int    `json:"totalToday"`
	Limit            int    `json:"limit"`
	ResetsAt         string `json:"resetsAt"`
}

// signupsToday counts today's REGISTER events (UTC day).
func (s *Server) signupsToday(ctx context.Context) (int, time.Time) {
	now := s.host.Now()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	n, err := s.db.Count(ctx, TableSecurityEvent, whereEq("eventType", EventRegister), whereGte("createdAt", day))
	if err != nil {
		s.log.WarnContext(ctx, "signup cap: count failed (failing open)", "err", err)
		return 0, day.Add(24 * time.Hour)
	}
	return int(n), day.Add(24 * time.Hour)
}

func (s *Server) handleSignupStatus(w http.ResponseWriter, r *http.Request) {
	if s.cfg.MaxDailySignups <= 0 {
		writeJSON(w, 200, signupStatus{RegistrationOpen: true})
		return
	}
	n, resets := s.signupsToday(r.Context())
	left := max(s.cfg.MaxDailySignups-n, 0)
	writeJSON(w, 200, signupStatus{RegistrationOpen: left > 0, SpotsRemaining: &left, TotalToday: n,
		Limit: s.cfg.MaxDailySignups, ResetsAt: plugin.FormatTime(resets)})
}

func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email        string `json:"email"`
		Password     string `json:"password"`
		Name         string `json:"name"`
		SourceAppURL string `json:"sourceAppUrl"`
	}
	if err := readJSON(r, &in); err != nil {
		s.writeAuthErr(w, r, err)
		return
	}
	if s.cfg.MaxDailySignups > 0 {
		if n, resets := s.signupsToday(r.Context()); n >= s.cfg.MaxDailySignups {
			writeEnvelope(w, http.StatusTooManyRequests, "SIGNUP_LIMIT_REACHED",
				"Das tägliche Registrierungslimit ist erreicht. Versuche es morgen wieder.", retrySeconds(resets.Sub(s.host.Now())))
			return
		}
	}
	name := in.Name
	if name == "" {
		name, _, _ = strings.Cut(plugin.NormalizeEmail(in.Email), "@")
	}
	cb := ""
	if in.SourceAppURL != "" {
		if !s.host.TrustedRedirect(in.SourceAppURL) {
			writeEnvelope(w, http.StatusForbidden, "INVALID_CALLBACK_URL", "sourceAppUrl is not a trusted origin", 0)
			return
		}
		cb = in.SourceAppURL
	}
	res, err := s.auth.SignUpEmail(r.Context(), auth.SignUpInput{Name: name, Email: in.Email, Password: in.Password, CallbackURL: cb})
	if err != nil {
		s.writeAuthErr(w, r, err)
		return
	}
	// The side effects (REGISTER event, credits) run in the mana plugin's
	// user hooks, for every way of signing up; a made-up user for a taken
	// email gets none.
	plugin.WriteCookies(w, res.Cookies)
	var token *string
	if res.Session != nil {
		t := res.Token()
		token = &t
	}
	writeJSON(w, 200, map[string]any{"token": token, "user": res.User})
}

type loginResponse struct {
	Redirect     bool       `json:"redirect"`
	Token        string     `json:"token"`
	User         *auth.User `json:"user"`
	AccessToken  string     `json:"accessToken,omitempty"`
	RefreshToken string     `json:"refreshToken,omitempty"`
}

// handleLogin signs in through the same Go path as POST /api/auth/sign-in/email
// and adds an EdDSA access token. Unlike upstream it sets the signed SSO
// cookie (and, for two-factor users, the pending-verification cookie).
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := readJSON(r, &in); err != nil {
		s.writeAuthErr(w, r, err)
		return
	}
	ctx := r.Context()
	email := plugin.NormalizeEmail(in.Email)
	// The lockout guards SignInEmail here as on /api/auth/sign-in/email
	// (Server.guardSignIn, the mana plugin's PasswordCheck hook).
	res, err := s.auth.SignInEmail(ctx, auth.SignInInput{Email: in.Email, Password: in.Password})
	var intr *plugin.Interruption
	if errors.As(err, &intr) {
		s.metrics.signIn("two_factor")
		plugin.WriteCookies(w, intr.Cookies)
		writeJSON(w, 200, intr.Body)
		return
	}
	if err != nil {
		e := plugin.AsError(err)
		switch e.Code {
		case auth.ErrInvalidEmailOrPassword.Code:
			s.sec.record(ctx, eventFor(ctx, EventLoginFailure, "", map[string]any{"code": "INVALID_CREDENTIALS", "email": email}))
			s.metrics.signIn("invalid_credentials")
		case auth.ErrEmailNotVerified.Code:
			s.sec.record(ctx, eventFor(ctx, EventLoginFailure, "", map[string]any{"code": "EMAIL_NOT_VERIFIED", "email": email}))
			s.metrics.signIn("email_not_verified")
		case errAccountLocked.Code: // logged and counted by guardSignIn
		default:
			s.metrics.signIn("error")
		}
		s.writeAuthErr(w, r, err)
		return
	}
	s.sec.record(ctx, eventFor(ctx, EventLoginSuccess, res.User.ID, nil))
	s.metrics.signIn("success")
	out := loginResponse{Token: res.Token(), User: res.User, RefreshToken: res.Token()}
	if tok, err := s.jwt.Mint(ctx, &auth.SessionData{Session: res.Session, User: res.User}); err == nil {
		out.AccessToken = tok
	} else {
		s.log.ErrorContext(ctx, "login: minting the access token failed", "err", err)
	}
	plugin.WriteCookies(w, res.Cookies)
	writeJSON(w, 200, out)
}

func (s *Server) handleValidate(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Token string `json:"token"`
	}
	if err := readJSON(r, &in); err != nil {
		s.writeAuthErr(w, r, err)
		return
	}
	if in.Token == "" {
		writeJSON(w, 200, map[string]any{"valid": false, "reason": "MISSING_TOKEN"})
		return
	}
	c, err := s.jwt.Verify(r.Context(), in.Token)
	if err != nil {
		if errors.Is(err, verify.ErrKeySetUnavailable) {
			writeEnvelope(w, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", "Keys unavailable", 0)
			return
		}
		writeJSON(w, 200, map[string]any{"valid": false, "reason": jwtReason(err)})
		return
	}
	// The payload as signed is already a checked JSON object: pass it on
	// as is rather than encoding c.Raw again.
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(append(append(make([]byte, 0, len(c.JSON)+32), `{"valid":true,"payload":`...), c.JSON...), "}\n"...))
}

// sessionAndToken resolves the caller's session and mints an access token.
func (s *Server) sessionAndToken(w http.ResponseWriter, r *http.Request, noSession func()) {
	sd, err := s.auth.Session(r)
	if err != nil {
		if errors.Is(err, auth.ErrUnauthorized) {
			noSession()
			return
		}
		s.writeAuthErr(w, r, err)
		return
	}
	tok, err := s.jwt.Mint(r.Context(), sd)
	if err != nil {
		s.writeAuthErr(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]string{"accessToken": tok, "refreshToken": sd.Session.Token})
}

func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) {
	s.sessionAndToken(w, r, func() { writeEnvelope(w, 401, "TOKEN_EXPIRED", "Session expired", 0) })
}

func (s *Server) handleSessionToToken(w http.ResponseWriter, r *http.Request) {
	s.sessionAndToken(w, r, func() { writeEnvelope(w, 401, "UNAUTHORIZED", "No valid session", 0) })
}

func (s *Server) handleForgotPassword(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email      string `json:"email"`
		RedirectTo string `json:"redirectTo"`
	}
	if err := readJSON(r, &in); err != nil {
		s.writeAuthErr(w, r, err)
		return
	}
	if in.RedirectTo != "" && !s.host.TrustedRedirect(in.RedirectTo) {
		writeEnvelope(w, http.StatusForbidden, "INVALID_REDIRECT_URL", "redirectTo is not a trusted origin", 0)
		return
	}
	email := plugin.NormalizeEmail(in.Email)
	if plugin.ValidEmail(email) {
		if err := s.auth.RequestPasswordReset(r.Context(), email, in.RedirectTo); err != nil {
			s.writeAuthErr(w, r, err)
			return
		}
		s.sec.record(r.Context(), eventFor(r.Context(), EventPasswordResetRequested, "", map[string]any{"email": email}))
	}
	writeJSON(w, 200, map[string]bool{"success": true})
}

func (s *Server) handleResetPassword(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Token       string `json:"token"`
		NewPassword string `json:"newPassword"`
	}
	if err := readJSON(r, &in); err != nil {
		s.writeAuthErr(w, r, err)
		return
	}
	if err := s.auth.ResetPassword(r.Context(), in.Token, in.NewPassword); err != nil {
		s.writeAuthErr(w, r, err)
		return
	}
	s.sec.record(r.Context(), eventFor(r.Context(), EventPasswordResetCompleted, "", nil))
	writeJSON(w, 200, map[string]bool{"success": true})
}

func (s *Server) handleResendVerification(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email        string `json:"email"`
		SourceAppURL string `json:"sourceAppUrl"`
	}
	if err := readJSON(r, &in); err != nil {
		s.writeAuthErr(w, r, err)
		return
	}
	if in.SourceAppURL != "" && !s.host.TrustedRedirect(in.SourceAppURL) {
		writeEnvelope(w, http.StatusForbidden, "INVALID_CALLBACK_URL", "sourceAppUrl is not a trusted origin", 0)
		return
	}
	err := s.auth.ResendVerification(r.Context(), in.Email, in.SourceAppURL)
	if err != nil && !errors.Is(err, auth.ErrVerificationEmailNotEnabled) {
		s.writeAuthErr(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]bool{"success": true})
}

// withSession runs fn with the caller's session or answers 401.
func (s *Server) withSession(w http.ResponseWriter, r *http.Request, fn func(sd *auth.SessionData)) {
	sd, err := s.auth.Session(r)
	if err != nil {
		if errors.Is(err, auth.ErrUnauthorized) {
			writeEnvelope(w, 401, "UNAUTHORIZED", "No valid session", 0)
			return
		}
		s.writeAuthErr(w, r, err)
		return
	}
	fn(sd)
}

// handleProfile is /update-user in the /api/v1/auth envelope; the security
// log records PROFILE_UPDATED through /update-user's own success (securityPaths).
func (s *Server) handleProfile(w http.ResponseWriter, r *http.Request) {
	s.withSession(w, r, func(*auth.SessionData) {
		rec := httptest.NewRecorder()
		s.proxyAuth("POST", "/update-user")(rec, r)
		if rec.Code >= 400 { // the SDK's {code,message} in the /api/v1/auth envelope
			var e struct{ Code, Message string }
			_ = json.Unmarshal(rec.Body.Bytes(), &e)
			s.writeAuthErr(w, r, plugin.NewError(rec.Code, e.Code, e.Message))
			return
		}
		copyRecorded(w, rec)
	})
}

func (s *Server) handleChangePassword(w http.ResponseWriter, r *http.Request) {
	var in struct {
		CurrentPassword     string `json:"currentPassword"`
		NewPassword         string `json:"newPassword"`
		RevokeOtherSessions bool   `json:"revokeOtherSessions"`
	}
	if err := readJSON(r, &in); err != nil {
		s.writeAuthErr(w, r, err)
		return
	}
	s.withSession(w, r, func(sd *auth.SessionData) {
		res, err := s.auth.ChangePassword(r.Context(), sd, auth.ChangePasswordInput{
			CurrentPassword: in.CurrentPassword, NewPassword: in.NewPassword, RevokeOtherSessions: in.RevokeOtherSessions})
		if err != nil {
			s.writeAuthErr(w, r, err)
			return
		}
		s.sec.record(r.Context(), eventFor(r.Context(), EventPasswordChanged, sd.User.ID, nil))
		plugin.WriteCookies(w, res.Cookies)
		writeJSON(w, 200, map[string]bool{"success": true})
	})
}

func (s *Server) handleChangeEmail(w http.ResponseWriter, r *http.Request) {
	var in struct {
		NewEmail    string `json:"newEmail"`
		CallbackURL string `json:"callbackURL"`
	}
	if err := readJSON(r, &in); err != nil {
		s.writeAuthErr(w, r, err)
		return
	}
	if in.CallbackURL != "" && !s.host.TrustedRedirect(in.CallbackURL) {
		writeEnvelope(w, http.StatusForbidden, "INVALID_CALLBACK_URL", "callbackURL is not a trusted origin", 0)
		return
	}
	s.withSession(w, r, func(sd *auth.SessionData) {
		if _, err := s.auth.ChangeEmail(r.Context(), sd, in.NewEmail, in.CallbackURL); err != nil {
			s.writeAuthErr(w, r, err)
			return
		}
		s.sec.record(r.Context(), eventFor(r.Context(), EventEmailChangeRequested, sd.User.ID, map[string]any{"newEmail": plugin.NormalizeEmail(in.NewEmail)}))
		writeJSON(w, 200, map[string]bool{"success": true})
	})
}

func (s *Server) handleDeleteAccount(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Password string `json:"password"`
	}
	if err := readJSON(r, &in); err != nil {
		s.writeAuthErr(w, r, err)
		return
	}
	s.withSession(w, r, func(sd *auth.SessionData) {
		if err := s.auth.CheckPassword(r.Context(), sd.User.ID, in.Password); err != nil {
			s.writeAuthErr(w, r, err)
			return
		}
		res := s.eraseUser(r.Context(), sd.User.ID)
		if !res.Success {
			writeJSON(w, http.StatusServiceUnavailable, res)
			return
		}
		plugin.WriteCookies(w, s.host.ExpiredSessionCookies(r))
		writeJSON(w, 200, map[string]bool{"success": true})
	})
}

func copyRecorded(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

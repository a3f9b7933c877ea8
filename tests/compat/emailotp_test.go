package compat_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/emailotp"
	"github.com/managarten/mana-auth/mail"
	"github.com/managarten/mana-auth/oauth"
	"github.com/managarten/mana-auth/plugin"
)

// otpMailbox serves the codes a mail.Recorder received for the email-otp
// client test: GET /__test/otp?email=<email>&type=<type>[&wait=<ms>]
// answers {otp}, the newest code mailed to that address for that type
// that it has not handed out yet, waiting up to wait ms (default 3000)
// for one, as the email-otp plugin mails in the background; 404 if none
// came.
type otpMailbox struct {
	box  *mail.Recorder
	mu   sync.Mutex
	read map[string]int // "<type>:<email>" -> codes handed out
}

func (m *otpMailbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	key := q.Get("type") + ":" + strings.ToLower(q.Get("email"))
	wait := 3 * time.Second
	if ms, err := strconv.Atoi(q.Get("wait")); err == nil {
		wait = time.Duration(ms) * time.Millisecond
	}
	deadline := time.Now().Add(wait)
	for {
		if code, ok := m.take(key); ok {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]string{"otp": code})
			return
		}
		if time.Now().After(deadline) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte("null"))
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// take returns the newest code of key not handed out yet.
func (m *otpMailbox) take(key string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var codes []string
	for _, e := range m.box.Sent() {
		if e.Kind == plugin.EmailVerificationOTP && e.Data["type"]+":"+strings.ToLower(e.To) == key {
			codes = append(codes, e.Code)
		}
	}
	if len(codes) <= m.read[key] {
		return "", false
	}
	m.read[key] = len(codes)
	return codes[len(codes)-1], true
}

// TestEmailOTPClient runs emailotp-client.mjs — Better Auth's client with
// emailOTPClient() — against our server with the email-otp plugin
// (default options, codes mailed as plugin.EmailVerificationOTP to a
// recording mailer and handed to the script by GET /__test/otp), on
// SQLite and PostgreSQL, then against Better Auth:
// sendVerificationOtp for each type, signIn.emailOtp (a new and an
// existing user), checkVerificationOtp, verifyEmail, forgetPassword.emailOtp,
// requestPasswordReset and resetPassword, codes used once and for their
// own type only, TOO_MANY_ATTEMPTS after three wrong guesses, unknown
// emails answered alike and mailed nothing.
func TestEmailOTPClient(t *testing.T) {
	pluginClientTest{
		script:    "emailotp-client.mjs",
		reference: "email-otp",
		start: func(t *testing.T, db string) string {
			eo, err := emailotp.New(emailotp.Options{AutoSignInAfterVerification: true})
			if err != nil {
				t.Fatal(err)
			}
			// GET /list-accounts, a core route in Better Auth, is the oauth
			// plugin's here: mounted without providers for the script's
			// listAccounts.
			accounts, err := oauth.New(oauth.Config{})
			if err != nil {
				t.Fatal(err)
			}
			box := &mail.Recorder{}
			base, _ := startPluginServer(t, db, auth.Config{
				Mailer:            box,
				EmailVerification: auth.EmailVerificationConfig{AutoSignInAfterVerification: true},
			}, map[string]http.Handler{"GET /__test/otp": &otpMailbox{box: box, read: map[string]int{}}}, eo, accounts)
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := eo.Shutdown(ctx); err != nil {
					t.Errorf("emailotp Shutdown: %v", err)
				}
			})
			return base
		},
	}.run(t)
}

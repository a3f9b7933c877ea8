package twofactor_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage/memory"
	"github.com/managarten/mana-auth/twofactor"
)

// The Go API does what the routes do: enrol a user, then meet the second
// step of a sign-in.
func Example() {
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 12, 0, 15, 0, time.UTC)
	tf := twofactor.New(twofactor.Options{Issuer: "Mana"})
	a, err := auth.New(auth.Config{BaseURL: "https://auth.example.com", Secret: "an-example-secret-of-at-least-32-chars",
		Now: func() time.Time { return now }}, memory.New(), tf)
	if err != nil {
		panic(err)
	}
	// Serve it: http.Handle("/api/auth/", a.Handler())

	// Sign up, enable TOTP (the user scans the URI), confirm with a code.
	res, err := a.SignUpEmail(ctx, auth.SignUpInput{Name: "Jo", Email: "jo@example.com", Password: "correct horse battery"})
	if err != nil {
		panic(err)
	}
	sd := &auth.SessionData{Session: res.Session, User: res.User}
	en, err := tf.Enable(ctx, sd, twofactor.EnableInput{Password: "correct horse battery"})
	if err != nil {
		panic(err)
	}
	u, _ := url.Parse(en.TOTPURI)
	secret := "base32:" + u.Query().Get("secret")
	code, _ := twofactor.TOTPCode(secret, now)
	if _, err := tf.VerifyTOTP(ctx, twofactor.Attempt{Session: sd}, code); err != nil {
		panic(err)
	}
	fmt.Println(u.Scheme, u.Host, len(en.BackupCodes), "backup codes")

	// A sign-in is now interrupted: no session, a pending sign-in instead.
	now = now.Add(30 * time.Second) // each code is accepted once
	_, err = a.SignInEmail(ctx, auth.SignInInput{Email: "jo@example.com", Password: "correct horse battery"})
	var intr *plugin.Interruption
	if !errors.As(err, &intr) {
		panic(err)
	}
	body, _ := json.Marshal(intr.Body)
	fmt.Println(string(body))
	var challenge string
	for _, c := range intr.Cookies {
		if c.Name == a.Host().CookieName(twofactor.CookieTwoFactor) {
			challenge, _ = plugin.VerifyCookieValue(a.Host().Secret(), c.Value)
		}
	}
	code, _ = twofactor.TOTPCode(secret, now)
	done, err := tf.VerifyTOTP(ctx, twofactor.Attempt{Challenge: challenge}, code)
	if err != nil {
		panic(err)
	}
	fmt.Println(done.User.Email, "signed in:", done.Session != nil, cookieNames(done.Cookies))
	// Output:
	// otpauth totp 10 backup codes
	// {"twoFactorRedirect":true,"twoFactorMethods":["totp"]}
	// jo@example.com signed in: true [__Secure-better-auth.session_token __Secure-better-auth.two_factor]
}

func cookieNames(cs []*http.Cookie) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

// TOTPCode and TOTPURI follow Better Auth: the secret's UTF-8 bytes are
// the key.
func ExampleTOTPURI() {
	uri, _ := twofactor.TOTPURI("Mana", "jo@example.com", "Y7y1u1ncu5C9Q0vveS339WyHMj1vbuSI")
	code, _ := twofactor.TOTPCode("Y7y1u1ncu5C9Q0vveS339WyHMj1vbuSI", time.Unix(0, 0))
	fmt.Println(uri)
	fmt.Println(code)
	// Output:
	// otpauth://totp/Mana:jo%40example.com?secret=LE3XSMLVGFXGG5JVIM4VCMDWOZSVGMZTHFLXSSCNNIYXMYTVKNEQ&issuer=Mana&digits=6&period=30
	// 952223
}

package auth_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
)

// TestCookieSigningVectors checks every cookie Better Auth signed: the
// value, its verification, the Set-Cookie line and the bearer form.
func TestCookieSigningVectors(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)
	if len(v.CookieSigning) < 5 {
		t.Fatalf("only %d cookieSigning vectors", len(v.CookieSigning))
	}
	for i, vec := range v.CookieSigning {
		t.Run(vec.Source+"/"+vec.Value, func(t *testing.T) {
			t.Parallel()
			if got := plugin.SignCookieValue(vec.Secret, vec.Value); got != vec.CookieValue {
				t.Errorf("#%d SignCookieValue = %q, want %q", i, got, vec.CookieValue)
			}
			got, ok := plugin.VerifyCookieValue(vec.Secret, vec.CookieValue)
			if !ok || got != vec.Value {
				t.Errorf("#%d VerifyCookieValue = %q, %v; want %q, true", i, got, ok, vec.Value)
			}
			// The signature is the part after the last '.' of the decoded value.
			dec, err := url.PathUnescape(vec.CookieValue)
			if err != nil {
				t.Fatal(err)
			}
			if sig := dec[strings.LastIndexByte(dec, '.')+1:]; sig != vec.Signature {
				t.Errorf("#%d signature %q, want %q", i, sig, vec.Signature)
			}
			if vec.SetAuthToken != "" && dec != vec.SetAuthToken {
				t.Errorf("#%d decoded cookie %q, want set-auth-token %q", i, dec, vec.SetAuthToken)
			}
			// The whole Set-Cookie line, as an Auth with this secret writes it.
			a := newAuth(t, func(c *auth.Config) { c.Secret = vec.Secret })
			lines := setCookieLines([]*http.Cookie{a.Host().SignedCookie(plugin.CookieSessionToken, vec.Value, 604800)})
			if d := cmp.Diff([]string{vec.SetCookie}, lines); d != "" {
				t.Errorf("#%d Set-Cookie (-better-auth +ours):\n%s", i, d)
			}
		})
	}
}

// TestDontRememberVector checks the signed dont_remember cookie of a real
// rememberMe:false sign-in.
func TestDontRememberVector(t *testing.T) {
	t.Parallel()
	v := loadVectors(t).DontRemember
	if got := plugin.SignCookieValue(v.Secret, v.Value); got != v.CookieValue {
		t.Errorf("SignCookieValue = %q, want %q", got, v.CookieValue)
	}
	if got, ok := plugin.VerifyCookieValue(v.Secret, v.CookieValue); !ok || got != "true" {
		t.Errorf("VerifyCookieValue = %q, %v", got, ok)
	}
	a := newAuth(t, func(c *auth.Config) { c.Secret = v.Secret })
	lines := setCookieLines([]*http.Cookie{a.Host().SignedCookie(plugin.CookieDontRemember, "true", 0)})
	if d := cmp.Diff([]string{v.SetCookie}, lines); d != "" {
		t.Errorf("dont_remember Set-Cookie (-better-auth +ours):\n%s", d)
	}
	// The sign-in response's cookies have the same shape as ours.
	var want []string
	for _, sc := range v.SignInResponse.SetCookie {
		want = append(want, shapeOf(sc))
	}
	var got []string
	for _, sc := range setCookieLines([]*http.Cookie{
		a.Host().SignedCookie(plugin.CookieSessionToken, "05IkeUy9cGcsr6AMpGEpQgu32Qb7jtpO", 0),
		a.Host().SignedCookie(plugin.CookieDontRemember, "true", 0),
	}) {
		got = append(got, shapeOf(sc))
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("rememberMe:false cookies (-better-auth +ours):\n%s", d)
	}
	if got := setCookieLines([]*http.Cookie{a.Host().SignedCookie(plugin.CookieSessionToken, "05IkeUy9cGcsr6AMpGEpQgu32Qb7jtpO", 0)}); got[0] != v.SignInResponse.SetCookie[0] {
		t.Errorf("session cookie %q, want %q", got[0], v.SignInResponse.SetCookie[0])
	}
}

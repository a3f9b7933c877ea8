package auth

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/managarten/mana-auth/plugin"
)

// The session read path checks signatures and walks X-Forwarded-For
// without allocating; these tests hold it to the plain implementations it
// replaces.

var signedSeeds = func() []string {
	const secret = "read-path-secret-0123456789abcdef-0123"
	good := plugin.SignCookieValue(secret, "AbCdEfGhIjKlMnOpQrStUvWxYz012345")
	other := plugin.SignCookieValue("another-secret-0123456789abcdef-01234", "AbCdEfGhIjKlMnOpQrStUvWxYz012345")
	dotted := plugin.SignCookieValue(secret, "a.b.c")
	raw := strings.ReplaceAll(good, "%3D", "=")
	return []string{good, other, dotted, raw, "", ".", "x.", ".sig", "no-dot", "%zz", good + "x",
		strings.Replace(raw, "=", "A", 1), raw[:len(raw)-1], strings.ToUpper(raw), "%2E" + raw,
		strings.Replace(good, "%2B", "+", -1), strings.Replace(raw, "+", "-", -1)}
}()

func FuzzVerifySignedValue(f *testing.F) {
	for _, s := range signedSeeds {
		f.Add(s)
	}
	secret := []byte("read-path-secret-0123456789abcdef-0123")
	f.Fuzz(func(t *testing.T, s string) {
		wantV, wantOK := plugin.VerifyCookieValue(string(secret), s)
		gotV, gotOK := verifySignedValue(secret, s)
		if gotV != wantV || gotOK != wantOK {
			t.Fatalf("verifySignedValue(%q) = %q, %v; plugin.VerifyCookieValue says %q, %v", s, gotV, gotOK, wantV, wantOK)
		}
		// Another secret through the same pool: never its value.
		if _, ok := verifySignedValue([]byte("another-secret-0123456789abcdef-01234"), s); ok && wantOK {
			t.Fatalf("%q verifies under two secrets", s)
		}
	})
}

// referenceClientIP is clientIP as it was: the hops split into a list.
func referenceClientIP(a *Auth, hdr []string) string {
	peer := netip.MustParseAddr("127.0.0.1")
	var hops []string
	for _, v := range hdr {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		ip, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if ip = ip.Unmap(); !a.trustedProxy(ip) {
			return normIP(ip)
		}
	}
	return normIP(peer)
}

func TestClientIPWalk(t *testing.T) {
	t.Parallel()
	a := &Auth{cfg: Config{IPHeaders: []string{"X-Forwarded-For"}}}
	for _, p := range []string{"127.0.0.1", "10.0.0.0/8", "::1"} {
		pfx, _ := parsePrefix(p)
		a.proxies = append(a.proxies, pfx)
	}
	for _, hdr := range [][]string{
		nil, {""}, {"203.0.113.7"}, {"203.0.113.7, 10.0.0.1"}, {"198.51.100.1, 203.0.113.7, 10.1.2.3"},
		{"203.0.113.7,"}, {",203.0.113.7"}, {"junk, 10.0.0.1"}, {"10.0.0.1, 10.0.0.2"}, {"203.0.113.7", "10.0.0.2"},
		{"203.0.113.7", ""}, {"198.51.100.1", "junk"}, {"::ffff:203.0.113.9"}, {"2001:db8::1, ::1"},
		{" 203.0.113.7 ,  10.0.0.3 "}, {"fe80::1%eth0"}, {"a,b,c"}, {"10.0.0.1", "203.0.113.7, 10.9.9.9", "10.0.0.2"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "127.0.0.1:1234"
		for _, v := range hdr {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got, want := a.clientIP(r), referenceClientIP(a, hdr); got != want {
			t.Errorf("X-Forwarded-For %q: %q, want %q", hdr, got, want)
		}
	}
}

package auth

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// The session read path walks X-Forwarded-For without allocating; these
// tests hold it to the plain implementation it replaces. (Its signature
// check is plugin.VerifyCookieValue, held to its plain version in
// plugin/crypto_test.go.)

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

package auth

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientIP returns the client IP of r, as session rows and logs record it.
// The IP headers (X-Forwarded-For by default) are believed only
// when the peer is one of Config.TrustedProxies: then the header list is
// walked from the right, skipping trusted hops, and the first untrusted
// address is the client. Otherwise the peer address is the client, so a
// caller cannot choose its own IP by sending a header. (Better Auth also
// believes a single-valued header from anyone; this is stricter.)
// IPv4-mapped addresses are written as IPv4, IPv6 ones in their short form
// ("::1"); the rate limiter counts an IPv6 client by its /64 subnet (one
// host usually holds a whole /64). It returns "" when nothing usable is
// found.
func (a *Auth) clientIP(r *http.Request) string {
	peer := peerAddr(r)
	if !peer.IsValid() || !a.trustedProxy(peer) {
		return normIP(peer)
	}
	for _, h := range a.cfg.IPHeaders {
		// The hops of every line of the header, in order, walked from
		// the right (without splitting them into a list); an unusable
		// hop ends the walk of this header.
		vals := r.Header.Values(h)
	walk:
		for i := len(vals) - 1; i >= 0; i-- {
			v := vals[i]
			for {
				j := strings.LastIndexByte(v, ',')
				ip, err := netip.ParseAddr(strings.TrimSpace(v[j+1:]))
				if err != nil {
					break walk
				}
				if ip = ip.Unmap(); !a.trustedProxy(ip) {
					return normIP(ip)
				}
				if j < 0 {
					break
				}
				v = v[:j]
			}
		}
	}
	return normIP(peer)
}

func (a *Auth) trustedProxy(ip netip.Addr) bool {
	for _, p := range a.proxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func peerAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return ip.Unmap()
}

func normIP(ip netip.Addr) string {
	if !ip.IsValid() {
		return ""
	}
	return ip.Unmap().WithZone("").String()
}

// rateKey is the rate limiter's key of a client IP: an IPv6 address
// counts by its /64 subnet, so a client cannot escape the limit by
// walking its own subnet.
func rateKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is6() {
		return ip
	}
	p, _ := a.Prefix(64)
	return p.String()
}

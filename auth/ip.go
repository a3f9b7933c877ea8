package auth

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ClientIP returns the client IP of r as the rate limiter and session rows
// see it. The IP headers (X-Forwarded-For by default) are believed only
// when the peer is one of Config.TrustedProxies: then the header list is
// walked from the right, skipping trusted hops, and the first untrusted
// address is the client. Otherwise the peer address is the client, so a
// caller cannot choose its own IP by sending a header. (Better Auth also
// believes a single-valued header from anyone; this is stricter.) IPv6
// addresses are reduced to their /64 subnet, IPv4-mapped ones to IPv4. It
// returns "" when nothing usable is found.
func (a *Auth) ClientIP(r *http.Request) string {
	peer := peerAddr(r)
	if !peer.IsValid() || !a.trustedProxy(peer) {
		return normIP(peer)
	}
	for _, h := range a.cfg.IPHeaders {
		var hops []string
		for _, v := range r.Header.Values(h) {
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
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr().StringExpanded()
	}
	return ip.String()
}

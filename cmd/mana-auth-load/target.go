package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// checkLoopbackURL parses raw and accepts it only when it is an http(s)
// URL whose host is a loopback IP literal or "localhost": the tool never
// sends load anywhere else. The returned URL has no trailing slash.
func checkLoopbackURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("--url %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("--url %q: scheme must be http or https", raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("--url %q: no user info allowed", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("--url %q: no query or fragment allowed", raw)
	}
	host := u.Hostname()
	if !loopbackHost(host) {
		return nil, fmt.Errorf("--url %q: refusing a non-loopback host %q (only 127.0.0.0/8, ::1 and localhost)", raw, host)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// loopbackHost reports whether host (no port) is "localhost" or a loopback
// IP literal. Names other than localhost are refused: they are not resolved.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	return ip.WithZone("").Unmap().IsLoopback()
}

var errNotLoopback = errors.New("refusing to connect to a non-loopback address")

// loopbackControl is a net.Dialer Control function: it runs after name
// resolution, so even "localhost" mapped elsewhere cannot leave the host.
func loopbackControl(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q", errNotLoopback, address)
	}
	if !ap.Addr().Unmap().IsLoopback() {
		return fmt.Errorf("%w: %s", errNotLoopback, ap.Addr())
	}
	return nil
}

// newClient returns an HTTP client for conns parallel keep-alive
// connections that dials loopback addresses only and follows no redirects.
func newClient(conns int, timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, Control: loopbackControl}
	tr := &http.Transport{
		DialContext:           d.DialContext,
		MaxIdleConns:          conns + 16,
		MaxIdleConnsPerHost:   conns + 16,
		MaxConnsPerHost:       0,
		IdleConnTimeout:       60 * time.Second,
		DisableCompression:    true,
		ResponseHeaderTimeout: timeout,
		Proxy:                 nil, // never through a proxy
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// ipPool hands out client addresses 10.a.b.c from a counter. Each virtual
// user sends X-Forwarded-For with its current address and takes a new one
// after a per-scenario budget of requests that stays below the server's
// rate-limit rule for that path, so the per-IP limits (which a real
// population of clients would not hit) do not distort throughput. The
// server must believe the header: run it with TRUSTED_PROXIES=127.0.0.1.
type ipPool struct{ next atomic.Uint32 }

func newIPPool(start uint32) *ipPool {
	p := &ipPool{}
	p.next.Store(start & 0xffffff)
	return p
}

func (p *ipPool) take() string {
	c := p.next.Add(1) & 0xffffff
	return ipFromCounter(c)
}

func ipFromCounter(c uint32) string {
	return fmt.Sprintf("10.%d.%d.%d", c>>16&255, c>>8&255, c&255)
}

// clientIP is one virtual user's current address and its remaining uses.
type clientIP struct {
	pool   *ipPool
	budget int
	ip     string
	left   int
}

func (c *clientIP) get() string {
	if c.left <= 0 || c.ip == "" {
		c.ip, c.left = c.pool.take(), c.budget
	}
	c.left--
	return c.ip
}

// waitReady polls GET base/health until it answers 200 or ctx ends.
func waitReady(ctx context.Context, client *http.Client, base string, alive func() error) error {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	var last error
	for {
		if alive != nil {
			if err := alive(); err != nil {
				return err
			}
		}
		st, _, err := probe(ctx, client, base+"/health")
		if err == nil && st == http.StatusOK {
			return nil
		}
		if err != nil {
			last = err
		} else {
			last = fmt.Errorf("GET /health: status %d", st)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("server not ready: %v", last)
		case <-t.C:
		}
	}
}

// probe sends GET url and returns the status and latency.
func probe(ctx context.Context, client *http.Client, u string) (int, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, time.Since(start), err
	}
	drain(resp)
	return resp.StatusCode, time.Since(start), nil
}

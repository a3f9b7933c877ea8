package server

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
)

// metrics is a small Prometheus registry: request counts and latencies by
// route, and sign-in outcomes. It writes the text exposition format.
type metrics struct {
	mu       sync.Mutex
	requests map[[3]string]uint64 // route, method, status
	latency  map[string]*histogram
	signIns  map[string]uint64
	// queues reads the SDK's hashing gate and mail queue at each scrape
	// (nil: not exported).
	queues func() auth.Stats
}

var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

type histogram struct {
	counts []uint64
	sum    float64
	n      uint64
}

func newMetrics() *metrics {
	return &metrics{requests: map[[3]string]uint64{}, latency: map[string]*histogram{}, signIns: map[string]uint64{}}
}

func (m *metrics) observe(route, method string, status int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[[3]string{route, method, strconv.Itoa(status)}]++
	h := m.latency[route]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(latencyBuckets))}
		m.latency[route] = h
	}
	sec := d.Seconds()
	for i, b := range latencyBuckets {
		if sec <= b {
			h.counts[i]++
		}
	}
	h.sum += sec
	h.n++
}

func (m *metrics) signIn(outcome string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.signIns[outcome]++
	m.mu.Unlock()
}

func label(s string) string { return strconv.Quote(s) }

func (m *metrics) write(w io.Writer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintln(w, "# HELP mana_auth_http_requests_total HTTP requests by route, method and status.")
	fmt.Fprintln(w, "# TYPE mana_auth_http_requests_total counter")
	keys := make([][3]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return strings.Join(keys[i][:], " ") < strings.Join(keys[j][:], " ") })
	for _, k := range keys {
		fmt.Fprintf(w, "mana_auth_http_requests_total{route=%s,method=%s,status=%s} %d\n", label(k[0]), label(k[1]), label(k[2]), m.requests[k])
	}
	fmt.Fprintln(w, "# HELP mana_auth_http_request_duration_seconds HTTP request latency by route.")
	fmt.Fprintln(w, "# TYPE mana_auth_http_request_duration_seconds histogram")
	routes := make([]string, 0, len(m.latency))
	for r := range m.latency {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	for _, r := range routes {
		h := m.latency[r]
		for i, b := range latencyBuckets {
			fmt.Fprintf(w, "mana_auth_http_request_duration_seconds_bucket{route=%s,le=%s} %d\n", label(r), label(strconv.FormatFloat(b, 'g', -1, 64)), h.counts[i])
		}
		fmt.Fprintf(w, "mana_auth_http_request_duration_seconds_bucket{route=%s,le=\"+Inf\"} %d\n", label(r), h.n)
		fmt.Fprintf(w, "mana_auth_http_request_duration_seconds_sum{route=%s} %g\n", label(r), h.sum)
		fmt.Fprintf(w, "mana_auth_http_request_duration_seconds_count{route=%s} %d\n", label(r), h.n)
	}
	fmt.Fprintln(w, "# HELP mana_auth_sign_ins_total Sign-in attempts by outcome.")
	fmt.Fprintln(w, "# TYPE mana_auth_sign_ins_total counter")
	outcomes := make([]string, 0, len(m.signIns))
	for o := range m.signIns {
		outcomes = append(outcomes, o)
	}
	sort.Strings(outcomes)
	for _, o := range outcomes {
		fmt.Fprintf(w, "mana_auth_sign_ins_total{outcome=%s} %d\n", label(o), m.signIns[o])
	}
	if m.queues != nil {
		writeQueues(w, m.queues())
	}
}

// writeQueues writes the SDK's hashing gate and mail queue (auth.Stats).
func writeQueues(w io.Writer, s auth.Stats) {
	for _, g := range []struct {
		name, typ, help string
		value           any
	}{
		{"mana_auth_password_hashes_running", "gauge", "Password hashes running now.", s.HashRunning},
		{"mana_auth_password_hashes_waiting", "gauge", "Password hashes queued for a slot now.", s.HashWaiting},
		{"mana_auth_password_hashes_refused_total", "counter", "Password hashes refused with 503 SERVICE_BUSY (expected wait beyond HashMaxWait, queue full, or waited too long).", s.HashRefused},
		{"mana_auth_password_hash_seconds", "gauge", "Measured time of one password hash (moving average).", s.HashTime.Seconds()},
		{"mana_auth_mails_pending", "gauge", "Mails queued or being sent now.", s.MailQueued},
		{"mana_auth_session_lookups_total", "counter", "Session tokens looked up in the database.", s.SessionLookups},
		{"mana_auth_session_reads_total", "counter", "Database reads that answered the session lookups (fewer than the lookups when concurrent lookups shared reads).", s.SessionReads},
	} {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %v\n", g.name, g.help, g.name, g.typ, g.name, g.value)
	}
	fmt.Fprintln(w, "# HELP mana_auth_mails_total Mails by outcome: sent, failed (the mail server refused or timed out), dropped (the queue was full).")
	fmt.Fprintln(w, "# TYPE mana_auth_mails_total counter")
	fmt.Fprintf(w, "mana_auth_mails_total{outcome=\"dropped\"} %d\n", s.MailDropped)
	fmt.Fprintf(w, "mana_auth_mails_total{outcome=\"failed\"} %d\n", s.MailFailed)
	fmt.Fprintf(w, "mana_auth_mails_total{outcome=\"sent\"} %d\n", s.MailSent)
}

// requireBearer admits only requests with "Authorization: Bearer <token>"
// (the scheme in any case, the token compared in constant time); others
// get 401. An empty token admits every request.
func requireBearer(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") || !plugin.SecureEqual(strings.TrimSpace(h[7:]), token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			writeJSON(w, http.StatusUnauthorized, statusBody{StatusCode: http.StatusUnauthorized, Message: "Missing or invalid metrics token", Code: "UNAUTHORIZED"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (m *metrics) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		m.write(w)
	})
}

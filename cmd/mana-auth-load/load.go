package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// user is a seeded account: its session token (a bearer credential) and
// the Cookie header of the cookies its sign-up set.
type user struct {
	email  string
	token  string
	cookie string
}

// cred returns how requests prove the user's session.
func (u user) cred(cookies bool) cred {
	if cookies {
		return cred{cookie: u.cookie}
	}
	return cred{bearer: u.token}
}

// cred is a request's session credential: a bearer token or a Cookie
// header (or neither).
type cred struct{ bearer, cookie string }

// env is what the scenarios share: the target, the seeded users and the
// client-address pool.
type env struct {
	base     string // e.g. http://127.0.0.1:3001
	password string
	runID    string
	timeout  time.Duration
	ips      *ipPool
	cookies  bool // session credentials as cookies, not bearer tokens
	// rawClient drives the scenarios with rawConn instead of net/http
	// (--client=raw; an https target always uses net/http).
	rawClient bool

	users       []user
	signinBody  [][]byte // {"email","password"} per user
	jwts        []string // access tokens for v1-validate
	validateBdy [][]byte
	signupSeq   atomic.Int64
}

// scenario describes one kind of request and what a good answer is.
type scenario struct {
	name   string
	method string
	path   string
	// session sends the user's session credential (a bearer token, or
	// the cookies with --cookies).
	session bool
	// ipBudget is how many requests a client address makes before the
	// virtual user takes a new one; it stays under the server's per-IP
	// rule for the path (sign-in/sign-up 3 per 10 s, v1 login 10 per 10 s,
	// the rest 100 per 10 s or more).
	ipBudget int
	// limit names the primitive that bounds the scenario.
	limit string
	// hashing scenarios run scrypt on the server and use fewer connections.
	hashing   bool
	needUsers bool
	needJWTs  bool
	// body returns the body of request i of virtual user vu (nil: none).
	body func(e *env, vu, conns, i int) []byte
	// check returns "" for the expected answer, else an outcome label.
	check func(status int, body []byte) string
	// expected are outcome labels that are counted but not unexpected.
	expected map[string]bool
}

func statusLabel(status int) string { return strconv.Itoa(status) }

// want200 returns a check that wants status 200 and a body containing
// marker.
func want200(marker string) func(int, []byte) string {
	m := []byte(marker)
	return func(status int, body []byte) string {
		if status != http.StatusOK {
			return statusLabel(status)
		}
		if !bytes.Contains(body, m) {
			return "bad-body"
		}
		return ""
	}
}

func (e *env) userFor(vu, conns, i int) int {
	return (vu + i*conns) % len(e.users)
}

func signinBody(e *env, vu, conns, i int) []byte { return e.signinBody[e.userFor(vu, conns, i)] }

// scenarios are the load scenarios by name, in the order --scenario=all
// runs them: the ones that hash no password first, so the RSS they show
// is not the scrypt buffers' (seeding has hashed already, though).
var scenarioOrder = []string{"ok", "jwks", "get-session", "token", "v1-validate", "sign-in", "v1-login", "sign-up"}

var scenarios = map[string]*scenario{
	// ok is the floor: the cheapest route through the same stack (access
	// log, metrics, CORS, rate limit, routing, JSON answer) with no
	// database and no crypto. No route can go faster than this.
	"ok": {
		name: "ok", method: "GET", path: "/api/auth/ok", ipBudget: 50,
		check: want200(`"ok":true`),
	},
	"jwks": {
		name: "jwks", method: "GET", path: "/api/auth/jwks", ipBudget: 50,
		check: want200(`"keys"`),
	},
	"get-session": {
		name: "get-session", method: "GET", path: "/api/auth/get-session", session: true, ipBudget: 50,
		limit: limitSign, needUsers: true, // the jwt plugin signs a set-auth-jwt per get-session
		check: want200(`"session":{`),
	},
	"token": {
		name: "token", method: "GET", path: "/api/auth/token", session: true, ipBudget: 50,
		limit: limitSign, needUsers: true,
		check: want200(`"token":"`),
	},
	"v1-validate": {
		name: "v1-validate", method: "POST", path: "/api/v1/auth/validate", ipBudget: 50,
		limit: limitVerify, needUsers: true, needJWTs: true,
		body: func(e *env, vu, conns, i int) []byte {
			return e.validateBdy[(vu+i*conns)%len(e.validateBdy)]
		},
		check: want200(`"valid":true`),
	},
	"sign-in": {
		name: "sign-in", method: "POST", path: "/api/auth/sign-in/email", ipBudget: 2,
		limit: limitScrypt, hashing: true, needUsers: true, body: signinBody,
		check: want200(`"token":"`),
	},
	"v1-login": {
		name: "v1-login", method: "POST", path: "/api/v1/auth/login", ipBudget: 5,
		limit: limitScrypt, hashing: true, needUsers: true, body: signinBody,
		check: want200(`"accessToken":"`),
	},
	"sign-up": {
		name: "sign-up", method: "POST", path: "/api/auth/sign-up/email", ipBudget: 2,
		limit: limitScrypt, hashing: true,
		body: func(e *env, _, _, _ int) []byte {
			return signupBody(e, e.signupSeq.Add(1))
		},
		check: want200(`"token":"`),
	},
	"signin-flood": {
		name: "signin-flood", method: "POST", path: "/api/auth/sign-in/email", ipBudget: 2,
		limit: limitScrypt, hashing: true, needUsers: true, body: signinBody,
		check:    want200(`"token":"`),
		expected: map[string]bool{"429": true, "503": true},
	},
}

func signupBody(e *env, n int64) []byte {
	b, _ := json.Marshal(map[string]string{
		"name":     "Load User",
		"email":    fmt.Sprintf("load-%s-%d@example.com", e.runID, n),
		"password": e.password,
	})
	return b
}

// vuResult is what one virtual user saw.
type vuResult struct {
	okLat, allLat, badLat []time.Duration
	outcomes              map[string]int
	requests, ok          int
}

// do sends one request and returns the status and the start of the body
// (up to 64 KiB; the rest is drained so the connection is reused).
func (e *env) do(ctx context.Context, client *http.Client, method, path string, body []byte, ip string, c cred) (int, []byte, error) {
	status, b, _, err := e.doFull(ctx, client, method, path, body, ip, c)
	return status, b, err
}

// doFull is do that also returns the answer's cookies.
func (e *env) doFull(ctx context.Context, client *http.Client, method, path string, body []byte, ip string, c cred) (int, []byte, []*http.Cookie, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.base+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "mana-auth-load")
	if ip != "" {
		req.Header.Set("X-Forwarded-For", ip)
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	if c.cookie != "" {
		req.Header.Set("Cookie", c.cookie)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, resp.Cookies(), err
}

// cookieNames lists the names of the cookies in a Cookie header.
func cookieNames(header string) string {
	var names []string
	for _, part := range strings.Split(header, "; ") {
		if name, _, ok := strings.Cut(part, "="); ok {
			names = append(names, name)
		}
	}
	return strings.Join(names, ", ")
}

// cookieHeader returns the Cookie header that sends back the cookies set
// with a value (expired ones have none).
func cookieHeader(set []*http.Cookie) string {
	var parts []string
	for _, c := range set {
		if c.Value != "" && c.MaxAge >= 0 {
			parts = append(parts, c.Name+"="+c.Value)
		}
	}
	return strings.Join(parts, "; ")
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
}

// drive runs sc with conns virtual users until dur has passed (no request
// starts later) or maxReq requests were started, then waits for the
// requests in flight. Every request is bounded by the client timeout.
func (e *env) drive(ctx context.Context, sc *scenario, conns int, dur time.Duration, maxReq int) (out Result, okLat, allLat []time.Duration, elapsed time.Duration) {
	client := newClient(conns, e.timeout)
	defer client.CloseIdleConnections()
	res := make([]vuResult, conns)
	var started atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(dur)
	for vu := 0; vu < conns; vu++ {
		wg.Add(1)
		go func(vu int) {
			defer wg.Done()
			r := &res[vu]
			r.outcomes = map[string]int{}
			ip := clientIP{pool: e.ips, budget: sc.ipBudget}
			do := func(method, path string, body []byte, ip string, c cred) (int, []byte, error) {
				return e.do(ctx, client, method, path, body, ip, c)
			}
			if e.rawClient {
				if rc, err := newRawConn(e.base, e.timeout); err == nil {
					defer rc.Close()
					do = rc.do
				}
			}
			for i := 0; ; i++ {
				if ctx.Err() != nil || !time.Now().Before(deadline) || started.Add(1) > int64(maxReq) {
					return
				}
				var body []byte
				if sc.body != nil {
					body = sc.body(e, vu, conns, i)
				}
				var c cred
				if sc.session {
					c = e.users[e.userFor(vu, conns, i)].cred(e.cookies)
				}
				t0 := time.Now()
				status, rb, err := do(sc.method, sc.path, body, ip.get(), c)
				d := time.Since(t0)
				r.requests++
				r.allLat = append(r.allLat, d)
				label := ""
				if err != nil {
					if ctx.Err() != nil {
						r.requests--
						r.allLat = r.allLat[:len(r.allLat)-1]
						return
					}
					label = "net"
				} else {
					label = sc.check(status, rb)
				}
				if label == "" {
					r.ok++
					r.okLat = append(r.okLat, d)
					continue
				}
				r.outcomes[label]++
				r.badLat = append(r.badLat, d)
				if label == "net" {
					// Do not spin on a refused connection.
					time.Sleep(10 * time.Millisecond)
				}
			}
		}(vu)
	}
	wg.Wait()
	elapsed = time.Since(start)

	out = Result{Scenario: sc.name, Connections: conns, LimitKind: sc.limit, Outcomes: map[string]int{}}
	var badLat []time.Duration
	for _, r := range res {
		out.Requests += r.requests
		out.OK += r.ok
		okLat = append(okLat, r.okLat...)
		allLat = append(allLat, r.allLat...)
		badLat = append(badLat, r.badLat...)
		for k, v := range r.outcomes {
			out.Outcomes[k] += v
			if !sc.expected[k] {
				out.Unexpected += v
			}
		}
	}
	if len(out.Outcomes) == 0 {
		out.Outcomes = nil
	} else {
		slices.Sort(badLat)
		out.NotOKP50ms, out.NotOKMaxMs = ms(percentile(badLat, 50)), ms(percentile(badLat, 100))
	}
	// Latencies are summarised by the caller (which knows the limits).
	return out, okLat, allLat, elapsed
}

// retryAfter reads a Retry-After-ish wait from a refused seeding request.
func retryAfter(status int) time.Duration {
	if status == http.StatusTooManyRequests {
		return 2 * time.Second
	}
	return 500 * time.Millisecond
}

var errSeed = errors.New("seeding failed")

// seed signs up n users with at most conc requests in flight (each costs
// the server one scrypt hash) and keeps their session tokens.
func (e *env) seed(ctx context.Context, n, conc int, progress func(done int)) error {
	client := newClient(conc, e.timeout)
	defer client.CloseIdleConnections()
	e.users = make([]user, n)
	jobs := make(chan int)
	var done atomic.Int64
	var firstErr error
	var mu sync.Mutex
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil {
			firstErr = err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ip := clientIP{pool: e.ips, budget: 2}
			for i := range jobs {
				email := fmt.Sprintf("load-%s-seed%d@example.com", e.runID, i)
				body, _ := json.Marshal(map[string]string{"name": "Load User", "email": email, "password": e.password})
				var err error
				for attempt := 0; attempt < 6; attempt++ {
					var status int
					var rb []byte
					var set []*http.Cookie
					status, rb, set, err = e.doFull(ctx, client, "POST", "/api/auth/sign-up/email", body, ip.get(), cred{})
					if err == nil && status == http.StatusOK {
						var v struct {
							Token *string `json:"token"`
						}
						if jerr := json.Unmarshal(rb, &v); jerr != nil || v.Token == nil || *v.Token == "" {
							err = fmt.Errorf("%w: sign-up of %s answered without a session token (is email verification required? set REQUIRE_EMAIL_VERIFICATION=false): %.200s", errSeed, email, rb)
							break
						}
						e.users[i] = user{email: email, token: *v.Token, cookie: cookieHeader(set)}
						break
					}
					if err == nil {
						err = fmt.Errorf("%w: sign-up of %s: status %d: %.200s", errSeed, email, status, rb)
						if status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable {
							break
						}
						select {
						case <-ctx.Done():
						case <-time.After(retryAfter(status)):
						}
						err = fmt.Errorf("%w: sign-up of %s: status %d after retries", errSeed, email, status)
						continue
					}
					if ctx.Err() != nil {
						break
					}
				}
				if e.users[i].token == "" {
					if err == nil {
						err = fmt.Errorf("%w: sign-up of %s", errSeed, email)
					}
					fail(err)
					cancel()
					continue
				}
				if progress != nil {
					progress(int(done.Add(1)))
				}
			}
		}()
	}
feed:
	for i := 0; i < n; i++ {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil && int(done.Load()) < n {
		return err
	}
	e.signinBody = make([][]byte, n)
	for i, u := range e.users {
		e.signinBody[i], _ = json.Marshal(map[string]string{"email": u.email, "password": e.password})
	}
	return nil
}

// fetchJWTs gets access tokens (GET /api/auth/token) for up to k users.
func (e *env) fetchJWTs(ctx context.Context, k int) error {
	client := newClient(1, e.timeout)
	defer client.CloseIdleConnections()
	ip := clientIP{pool: e.ips, budget: 50}
	k = min(k, len(e.users))
	for i := 0; i < k; i++ {
		status, rb, err := e.do(ctx, client, "GET", "/api/auth/token", nil, ip.get(), e.users[i].cred(false))
		if err != nil {
			return err
		}
		var v struct {
			Token string `json:"token"`
		}
		if status != http.StatusOK || json.Unmarshal(rb, &v) != nil || v.Token == "" {
			return fmt.Errorf("GET /api/auth/token: status %d: %.200s", status, rb)
		}
		e.jwts = append(e.jwts, v.Token)
		b, _ := json.Marshal(map[string]string{"token": v.Token})
		e.validateBdy = append(e.validateBdy, b)
	}
	return nil
}

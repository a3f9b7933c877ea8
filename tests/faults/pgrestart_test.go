package faults_test

import (
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/managarten/mana-auth/internal/testproc"
)

const (
	// failFastBound: every request overlapping the outage must be answered
	// within this of its start (or of the stop, if it was in flight).
	failFastBound = 5 * time.Second
	// recoveryBound: after PostgreSQL is back, sign-ups must succeed again
	// within this, without restarting mana-auth.
	recoveryBound = 10 * time.Second
)

// probe is one GET /ready.
type probe struct {
	at     time.Time
	dur    time.Duration
	status int // 0 on a transport error
}

// outageCycle is what one stop/start of PostgreSQL under load recorded.
type outageCycle struct {
	mode                     string
	stop0, stop1, start0, up time.Time // pg_ctl stop issued/returned, pg_ctl start issued/returned (accepting connections)
	results                  []result
	probes                   []probe
	firstSignUpOK            time.Time // end of the first 200 sign-up started after up
	recoveredSignUp          bool
}

// TestPostgresRestartDuringLoad stops a private PostgreSQL (fast, then
// immediate) under a load of sign-ups and get-sessions and starts it again.
// Requests during the outage must fail fast (5xx, each within
// failFastBound), /ready must answer 503 during the outage and 200 after,
// mana-auth must recover by itself within recoveryBound, every sign-up that
// answered 200 must exist afterwards (whole: with its credential account)
// and none that failed may exist (a failed one that exists is reported as a
// finding: see TestPostgresAnswerLostAfterCommit for the window).
func TestPostgresRestartDuringLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a private PostgreSQL and restarts it twice under load (~30 s)")
	}
	pg := startPrivatePG(t)
	s := startServer(t, serverEnv(testproc.FreePort(t), map[string]string{
		"DATABASE_URL": pg.url(),
		"DATA_DIR":     t.TempDir(),
	}))
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}

	// A few signed-in users for the get-session load.
	var sessions [][]*http.Cookie
	for i := 0; i < 4; i++ {
		r := do(client, s, "POST", "/api/auth/sign-up/email", signUpBody(uniqueEmail("pg-seed")), nil)
		if r.err != nil || r.status != http.StatusOK || len(r.cookies) == 0 {
			t.Fatalf("seed sign-up: %v", r)
		}
		sessions = append(sessions, r.cookies)
	}

	var cycles []*outageCycle
	for _, mode := range []string{"fast", "immediate"} {
		c := &outageCycle{mode: mode}
		cycles = append(cycles, c)
		t.Run(mode, func(t *testing.T) { runOutage(t, pg, s, client, sessions, c) })
		if s.exited() {
			t.Fatalf("mana-auth exited: %v", s.err)
		}
	}

	// The database holds exactly the sign-ups that answered 200.
	db := openCore(t, pg.url())
	stored, orphans := usersByEmail(t, db)
	for _, o := range orphans {
		t.Errorf("user without its credential account: %s", o)
	}
	var ok200, failed, ambiguous int
	var okEmails []string
	for _, c := range cycles {
		for _, r := range c.results {
			if r.kind != "POST /api/auth/sign-up/email" {
				continue
			}
			id, exists := stored[r.email]
			switch {
			case r.err == nil && r.status == http.StatusOK:
				ok200++
				okEmails = append(okEmails, r.email)
				if !exists {
					t.Errorf("[%s] sign-up %s answered 200 (user %s) but is not in the database", c.mode, r.email, r.userID)
				} else if id != r.userID {
					t.Errorf("[%s] sign-up %s answered 200 as user %s but the database has %s", c.mode, r.email, r.userID, id)
				}
			default:
				failed++
				if exists {
					ambiguous++
					t.Logf("FINDING [%s]: sign-up %s answered %q after %v, started %v after `pg_ctl stop` was issued, yet user %s was committed",
						c.mode, r.email, statusKey(r), r.dur.Round(time.Millisecond), r.start.Sub(c.stop0).Round(time.Millisecond), id)
				}
			}
		}
	}
	t.Logf("sign-ups: %d answered 200 (all present: checked), %d failed, of which %d were committed nonetheless", ok200, failed, ambiguous)

	// The 200s are whole accounts: a sample signs in.
	for i := 0; i < len(okEmails) && i < 3; i++ {
		e := okEmails[len(okEmails)-1-i]
		r := do(client, s, "POST", "/api/auth/sign-in/email", map[string]string{"email": e, "password": testPassword}, nil)
		if r.err != nil || r.status != http.StatusOK {
			t.Errorf("sign-in of %s (answered 200 at sign-up): %v", e, r)
		}
	}
	s.stop(t, 15*time.Second)
}

// runOutage runs one stop/start cycle under load and checks it.
func runOutage(t *testing.T, pg *privatePG, s *server, client *http.Client, sessions [][]*http.Cookie, c *outageCycle) {
	const (
		workers    = 4    // half sign-ups: a short hash queue (HashConcurrency = CPUs)
		maxReqs    = 4000 // per cycle, all workers together
		before     = 1500 * time.Millisecond
		outage     = 3 * time.Second
		afterOK    = time.Second      // load after the first recovered sign-up
		loadLimit  = 30 * time.Second // hard bound of the load
		pace       = 15 * time.Millisecond
		probeEvery = 100 * time.Millisecond
	)
	var (
		mu      sync.Mutex
		results []result
		probes  []probe
		wg      sync.WaitGroup
	)
	stopLoad := make(chan struct{})
	loadStart := time.Now()
	stopped := func() bool {
		select {
		case <-stopLoad:
			return true
		default:
			return time.Since(loadStart) > loadLimit
		}
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; !stopped(); i++ {
				var r result
				if (i+w)%2 == 0 {
					r = do(client, s, "GET", "/api/auth/get-session", nil, sessions[rand.IntN(len(sessions))])
				} else {
					email := uniqueEmail("pg-" + c.mode)
					r = do(client, s, "POST", "/api/auth/sign-up/email", signUpBody(email), nil)
					r.email = email
				}
				mu.Lock()
				results = append(results, r)
				n := len(results)
				mu.Unlock()
				if n >= maxReqs {
					return
				}
				time.Sleep(pace)
			}
		}(w)
	}
	wg.Add(1)
	go func() { // readiness probe
		defer wg.Done()
		pc := &http.Client{Timeout: 10 * time.Second}
		for !stopped() {
			p := probe{at: time.Now()}
			resp, err := pc.Get(s.base + "/ready")
			p.dur = time.Since(p.at)
			if err == nil {
				p.status = resp.StatusCode
				resp.Body.Close()
			}
			mu.Lock()
			probes = append(probes, p)
			mu.Unlock()
			time.Sleep(probeEvery)
		}
	}()

	time.Sleep(before)
	c.stop0 = time.Now()
	stopErr := pg.stop(c.mode)
	c.stop1 = time.Now()
	var startErr error
	if stopErr == nil {
		time.Sleep(outage)
		c.start0 = time.Now()
		startErr = pg.start()
		c.up = time.Now()
		// Load on until a sign-up started after the restart answers 200
		// (bounded), then a little longer.
		deadline := c.up.Add(recoveryBound + 2*time.Second)
		for time.Now().Before(deadline) && startErr == nil {
			mu.Lock()
			for _, r := range results {
				if r.kind == "POST /api/auth/sign-up/email" && r.status == http.StatusOK && !r.start.Before(c.up) {
					c.recoveredSignUp = true
					if c.firstSignUpOK.IsZero() || r.start.Add(r.dur).Before(c.firstSignUpOK) {
						c.firstSignUpOK = r.start.Add(r.dur)
					}
				}
			}
			mu.Unlock()
			if c.recoveredSignUp {
				time.Sleep(afterOK)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	close(stopLoad)
	wg.Wait()
	c.results, c.probes = results, probes
	if stopErr != nil {
		t.Fatalf("stopping PostgreSQL: %v", stopErr)
	}
	if startErr != nil {
		t.Fatalf("starting PostgreSQL again: %v", startErr)
	}
	if s.exited() {
		t.Fatalf("mana-auth exited during the outage: %v", s.err)
	}

	// Every answer came fast, and none was a hang or a transport error.
	var all, during, waited []time.Duration
	var duringKeys, overlapKeys, afterKeys, allKeys []string
	var firstAfterOK time.Time
	var lastAfterFail time.Duration
	for _, r := range results {
		all = append(all, r.dur)
		allKeys = append(allKeys, r.kind[strings.LastIndexByte(r.kind, '/')+1:]+" "+statusKey(r))
		if r.err != nil {
			t.Errorf("transport error (the server hung up or did not answer within the client timeout): %v", r)
			continue
		}
		end := r.start.Add(r.dur)
		if end.After(c.stop0) && r.start.Before(c.up) {
			// How long the request waited once the database was going
			// away: from its start, or from pg_ctl stop if it was
			// already in flight (then its hashing came before).
			from := r.start
			if from.Before(c.stop0) {
				from = c.stop0
			}
			waited = append(waited, end.Sub(from))
			// A failure must come fast. (A success overlapping the
			// outage either finished before the stop bit or started
			// once PostgreSQL was starting again; its time is the
			// password hash under load, not a wait.)
			if r.status != http.StatusOK && end.Sub(from) >= failFastBound {
				t.Errorf("failure came %v after the database went away (bound %v): %v, started %v after pg_ctl stop",
					end.Sub(from), failFastBound, r, r.start.Sub(c.stop0))
			}
			// Started while PostgreSQL was down and succeeded: it waited
			// for the database instead of failing.
			if r.status == http.StatusOK && !r.start.Before(c.stop1) && r.start.Before(c.start0) {
				t.Errorf("request started %v after PostgreSQL was stopped answered 200 %v later: it waited for the database to come back instead of failing fast",
					r.start.Sub(c.stop1), r.dur)
			}
		}
		switch {
		case !r.start.Before(c.stop1) && end.Before(c.start0): // wholly inside the outage
			during = append(during, r.dur)
			duringKeys = append(duringKeys, r.kind[strings.LastIndexByte(r.kind, '/')+1:]+" "+statusKey(r))
			if r.status < 500 {
				t.Errorf("during the outage: %v; want a 5xx", r)
			} else if r.status != http.StatusServiceUnavailable {
				t.Logf("FINDING [%s]: during the outage %v (a 500 rather than 503: unavailability not recognised)", c.mode, r)
			}
		case end.After(c.stop0) && r.start.Before(c.up): // overlaps stop or start
			overlapKeys = append(overlapKeys, r.kind[strings.LastIndexByte(r.kind, '/')+1:]+" "+statusKey(r))
		case !r.start.Before(c.up): // after the restart
			afterKeys = append(afterKeys, r.kind[strings.LastIndexByte(r.kind, '/')+1:]+" "+statusKey(r))
			if r.status != http.StatusOK && (firstAfterOK.IsZero() || r.start.Before(firstAfterOK)) {
				lastAfterFail = max(lastAfterFail, r.start.Sub(c.up))
			}
			if r.status == http.StatusOK && r.kind == "POST /api/auth/sign-up/email" && (firstAfterOK.IsZero() || r.start.Before(firstAfterOK)) {
				firstAfterOK = r.start
			}
		}
		if r.kind == "GET /api/auth/get-session" && r.status == http.StatusOK && r.null {
			t.Errorf("get-session answered 200 null for a valid session (a silent sign-out) %v after pg_ctl stop", r.start.Sub(c.stop0))
		}
	}
	if len(during) == 0 {
		t.Errorf("no request fell wholly inside the outage: the test proved nothing")
	}

	// /ready: 503 during the outage, 200 after, always fast.
	var ready503, ready200After bool
	var probeDurs []time.Duration
	var firstReady time.Time
	for _, p := range probes {
		probeDurs = append(probeDurs, p.dur)
		if p.dur >= failFastBound {
			t.Errorf("/ready took %v at %v after pg_ctl stop", p.dur, p.at.Sub(c.stop0))
		}
		if !p.at.Before(c.stop1) && p.at.Add(p.dur).Before(c.start0) {
			if p.status == http.StatusServiceUnavailable {
				ready503 = true
			} else {
				t.Errorf("/ready answered %d during the outage; want 503", p.status)
			}
		}
		if !p.at.Before(c.up) && p.status == http.StatusOK {
			ready200After = true
			if firstReady.IsZero() {
				firstReady = p.at.Add(p.dur)
			}
		}
	}
	if !ready503 {
		t.Errorf("/ready never answered 503 during the outage")
	}
	if !ready200After {
		t.Errorf("/ready never answered 200 after PostgreSQL was back")
	}

	// Recovery without a restart of mana-auth.
	if !c.recoveredSignUp {
		t.Errorf("no sign-up succeeded within %v of PostgreSQL accepting connections again", recoveryBound+2*time.Second)
	} else if d := c.firstSignUpOK.Sub(c.up); d > recoveryBound {
		t.Errorf("first successful sign-up %v after PostgreSQL was back; want within %v", d, recoveryBound)
	}

	t.Logf("pg_ctl stop -m %s took %v; outage (stop issued → accepting again) %v; pg_ctl start took %v",
		c.mode, c.stop1.Sub(c.stop0).Round(time.Millisecond), c.up.Sub(c.stop0).Round(time.Millisecond), c.up.Sub(c.start0).Round(time.Millisecond))
	t.Logf("requests: %d in all, latency %s", len(results), durStats(all))
	t.Logf("answers in all: %s", countBy(allKeys))
	t.Logf("wholly inside the outage: latency %s; %s", durStats(during), countBy(duringKeys))
	t.Logf("every request overlapping the outage, time from max(start, pg_ctl stop) to answer: %s", durStats(waited))
	t.Logf("overlapping stop/start: %s", countBy(overlapKeys))
	t.Logf("/ready: %d probes, latency %s", len(probes), durStats(probeDurs))
	t.Logf("started after PostgreSQL was back: %s", countBy(afterKeys))
	if c.recoveredSignUp {
		t.Logf("recovery: first 200 sign-up started %v and answered %v after PostgreSQL was back (a sign-up takes %s under this load); /ready 200 %v after",
			firstAfterOK.Sub(c.up).Round(time.Millisecond), c.firstSignUpOK.Sub(c.up).Round(time.Millisecond),
			durStats(okSignUpDurs(results)), firstReady.Sub(c.up).Round(time.Millisecond))
	}
}

// okSignUpDurs returns the latencies of the sign-ups that answered 200.
func okSignUpDurs(rs []result) []time.Duration {
	var ds []time.Duration
	for _, r := range rs {
		if r.kind == "POST /api/auth/sign-up/email" && r.status == http.StatusOK {
			ds = append(ds, r.dur)
		}
	}
	return ds
}

package faults_test

import (
	"bufio"
	"context"
	be "encoding/binary"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/managarten/mana-auth/internal/testproc"
)

// commitCutter is a TCP proxy in front of PostgreSQL. Armed, it lets the
// next COMMIT (simple query "commit", as pgx sends it) of a transaction
// that inserted into the user table through to the server, waits for the
// server's answer to arrive, drops that answer and closes both sides: the transaction is committed, and the client only sees
// its connection die. That is what a database crash or a network cut right
// after the commit looks like to mana-auth.
type commitCutter struct {
	ln     net.Listener
	target string
	armed  atomic.Bool
	// cutOn, when set, makes the proxy close both sides instead of
	// forwarding the next Query, Parse or Bind (of a statement prepared
	// earlier on the connection) whose SQL contains every one of its
	// strings: that statement never runs.
	cutOn  atomic.Pointer[[]string]
	cutNow chan struct{} // closed when a statement was cut
	once2  sync.Once
	cut    chan struct{} // closed when an answer to COMMIT was dropped
	once   sync.Once
	mu     sync.Mutex
	conns  []net.Conn
}

func newCommitCutter(t *testing.T, target string) *commitCutter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &commitCutter{ln: ln, target: target, cut: make(chan struct{}), cutNow: make(chan struct{})}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.handle(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			c.Close()
		}
	})
	return p
}

func (p *commitCutter) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *commitCutter) track(c net.Conn) {
	p.mu.Lock()
	p.conns = append(p.conns, c)
	p.mu.Unlock()
}

func (p *commitCutter) handle(client net.Conn) {
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		client.Close()
		return
	}
	p.track(client)
	p.track(server)
	var cutting atomic.Bool
	closeBoth := func() { client.Close(); server.Close() }
	go func() { // server → client
		buf := make([]byte, 32<<10)
		for {
			n, err := server.Read(buf)
			if n > 0 {
				if cutting.Load() {
					// The answer to COMMIT: the server has committed.
					// Signal first: the client learns of the cut from
					// closeBoth, and the test must see the signal then.
					p.once.Do(func() { close(p.cut) })
					closeBoth()
					return
				}
				if _, werr := client.Write(buf[:n]); werr != nil {
					closeBoth()
					return
				}
			}
			if err != nil {
				closeBoth()
				return
			}
		}
	}()
	// client → server, one protocol message at a time.
	defer closeBoth()
	br := bufio.NewReader(client)
	// Start-up phase: length-prefixed messages without a type byte; an
	// SSL or GSS encryption request is answered by one byte and followed
	// by another start-up message.
	for {
		msg, err := readN(br, 4)
		if err != nil {
			return
		}
		n := int(be.BigEndian.Uint32(msg))
		if n < 8 || n > 1<<20 {
			return
		}
		rest, err := readN(br, n-4)
		if err != nil {
			return
		}
		if _, err := server.Write(append(msg, rest...)); err != nil {
			return
		}
		code := be.BigEndian.Uint32(rest[:4])
		if code != 80877103 && code != 80877104 { // SSLRequest, GSSENCRequest
			break
		}
	}
	prepared := map[string]string{} // statement name → SQL, on this connection
	userTx := false                 // an INSERT into "user" since the last COMMIT/ROLLBACK
	for {
		hdr, err := readN(br, 5)
		if err != nil {
			return
		}
		n := int(be.BigEndian.Uint32(hdr[1:]))
		if n < 4 || n > 64<<20 {
			return
		}
		body, err := readN(br, n-4)
		if err != nil {
			return
		}
		sqlText := ""
		switch hdr[0] {
		case 'Q':
			sqlText = string(body)
		case 'P': // Parse: statement name, query
			name, rest, _ := strings.Cut(string(body), "\x00")
			q, _, _ := strings.Cut(rest, "\x00")
			prepared[name] = q
			sqlText = q
		case 'B': // Bind: portal, statement name (pgx caches prepared statements)
			_, rest, _ := strings.Cut(string(body), "\x00")
			name, _, _ := strings.Cut(rest, "\x00")
			sqlText = prepared[name]
		}
		if subs := p.cutOn.Load(); subs != nil && sqlText != "" && containsAll(sqlText, *subs) && p.cutOn.CompareAndSwap(subs, nil) {
			p.once2.Do(func() { close(p.cutNow) })
			return // closeBoth: the statement is lost with the connection
		}
		if strings.Contains(sqlText, "INSERT INTO") && strings.Contains(sqlText, `."user" (`) {
			userTx = true // this connection's transaction creates a user
		}
		if hdr[0] == 'Q' {
			switch strings.ToLower(strings.TrimRight(string(body), "\x00; ")) {
			case "commit":
				if userTx && p.armed.CompareAndSwap(true, false) {
					cutting.Store(true) // before forwarding: the answer may come at once
				}
				userTx = false
			case "rollback":
				userTx = false
			}
		}
		if _, err := server.Write(append(hdr, body...)); err != nil {
			return
		}
	}
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

func readN(r io.Reader, n int) ([]byte, error) {
	b := make([]byte, n)
	_, err := io.ReadFull(r, b)
	return b, err
}

// TestPostgresAnswerLostAfterCommit cuts the connection after PostgreSQL
// committed a sign-up and before the acknowledgement reached mana-auth (a
// crash or network cut at that moment). mana-auth must not tell the client
// "failed" for a user that exists: it looks again before answering.
func TestPostgresAnswerLostAfterCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a private PostgreSQL")
	}
	// Mostly waiting: runs alongside the other waiting tests.
	t.Parallel()
	pg := startPrivatePG(t)
	proxy := newCommitCutter(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(pg.port)))
	url := strings.Replace(pg.url(), ":"+strconv.Itoa(pg.port)+"/", ":"+strconv.Itoa(proxy.port())+"/", 1)
	s := startServer(t, serverEnv(testproc.FreePort(t), map[string]string{"DATABASE_URL": url, "DATA_DIR": t.TempDir()}))
	client := &http.Client{Timeout: 15 * time.Second}

	// Through the proxy, an ordinary sign-up works.
	if r := do(client, s, "POST", "/api/auth/sign-up/email", signUpBody(uniqueEmail("cut-ok")), nil); r.err != nil || r.status != http.StatusOK {
		t.Fatalf("sign-up through the proxy: %v", r)
	}

	victim := uniqueEmail("cut")
	proxy.armed.Store(true)
	r := do(client, s, "POST", "/api/auth/sign-up/email", signUpBody(victim), nil)
	r.email = victim
	select {
	case <-proxy.cut:
	default:
		t.Fatalf("the sign-up's COMMIT never went through the proxy (answer %v): the test proved nothing", r)
	}
	t.Logf("sign-up whose COMMIT acknowledgement was lost answered: %v", r)
	if r.err != nil {
		t.Fatalf("transport error: %v", r)
	}

	// What the client was told must match what the database holds: a 200
	// for a committed user (mana-auth looks again after a lost
	// acknowledgement), an error only when nothing was stored.
	db := openCore(t, pg.url()) // directly, not through the proxy
	stored, orphans := usersByEmail(t, db)
	for _, o := range orphans {
		t.Errorf("user without its credential account: %s", o)
	}
	id, exists := stored[victim]
	switch {
	case exists && r.status != http.StatusOK:
		t.Fatalf("sign-up answered %v although user %s was committed", r, id)
	case !exists && r.status == http.StatusOK:
		t.Fatalf("sign-up answered 200 but no user was stored")
	case !exists:
		if r.status != http.StatusServiceUnavailable {
			t.Errorf("answered %d %s; want 503", r.status, r.code)
		}
		t.Logf("the failed sign-up left no user behind")
		return
	}
	in := do(client, s, "POST", "/api/auth/sign-in/email", map[string]string{"email": victim, "password": testPassword}, nil)
	if in.status != http.StatusOK || in.userID != id {
		t.Errorf("the committed user %s does not sign in: %v", id, in)
	}
}

// TestPostgresCutDuringRegister cuts the database connection at the INSERT
// of the creditsSync row (the outbox the credits worker retries from) during
// POST /api/v1/auth/register. mana-credits is up the whole time. The user
// and its outbox row commit together or not at all, and the answer says
// which; a committed user gets its credits init.
func TestPostgresCutDuringRegister(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a private PostgreSQL")
	}
	// Mostly waiting: runs alongside the other waiting tests.
	t.Parallel()
	pg := startPrivatePG(t)
	proxy := newCommitCutter(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(pg.port)))
	url := strings.Replace(pg.url(), ":"+strconv.Itoa(pg.port)+"/", ":"+strconv.Itoa(proxy.port())+"/", 1)
	credits := &fakeCredits{}
	if err := credits.start(t, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, serverEnv(testproc.FreePort(t), map[string]string{
		"DATABASE_URL":     url,
		"DATA_DIR":         t.TempDir(),
		"MANA_CREDITS_URL": credits.srv.URL,
		"MANA_SERVICE_KEY": serviceKey,
	}))
	client := &http.Client{Timeout: 15 * time.Second}

	// Control: an undisturbed registration gets its init at once.
	ctl := register(client, s, uniqueEmail("reg-ok"))
	if ctl.err != nil || ctl.status != http.StatusOK {
		t.Fatalf("register: %v", ctl)
	}
	waitInit := func(id string, limit time.Duration) bool {
		for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if _, ok := credits.initFor(id); ok {
				return true
			}
		}
		return false
	}
	if !waitInit(ctl.userID, 5*time.Second) {
		t.Fatalf("control registration: no credits init within 5s; calls: %s", credits.summary())
	}

	subs := []string{"INSERT INTO", "creditsSync"}
	proxy.cutOn.Store(&subs)
	reg := register(client, s, uniqueEmail("reg-cut"))
	select {
	case <-proxy.cutNow:
	default:
		t.Fatalf("the creditsSync INSERT never went through the proxy (answer %v): the test proved nothing", reg)
	}
	t.Logf("registration whose creditsSync INSERT was cut answered: %v (user %s)", reg, reg.userID)
	if reg.err != nil {
		t.Fatalf("register: transport error %v", reg)
	}
	// The outbox row is written in the user's own transaction: either both
	// exist (and the init arrives) or neither does and the answer says so.
	db := openCore(t, pg.url())
	stored, _ := usersByEmail(t, db)
	id, exists := stored[reg.email]
	var rows int
	if exists {
		if err := db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM auth."creditsSync" WHERE "userId" = $1`, id).Scan(&rows); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("afterwards: user stored %v, creditsSync rows %d; mana-credits calls: %s", exists, rows, credits.summary())
	switch {
	case exists && rows == 0:
		t.Fatalf("user %s exists without its creditsSync row: nothing would ever initialise its credits", id)
	case exists && reg.status != http.StatusOK:
		t.Fatalf("register answered %v although user %s and its outbox row were committed", reg, id)
	case !exists && reg.status == http.StatusOK:
		t.Fatalf("register answered 200 but stored nothing")
	case exists && !waitInit(id, 5*time.Second):
		t.Fatalf("user %s committed with its outbox row, but no credits init arrived; calls: %s", id, credits.summary())
	}
}

package compat_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/magiclink"
	manamail "github.com/managarten/mana-auth/mail"
)

// smtpSink is a real SMTP listener on loopback that keeps each message.
type smtpSink struct {
	mu   sync.Mutex
	msgs map[string][]string // recipient -> raw bodies
}

type sinkSession struct {
	s    *smtpSink
	rcpt []string
}

func (b *smtpSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: b}, nil }
func (s *sinkSession) Mail(string, *smtp.MailOptions) error     { return nil }
func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.rcpt = append(s.rcpt, strings.ToLower(to))
	return nil
}
func (s *sinkSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.s.mu.Lock()
	defer s.s.mu.Unlock()
	for _, to := range s.rcpt {
		s.s.msgs[to] = append(s.s.msgs[to], string(raw))
	}
	return nil
}
func (s *sinkSession) Reset()        { s.rcpt = nil }
func (s *sinkSession) Logout() error { return nil }

func startSMTP(t *testing.T) (*smtpSink, string) {
	t.Helper()
	sink := &smtpSink{msgs: map[string][]string{}}
	srv := smtp.NewServer(sink)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return sink, ln.Addr().String()
}

// startSMTPMailer starts an SMTP sink and returns it with a mailer that
// sends to it.
func startSMTPMailer(t *testing.T) (*smtpSink, *manamail.SMTPMailer) {
	t.Helper()
	sink, addr := startSMTP(t)
	host, port, _ := net.SplitHostPort(addr)
	mailer, err := manamail.NewSMTP(manamail.SMTPConfig{Host: host, Port: atoi(port), From: "auth@example.com", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return sink, mailer
}

var linkRE = regexp.MustCompile(`https?://[^\s"<>]+/magic-link/verify\?[^\s"<>]+`)

// lastLink returns the link of the newest message to addr.
func (b *smtpSink) lastLink(addr string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	msgs := b.msgs[strings.ToLower(addr)]
	if len(msgs) == 0 {
		return ""
	}
	m, err := mail.ReadMessage(strings.NewReader(msgs[len(msgs)-1]))
	if err != nil {
		return ""
	}
	body, _ := io.ReadAll(m.Body)
	// Quoted-printable soft line breaks would split the link: undo them.
	text := strings.ReplaceAll(string(body), "=\r\n", "")
	text = strings.ReplaceAll(text, "=3D", "=")
	return strings.ReplaceAll(linkRE.FindString(text), "&amp;", "&")
}

// TestMagicLinkClient signs in with Better Auth's magicLinkClient, the link
// travelling through a real SMTP listener.
func TestMagicLinkClient(t *testing.T) {
	node := requireNode(t)
	dir := compatDir(t)
	ensureNodeModules(t, dir)
	sink, mailer := startSMTPMailer(t)
	base := startAuthServer(t, auth.Config{Secret: testSecret, Mailer: mailer,
		RateLimit: auth.RateLimitConfig{Disabled: true}}, map[string]http.Handler{
		"GET /__mail/last": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			link := sink.lastLink(r.URL.Query().Get("to"))
			if link == "" {
				http.NotFound(w, r)
				return
			}
			json.NewEncoder(w).Encode(map[string]string{"url": link})
		}),
	}, magiclink.New(magiclink.Options{}))
	runScript(t, node, dir, "magiclink.mjs", base)
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

var anyLinkRE = regexp.MustCompile(`https?://[^\s"<>]+/api/auth/[a-z-]+[/?][^\s"<>]+`)

// waitFor waits until n messages reached addr.
func (b *smtpSink) waitFor(t *testing.T, addr string, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b.mu.Lock()
		got := len(b.msgs[strings.ToLower(addr)])
		b.mu.Unlock()
		if got >= n {
			return
		}
	}
	t.Fatalf("fewer than %d mails reached %s", n, addr)
}

// link returns the first auth link of the newest message to addr.
func (b *smtpSink) link(t *testing.T, addr string) string {
	t.Helper()
	var msgs []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		b.mu.Lock()
		msgs = b.msgs[strings.ToLower(addr)]
		b.mu.Unlock()
		if len(msgs) > 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(msgs) == 0 {
		t.Fatalf("no mail arrived for %s", addr)
	}
	m, err := mail.ReadMessage(strings.NewReader(msgs[len(msgs)-1]))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(m.Body)
	text := strings.ReplaceAll(strings.ReplaceAll(string(body), "=\r\n", ""), "=3D", "=")
	l := strings.ReplaceAll(anyLinkRE.FindString(text), "&amp;", "&")
	if l == "" {
		t.Fatalf("no link in the mail to %s:\n%s", addr, text)
	}
	return l
}

// TestEmailFlowsOverSMTP: verification and password reset links travel
// through a real SMTP listener and work exactly once.
func TestEmailFlowsOverSMTP(t *testing.T) {
	t.Parallel()
	sink, mailer := startSMTPMailer(t)
	base := startAuthServer(t, auth.Config{Secret: testSecret, Mailer: mailer,
		EmailPassword: auth.EmailPasswordConfig{RequireEmailVerification: true},
		RateLimit:     auth.RateLimitConfig{Disabled: true}}, nil)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(path, body string) int {
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		res, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	get := func(u string) (int, string) {
		res, err := noFollow.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode, res.Header.Get("Location")
	}
	if st := post("/api/auth/sign-up/email", `{"name":"Sam","email":"sam@example.com","password":"password123","callbackURL":"/hello"}`); st != 200 {
		t.Fatalf("sign-up: %d", st)
	}
	if st := post("/api/auth/sign-in/email", `{"email":"sam@example.com","password":"password123"}`); st != 403 {
		t.Fatalf("sign-in before verification: %d", st)
	}
	verify := sink.link(t, "sam@example.com")
	if st, loc := get(verify); st != 302 || loc != "/hello" {
		t.Fatalf("verification link: %d %q", st, loc)
	}
	if st := post("/api/auth/sign-in/email", `{"email":"sam@example.com","password":"password123"}`); st != 200 {
		t.Fatalf("sign-in after verification: %d", st)
	}
	if st := post("/api/auth/request-password-reset", `{"email":"sam@example.com","redirectTo":"/reset"}`); st != 200 {
		t.Fatalf("request reset: %d", st)
	}
	sink.waitFor(t, "sam@example.com", 2) // the reset mail goes out in the background
	reset := sink.link(t, "sam@example.com")
	st, loc := get(reset)
	u, _ := url.Parse(loc)
	token := u.Query().Get("token")
	if st != 302 || token == "" {
		t.Fatalf("reset link: %d %q", st, loc)
	}
	if st := post("/api/auth/reset-password", `{"token":"`+token+`","newPassword":"new-password-1"}`); st != 200 {
		t.Fatalf("reset: %d", st)
	}
	if st := post("/api/auth/reset-password", `{"token":"`+token+`","newPassword":"new-password-2"}`); st != 400 {
		t.Fatalf("second reset with the same token: %d", st)
	}
	if st, loc := get(reset); st != 302 || !strings.Contains(loc, "error=INVALID_TOKEN") {
		t.Fatalf("used reset link: %d %q", st, loc)
	}
}

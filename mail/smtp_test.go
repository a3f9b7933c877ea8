package mail

import (
	"context"
	"encoding/base64"
	"errors"
	"net"
	netmail "net/mail"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
)

func TestSMTPDeliversEveryKind(t *testing.T) {
	t.Parallel()
	ts := startServer(t, serverOptions{startTLS: true, user: "mana", pass: "s3cret"})
	m := mailerFor(t, ts, func(c *SMTPConfig) { c.Username, c.Password = "mana", "s3cret" })
	ctx := t.Context()

	want := make(map[string]auth.Email) // by subject
	for _, e := range allKinds() {
		if err := m.SendEmail(ctx, e); err != nil {
			t.Fatalf("%s: %v", e.Kind, err)
		}
		r, err := Render(e)
		if err != nil {
			t.Fatal(err)
		}
		want[r.Subject] = e
	}

	msgs := ts.Messages()
	if len(msgs) != len(allKinds()) {
		t.Fatalf("server got %d messages, want %d", len(msgs), len(allKinds()))
	}
	for _, got := range msgs {
		p := parseMessage(t, got.Data)
		e, ok := want[p.Subject]
		if !ok {
			t.Errorf("unexpected subject %q", p.Subject)
			continue
		}
		t.Run(string(e.Kind), func(t *testing.T) {
			envelope := received{From: "noreply@mana.how", Rcpts: []string{"ada@example.com"}, TLS: true, User: "mana"}
			if diff := cmp.Diff(envelope, got, cmpopts.IgnoreFields(received{}, "Data")); diff != "" {
				t.Errorf("envelope (-want +got):\n%s", diff)
			}
			from, err := netmail.ParseAddress(p.Header.Get("From"))
			if err != nil {
				t.Fatal(err)
			}
			to, err := netmail.ParseAddress(p.Header.Get("To"))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]*netmail.Address{{Name: "Mana", Address: "noreply@mana.how"}, {Name: "Ada Lovelace", Address: "ada@example.com"}},
				[]*netmail.Address{from, to}); diff != "" {
				t.Errorf("From, To (-want +got):\n%s", diff)
			}
			if p.MediaType != "multipart/alternative" {
				t.Errorf("Content-Type %q, want multipart/alternative", p.MediaType)
			}
			if diff := cmp.Diff([]string{"text/plain", "text/html"}, p.Parts); diff != "" {
				t.Errorf("parts (-want +got):\n%s", diff)
			}
			if id := p.Header.Get("Message-Id"); !strings.HasSuffix(id, "@mana.how>") {
				t.Errorf("Message-ID %q", id)
			}
			if p.Header.Get("Date") == "" {
				t.Error("no Date header")
			}
			if e.URL == "" { // a code
				if !slices.Contains(textLines(p.Text), "    "+e.Code) || !strings.Contains(p.HTML, e.Code) {
					t.Errorf("code %q missing:\n%s\n%s", e.Code, p.Text, p.HTML)
				}
				return
			}
			// The link arrives exactly as given, on a line of its own in
			// the text and as every href in the HTML.
			if !slices.Contains(textLines(p.Text), e.URL) {
				t.Errorf("text part has no line %q:\n%s", e.URL, p.Text)
			}
			if diff := cmp.Diff([]string{e.URL, e.URL}, hrefs(p.HTML)); diff != "" {
				t.Errorf("HTML links (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSMTPEscapesNamesInHTML(t *testing.T) {
	t.Parallel()
	ts := startServer(t, serverOptions{})
	m := mailerFor(t, ts, nil)
	e := auth.Email{Kind: plugin.EmailVerification, To: "ada@example.com", Name: "<script>alert(1)</script>", URL: testURL}
	if err := m.SendEmail(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	p := parseMessage(t, ts.Messages()[0].Data)
	if strings.Contains(p.HTML, "<script>") || !strings.Contains(p.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("HTML part does not escape the name:\n%s", p.HTML)
	}
}

func TestSMTPHeaderInjection(t *testing.T) {
	t.Parallel()
	const inject = "\r\nBcc: evil@x"
	tests := []struct {
		name        string
		e           auth.Email
		templates   Templates
		wantSubject string
		wantName    string
	}{
		{
			name:        "name in To and subject",
			e:           auth.Email{Kind: plugin.EmailMagicLink, To: "ada@example.com", Name: "Eve" + inject, URL: testURL},
			templates:   Templates{plugin.EmailMagicLink: {Subject: "Hi {{.Name}}"}},
			wantSubject: "Hi Eve Bcc: evil@x",
			wantName:    "Eve Bcc: evil@x",
		},
		{
			name:        "app name in subject",
			e:           auth.Email{Kind: plugin.EmailVerification, To: "ada@example.com", AppName: "Mana" + inject, URL: testURL},
			wantSubject: "Verify your email for Mana Bcc: evil@x",
		},
		{
			name:        "organization in subject",
			e:           auth.Email{Kind: plugin.EmailInvitation, To: "ada@example.com", URL: testURL, Data: map[string]string{"organization": "Org" + inject, "inviter": "Bob\n\nCc: evil2@x"}},
			wantSubject: "Bob Cc: evil2@x invited you to join Org Bcc: evil@x on Mana",
		},
		{
			name:        "template that writes a header",
			e:           auth.Email{Kind: plugin.EmailMagicLink, To: "ada@example.com", URL: testURL},
			templates:   Templates{plugin.EmailMagicLink: {Subject: "Sign in" + inject + "\r\n\r\nbody"}},
			wantSubject: "Sign in Bcc: evil@x body",
		},
		{
			name:        "quotes in name",
			e:           auth.Email{Kind: plugin.EmailMagicLink, To: "ada@example.com", Name: `Eve" <evil@x>, "Mallory`, URL: testURL},
			wantSubject: "Your sign-in link for Mana",
			wantName:    `Eve" <evil@x>, "Mallory`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, serverOptions{})
			m := mailerFor(t, ts, func(c *SMTPConfig) { c.Templates = tt.templates })
			if err := m.SendEmail(t.Context(), tt.e); err != nil {
				t.Fatal(err)
			}
			msgs := ts.Messages()
			if len(msgs) != 1 {
				t.Fatalf("server got %d messages", len(msgs))
			}
			if diff := cmp.Diff([]string{"ada@example.com"}, msgs[0].Rcpts); diff != "" {
				t.Errorf("RCPT TO (-want +got):\n%s", diff)
			}
			p := parseMessage(t, msgs[0].Data)
			for _, h := range []string{"Bcc", "Cc", "X-Evil"} {
				if l := headerLines(p.RawHeader, h); len(l) != 0 {
					t.Errorf("injected header lines %q in:\n%s", l, p.RawHeader)
				}
			}
			if l := headerLines(p.RawHeader, "Subject"); len(l) != 1 {
				t.Errorf("Subject lines %q", l)
			}
			if p.Subject != tt.wantSubject {
				t.Errorf("Subject = %q, want %q", p.Subject, tt.wantSubject)
			}
			to, err := p.Header.AddressList("To")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]*netmail.Address{{Name: tt.wantName, Address: "ada@example.com"}}, to); diff != "" {
				t.Errorf("To (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSMTPRefusesBadRecipients(t *testing.T) {
	t.Parallel()
	ts := startServer(t, serverOptions{})
	m := mailerFor(t, ts, nil)
	for _, to := range []string{
		"ada@example.com\r\nBcc: evil@x",
		"ada@example.com\nRCPT TO:<evil@x>",
		"ada@example.com, evil@x",
		"ada@example.com;evil@x",
		"",
	} {
		err := m.SendEmail(t.Context(), auth.Email{Kind: plugin.EmailMagicLink, To: to, URL: testURL})
		if err == nil {
			t.Errorf("SendEmail to %q: no error", to)
		}
	}
	if n := len(ts.Messages()); n != 0 {
		t.Errorf("server got %d messages", n)
	}
}

func TestSMTPTLS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		server  serverOptions
		mod     func(*SMTPConfig)
		wantErr string // "" for success
		wantTLS bool
	}{
		{"opportunistic without STARTTLS", serverOptions{}, nil, "", false},
		{"opportunistic upgrades", serverOptions{startTLS: true}, nil, "", true},
		{"mandatory with STARTTLS", serverOptions{startTLS: true}, func(c *SMTPConfig) { c.TLSPolicy = TLSMandatory }, "", true},
		{"mandatory without STARTTLS", serverOptions{}, func(c *SMTPConfig) { c.TLSPolicy = TLSMandatory }, "does not support STARTTLS", false},
		{"implicit TLS", serverOptions{implicitTLS: true}, nil, "", true},
		{"untrusted certificate", serverOptions{startTLS: true}, func(c *SMTPConfig) { c.RootCAs = nil }, "certificate", false},
		{"insecure skip verify", serverOptions{startTLS: true}, func(c *SMTPConfig) { c.RootCAs, c.InsecureSkipVerify = nil, true }, "", true},
		{"plain client, TLS server", serverOptions{implicitTLS: true}, func(c *SMTPConfig) { c.TLSPolicy = TLSOpportunistic; c.Timeout = time.Second }, "dial failed", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, tt.server)
			m := mailerFor(t, ts, tt.mod)
			err := m.SendEmail(t.Context(), auth.Email{Kind: plugin.EmailMagicLink, To: "ada@example.com", URL: testURL})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				t.Logf("error: %v", err)
				if !strings.Contains(err.Error(), "magic-link") || !strings.Contains(err.Error(), m.Addr()) {
					t.Errorf("error %q does not name the kind and server", err)
				}
				if n := len(ts.Messages()); n != 0 {
					t.Errorf("server got %d messages", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			msgs := ts.Messages()
			if len(msgs) != 1 || msgs[0].TLS != tt.wantTLS {
				t.Fatalf("messages %d, TLS %v; want 1, %v", len(msgs), len(msgs) == 1 && msgs[0].TLS, tt.wantTLS)
			}
		})
	}
}

func TestSMTPAuth(t *testing.T) {
	t.Parallel()
	const user, pass = "mana", "correct-horse-battery"
	tests := []struct {
		name    string
		server  serverOptions
		mod     func(*SMTPConfig)
		wantErr string
	}{
		{"PLAIN after STARTTLS", serverOptions{startTLS: true, user: user, pass: pass}, func(c *SMTPConfig) { c.Username, c.Password = user, pass }, ""},
		{"PLAIN over implicit TLS", serverOptions{implicitTLS: true, user: user, pass: pass}, func(c *SMTPConfig) { c.Username, c.Password = user, pass }, ""},
		{"PLAIN in clear to localhost", serverOptions{user: user, pass: pass}, func(c *SMTPConfig) { c.Username, c.Password = user, pass }, ""},
		{"explicit PLAIN", serverOptions{startTLS: true, user: user, pass: pass}, func(c *SMTPConfig) { c.Username, c.Password, c.Auth = user, pass, AuthPlain }, ""},
		{"wrong password", serverOptions{startTLS: true, user: user, pass: pass}, func(c *SMTPConfig) { c.Username, c.Password = user, "wrong-horse-battery" }, "SMTP AUTH failed"},
		{"wrong password in clear", serverOptions{user: user, pass: pass}, func(c *SMTPConfig) { c.Username, c.Password = user, "wrong-horse-battery" }, "SMTP AUTH failed"},
		{"LOGIN not offered", serverOptions{startTLS: true, user: user, pass: pass}, func(c *SMTPConfig) { c.Username, c.Password, c.Auth = user, pass, AuthLogin }, "LOGIN"},
		{"no credentials", serverOptions{startTLS: true, user: user, pass: pass}, nil, "MAIL FROM"},
		{"server without AUTH", serverOptions{startTLS: true}, func(c *SMTPConfig) { c.Username, c.Password = user, pass }, "does not support SMTP AUTH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, tt.server)
			m := mailerFor(t, ts, tt.mod)
			err := m.SendEmail(t.Context(), auth.Email{Kind: plugin.EmailOTP, To: "ada@example.com", Code: "123456"})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if msgs := ts.Messages(); len(msgs) != 1 || msgs[0].User != user {
					t.Fatalf("server got %d messages (want 1, authenticated as %q)", len(msgs), user)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
			t.Logf("error: %v", err)
			for _, secret := range []string{pass, "wrong-horse-battery", base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00wrong-horse-battery"))} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains the password", err)
				}
			}
			if n := len(ts.Messages()); n != 0 {
				t.Errorf("server got %d messages", n)
			}
		})
	}
}

func TestSMTPRedact(t *testing.T) {
	t.Parallel()
	m := &SMTPMailer{host: "h", port: 1, username: "u", password: "p@ss"}
	blob := base64.StdEncoding.EncodeToString([]byte("\x00u\x00p@ss"))
	err := m.sendError(context.Background(), plugin.EmailOTP, errors.New("server said p@ss and "+blob+" and "+base64.StdEncoding.EncodeToString([]byte("p@ss"))))
	if got, want := err.Error(), "mail: send otp email via h:1: server said [redacted] and [redacted] and [redacted]"; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
	if errors.Unwrap(err) == nil {
		t.Error("redacted error does not unwrap")
	}
}

func TestSMTPServerDown(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	m, err := NewSMTP(SMTPConfig{Host: "127.0.0.1", Port: port, From: "noreply@mana.how", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = m.SendEmail(t.Context(), auth.Email{Kind: plugin.EmailMagicLink, To: "ada@example.com", URL: testURL})
	if err == nil || !strings.Contains(err.Error(), "dial failed") {
		t.Fatalf("error = %v, want a dial error", err)
	}
	t.Logf("error: %v", err)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v to fail", d)
	}
}

// silentServer accepts connections and never says a word.
func silentServer(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().(*net.TCPAddr).Port
}

func TestSMTPSlowServer(t *testing.T) {
	t.Parallel()
	const short = 300 * time.Millisecond
	tests := []struct {
		name    string
		timeout time.Duration
		ctx     func(context.Context) (context.Context, context.CancelFunc)
		wantIs  error
	}{
		{"config timeout", short, nil, nil},
		{"context deadline", 30 * time.Second, func(ctx context.Context) (context.Context, context.CancelFunc) {
			return context.WithTimeout(ctx, short)
		}, context.DeadlineExceeded},
		{"context cancelled", 30 * time.Second, func(ctx context.Context) (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(ctx)
			time.AfterFunc(short, cancel)
			return ctx, cancel
		}, context.Canceled},
		{"already cancelled", 30 * time.Second, func(ctx context.Context) (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(ctx)
			cancel()
			return ctx, cancel
		}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			port := silentServer(t)
			m, err := NewSMTP(SMTPConfig{Host: "127.0.0.1", Port: port, From: "noreply@mana.how", Timeout: tt.timeout})
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			if tt.ctx != nil {
				var cancel context.CancelFunc
				ctx, cancel = tt.ctx(ctx)
				defer cancel()
			}
			start := time.Now()
			err = m.SendEmail(ctx, auth.Email{Kind: plugin.EmailMagicLink, To: "ada@example.com", URL: testURL})
			if err == nil {
				t.Fatal("no error from a server that never greets")
			}
			t.Logf("error after %v: %v", time.Since(start).Round(time.Millisecond), err)
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v to give up", d)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q is not %v", err, tt.wantIs)
			}
		})
	}
}

func TestSMTPConcurrent(t *testing.T) {
	t.Parallel()
	ts := startServer(t, serverOptions{startTLS: true, user: "u", pass: "p"})
	m := mailerFor(t, ts, func(c *SMTPConfig) { c.Username, c.Password = "u", "p" })
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			errs <- m.SendEmail(t.Context(), auth.Email{Kind: plugin.EmailOTP, To: "ada@example.com", Code: strings.Repeat(string(rune('0'+i)), 6)})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := len(ts.Messages()); n != 8 {
		t.Errorf("server got %d messages, want 8", n)
	}
}

func TestNewSMTP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cfg      SMTPConfig
		wantErr  string
		wantAddr string
		wantImpl bool
	}{
		{"defaults", SMTPConfig{Host: "smtp.example.com", From: "noreply@mana.how"}, "", "smtp.example.com:587", false},
		{"port 465 is implicit TLS", SMTPConfig{Host: "smtp.example.com", Port: 465, From: "noreply@mana.how"}, "", "smtp.example.com:465", true},
		{"implicit defaults to 465", SMTPConfig{Host: "smtp.example.com", From: "noreply@mana.how", TLSPolicy: TLSImplicit}, "", "smtp.example.com:465", true},
		{"IPv6", SMTPConfig{Host: "[::1]", Port: 25, From: "noreply@mana.how"}, "", "[::1]:25", false},
		{"named From", SMTPConfig{Host: "h", From: "Mana <noreply@mana.how>"}, "", "h:587", false},
		{"no host", SMTPConfig{From: "noreply@mana.how"}, "Host: required", "", false},
		{"host with port", SMTPConfig{Host: "smtp.example.com:25", From: "noreply@mana.how"}, "give the port separately", "", false},
		{"host with newline", SMTPConfig{Host: "smtp\r\n.example.com", From: "noreply@mana.how"}, "invalid host", "", false},
		{"no From", SMTPConfig{Host: "h"}, "From: address required", "", false},
		{"bad From", SMTPConfig{Host: "h", From: "noreply"}, "From: address", "", false},
		{"two From", SMTPConfig{Host: "h", From: "a@x.example, b@x.example"}, "From: address", "", false},
		{"From with CRLF", SMTPConfig{Host: "h", From: "noreply@mana.how\r\nBcc: evil@x"}, "control characters", "", false},
		{"bad port", SMTPConfig{Host: "h", Port: 70000, From: "noreply@mana.how"}, "invalid SMTP Port", "", false},
		{"negative timeout", SMTPConfig{Host: "h", From: "noreply@mana.how", Timeout: -time.Second}, "negative", "", false},
		{"bad policy", SMTPConfig{Host: "h", From: "noreply@mana.how", TLSPolicy: 9}, "invalid TLS policy", "", false},
		{"bad auth", SMTPConfig{Host: "h", From: "noreply@mana.how", Auth: 9}, "invalid Auth", "", false},
		{"bad template", SMTPConfig{Host: "h", From: "noreply@mana.how", Templates: Templates{plugin.EmailOTP: {Text: "{{"}}}, "otp text template", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := NewSMTP(tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Addr() != tt.wantAddr || m.implicit != tt.wantImpl {
				t.Errorf("Addr %q implicit %v, want %q %v", m.Addr(), m.implicit, tt.wantAddr, tt.wantImpl)
			}
			if m.timeout != DefaultSMTPTimeout {
				t.Errorf("timeout %v", m.timeout)
			}
		})
	}
}

func TestParseTLSPolicy(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]TLSPolicy{
		"": TLSOpportunistic, "opportunistic": TLSOpportunistic, "Mandatory": TLSMandatory,
		"starttls": TLSMandatory, "SMTPS": TLSImplicit, "implicit": TLSImplicit, "tls": TLSImplicit,
	} {
		got, err := ParseTLSPolicy(in)
		if err != nil || got != want {
			t.Errorf("ParseTLSPolicy(%q) = %v, %v; want %v", in, got, err, want)
		}
		if got.String() == "" {
			t.Errorf("%v has no name", got)
		}
	}
	if _, err := ParseTLSPolicy("none"); err == nil {
		t.Error("ParseTLSPolicy(none): no error")
	}
}

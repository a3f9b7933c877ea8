package mail

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"html"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// This file has a real SMTP server (emersion/go-smtp) on 127.0.0.1 that
// stores what it receives, and helpers to take received messages apart.

type serverOptions struct {
	// startTLS advertises STARTTLS with a self-signed certificate.
	startTLS bool
	// implicitTLS speaks TLS from the first byte (SMTPS).
	implicitTLS bool
	// user and pass, when user is set, make the server offer AUTH PLAIN
	// and require it before MAIL FROM. Without TLS, AUTH is offered in
	// clear text (go-mail allows that only to localhost).
	user, pass string
}

// received is one message as the server saw it.
type received struct {
	From  string
	Rcpts []string
	TLS   bool
	User  string
	Data  []byte
}

type testServer struct {
	Host    string
	Port    int
	RootCAs *x509.CertPool

	opts serverOptions
	srv  *smtp.Server

	mu   sync.Mutex
	msgs []received
}

// Messages returns what the server has received so far.
func (s *testServer) Messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

func startServer(t *testing.T, o serverOptions) *testServer {
	t.Helper()
	ts := &testServer{Host: "127.0.0.1", opts: o}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: ts, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.MaxRecipients = 50
	srv.ErrorLog = log.New(io.Discard, "", 0)
	// Offer AUTH without TLS only on the server that has no TLS at all.
	srv.AllowInsecureAuth = !o.startTLS && !o.implicitTLS
	ts.srv = srv

	var l net.Listener
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if o.startTLS || o.implicitTLS {
		cert, pool := testCert(t)
		ts.RootCAs = pool
		tlsConf := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if o.startTLS {
			srv.TLSConfig = tlsConf
		} else {
			l = tls.NewListener(l, tlsConf)
		}
	}
	ts.Port = l.Addr().(*net.TCPAddr).Port
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ts
}

type session struct {
	srv    *testServer
	conn   *smtp.Conn
	authed string
	from   string
	rcpts  []string
}

func (s *session) AuthMechanisms() []string {
	if s.srv.opts.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain || s.srv.opts.user == "" {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != s.srv.opts.user || password != s.srv.opts.pass {
			return smtp.ErrAuthFailed
		}
		s.authed = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.srv.opts.user != "" && s.authed == "" {
		return smtp.ErrAuthRequired
	}
	s.from, s.rcpts = from, nil
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.srv.mu.Lock()
	s.srv.msgs = append(s.srv.msgs, received{
		From: s.from, Rcpts: s.rcpts, TLS: isTLS, User: s.authed, Data: data,
	})
	s.srv.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.from, s.rcpts = "", nil }
func (s *session) Logout() error { return nil }

var (
	certOnce sync.Once
	certVal  tls.Certificate
	certPool *x509.CertPool
	certErr  error
)

// testCert returns a self-signed certificate for 127.0.0.1 and localhost,
// and a pool that trusts it.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			certErr = err
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			Subject:               pkix.Name{CommonName: "mail test server"},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(24 * time.Hour),
			KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			BasicConstraintsValid: true,
			IsCA:                  true,
			IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
			DNSNames:              []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			certErr = err
			return
		}
		leaf, err := x509.ParseCertificate(der)
		if err != nil {
			certErr = err
			return
		}
		certVal = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
		certPool = x509.NewCertPool()
		certPool.AddCert(leaf)
	})
	if certErr != nil {
		t.Fatal(certErr)
	}
	return certVal, certPool
}

// mailerFor returns an SMTPMailer aimed at ts, trusting its certificate,
// after mod has adjusted the config.
func mailerFor(t *testing.T, ts *testServer, mod func(*SMTPConfig)) *SMTPMailer {
	t.Helper()
	cfg := SMTPConfig{
		Host:      ts.Host,
		Port:      ts.Port,
		From:      "Mana <noreply@mana.how>",
		RootCAs:   ts.RootCAs,
		Timeout:   5 * time.Second,
		LocalName: "client.test",
	}
	if ts.opts.implicitTLS {
		cfg.TLSPolicy = TLSImplicit
	}
	if mod != nil {
		mod(&cfg)
	}
	m, err := NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// parsedMessage is a received message taken apart.
type parsedMessage struct {
	Header    netmail.Header
	RawHeader string
	Subject   string
	MediaType string
	// Parts are the content types of the multipart/alternative parts, in
	// order.
	Parts []string
	Text  string
	HTML  string
}

func parseMessage(t *testing.T, data []byte) parsedMessage {
	t.Helper()
	raw, _, ok := bytes.Cut(data, []byte("\r\n\r\n"))
	if !ok {
		t.Fatalf("message has no header/body separator:\n%s", data)
	}
	msg, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("read message: %v", err)
	}
	p := parsedMessage{Header: msg.Header, RawHeader: string(raw)}
	if p.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		t.Fatalf("decode subject: %v", err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("content type: %v", err)
	}
	p.MediaType = mt
	if mt != "multipart/alternative" {
		return p
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("next part: %v", err)
		}
		body, err := io.ReadAll(part) // decodes quoted-printable
		if err != nil {
			t.Fatalf("read part: %v", err)
		}
		pt, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		p.Parts = append(p.Parts, pt)
		switch pt {
		case "text/plain":
			p.Text = string(body)
		case "text/html":
			p.HTML = string(body)
		}
	}
	return p
}

// textLines returns s's lines without CR.
func textLines(s string) []string {
	return strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
}

var hrefRE = regexp.MustCompile(`href="([^"]*)"`)

// hrefs returns the unescaped href values in an HTML document.
func hrefs(doc string) []string {
	var out []string
	for _, m := range hrefRE.FindAllStringSubmatch(doc, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

// headerLines returns the raw header lines (unfolded continuation lines
// kept separate) whose field name is name, case-insensitively.
func headerLines(raw, name string) []string {
	var out []string
	for _, l := range strings.Split(raw, "\r\n") {
		if k, _, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) && !strings.HasPrefix(l, " ") && !strings.HasPrefix(l, "\t") {
			out = append(out, l)
		}
	}
	return out
}

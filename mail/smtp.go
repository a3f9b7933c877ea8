package mail

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"strconv"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
)

// Defaults for [SMTPConfig].
const (
	DefaultSMTPPort    = 587
	DefaultSMTPTimeout = 10 * time.Second
)

// TLSPolicy says how an [SMTPMailer] secures its connection.
type TLSPolicy int

const (
	// TLSOpportunistic (the default) upgrades the connection with STARTTLS
	// when the server offers it and carries on in clear text otherwise.
	// Credentials are still never sent in clear text, except to a server on
	// localhost.
	TLSOpportunistic TLSPolicy = iota
	// TLSMandatory requires STARTTLS; sending fails if the server does not
	// offer it or the handshake fails.
	TLSMandatory
	// TLSImplicit speaks TLS from the first byte ("SMTPS", usually port
	// 465). It is used automatically when Port is 465.
	TLSImplicit
)

// String returns the policy's name.
func (p TLSPolicy) String() string {
	switch p {
	case TLSOpportunistic:
		return "opportunistic"
	case TLSMandatory:
		return "mandatory"
	case TLSImplicit:
		return "implicit"
	}
	return "TLSPolicy(" + strconv.Itoa(int(p)) + ")"
}

// ParseTLSPolicy parses "opportunistic" (or ""), "mandatory" (or
// "starttls") and "implicit" (or "smtps", "tls"), ignoring case.
func ParseTLSPolicy(s string) (TLSPolicy, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "opportunistic":
		return TLSOpportunistic, nil
	case "mandatory", "starttls":
		return TLSMandatory, nil
	case "implicit", "smtps", "tls":
		return TLSImplicit, nil
	}
	return 0, fmt.Errorf("mail: unknown TLS policy %q (want opportunistic, mandatory or implicit)", s)
}

// AuthMethod selects the SMTP AUTH mechanism. Authentication happens only
// when [SMTPConfig].Username is set.
type AuthMethod int

const (
	// AuthAuto (the default) uses PLAIN or LOGIN, whichever the server
	// offers (PLAIN first), and otherwise the strongest other mechanism
	// it offers.
	AuthAuto AuthMethod = iota
	// AuthPlain uses PLAIN.
	AuthPlain
	// AuthLogin uses LOGIN.
	AuthLogin
)

// SMTPConfig configures an [SMTPMailer].
type SMTPConfig struct {
	// Host is the SMTP server's name or IP address. Required.
	Host string
	// Port defaults to 587, or to 465 with TLSImplicit.
	Port int
	// Username and Password are the SMTP AUTH credentials. Without a
	// Username the mailer does not authenticate.
	Username string
	Password string
	// Auth picks the AUTH mechanism; AuthAuto by default.
	Auth AuthMethod
	// From is the sender, "noreply@example.com" or
	// "Example <noreply@example.com>". Required.
	From string
	// TLSPolicy defaults to TLSOpportunistic; Port 465 always means
	// TLSImplicit.
	TLSPolicy TLSPolicy
	// Timeout bounds connecting and each exchange with the server
	// (default 10s). A deadline on the context passed to SendEmail bounds
	// the whole send.
	Timeout time.Duration
	// Templates overrides some or all of the default templates.
	Templates Templates
	// LocalName is the name sent with EHLO; the machine's host name by
	// default.
	LocalName string
	// RootCAs verifies the server's certificate; the system roots if nil.
	RootCAs *x509.CertPool
	// InsecureSkipVerify accepts any server certificate. For tests only.
	InsecureSkipVerify bool
}

// SMTPMailer is an [auth.Mailer] that renders emails with its templates
// and delivers them to an SMTP server as multipart/alternative messages
// (plain text and HTML), one connection per email. It is safe for
// concurrent use.
type SMTPMailer struct {
	host      string
	port      int
	implicit  bool
	policy    TLSPolicy
	username  string
	password  string
	auth      AuthMethod
	from      *netmail.Address
	timeout   time.Duration
	localName string
	rootCAs   *x509.CertPool
	insecure  bool
	render    renderer
}

var _ auth.Mailer = (*SMTPMailer)(nil)

// NewSMTP checks cfg, fills in its defaults and compiles its templates.
func NewSMTP(cfg SMTPConfig) (*SMTPMailer, error) {
	host, err := checkHost(cfg.Host)
	if err != nil {
		return nil, fmt.Errorf("mail: SMTP Host: %w", err)
	}

	switch cfg.TLSPolicy {
	case TLSOpportunistic, TLSMandatory, TLSImplicit:
	default:
		return nil, fmt.Errorf("mail: invalid TLS policy %v", cfg.TLSPolicy)
	}
	port := cfg.Port
	if port == 0 {
		port = DefaultSMTPPort
		if cfg.TLSPolicy == TLSImplicit {
			port = 465
		}
	}
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("mail: invalid SMTP Port %d", cfg.Port)
	}

	from, err := parseFrom(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("mail: From: %w", err)
	}

	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = DefaultSMTPTimeout
	}
	if timeout < 0 {
		return nil, fmt.Errorf("mail: negative SMTP Timeout %v", cfg.Timeout)
	}
	switch cfg.Auth {
	case AuthAuto, AuthPlain, AuthLogin:
	default:
		return nil, fmt.Errorf("mail: invalid Auth method %d", cfg.Auth)
	}
	if hasControl(cfg.LocalName) || strings.ContainsAny(cfg.LocalName, " ") {
		return nil, fmt.Errorf("mail: invalid LocalName %q", cfg.LocalName)
	}

	r, err := cfg.Templates.compileAll()
	if err != nil {
		return nil, err
	}
	return &SMTPMailer{
		host:      host,
		port:      port,
		implicit:  cfg.TLSPolicy == TLSImplicit || port == 465,
		policy:    cfg.TLSPolicy,
		username:  cfg.Username,
		password:  cfg.Password,
		auth:      cfg.Auth,
		from:      from,
		timeout:   timeout,
		localName: cfg.LocalName,
		rootCAs:   cfg.RootCAs,
		insecure:  cfg.InsecureSkipVerify,
		render:    r,
	}, nil
}

// checkHost trims s and checks it names a host: not empty, no spaces,
// slashes or control characters. Brackets around an IPv6 address are
// removed.
func checkHost(s string) (string, error) {
	host := strings.TrimSpace(s)
	if host == "" {
		return "", errors.New("required")
	}
	if hasControl(host) || strings.ContainsAny(host, " /@") {
		return "", fmt.Errorf("invalid host name %q", s)
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.Contains(host, ":") && net.ParseIP(host) == nil {
		return "", fmt.Errorf("invalid host name %q (give the port separately)", s)
	}
	return host, nil
}

// parseFrom parses a sender address: exactly one, no control characters.
func parseFrom(s string) (*netmail.Address, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("address required")
	}
	if hasControl(s) {
		return nil, fmt.Errorf("address %q contains control characters", s)
	}
	a, err := netmail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("address %q: %w", s, err)
	}
	a.Name = oneLine(a.Name)
	return a, nil
}

// Addr returns the server's host:port.
func (m *SMTPMailer) Addr() string { return net.JoinHostPort(m.host, strconv.Itoa(m.port)) }

// SendEmail renders e and delivers it. It gives up when ctx is done,
// closing the connection, and returns an error that says which step
// failed (never containing the password); errors.Is reports ctx's error
// when that was the cause.
func (m *SMTPMailer) SendEmail(ctx context.Context, e auth.Email) error {
	msg, err := m.render.render(e)
	if err != nil {
		return err
	}
	gm := m.message(msg)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mail: send %s email: %w", e.Kind, err)
	}

	// Track the connections go-mail opens so they can be closed when ctx
	// is done (go-mail only watches ctx while dialling) and after a
	// failed dial (go-mail leaves them open when EHLO, STARTTLS or AUTH
	// fails).
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	closeAll := func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
		conns = nil
	}
	dial := func(dctx context.Context, network, addr string) (net.Conn, error) {
		d := &net.Dialer{Timeout: m.timeout}
		var c net.Conn
		var err error
		if m.implicit {
			td := &tls.Dialer{NetDialer: d, Config: m.tlsConfig()}
			c, err = td.DialContext(dctx, network, addr)
		} else {
			c, err = d.DialContext(dctx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
		return c, nil
	}
	stop := context.AfterFunc(ctx, closeAll)
	defer func() {
		stop()
		closeAll()
	}()

	client, err := m.client(dial)
	if err != nil {
		return m.sendError(ctx, e.Kind, err)
	}
	if err := client.DialAndSendWithContext(ctx, gm); err != nil {
		return m.sendError(ctx, e.Kind, err)
	}
	return nil
}

// client builds a go-mail client for one send. A fresh client per send
// keeps SendEmail safe for concurrent use: go-mail's Client changes its own
// state while authenticating.
func (m *SMTPMailer) client(dial gomail.DialContextFunc) (*gomail.Client, error) {
	opts := []gomail.Option{
		gomail.WithPort(m.port),
		gomail.WithTimeout(m.timeout),
		gomail.WithTLSConfig(m.tlsConfig()),
		gomail.WithDialContextFunc(dial),
	}
	switch {
	case m.implicit:
		// dial speaks TLS itself; WithSSL stops go-mail from also trying
		// STARTTLS.
		opts = append(opts, gomail.WithSSL())
	case m.policy == TLSMandatory:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if m.localName != "" {
		opts = append(opts, gomail.WithHELO(m.localName))
	}
	if m.username != "" {
		opts = append(opts, gomail.WithUsername(m.username), gomail.WithPassword(m.password))
		switch m.auth {
		case AuthPlain:
			opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain))
		case AuthLogin:
			opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthLogin))
		default:
			opts = append(opts, gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthPlain, gomail.SMTPAuthLogin))
		}
	}
	return gomail.NewClient(m.host, opts...)
}

func (m *SMTPMailer) tlsConfig() *tls.Config {
	return &tls.Config{
		ServerName:         m.host,
		MinVersion:         tls.VersionTLS12,
		RootCAs:            m.rootCAs,
		InsecureSkipVerify: m.insecure, //nolint:gosec // opt-in, for tests
	}
}

// message builds the multipart/alternative go-mail message for msg.
func (m *SMTPMailer) message(msg Message) *gomail.Msg {
	gm := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	gm.FromMailAddress(m.from)
	gm.ToMailAddress(&netmail.Address{Name: msg.Name, Address: msg.To})
	gm.Subject(msg.Subject)
	gm.SetDate()
	gm.SetMessageIDWithValue(messageID(m.from.Address))
	gm.SetBodyString(gomail.TypeTextPlain, msg.Text)
	gm.AddAlternativeString(gomail.TypeTextHTML, msg.HTML)
	return gm
}

// messageID returns a random Message-ID value in the sender's domain.
func messageID(from string) string {
	domain := "localhost"
	if i := strings.LastIndexByte(from, '@'); i >= 0 && i+1 < len(from) {
		domain = from[i+1:]
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:]) + "@" + domain
}

// sendError wraps err from go-mail with the kind and server, adds ctx's
// error when ctx ended the send, and scrubs the password from the text.
func (m *SMTPMailer) sendError(ctx context.Context, kind plugin.EmailKind, err error) error {
	var wrapped error
	if cerr := ctx.Err(); cerr != nil {
		wrapped = fmt.Errorf("mail: send %s email via %s: %w: %w", kind, m.Addr(), cerr, err)
	} else {
		wrapped = fmt.Errorf("mail: send %s email via %s: %w", kind, m.Addr(), err)
	}
	return &redactedError{msg: m.redact(wrapped.Error()), err: wrapped}
}

// redact removes the password, in the clear and in the base64 forms
// PLAIN and LOGIN send, from s.
func (m *SMTPMailer) redact(s string) string {
	if m.password == "" {
		return s
	}
	// Longest first, so a shorter secret can't break up a longer one.
	secrets := []string{
		base64.StdEncoding.EncodeToString([]byte("\x00" + m.username + "\x00" + m.password)),
		base64.StdEncoding.EncodeToString([]byte(m.password)),
		m.password,
	}
	for _, sec := range secrets {
		s = strings.ReplaceAll(s, sec, "[redacted]")
	}
	return s
}

// redactedError is an error whose message has been scrubbed of secrets;
// it still unwraps to the underlying errors for errors.Is and errors.As.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

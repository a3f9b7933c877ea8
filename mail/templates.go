package mail

import (
	"bytes"
	"errors"
	"fmt"
	htmltemplate "html/template"
	netmail "net/mail"
	"net/url"
	"strings"
	texttemplate "text/template"
	"unicode/utf8"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
)

// DefaultAppName is the application name the templates use when an
// [auth.Email] has no AppName.
const DefaultAppName = "Mana"

// maxSubjectRunes caps a rendered subject, so that a very long name can't
// push the Subject header past the line length SMTP servers accept.
const maxSubjectRunes = 200

// Template holds the three template strings for one kind of email.
//
// Subject and Text are text/template templates; HTML is an html/template
// template, so everything interpolated into it is escaped for its context.
// All three are executed with a [TemplateData]. The rendered subject is
// squeezed onto one line: control characters (CR, LF, tabs, …) and
// hidden ones (bidi controls, zero-width spaces, …) become spaces.
type Template struct {
	Subject string
	Text    string
	HTML    string
}

// Templates maps each kind of email to its templates. Start from
// [DefaultTemplates] and replace the kinds you want to word differently:
//
//	t := mail.DefaultTemplates()
//	t[plugin.EmailOTP] = mail.Template{Subject: "…", Text: "…", HTML: "…"}
//
// When rendering, a kind missing from the map, or an empty field of a
// kind's Template, falls back to the default, so an override may set only
// the Subject, say. A kind with no default (a plugin's own) must be given
// in full.
type Templates map[plugin.EmailKind]Template

// TemplateData is what the templates are executed with.
type TemplateData struct {
	// Kind is the kind of email being rendered.
	Kind plugin.EmailKind
	// To is the recipient's bare address (ada@example.com).
	To string
	// Name is the recipient's name, on one line; empty if unknown.
	Name string
	// URL is the link to open (every kind but the codes, plugin.EmailOTP
	// and plugin.EmailVerificationOTP).
	URL string
	// Code is the one-time code (plugin.EmailOTP,
	// plugin.EmailVerificationOTP).
	Code string
	// AppName is the application's name, DefaultAppName if the email
	// names none.
	AppName string
	// Data holds the email's kind-specific values, each on one line. The
	// default templates read "organization" and "inviter" (invitation),
	// "newEmail" (change-email, optional) and "type" (verification-otp:
	// sign-in, email-verification or forget-password). A missing key
	// renders as "".
	Data map[string]string
}

// Message is a rendered email, ready to send.
type Message struct {
	// To is the recipient's bare address.
	To string
	// Name is the recipient's display name for the To header (may be
	// empty); it has no control or hidden characters.
	Name string
	// Subject is one line of text.
	Subject string
	// Text is the plain-text body.
	Text string
	// HTML is the HTML body.
	HTML string
}

// Render renders e with the default templates. See [Templates.Render].
func Render(e auth.Email) (Message, error) {
	return DefaultTemplates().Render(e)
}

// Render checks e and renders it with the template for e.Kind.
//
// It refuses an email whose To is not exactly one valid address or
// contains control or hidden characters ([plugin.HiddenRune]), a code
// (plugin.EmailOTP, plugin.EmailVerificationOTP) without a Code, and any
// other kind without an absolute http(s) URL. The recipient's name, the
// app name and the Data values are squeezed onto one line before
// rendering, with hidden characters such as bidi controls turned into
// spaces, and so is the rendered subject, so nothing in an email can add
// a header or disguise its text.
func (t Templates) Render(e auth.Email) (Message, error) {
	tpl, err := t.template(e.Kind)
	if err != nil {
		return Message{}, err
	}
	c, err := compile(e.Kind, tpl)
	if err != nil {
		return Message{}, err
	}
	return c.render(e)
}

// template returns the effective template strings for kind: t's, with
// empty fields filled in from the defaults.
func (t Templates) template(kind plugin.EmailKind) (Template, error) {
	def, hasDef := defaultTemplates[kind]
	tpl, ok := t[kind]
	if !ok && !hasDef {
		return Template{}, fmt.Errorf("mail: no template for email kind %q", kind)
	}
	if tpl.Subject == "" {
		tpl.Subject = def.Subject
	}
	if tpl.Text == "" {
		tpl.Text = def.Text
	}
	if tpl.HTML == "" {
		tpl.HTML = def.HTML
	}
	if tpl.Subject == "" || tpl.Text == "" || tpl.HTML == "" {
		return Template{}, fmt.Errorf("mail: template for email kind %q needs a Subject, Text and HTML", kind)
	}
	return tpl, nil
}

// renderer holds compiled templates for every kind it knows.
type renderer map[plugin.EmailKind]*compiled

// compileAll compiles the defaults merged with t, reporting the first
// template that does not parse.
func (t Templates) compileAll() (renderer, error) {
	r := renderer{}
	kinds := make(map[plugin.EmailKind]bool)
	for k := range defaultTemplates {
		kinds[k] = true
	}
	for k := range t {
		kinds[k] = true
	}
	for k := range kinds {
		tpl, err := t.template(k)
		if err != nil {
			return nil, err
		}
		c, err := compile(k, tpl)
		if err != nil {
			return nil, err
		}
		r[k] = c
	}
	return r, nil
}

func (r renderer) render(e auth.Email) (Message, error) {
	c, ok := r[e.Kind]
	if !ok {
		return Message{}, fmt.Errorf("mail: no template for email kind %q", e.Kind)
	}
	return c.render(e)
}

type compiled struct {
	kind    plugin.EmailKind
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

func compile(kind plugin.EmailKind, tpl Template) (*compiled, error) {
	c := &compiled{kind: kind}
	var err error
	if c.subject, err = texttemplate.New("subject").Option("missingkey=zero").Parse(tpl.Subject); err != nil {
		return nil, fmt.Errorf("mail: %s subject template: %w", kind, err)
	}
	if c.text, err = texttemplate.New("text").Option("missingkey=zero").Parse(tpl.Text); err != nil {
		return nil, fmt.Errorf("mail: %s text template: %w", kind, err)
	}
	if c.html, err = htmltemplate.New("html").Option("missingkey=zero").Parse(tpl.HTML); err != nil {
		return nil, fmt.Errorf("mail: %s HTML template: %w", kind, err)
	}
	return c, nil
}

func (c *compiled) render(e auth.Email) (Message, error) {
	data, err := templateData(e)
	if err != nil {
		return Message{}, err
	}
	var subject, text, html bytes.Buffer
	if err := c.subject.Execute(&subject, data); err != nil {
		return Message{}, fmt.Errorf("mail: render %s subject: %w", c.kind, err)
	}
	if err := c.text.Execute(&text, data); err != nil {
		return Message{}, fmt.Errorf("mail: render %s text: %w", c.kind, err)
	}
	if err := c.html.Execute(&html, data); err != nil {
		return Message{}, fmt.Errorf("mail: render %s HTML: %w", c.kind, err)
	}
	subj := truncate(oneLine(subject.String()), maxSubjectRunes)
	if subj == "" {
		return Message{}, fmt.Errorf("mail: %s subject renders empty", c.kind)
	}
	return Message{
		To:      data.To,
		Name:    data.Name,
		Subject: subj,
		Text:    text.String(),
		HTML:    html.String(),
	}, nil
}

// templateData checks e and turns it into the data the templates see.
func templateData(e auth.Email) (TemplateData, error) {
	to, err := parseRecipient(e.To)
	if err != nil {
		return TemplateData{}, err
	}
	d := TemplateData{
		Kind:    e.Kind,
		To:      to.Address,
		Name:    oneLine(e.Name),
		AppName: oneLine(e.AppName),
		Data:    make(map[string]string, len(e.Data)),
	}
	if d.Name == "" {
		d.Name = oneLine(to.Name)
	}
	if d.AppName == "" {
		d.AppName = DefaultAppName
	}
	for k, v := range e.Data {
		d.Data[k] = oneLine(v)
	}
	if e.Code != "" {
		if hasControl(e.Code) || strings.TrimSpace(e.Code) == "" {
			return TemplateData{}, errors.New("mail: invalid code")
		}
		d.Code = e.Code
	}
	if e.URL != "" {
		if err := checkURL(e.URL); err != nil {
			return TemplateData{}, err
		}
		d.URL = e.URL
	}
	if e.Kind == plugin.EmailOTP || e.Kind == plugin.EmailVerificationOTP {
		if d.Code == "" {
			return TemplateData{}, fmt.Errorf("mail: %s email needs a Code", e.Kind)
		}
	} else if d.URL == "" {
		return TemplateData{}, fmt.Errorf("mail: %s email needs a URL", e.Kind)
	}
	return d, nil
}

// parseRecipient accepts exactly one address, with no control characters
// anywhere (so no CR/LF), in any form net/mail.ParseAddress accepts.
func parseRecipient(s string) (*netmail.Address, error) {
	if s == "" {
		return nil, errors.New("mail: no recipient address")
	}
	if hasControl(s) {
		return nil, fmt.Errorf("mail: recipient address %q contains control characters", s)
	}
	a, err := netmail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("mail: recipient address %q: %w", s, err)
	}
	if hasControl(a.Address) || hasControl(a.Name) {
		return nil, fmt.Errorf("mail: recipient address %q contains control characters", s)
	}
	return a, nil
}

func checkURL(s string) error {
	if hasControl(s) || strings.ContainsAny(s, " \u00a0") {
		return errors.New("mail: URL contains spaces or control characters")
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("mail: invalid URL: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("mail: URL must be an absolute http(s) URL, got scheme %q", u.Scheme)
	}
	return nil
}

// hasControl reports whether s is invalid UTF-8 or has an [plugin.HiddenRune]:
// a control character (C0, DEL, C1), a line or paragraph separator, or an
// invisible format character such as a bidi control or a zero-width space.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, plugin.HiddenRune) || !utf8.ValidString(s)
}

// oneLine collapses every run of control and hidden characters in s (CR,
// LF, tab, NUL, NEL, U+2028, bidi controls, zero-width spaces, …; see
// [plugin.HiddenRune]) into one space, so that nothing breaks the line or
// disguises the text around it, replaces invalid UTF-8 and trims
// surrounding space.
func oneLine(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.Grow(len(s))
	inCtl := false
	for _, r := range s {
		if plugin.HiddenRune(r) {
			if !inCtl {
				b.WriteByte(' ')
			}
			inCtl = true
			continue
		}
		inCtl = false
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}

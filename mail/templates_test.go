package mail

import (
	"html"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
)

const testURL = "https://mana.how/api/auth/verify?token=abc_DEF-123&callbackURL=%2Fwelcome"

// allKinds lists every kind auth sends, with an email that fills it in.
func allKinds() []auth.Email {
	base := func(k plugin.EmailKind) auth.Email {
		return auth.Email{Kind: k, To: "ada@example.com", Name: "Ada Lovelace", URL: testURL, AppName: "Mana"}
	}
	inv := base(plugin.EmailInvitation)
	inv.Data = map[string]string{"organization": "Analytical Engines", "inviter": "Charles Babbage"}
	otp := base(plugin.EmailOTP)
	otp.URL, otp.Code = "", "482913"
	votp := base(plugin.EmailVerificationOTP)
	votp.URL, votp.Code = "", "570142"
	return []auth.Email{
		base(plugin.EmailVerification),
		base(plugin.EmailPasswordReset),
		base(plugin.EmailChangeEmail),
		base(plugin.EmailDeleteAccount),
		base(plugin.EmailMagicLink),
		inv,
		otp,
		votp,
	}
}

func TestDefaultTemplatesCoverEveryKind(t *testing.T) {
	t.Parallel()
	d := DefaultTemplates()
	for _, e := range allKinds() {
		tpl, ok := d[e.Kind]
		if !ok || tpl.Subject == "" || tpl.Text == "" || tpl.HTML == "" {
			t.Errorf("no complete default template for %q", e.Kind)
		}
	}
	if len(d) != len(allKinds()) {
		t.Errorf("DefaultTemplates has %d kinds, want %d", len(d), len(allKinds()))
	}
	// The copy is independent of the defaults.
	d[plugin.EmailOTP] = Template{Subject: "changed"}
	if DefaultTemplates()[plugin.EmailOTP].Subject == "changed" {
		t.Error("changing DefaultTemplates' result changed the defaults")
	}
}

func TestRenderEveryKind(t *testing.T) {
	t.Parallel()
	for _, e := range allKinds() {
		t.Run(string(e.Kind), func(t *testing.T) {
			t.Parallel()
			e.Name = `Ada <script>alert("x")</script>`
			m, err := Render(e)
			if err != nil {
				t.Fatal(err)
			}
			if m.To != "ada@example.com" || m.Name != e.Name {
				t.Errorf("To, Name = %q, %q", m.To, m.Name)
			}
			if !strings.Contains(m.Subject, "Mana") || strings.ContainsAny(m.Subject, "\r\n") {
				t.Errorf("Subject = %q", m.Subject)
			}
			// The thing to click or type is in both bodies.
			want := e.URL
			if e.URL == "" { // a code
				want = e.Code
				if !strings.Contains(m.Subject, e.Code) {
					t.Errorf("OTP subject %q lacks the code", m.Subject)
				}
			}
			if !strings.Contains(m.Text, want) {
				t.Errorf("text lacks %q:\n%s", want, m.Text)
			}
			if e.URL != "" {
				if diff := cmp.Diff([]string{e.URL, e.URL}, hrefs(m.HTML)); diff != "" {
					t.Errorf("HTML links (-want +got):\n%s", diff)
				}
			} else if !strings.Contains(m.HTML, want) {
				t.Errorf("HTML lacks %q:\n%s", want, m.HTML)
			}
			// The name is escaped in HTML, verbatim in text.
			if strings.Contains(m.HTML, "<script>") || !strings.Contains(m.HTML, html.EscapeString("<script>")) {
				t.Errorf("HTML does not escape the name:\n%s", m.HTML)
			}
			if !strings.Contains(m.Text, "Hi "+e.Name+",") {
				t.Errorf("text lacks greeting:\n%s", m.Text)
			}
			for _, v := range e.Data {
				if !strings.Contains(m.Text, v) || !strings.Contains(m.HTML, v) || !strings.Contains(m.Subject, v) {
					t.Errorf("%q missing from subject, text or HTML", v)
				}
			}
		})
	}
}

func TestRenderDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		e           auth.Email
		wantSubject string
		wantText    []string
	}{
		{
			name:        "no app name, no name",
			e:           auth.Email{Kind: plugin.EmailMagicLink, To: "ada@example.com", URL: testURL},
			wantSubject: "Your sign-in link for Mana",
			wantText:    []string{"Hi,\n", "sign in to Mana"},
		},
		{
			name:        "name from the To address",
			e:           auth.Email{Kind: plugin.EmailVerification, To: "Ada <ada@example.com>", URL: testURL, AppName: "Acme"},
			wantSubject: "Verify your email for Acme",
			wantText:    []string{"Hi Ada,\n", "— The Acme team"},
		},
		{
			name:        "invitation without data",
			e:           auth.Email{Kind: plugin.EmailInvitation, To: "ada@example.com", URL: testURL},
			wantSubject: "You're invited to join a team on Mana",
			wantText:    []string{"Someone invited you to join their team on Mana."},
		},
		{
			name:        "change email with new address",
			e:           auth.Email{Kind: plugin.EmailChangeEmail, To: "ada@example.com", URL: testURL, Data: map[string]string{"newEmail": "ada@new.example"}},
			wantSubject: "Confirm your new email for Mana",
			wantText:    []string{"account to ada@new.example by opening"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := Render(tt.e)
			if err != nil {
				t.Fatal(err)
			}
			if m.Subject != tt.wantSubject {
				t.Errorf("Subject = %q, want %q", m.Subject, tt.wantSubject)
			}
			for _, w := range tt.wantText {
				if !strings.Contains(m.Text, w) {
					t.Errorf("text lacks %q:\n%s", w, m.Text)
				}
			}
			if strings.Contains(m.Text+m.HTML+m.Subject, "<no value>") {
				t.Errorf("a missing value was rendered as <no value>")
			}
		})
	}
}

func TestRenderOverrides(t *testing.T) {
	t.Parallel()
	magic := auth.Email{Kind: plugin.EmailMagicLink, To: "ada@example.com", Name: "Ada", URL: testURL, AppName: "Mana"}
	def, err := Render(magic)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		t    Templates
		e    auth.Email
		want Message
	}{
		{
			name: "subject only",
			t:    Templates{plugin.EmailMagicLink: {Subject: "Sign in to {{.AppName}}, {{.Name}}"}},
			e:    magic,
			want: Message{To: "ada@example.com", Name: "Ada", Subject: "Sign in to Mana, Ada", Text: def.Text, HTML: def.HTML},
		},
		{
			name: "whole kind",
			t: Templates{plugin.EmailMagicLink: {
				Subject: "Login",
				Text:    "Go: {{.URL}}",
				HTML:    `<a href="{{.URL}}">{{.Name}}</a>`,
			}},
			e:    magic,
			want: Message{To: "ada@example.com", Name: "Ada", Subject: "Login", Text: "Go: " + testURL, HTML: `<a href="https://mana.how/api/auth/verify?token=abc_DEF-123&amp;callbackURL=%2Fwelcome">Ada</a>`},
		},
		{
			name: "other kinds keep their defaults",
			t:    Templates{plugin.EmailOTP: {Subject: "x"}},
			e:    magic,
			want: def,
		},
		{
			name: "a plugin's own kind",
			t:    Templates{"welcome": {Subject: "Welcome, {{.Name}}", Text: "{{.Data.plan}}", HTML: "<b>{{.Data.plan}}</b>"}},
			e:    auth.Email{Kind: "welcome", To: "ada@example.com", Name: "Ada", URL: testURL, Data: map[string]string{"plan": "Pro & more"}},
			want: Message{To: "ada@example.com", Name: "Ada", Subject: "Welcome, Ada", Text: "Pro & more", HTML: "<b>Pro &amp; more</b>"},
		},
		{
			name: "subject squeezed onto one line",
			t:    Templates{plugin.EmailMagicLink: {Subject: "Sign in\r\n\tto {{.AppName}}\n"}},
			e:    magic,
			want: Message{To: "ada@example.com", Name: "Ada", Subject: "Sign in to Mana", Text: def.Text, HTML: def.HTML},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.t.Render(tt.e)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Render (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRenderTemplateErrors(t *testing.T) {
	t.Parallel()
	e := auth.Email{Kind: plugin.EmailMagicLink, To: "ada@example.com", URL: testURL}
	tests := []struct {
		name string
		t    Templates
		e    auth.Email
		want string
	}{
		{"unknown kind", nil, auth.Email{Kind: "nope", To: "ada@example.com", URL: testURL}, `no template for email kind "nope"`},
		{"incomplete custom kind", Templates{"welcome": {Subject: "hi"}}, auth.Email{Kind: "welcome", To: "ada@example.com", URL: testURL}, "needs a Subject, Text and HTML"},
		{"subject syntax", Templates{plugin.EmailMagicLink: {Subject: "{{.Name"}}, e, "magic-link subject template"},
		{"HTML syntax", Templates{plugin.EmailMagicLink: {HTML: "{{if}}"}}, e, "magic-link HTML template"},
		{"unknown field", Templates{plugin.EmailMagicLink: {Text: "{{.Password}}"}}, e, "render magic-link text"},
		{"empty subject", Templates{plugin.EmailMagicLink: {Subject: "{{.Code}}"}}, e, "subject renders empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tt.t.Render(tt.e)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Render error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestRenderRefuses(t *testing.T) {
	t.Parallel()
	ok := auth.Email{Kind: plugin.EmailVerification, To: "ada@example.com", URL: testURL}
	with := func(f func(*auth.Email)) auth.Email { e := ok; f(&e); return e }
	tests := []struct {
		name string
		e    auth.Email
		want string
	}{
		{"empty To", with(func(e *auth.Email) { e.To = "" }), "no recipient"},
		{"CRLF in To", with(func(e *auth.Email) { e.To = "ada@example.com\r\nBcc: evil@x" }), "control characters"},
		{"LF in To", with(func(e *auth.Email) { e.To = "ada@example.com\n" }), "control characters"},
		{"CR in display name", with(func(e *auth.Email) { e.To = "Ada\r <ada@example.com>" }), "control characters"},
		{"two addresses", with(func(e *auth.Email) { e.To = "ada@example.com, evil@x.example" }), "recipient address"},
		{"two addresses, semicolon", with(func(e *auth.Email) { e.To = "ada@example.com;evil@x.example" }), "recipient address"},
		{"group", with(func(e *auth.Email) { e.To = "friends: ada@example.com, evil@x.example;" }), "recipient address"},
		{"not an address", with(func(e *auth.Email) { e.To = "ada" }), "recipient address"},
		{"no URL", with(func(e *auth.Email) { e.URL = "" }), "needs a URL"},
		{"relative URL", with(func(e *auth.Email) { e.URL = "/verify?token=x" }), "absolute http(s) URL"},
		{"javascript URL", with(func(e *auth.Email) { e.URL = "javascript:alert(1)" }), "absolute http(s) URL"},
		{"URL with newline", with(func(e *auth.Email) { e.URL = "https://mana.how/\r\nx" }), "control characters"},
		{"URL with a bidi override", with(func(e *auth.Email) { e.URL = "https://mana.how/\u202egro.live" }), "control characters"},
		{"To with a zero-width space", with(func(e *auth.Email) { e.To = "ada\u200b@example.com" }), "control characters"},
		{"OTP without code", auth.Email{Kind: plugin.EmailOTP, To: "ada@example.com"}, "needs a Code"},
		{"code with newline", auth.Email{Kind: plugin.EmailOTP, To: "ada@example.com", Code: "12\n34"}, "invalid code"},
		{"verification OTP without code", auth.Email{Kind: plugin.EmailVerificationOTP, To: "ada@example.com", Data: map[string]string{"type": "sign-in"}}, "needs a Code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Render(tt.e)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Render error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestRenderSanitizesOneLineValues(t *testing.T) {
	t.Parallel()
	e := auth.Email{
		Kind:    plugin.EmailInvitation,
		To:      "ada@example.com",
		Name:    "Eve\r\nBcc: evil@x",
		URL:     testURL,
		AppName: "Mana\r\nX-Evil: 1",
		Data:    map[string]string{"organization": "Org\nBcc: evil@x", "inviter": "Mallory\u2028Cc: evil@x"},
	}
	m, err := Render(e)
	if err != nil {
		t.Fatal(err)
	}
	want := "Mallory Cc: evil@x invited you to join Org Bcc: evil@x on Mana X-Evil: 1"
	if m.Subject != want {
		t.Errorf("Subject = %q, want %q", m.Subject, want)
	}
	if m.Name != "Eve Bcc: evil@x" {
		t.Errorf("Name = %q", m.Name)
	}
	if !strings.Contains(m.Text, "Hi Eve Bcc: evil@x,") {
		t.Errorf("text:\n%s", m.Text)
	}
}

func TestRenderCapsSubject(t *testing.T) {
	t.Parallel()
	e := auth.Email{Kind: plugin.EmailInvitation, To: "ada@example.com", URL: testURL,
		Data: map[string]string{"inviter": strings.Repeat("é", 5000)}}
	m, err := Render(e)
	if err != nil {
		t.Fatal(err)
	}
	if n := len([]rune(m.Subject)); n != maxSubjectRunes || !strings.HasSuffix(m.Subject, "…") {
		t.Errorf("subject has %d runes, ends %q", n, m.Subject[len(m.Subject)-5:])
	}
}

func TestOneLine(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", ""},
		{"Ada Lovelace", "Ada Lovelace"},
		{"Ada\r\nBcc: evil@x", "Ada Bcc: evil@x"},
		{"a\r\n\r\n\tb", "a b"},
		{"\r\nlead and trail\n", "lead and trail"},
		{"nul\x00del\x7fnel\u0085ls\u2028ps\u2029end", "nul del nel ls ps end"},
		{"bad \xff utf8", "bad \uFFFD utf8"},
		{"Zoë 😀", "Zoë 😀"},
		{"Ada \u202egro.elpmaxe\u202c", "Ada  gro.elpmaxe"},                  // bidi override
		{"\u2066Ada\u2069 \u200eX\u200f\u061c", "Ada   X"},                   // isolates and marks
		{"zero\u200bwidth\ufeff\u2060\u00ad\U000E0041end", "zero width end"}, // invisible and tag characters
		{"👩\u200d💻 \u0645\u06cc\u200c\u062e \u2764\ufe0f", "👩\u200d💻 \u0645\u06cc\u200c\u062e \u2764\ufe0f"}, // joiners and variation selectors stay
	}
	for _, tt := range tests {
		if got := oneLine(tt.in); got != tt.want {
			t.Errorf("oneLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestVerificationOTPNamesItsType: a code of the email-otp plugin says
// what it is for, and what to do if it was not asked for, by its type.
func TestVerificationOTPNamesItsType(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		typ, subject, advice string
	}{
		{"sign-in", "Your Mana sign-in code: 570142", "If you didn't try to sign in, you can ignore this email."},
		{"email-verification", "Your Mana email verification code: 570142", "If you didn't create an account with Mana, you can ignore this email."},
		{"forget-password", "Your Mana password reset code: 570142", "If you didn't ask to reset your password, ignore this email: your password stays as it is."},
		{"", "Your Mana one-time code: 570142", "If you didn't ask for a code, you can ignore this email."},
	} {
		t.Run(tt.typ, func(t *testing.T) {
			t.Parallel()
			m, err := Render(auth.Email{Kind: plugin.EmailVerificationOTP, To: "ada@example.com", Code: "570142",
				AppName: "Mana", Data: map[string]string{"type": tt.typ}})
			if err != nil {
				t.Fatal(err)
			}
			if m.Subject != tt.subject {
				t.Errorf("Subject = %q, want %q", m.Subject, tt.subject)
			}
			purpose := strings.TrimPrefix(strings.TrimSuffix(tt.subject, ": 570142"), "Your Mana ")
			for part, body := range map[string]string{"text": m.Text, "HTML": m.HTML} {
				for _, want := range []string{"Your " + purpose + " for Mana is:", "570142", tt.advice} {
					if !strings.Contains(body, want) {
						t.Errorf("%s lacks %q:\n%s", part, want, body)
					}
				}
			}
			if !slices.Contains(textLines(m.Text), "    570142") {
				t.Errorf("the code is not on a line of its own:\n%s", m.Text)
			}
		})
	}
}

package mail

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
)

func TestFromEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		env      map[string]string
		wantErr  string // names the variable
		wantLog  bool
		wantAddr string
		wantFrom string
	}{
		{name: "no host", env: map[string]string{"SMTP_PORT": "nonsense"}, wantLog: true},
		{name: "blank host", env: map[string]string{"SMTP_HOST": "  "}, wantLog: true},
		{name: "host only", env: map[string]string{"SMTP_HOST": "smtp.example.com"}, wantAddr: "smtp.example.com:587", wantFrom: DefaultFrom},
		{name: "everything", env: map[string]string{"SMTP_HOST": "smtp.example.com", "SMTP_PORT": "2525", "SMTP_USER": "u", "SMTP_PASS": "p", "SMTP_FROM": "Mana <noreply@mana.how>", "SMTP_TLS": "mandatory"}, wantAddr: "smtp.example.com:2525", wantFrom: "noreply@mana.how"},
		{name: "bad port", env: map[string]string{"SMTP_HOST": "h", "SMTP_PORT": "smtp"}, wantErr: "SMTP_PORT"},
		{name: "port out of range", env: map[string]string{"SMTP_HOST": "h", "SMTP_PORT": "0"}, wantErr: "SMTP_PORT"},
		{name: "bad from", env: map[string]string{"SMTP_HOST": "h", "SMTP_FROM": "Mana"}, wantErr: "SMTP_FROM"},
		{name: "bad host", env: map[string]string{"SMTP_HOST": "h:25"}, wantErr: "SMTP_HOST"},
		{name: "bad TLS", env: map[string]string{"SMTP_HOST": "h", "SMTP_TLS": "yes"}, wantErr: "SMTP_TLS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := FromEnv(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one naming %s", err, tt.wantErr)
				}
				if m != nil {
					t.Errorf("mailer %#v returned with an error", m)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			switch m := m.(type) {
			case *LogMailer:
				if !tt.wantLog {
					t.Errorf("got a LogMailer")
				}
			case *SMTPMailer:
				if tt.wantLog {
					t.Fatalf("got an SMTPMailer for %s", m.Addr())
				}
				if m.Addr() != tt.wantAddr || m.from.Address != tt.wantFrom {
					t.Errorf("Addr %q From %q, want %q %q", m.Addr(), m.from.Address, tt.wantAddr, tt.wantFrom)
				}
			default:
				t.Fatalf("got %T", m)
			}
		})
	}
}

func TestLogMailer(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	m := NewLog(slog.New(slog.NewJSONHandler(&buf, nil)))
	ctx := t.Context()
	if err := m.SendEmail(ctx, auth.Email{Kind: plugin.EmailMagicLink, To: "ada@example.com", URL: testURL}); err != nil {
		t.Fatal(err)
	}
	if err := m.SendEmail(ctx, auth.Email{Kind: plugin.EmailOTP, To: "ada@example.com", Code: "482913"}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		`"kind":"magic-link"`, `"to":"ada@example.com"`, `"subject":"Your sign-in link for Mana"`,
		`"link":"https://mana.how/api/auth/verify?token=abc_DEF-123&callbackURL=%2Fwelcome"`,
		`"kind":"otp"`, `"code":"482913"`, `"text":"Hi,\n\nYour one-time code`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	if err := m.SendEmail(ctx, auth.Email{Kind: plugin.EmailOTP, To: "ada@example.com\r\nBcc: evil@x", Code: "1"}); err == nil {
		t.Error("LogMailer accepted a recipient with CRLF")
	}
	// Overrides apply.
	buf.Reset()
	custom := &LogMailer{Logger: m.Logger, Templates: Templates{plugin.EmailOTP: {Subject: "code {{.Code}}"}}}
	if err := custom.SendEmail(ctx, auth.Email{Kind: plugin.EmailOTP, To: "ada@example.com", Code: "1"}); err != nil {
		t.Error(err)
	}
	if !strings.Contains(buf.String(), `"subject":"code 1"`) {
		t.Errorf("override not used:\n%s", buf.String())
	}
}

package mail

import (
	"context"
	"log/slog"

	"github.com/managarten/mana-auth/auth"
)

// LogMailer is an [auth.Mailer] for development: instead of sending, it
// renders the email and logs it at level Info, with the link or code as
// its own attribute so a developer can open it straight from the log.
// Emails carry no passwords, so nothing secret beyond the link or code
// itself is logged; don't use it in production, where those links and
// codes would land in the logs.
//
// The zero value logs to slog.Default() with the default templates.
type LogMailer struct {
	// Logger receives the emails; slog.Default() if nil.
	Logger *slog.Logger
	// Templates overrides some or all of the default templates.
	Templates Templates
}

var _ auth.Mailer = (*LogMailer)(nil)

// NewLog returns a LogMailer writing to logger (slog.Default() if nil).
func NewLog(logger *slog.Logger) *LogMailer {
	return &LogMailer{Logger: logger}
}

// SendEmail renders e, refusing it as [SMTPMailer.SendEmail] would, and
// logs kind, to, subject, link and/or code, and the plain-text body.
func (m *LogMailer) SendEmail(ctx context.Context, e auth.Email) error {
	msg, err := m.Templates.Render(e)
	if err != nil {
		return err
	}
	logger := m.Logger
	if logger == nil {
		logger = slog.Default()
	}
	attrs := []slog.Attr{
		slog.String("kind", string(e.Kind)),
		slog.String("to", msg.To),
		slog.String("subject", msg.Subject),
	}
	if e.URL != "" {
		attrs = append(attrs, slog.String("link", e.URL))
	}
	if e.Code != "" {
		attrs = append(attrs, slog.String("code", e.Code))
	}
	attrs = append(attrs, slog.String("text", msg.Text))
	logger.LogAttrs(ctx, slog.LevelInfo, "email (not sent, development mailer)", attrs...)
	return nil
}

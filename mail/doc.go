// Package mail renders and delivers the emails of package auth.
//
// The auth core and its plugins describe an email by what it means (an
// [auth.Email]: its kind, recipient, link or code); a [auth.Mailer] turns
// it into a message and sends it. This package provides:
//
//   - [Templates]: a plain-text and an HTML template, plus a subject, for
//     every [plugin.EmailKind] — email verification, password reset, email
//     change, account deletion, magic link, organization invitation and
//     one-time code. [DefaultTemplates] are short and in English; replace
//     any kind, or just its subject, with your own wording. HTML is
//     rendered with html/template, so names and links are escaped.
//   - [SMTPMailer] ([NewSMTP]): delivers multipart/alternative messages to
//     an SMTP server, with STARTTLS (opportunistic by default, or
//     mandatory), implicit TLS on port 465, and SMTP AUTH when a user name
//     is configured.
//   - [LogMailer]: a development mailer that logs each email, with its
//     link or code, instead of sending it.
//   - [FromEnv]: picks one of the two from SMTP_* environment variables.
//
// Nothing in an email can add a header or disguise its text: the recipient
// must be exactly one address without control characters, and names, the
// app name, Data values and rendered subjects have their control characters
// (CR, LF, …) and hidden ones (bidi controls, zero-width spaces, …; see
// [plugin.HiddenRune]) turned into spaces.
//
// # Usage
//
//	mailer, err := mail.FromEnv(os.Getenv) // LogMailer if SMTP_HOST is unset
//	if err != nil {
//		log.Fatal(err)
//	}
//
// or, configured in code, with one kind worded differently:
//
//	t := mail.DefaultTemplates()
//	t[plugin.EmailMagicLink] = mail.Template{Subject: "Sign in to {{.AppName}} ✨"}
//	mailer, err := mail.NewSMTP(mail.SMTPConfig{
//		Host:      "smtp.example.com",
//		Username:  "apikey",
//		Password:  os.Getenv("SMTP_PASS"),
//		From:      "Mana <noreply@mana.how>",
//		TLSPolicy: mail.TLSMandatory,
//		Templates: t,
//	})
//	...
//	err = mailer.SendEmail(ctx, auth.Email{
//		Kind:    plugin.EmailVerification,
//		To:      "ada@example.com",
//		Name:    "Ada",
//		URL:     "https://mana.how/verify?token=…",
//		AppName: "Mana",
//	})
//
// Templates are executed with a [TemplateData]: {{.Name}}, {{.URL}},
// {{.Code}}, {{.AppName}}, {{.Data.organization}} and so on.
package mail

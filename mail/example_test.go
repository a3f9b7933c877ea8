package mail_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/mail"
	"github.com/managarten/mana-auth/plugin"
)

func ExampleRender() {
	msg, err := mail.Render(auth.Email{
		Kind:    plugin.EmailPasswordReset,
		To:      "ada@example.com",
		Name:    "Ada",
		URL:     "https://mana.how/reset-password?token=abc123",
		AppName: "Mana",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("To:", msg.To)
	fmt.Println("Subject:", msg.Subject)
	fmt.Println()
	fmt.Print(msg.Text)
	// Output:
	// To: ada@example.com
	// Subject: Reset your Mana password
	//
	// Hi Ada,
	//
	// Someone, hopefully you, asked to reset the password of your Mana account. Open this link to choose a new one:
	//
	// https://mana.how/reset-password?token=abc123
	//
	// If you didn't ask for this, you can ignore this email; your password stays the same.
	//
	// — The Mana team
}

func ExampleTemplates_Render() {
	t := mail.DefaultTemplates()
	t[plugin.EmailOTP] = mail.Template{Subject: "{{.Code}} is your {{.AppName}} code"}
	msg, err := t.Render(auth.Email{Kind: plugin.EmailOTP, To: "ada@example.com", Code: "482913"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(msg.Subject)
	// Output: 482913 is your Mana code
}

func ExampleLogMailer() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{} // drop the time so the output is stable
			}
			return a
		},
	}))
	mailer := mail.NewLog(logger)
	err := mailer.SendEmail(context.Background(), auth.Email{
		Kind: plugin.EmailMagicLink,
		To:   "ada@example.com",
		URL:  "https://mana.how/magic?token=abc123",
	})
	if err != nil {
		fmt.Println(err)
	}
	// Output:
	// level=INFO msg="email (not sent, development mailer)" kind=magic-link to=ada@example.com subject="Your sign-in link for Mana" link="https://mana.how/magic?token=abc123" text="Hi,\n\nOpen this link to sign in to Mana:\n\nhttps://mana.how/magic?token=abc123\n\nIf you didn't try to sign in, you can ignore this email.\n\n— The Mana team\n"
}

func ExampleNewSMTP() {
	mailer, err := mail.NewSMTP(mail.SMTPConfig{
		Host:      "smtp.example.com",
		Username:  "apikey",
		Password:  "secret",
		From:      "Mana <noreply@mana.how>",
		TLSPolicy: mail.TLSMandatory,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(mailer.Addr())
	// Output: smtp.example.com:587
}

func ExampleFromEnv() {
	env := map[string]string{} // no SMTP_HOST: log instead of sending
	mailer, err := mail.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%T\n", mailer)
	// Output: *mail.LogMailer
}

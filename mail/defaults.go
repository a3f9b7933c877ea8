package mail

import (
	"maps"

	"github.com/managarten/mana-auth/plugin"
)

// DefaultTemplates returns a fresh copy of the built-in English templates,
// one for every [plugin.EmailKind]. Changing the returned map does not change
// the defaults.
func DefaultTemplates() Templates {
	return maps.Clone(defaultTemplates)
}

const textGreeting = `Hi{{if .Name}} {{.Name}}{{end}},

`

const textSignature = `

— The {{.AppName}} team
`

const htmlHeader = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.AppName}}</title>
</head>
<body style="margin:0;padding:24px;background:#f4f4f5;font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Helvetica,Arial,sans-serif;font-size:15px;line-height:1.5;color:#18181b;">
<div style="max-width:480px;margin:0 auto;background:#ffffff;border-radius:8px;padding:32px;">
<p style="margin:0 0 24px;font-size:18px;font-weight:600;">{{.AppName}}</p>
<p>Hi{{if .Name}} {{.Name}}{{end}},</p>
`

const htmlFooter = `<p style="margin-top:32px;">— The {{.AppName}} team</p>
</div>
</body>
</html>
`

// htmlPage wraps body in the shared header and footer.
func htmlPage(body string) string { return htmlHeader + body + htmlFooter }

// htmlButton is a link styled as a button, followed by the bare link for
// mail clients that hide buttons.
func htmlButton(label string) string {
	return `<p style="margin:24px 0;"><a href="{{.URL}}" style="display:inline-block;background:#18181b;color:#ffffff;text-decoration:none;padding:12px 20px;border-radius:6px;font-weight:600;">` + label + `</a></p>
<p style="font-size:13px;color:#71717a;">Or paste this link into your browser:<br><a href="{{.URL}}" style="color:#71717a;word-break:break-all;">{{.URL}}</a></p>
`
}

func htmlNote(text string) string {
	return `<p style="font-size:13px;color:#71717a;">` + text + `</p>
`
}

// otpPurpose names what a verification-otp code is for, by its type.
const otpPurpose = `{{if eq .Data.type "sign-in"}}sign-in code{{else if eq .Data.type "forget-password"}}password reset code{{else if eq .Data.type "email-verification"}}email verification code{{else}}one-time code{{end}}`

// otpAdvice says what to do with a verification-otp code, and what to do
// if it was not asked for.
const otpAdvice = `{{if eq .Data.type "sign-in"}}Enter it to sign in to {{.AppName}}, and don't share it with anyone. If you didn't try to sign in, you can ignore this email.` +
	`{{else if eq .Data.type "forget-password"}}Enter it to choose a new password, and don't share it with anyone. If you didn't ask to reset your password, ignore this email: your password stays as it is.` +
	`{{else if eq .Data.type "email-verification"}}Enter it to confirm that this is your email address, and don't share it with anyone. If you didn't create an account with {{.AppName}}, you can ignore this email.` +
	`{{else}}Enter it where you asked for it, and don't share it with anyone. If you didn't ask for a code, you can ignore this email.{{end}}`

const invitationWho = `{{with .Data.inviter}}{{.}}{{else}}Someone{{end}} invited you to join {{with .Data.organization}}{{.}}{{else}}their team{{end}} on {{.AppName}}.`

var defaultTemplates = Templates{
	plugin.EmailVerification: {
		Subject: `Verify your email for {{.AppName}}`,
		Text: textGreeting + `Please confirm your email address for {{.AppName}} by opening this link:

{{.URL}}

If you didn't sign up for {{.AppName}}, you can ignore this email.` + textSignature,
		HTML: htmlPage(`<p>Please confirm your email address for {{.AppName}}.</p>
` + htmlButton("Verify email") + htmlNote(`If you didn't sign up for {{.AppName}}, you can ignore this email.`)),
	},
	plugin.EmailPasswordReset: {
		Subject: `Reset your {{.AppName}} password`,
		Text: textGreeting + `Someone, hopefully you, asked to reset the password of your {{.AppName}} account. Open this link to choose a new one:

{{.URL}}

If you didn't ask for this, you can ignore this email; your password stays the same.` + textSignature,
		HTML: htmlPage(`<p>Someone, hopefully you, asked to reset the password of your {{.AppName}} account.</p>
` + htmlButton("Choose a new password") + htmlNote(`If you didn't ask for this, you can ignore this email; your password stays the same.`)),
	},
	plugin.EmailChangeEmail: {
		Subject: `Confirm your new email for {{.AppName}}`,
		Text: textGreeting + `Please confirm that you want to change the email address of your {{.AppName}} account{{with .Data.newEmail}} to {{.}}{{end}} by opening this link:

{{.URL}}

If you didn't ask for this, you can ignore this email and nothing changes.` + textSignature,
		HTML: htmlPage(`<p>Please confirm that you want to change the email address of your {{.AppName}} account{{with .Data.newEmail}} to <strong>{{.}}</strong>{{end}}.</p>
` + htmlButton("Confirm change") + htmlNote(`If you didn't ask for this, you can ignore this email and nothing changes.`)),
	},
	plugin.EmailDeleteAccount: {
		Subject: `Confirm deleting your {{.AppName}} account`,
		Text: textGreeting + `We got a request to delete your {{.AppName}} account. This can't be undone. To confirm, open this link:

{{.URL}}

If you didn't ask for this, ignore this email and your account stays as it is; you may want to change your password.` + textSignature,
		HTML: htmlPage(`<p>We got a request to delete your {{.AppName}} account. This can't be undone.</p>
` + htmlButton("Delete my account") + htmlNote(`If you didn't ask for this, ignore this email and your account stays as it is; you may want to change your password.`)),
	},
	plugin.EmailMagicLink: {
		Subject: `Your sign-in link for {{.AppName}}`,
		Text: textGreeting + `Open this link to sign in to {{.AppName}}:

{{.URL}}

If you didn't try to sign in, you can ignore this email.` + textSignature,
		HTML: htmlPage(`<p>Click the button to sign in to {{.AppName}}.</p>
` + htmlButton("Sign in") + htmlNote(`If you didn't try to sign in, you can ignore this email.`)),
	},
	plugin.EmailInvitation: {
		Subject: `{{with .Data.inviter}}{{.}} invited you{{else}}You're invited{{end}} to join {{with .Data.organization}}{{.}}{{else}}a team{{end}} on {{.AppName}}`,
		Text: textGreeting + invitationWho + ` Open this link to accept the invitation:

{{.URL}}

If you weren't expecting this, you can ignore this email.` + textSignature,
		HTML: htmlPage(`<p>` + invitationWho + `</p>
` + htmlButton("Accept invitation") + htmlNote(`If you weren't expecting this, you can ignore this email.`)),
	},
	plugin.EmailOTP: {
		Subject: `Your {{.AppName}} code: {{.Code}}`,
		Text: textGreeting + `Your one-time code for {{.AppName}} is:

    {{.Code}}

Enter it where you asked for it, and don't share it with anyone. If you didn't ask for a code, you can ignore this email.` + textSignature,
		HTML: htmlPage(`<p>Your one-time code for {{.AppName}} is:</p>
<p style="margin:24px 0;font-size:28px;font-weight:700;letter-spacing:4px;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;">{{.Code}}</p>
<p>Enter it where you asked for it, and don't share it with anyone.</p>
` + htmlNote(`If you didn't ask for a code, you can ignore this email.`)),
	},
	plugin.EmailVerificationOTP: {
		Subject: `Your {{.AppName}} ` + otpPurpose + `: {{.Code}}`,
		Text: textGreeting + `Your ` + otpPurpose + ` for {{.AppName}} is:

    {{.Code}}

It expires in a few minutes. ` + otpAdvice + textSignature,
		HTML: htmlPage(`<p>Your ` + otpPurpose + ` for {{.AppName}} is:</p>
<p style="margin:24px 0;font-size:28px;font-weight:700;letter-spacing:4px;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;">{{.Code}}</p>
<p>It expires in a few minutes. ` + otpAdvice + `</p>
`),
	},
}

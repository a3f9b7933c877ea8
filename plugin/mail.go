package plugin

import "context"

// EmailKind says what an email is for; a Mailer picks its template by it.
type EmailKind string

// The emails the core and the built-in plugins send.
const (
	EmailVerification  EmailKind = "verification"
	EmailPasswordReset EmailKind = "reset-password"
	EmailChangeEmail   EmailKind = "change-email"
	EmailDeleteAccount EmailKind = "delete-account"
	EmailMagicLink     EmailKind = "magic-link"
	EmailInvitation    EmailKind = "invitation"
	EmailOTP           EmailKind = "otp"
	// EmailVerificationOTP is a code of the email-otp plugin (Better
	// Auth's sendVerificationOTP): Code is the code, Data["type"] what it
	// is for: "sign-in", "email-verification" or "forget-password".
	EmailVerificationOTP EmailKind = "verification-otp"
)

// Email is a message to send, described by what it means rather than by
// its text: the Mailer renders it (package mail has templates for every
// kind, each overridable) and delivers it.
type Email struct {
	Kind EmailKind
	// To is the recipient address.
	To string
	// Name is the recipient's name, if known and their own: see
	// GreetingName. Empty, the templates greet nobody by name.
	Name string
	// URL is the link the recipient should open (verification, reset,
	// magic link, invitation).
	URL string
	// Code is a one-time code to type in (EmailOTP, EmailVerificationOTP).
	Code string
	// AppName names the application.
	AppName string
	// Data holds kind-specific values, e.g. "organization", "inviter".
	Data map[string]string
}

// GreetingName returns the name an email to u's own address may greet u
// by: u.Name once u has verified the address, otherwise "". Until then the
// name was chosen by whoever signed the address up, who need not own the
// mailbox, and text chosen by someone else must not reach its owner in a
// genuine mail. An email to another address (a new address being
// confirmed) carries no name at all.
func GreetingName(u *User) string {
	if u == nil || !u.EmailVerified {
		return ""
	}
	return u.Name
}

// Mailer delivers emails. Implementations must be safe for concurrent use
// and should honour ctx's deadline.
type Mailer interface {
	SendEmail(ctx context.Context, e Email) error
}

// Package emailotp is the email-otp plugin: sign-in, email verification
// and password reset with a one-time code sent by mail, answering on the
// wire as Better Auth 1.7's emailOTP plugin does, so that its JS client
// (emailOTPClient) works unchanged and codes written by a Better Auth
// server keep working.
//
// Usage:
//
//	eo, err := emailotp.New(emailotp.Options{})
//	if err != nil { ... }
//	a, err := auth.New(auth.Config{BaseURL: ..., Secret: ..., Mailer: mailer}, db, eo)
//	if err != nil { ... }
//	http.Handle("/api/auth/", a.Handler())
//	defer eo.Shutdown(context.Background()) // codes still being mailed
//
// Routes (all POST, under the auth base path):
//
//	/email-otp/send-verification-otp   {email, type}            → {success:true}
//	/email-otp/check-verification-otp  {email, type, otp}       → {success:true} (the code stays usable)
//	/sign-in/email-otp                 {email, otp, name?, image?} → {token, user} and the session cookie
//	/email-otp/verify-email            {email, otp}             → {status:true, token, user}
//	/email-otp/request-password-reset  {email}                  → {success:true}
//	/forget-password/email-otp         {email}                  → {success:true} (deprecated alias)
//	/email-otp/reset-password          {email, otp, password}   → {success:true}
//	/email-otp/request-email-change    {newEmail, otp?}         → 400 "Change email with OTP is disabled"
//	/email-otp/change-email            {newEmail, otp}          → 400 "Change email with OTP is disabled"
//
// type is "sign-in", "email-verification" or "forget-password"
// ("change-email" is refused with 400 "Invalid OTP type"). Each route
// allows 3 requests per minute per client.
//
// # Codes
//
// A code is OTPLength digits (6), valid ExpiresIn (5 minutes), in the
// verification table as Better Auth stores it: identifier
// "<type>-otp-<email>", value "<code>:<failed attempts>" (the code plain,
// hashed or sealed with the keyring: StoreOTP). A new code for the same
// email and type replaces the previous one. A code allows AllowedAttempts
// (3) wrong guesses; then even the right code is refused (403
// TOO_MANY_ATTEMPTS) and a new one must be requested. A code of one type
// is never valid for another. Checking is Better Auth's atomic
// consume-and-reinsert (package plugin/otp): of concurrent uses of one
// code, exactly one succeeds.
//
// # Accounts
//
// Requesting a code answers the same, as fast, whether or not the email
// belongs to a user: the code is mailed in the background, and where no
// mail goes (an unknown email, except a sign-in code while sign-up is
// open) a code is stored all the same and mailed to nobody, so that
// guesses at it meet the same answers too (Better Auth deletes it, and
// the fourth guess then tells an account from none). Codes are mailed as
// plugin.EmailVerificationOTP through the host's Mailer, or handed to
// Options.SendVerificationOTP.
//
// Signing in with a code for an unknown email signs the user up, with
// the address verified (unless DisableSignUp). An existing account whose
// address was never verified is taken over by the mailbox's owner: what
// whoever registered the address set before (password, sessions, other
// first factors) is dropped (plugin.Host.MarkEmailVerified), since the
// code proves the mailbox and nothing else. Verifying the address with a
// code keeps the account's password only when the code vouches for it:
// it is the code mailed for the sign-up that set the password
// (SendVerificationOnSignUp; a code asked for later vouches for nothing),
// or the request carries a session of the account. A password reset by
// code ends the user's sessions unless the host keeps them
// (auth.Config.EmailPassword.KeepSessionsOnPasswordReset, or
// Options.KeepSessionsOnPasswordReset). A second factor (package
// twofactor) still interrupts the sign-ins.
package emailotp

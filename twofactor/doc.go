// Package twofactor is the two-factor authentication plugin: TOTP
// (authenticator apps), single-use backup codes, one-time codes by email,
// and trusted devices, answering on the wire as Better Auth 1.7's
// two-factor plugin does, so that its JS client (twoFactorClient) and
// databases written by it keep working.
//
// Usage:
//
//	tf := twofactor.New(twofactor.Options{Issuer: "Mana"})
//	a, err := auth.New(auth.Config{BaseURL: ..., Secret: ..., Mailer: mailer}, db, tf)
//	if err != nil { ... }
//	http.Handle("/api/auth/", a.Handler())
//
// Routes (all POST, under the auth base path):
//
//	/two-factor/enable                 {password, method?, issuer?} → {method, totpURI, backupCodes}
//	/two-factor/get-totp-uri           {password}                   → {totpURI}
//	/two-factor/verify-totp            {code, trustDevice?}         → {token, user}
//	/two-factor/disable                {password}                   → {status:true}
//	/two-factor/generate-backup-codes  {password}                   → {status:true, backupCodes}
//	/two-factor/verify-backup-code     {code, disableSession?, trustDevice?} → {token, user}
//	/two-factor/send-otp               {trustDevice?}               → {status:true}
//	/two-factor/verify-otp             {code, trustDevice?}         → {token, user}
//
// # Sign-in
//
// Enabling TOTP stores an unverified secret; the first correct code turns
// two-factor on. From then on a first-factor sign-in of the user (email and
// password, and by default every other method: magic link, passkey, the
// auto sign-in after email verification) does not create a session.
// Instead the route answers 200 {"twoFactorRedirect":true,
// "twoFactorMethods":[…]}, expires the session cookies and sets the signed
// two_factor cookie (10 minutes) that the verify routes accept in place of
// a session. The check runs in a BeforeSessionCreate hook, so the session
// row is never written ([plugin.Interruption]).
//
// A verification with trustDevice:true sets the trust_device cookie (30
// days); sign-ins from that browser then skip the second factor, and each
// such sign-in replaces the cookie with a new one.
//
// # Protection against guessing and replay
//
//   - A TOTP code is accepted once: the last accepted time step of each user
//     is recorded with a compare-and-swap, so a code (or an older one) cannot
//     be used again, even by two concurrent requests.
//   - Backup codes are stored as keyed hashes and removed with a
//     compare-and-swap on the stored value, so each works once. Codes in
//     Better Auth's encrypted (or plain) format are still accepted and the
//     remaining ones are re-stored hashed.
//   - Each pending sign-in allows 5 failed codes; then it is void (400
//     TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE). 10 consecutive failures lock the
//     user's second factor for 15 minutes (429 ACCOUNT_TEMPORARILY_LOCKED).
//   - Requests to /two-factor/* are rate limited per IP (3 per 10 s).
//   - An emailed code is not offered when the first factor already proved
//     control of the mailbox (magic link, email verification).
//
// TOTP secrets are stored encrypted as Better Auth stores them
// ([keyring.Ring.Encrypt]); the parameters are Better Auth's: HMAC-SHA1,
// 6 digits, 30 s steps, one step of tolerance either way, and the UTF-8
// bytes of the 32-character secret as the key.
//
// # Secret rotation
//
// With versioned secrets (auth.Config.Secrets), new TOTP secrets are sealed
// as "$ba$<version>$…" and new backup codes are keyed by the current
// version; both stay readable after a rotation for as long as their
// version (or, for data from before versions, Config.Secret) is
// configured. Trusted-device cookies and emailed codes are keyed by the
// current secret only, as in Better Auth: a rotation voids those in flight.
package twofactor

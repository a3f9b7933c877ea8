// Package passkey is the passkey (WebAuthn) plugin for an auth.Auth,
// answering as Better Auth's passkey plugin (@better-auth/passkey 1.7) does,
// so that Better Auth's passkeyClient works unchanged. Ceremonies are
// verified with github.com/go-webauthn/webauthn.
//
// # Usage
//
//	pk := passkey.New(passkey.Options{})
//	a, err := auth.New(auth.Config{
//		BaseURL: "https://example.com",
//		Secret:  secret,
//		AppName: "Example", // the relying party name shown by authenticators
//	}, db, pk)
//	if err != nil { ... }
//	if err := a.Migrate(ctx); err != nil { ... } // creates the "passkey" table
//	mux.Handle("/api/auth/", a.Handler())
//
// In the browser, with Better Auth's client and passkeyClient():
//
//	await authClient.passkey.addPasskey({ name: "Laptop" }) // signed in, fresh session
//	await authClient.signIn.passkey()                       // creates a normal session
//
// # Routes
//
// Under Config.BasePath:
//
//   - GET /passkey/generate-register-options (fresh session; query
//     authenticatorAttachment, name, context) → PublicKeyCredentialCreationOptionsJSON
//   - POST /passkey/verify-registration (fresh session; {response, name?, createSession?})
//     → the passkey row (plus session and user with createSession)
//   - GET /passkey/generate-authenticate-options (session optional)
//     → PublicKeyCredentialRequestOptionsJSON (allowCredentials only with a session)
//   - POST /passkey/verify-authentication ({response}) → {session, user} and the
//     session cookie
//   - GET /passkey/list-user-passkeys (session) → array of passkey rows
//   - POST /passkey/update-passkey (session, owner; {id, name}) → {passkey}
//   - POST /passkey/delete-passkey (session, owner; {id}) → {status: true}
//
// Each options call stores its challenge server-side in the verification
// table for 300 seconds under a random 32-character id and sets that id in
// the signed cookie "<prefix>.better-auth-passkey"; the verify call
// consumes the row (single use, of two concurrent uses exactly one
// succeeds) and checks that it was issued for the same ceremony and, for
// registration, to the same user. The Go methods (RegistrationOptions,
// VerifyRegistration, AuthenticationOptions, VerifyAuthentication,
// ListPasskeys, UpdatePasskey, DeletePasskey) do the same work for callers
// that carry the challenge id some other way.
//
// # Relying party
//
// The RP ID is Options.RPID, else the cookie domain (Config.Cookies.Domain,
// so passkeys work across subdomains with cross-subdomain cookies), else the
// BaseURL host. The RP name is Options.RPName, else Config.AppName. The
// origins a ceremony may come from are Options.Origins, else the BaseURL
// origin plus every exact (wildcard-free) http(s) entry of
// Config.TrustedOrigins.
//
// # Verification
//
// Registration accepts any attestation format go-webauthn verifies
// (attestation "none" is requested), refuses a credential ID that is
// already registered, and stores the COSE public key, the signature
// counter, the device type (backup eligibility) and the backup state.
// Authentication looks the credential up by ID, checks the challenge,
// origin, RP ID hash, user presence, signature, backup-eligibility
// consistency and the user handle, and refuses — and logs — an assertion
// whose non-zero signature counter does not exceed the stored one (a
// cloned authenticator). The counter and backup state are then updated
// with a compare-and-set, and a session is created with auth.CreateSession
// under plugin.WithSignIn(ctx, "passkey"), so a second-factor plugin can
// interrupt the sign-in as it does for a password.
//
// The WebAuthn user handle of a user is derived from the user ID (32
// characters of [a-z0-9], the shape Better Auth uses), so that a
// discoverable assertion's user handle can be checked against the
// credential's owner without another column. Better Auth instead uses a
// random handle per registration that it never stores; when taking over
// passkeys registered by a Better Auth server, set
// Options.AllowUnknownUserHandles.
//
// # Differences from Better Auth
//
//   - The clientDataJSON origin must be one of the configured origins;
//     Better Auth instead expects whatever Origin header the request
//     carries (and answers 400 without one). No Origin header is needed.
//   - A registration that does not verify answers 400
//     FAILED_TO_VERIFY_REGISTRATION (Better Auth: 500 with that code).
//   - A credential ID that is already registered is refused; with
//     allowCredentials issued to a signed-in user, another user's
//     credential is refused; the user handle is checked (see above).
//   - User verification "required" in Options.AuthenticatorSelection is
//     enforced and also requested at sign-in.
//   - The backup state is updated on every sign-in, not only the counter,
//     and the counter is updated with a compare-and-set.
//   - The challenge cookie is expired once a verify route has read it.
//   - Not supported: registration without a session (requireSession
//     false, resolveUser), custom WebAuthn extensions, and the
//     afterVerification callbacks.
//
// # Data
//
// The "passkey" table has Better Auth's columns (id, name, publicKey,
// userId, credentialID, counter, deviceType, backedUp, transports,
// createdAt, aaguid). The plugin is an plugin.DataSource: exports list each
// passkey's metadata (never the public key) and erasing a user deletes
// their passkeys.
package passkey

// Package keyring holds the secrets of an auth server and the envelopes
// they seal data at rest in, as Better Auth's secret configuration does:
// the current secret signs cookies and tokens and seals new data; older
// secrets, each named by a version, only open what they sealed.
//
// Envelopes are Better Auth's, so rows written by either server open in the
// other: XChaCha20-Poly1305 under SHA-256(secret), rendered as hex, with a
// "$ba$<version>$" prefix when versioned secrets are configured.
//
//	versions, err := keyring.Parse(os.Getenv("BETTER_AUTH_SECRETS")) // "2:…,1:…"
//	if err != nil { … }
//	ring, err := keyring.New(os.Getenv("BETTER_AUTH_SECRET"), versions)
//	if err != nil { … }
//	sealed := ring.Encrypt("JBSWY3DPEHPK3PXP")
//	plain, err := ring.Decrypt(sealed)
//
// An auth.Auth builds its Ring from Config.Secret and Config.Secrets;
// plugins reach it through plugin.Host.Keyring.
package keyring

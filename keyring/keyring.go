package keyring

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Version is one entry of Config.Secrets: a secret and the version
// that names it in "$ba$<version>$<hex>" envelopes (Better Auth's
// `secrets: [{version, value}]`).
type Version struct {
	// Version names the secret in the envelopes it seals: a non-negative
	// integer, unique within the list. Gaps are allowed (1, 3 after
	// revoking 2).
	Version int
	// Value is the secret itself.
	Value string
}

// maxSecretVersion is JavaScript's Number.MAX_SAFE_INTEGER: Better Auth
// keeps versions as numbers, so a larger one would not round-trip there.
const maxSecretVersion = 1<<53 - 1

// minSecretLen is the minimum length of a secret that signs or seals.
const minSecretLen = 32

// envelopePrefix starts Better Auth's versioned envelope
// "$ba$<version>$<hex>".
const envelopePrefix = "$ba$"

// ErrNotConfigured is returned (wrapped, together with ErrDecrypt) by
// Ring.Decrypt for data sealed under a secret the keyring does not hold:
// a versioned envelope whose version was removed from Config.Secrets, or
// un-versioned data when no legacy Config.Secret is set.
var ErrNotConfigured = errors.New("keyring: the secret that sealed this data is not configured")

// keyError is a decryption failure caused by a missing secret. It matches
// both ErrDecrypt and ErrNotConfigured.
type keyError struct{ msg string }

func (e *keyError) Error() string { return e.msg }

func (e *keyError) Is(target error) bool {
	return target == ErrDecrypt || target == ErrNotConfigured
}

// Ring holds an Auth's secrets, as Better Auth's secret configuration
// does: the current secret, which signs cookies and tokens and seals new
// data, and the secrets kept only to open data sealed earlier. Build one
// with New; a plugin gets its host's from plugin.Host.Keyring. It is immutable and
// safe for concurrent use.
type Ring struct {
	current   string
	version   int  // of current, when versioned
	versioned bool // Secrets were given
	keys      map[int]string
	legacy    string // opens un-versioned data; "" for none
}

// New builds a keyring from Config.Secret and Config.Secrets, and
// checks them as auth.New does.
//
// Without versions, secret (at least 32 characters) is the only secret: it
// signs, and Encrypt makes Better Auth's un-versioned hex envelope.
//
// With versions, the first is current: its value (at least 32 characters)
// signs, and Encrypt seals "$ba$<version>$<hex>" under it. Every version
// opens its own envelopes. secret, if not empty, is Better Auth's legacy
// secret: it only opens un-versioned envelopes written before versions
// were configured. Versions must be non-negative and unique, values not
// empty. Secrets other than the current one have no minimum length, since
// they never sign or seal anything new: that lets a deployment rotate away
// from a short secret.
func New(secret string, versions []Version) (*Ring, error) {
	if len(versions) == 0 {
		if len(secret) < minSecretLen {
			return nil, errors.New("keyring: Config.Secret must be at least 32 characters (generate one with `openssl rand -base64 32`)")
		}
		return &Ring{current: secret, legacy: secret}, nil
	}
	if err := checkVersions(versions, func(i int) string { return fmt.Sprintf("Config.Secrets[%d]", i) }); err != nil {
		return nil, err
	}
	k := &Ring{current: versions[0].Value, version: versions[0].Version, versioned: true,
		keys: make(map[int]string, len(versions)), legacy: secret}
	for _, v := range versions {
		k.keys[v.Version] = v.Value
	}
	return k, nil
}

// checkVersions applies Better Auth's rules to a list of versioned
// secrets (non-negative unique versions, no empty value) plus ours (the
// current secret at least 32 characters). name(i) names entry i in
// messages; values are never quoted.
func checkVersions(versions []Version, name func(int) string) error {
	seen := make(map[int]bool, len(versions))
	for i, v := range versions {
		if v.Version < 0 || v.Version > maxSecretVersion {
			return fmt.Errorf("keyring: %s: version %d is out of range (versions are integers from 0 to 2^53-1)", name(i), v.Version)
		}
		if v.Value == "" {
			return fmt.Errorf("keyring: %s (version %d): empty secret", name(i), v.Version)
		}
		if seen[v.Version] {
			return fmt.Errorf("keyring: %s: version %d appears twice; each version must be unique", name(i), v.Version)
		}
		seen[v.Version] = true
	}
	if len(versions[0].Value) < minSecretLen {
		return fmt.Errorf("keyring: %s (version %d) is the current secret and must be at least 32 characters (generate one with `openssl rand -base64 32`)",
			name(0), versions[0].Version)
	}
	return nil
}

// Parse reads versioned secrets in the format of Better Auth's
// BETTER_AUTH_SECRETS variable: comma-separated "<version>:<secret>"
// entries, current first, e.g. "2:new-secret,1:old-secret". Space around
// entries and values is ignored; a secret may contain ':' but not ','.
// An empty string gives nil (no versioned secrets). The result passes the
// checks of New; error messages number entries from 1 and never
// quote a secret.
//
// Better Auth reads a version with JavaScript's parseInt, which also
// accepts "2abc" as 2; Parse wants digits only.
func Parse(s string) ([]Version, error) {
	if s == "" {
		return nil, nil
	}
	entries := strings.Split(s, ",")
	out := make([]Version, 0, len(entries))
	for i, e := range entries {
		e = strings.TrimSpace(e)
		ver, val, ok := strings.Cut(e, ":")
		if !ok {
			return nil, fmt.Errorf("keyring: secrets entry %d is not of the form <version>:<secret>", i+1)
		}
		ver = strings.TrimSpace(ver)
		n, err := parseVersion(ver)
		if err != nil {
			return nil, fmt.Errorf("keyring: secrets entry %d: the version before ':' must be an integer from 0 to 2^53-1", i+1)
		}
		val = strings.TrimSpace(val)
		if val == "" {
			return nil, fmt.Errorf("keyring: secrets entry %d (version %d): empty secret", i+1, n)
		}
		out = append(out, Version{Version: n, Value: val})
	}
	if err := checkVersions(out, func(i int) string { return fmt.Sprintf("secrets entry %d", i+1) }); err != nil {
		return nil, err
	}
	return out, nil
}

// parseVersion reads a version: decimal digits only, at most 2^53-1.
func parseVersion(s string) (int, error) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, strconv.ErrSyntax
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > maxSecretVersion {
		return 0, strconv.ErrRange
	}
	return int(n), nil
}

// Current returns the current secret: the one that signs cookies, tokens
// and HMACs (Better Auth's ctx.secret).
func (k *Ring) Current() string { return k.current }

// CurrentVersion returns the version of the current secret, and false when
// the keyring has no versions (a single Config.Secret).
func (k *Ring) CurrentVersion() (int, bool) { return k.version, k.versioned }

// Version returns the secret of a version, if the keyring holds it.
func (k *Ring) Version(v int) (string, bool) {
	s, ok := k.keys[v]
	return s, ok
}

// Versions returns the configured versions: the current one first, then
// the others in ascending order; nil without versions.
func (k *Ring) Versions() []int {
	if !k.versioned {
		return nil
	}
	var rest []int
	for v := range k.keys {
		if v != k.version {
			rest = append(rest, v)
		}
	}
	slices.Sort(rest)
	return append([]int{k.version}, rest...)
}

// Legacy returns the secret that opens un-versioned data: the only secret
// without versions, else Config.Secret when set (Better Auth's legacy
// secret).
func (k *Ring) Legacy() (string, bool) { return k.legacy, k.legacy != "" }

// Encrypt seals plaintext as Better Auth's symmetricEncrypt does with this
// configuration: without versions, Encrypt(secret, plaintext); with
// versions, "$ba$<current version>$" followed by Encrypt under the current
// secret.
func (k *Ring) Encrypt(plaintext string) string {
	if !k.versioned {
		return Encrypt(k.current, plaintext)
	}
	return envelopePrefix + strconv.Itoa(k.version) + "$" + Encrypt(k.current, plaintext)
}

// Decrypt opens data sealed by Encrypt, by a keyring with other versions,
// or by Better Auth, as its symmetricDecrypt does: a "$ba$<version>$<hex>"
// envelope with that version's secret (no trial of the others), and
// un-versioned hex with the legacy secret. A missing secret gives an error
// matching both ErrDecrypt and ErrNotConfigured that names what is
// missing; other failures give ErrDecrypt.
func (k *Ring) Decrypt(sealed string) (string, error) {
	if v, hexPart, ok := parseEnvelope(sealed); ok {
		if !k.versioned {
			return "", &keyError{fmt.Sprintf("keyring: cannot decrypt: the data is sealed with secret version %d, "+
				"but no versioned secrets are configured (Config.Secrets, BETTER_AUTH_SECRETS)", v)}
		}
		s, ok := k.keys[v]
		if !ok {
			return "", &keyError{fmt.Sprintf("keyring: cannot decrypt: the data is sealed with secret version %d, "+
				"which is not configured (retired?); add it back to Config.Secrets (BETTER_AUTH_SECRETS) to read it", v)}
		}
		return Decrypt(s, hexPart)
	}
	if k.legacy == "" {
		return "", &keyError{"keyring: cannot decrypt: the data predates versioned secrets and needs the legacy secret, " +
			"which is not set (Config.Secret, BETTER_AUTH_SECRET)"}
	}
	return Decrypt(k.legacy, sealed)
}

// parseEnvelope splits "$ba$<version>$<rest>". Better Auth reads the
// version with parseInt; here it must be decimal digits (Better Auth only
// ever writes those), else the data is not an envelope.
func parseEnvelope(s string) (version int, rest string, ok bool) {
	after, found := strings.CutPrefix(s, envelopePrefix)
	if !found {
		return 0, "", false
	}
	ver, rest, found := strings.Cut(after, "$")
	if !found {
		return 0, "", false
	}
	n, err := parseVersion(ver)
	if err != nil {
		return 0, "", false
	}
	return n, rest, true
}

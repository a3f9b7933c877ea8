package vault

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// KEKSize is the size of a key-encryption key: AES-256.
const KEKSize = 32

// DefaultKEKID is the id of the key read from MANA_AUTH_KEK when
// MANA_AUTH_KEK_ID is not set. It is the only id the original service ever
// wrote, so existing rows keep resolving.
const DefaultKEKID = "env-v1"

// Environment variables read by KEKFromEnv.
const (
	// EnvKEK holds the current KEK: standard base64 of exactly 32 bytes
	// (generate one with `openssl rand -base64 32`).
	EnvKEK = "MANA_AUTH_KEK"
	// EnvKEKID optionally names the current KEK. Default DefaultKEKID.
	EnvKEKID = "MANA_AUTH_KEK_ID"
	// EnvKEKPrevious optionally lists retired KEKs that must stay readable
	// while RewrapAll moves their rows to the current one: comma-separated
	// "id:base64" entries (a bare base64 entry gets DefaultKEKID).
	EnvKEKPrevious = "MANA_AUTH_KEK_PREVIOUS"
)

// KEK is a key-encryption key with its id. The id is stored next to every
// wrap (kek_id) so that a wrap can always be opened with the key that made
// it. The key bytes are unexported and never printed: String, GoString and
// LogValue show only the id and a fingerprint.
type KEK struct {
	id  string
	key [KEKSize]byte
}

// NewKEK returns the KEK with the given id and key, which must be exactly
// 32 bytes. The id must be non-empty, at most 64 bytes, without spaces,
// commas or colons. The key is copied.
func NewKEK(id string, key []byte) (KEK, error) {
	if err := validKEKID(id); err != nil {
		return KEK{}, err
	}
	if len(key) != KEKSize {
		return KEK{}, fmt.Errorf("vault: KEK %q must be %d bytes, got %d", id, KEKSize, len(key))
	}
	k := KEK{id: id}
	copy(k.key[:], key)
	return k, nil
}

func validKEKID(id string) error {
	if id == "" || len(id) > 64 || strings.ContainsAny(id, " \t\r\n,:") {
		return fmt.Errorf("vault: invalid KEK id %q (1-64 bytes, no spaces, commas or colons)", id)
	}
	return nil
}

// ID returns the key's id, as stored in kek_id.
func (k KEK) ID() string { return k.id }

// IsZero reports whether k is the zero KEK (no id).
func (k KEK) IsZero() bool { return k.id == "" }

// Fingerprint returns a short public fingerprint of the key bytes: the
// first 16 hex digits of SHA-256("mana-vault-kek" || key). It identifies a
// key in logs without revealing it.
func (k KEK) Fingerprint() string { return Fingerprint(k.key[:]) }

// Fingerprint returns the fingerprint of raw key bytes (see KEK.Fingerprint).
func Fingerprint(key []byte) string {
	h := sha256.New()
	h.Write([]byte("mana-vault-kek"))
	h.Write(key)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// FingerprintID returns an id derived from the key: "fp-" followed by its
// fingerprint. Use it when keys have no natural name; a changed key then
// has a changed id, so a row can never be opened with the wrong key under
// the right name.
func FingerprintID(key []byte) string { return "fp-" + Fingerprint(key) }

// String describes the key without revealing it.
func (k KEK) String() string { return "KEK(" + k.id + ", fp " + k.Fingerprint() + ")" }

// GoString describes the key without revealing it (for %#v).
func (k KEK) GoString() string { return k.String() }

// LogValue implements slog.LogValuer: only the id and fingerprint.
func (k KEK) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", k.id), slog.String("fingerprint", k.Fingerprint()))
}

func (k KEK) allZero() bool {
	var zero [KEKSize]byte
	return subtle.ConstantTimeCompare(k.key[:], zero[:]) == 1
}

// KEKProvider supplies key-encryption keys. Current is the key new wraps
// are made with; ByID returns any key that may still be named by a stored
// wrap (the current one included), or an error wrapping ErrKEKUnknown. A
// KMS-backed provider implements it by fetching (and caching) keys; both
// methods must be safe for concurrent use.
type KEKProvider interface {
	Current() (KEK, error)
	ByID(id string) (KEK, error)
}

// ErrKEKUnknown is wrapped by KEKProvider.ByID when no key has the id.
var ErrKEKUnknown = errors.New("vault: KEK id not configured")

// StaticKEKs is a KEKProvider over keys held in memory (from the
// environment or a secret file): one current key and any number of
// retired keys that stay readable.
type StaticKEKs struct {
	current KEK
	byID    map[string]KEK
}

var _ KEKProvider = (*StaticKEKs)(nil)

// NewStaticKEKs returns a provider whose current key is current and which
// can also open wraps made with any of previous. Ids must be distinct.
func NewStaticKEKs(current KEK, previous ...KEK) (*StaticKEKs, error) {
	if current.IsZero() {
		return nil, errors.New("vault: NewStaticKEKs needs a current KEK")
	}
	s := &StaticKEKs{current: current, byID: map[string]KEK{current.id: current}}
	for _, k := range previous {
		if k.IsZero() {
			return nil, errors.New("vault: NewStaticKEKs: zero previous KEK")
		}
		if _, dup := s.byID[k.id]; dup {
			return nil, fmt.Errorf("vault: KEK id %q configured twice", k.id)
		}
		s.byID[k.id] = k
	}
	return s, nil
}

// Current implements KEKProvider.
func (s *StaticKEKs) Current() (KEK, error) { return s.current, nil }

// ByID implements KEKProvider.
func (s *StaticKEKs) ByID(id string) (KEK, error) {
	if k, ok := s.byID[id]; ok {
		return k, nil
	}
	return KEK{}, fmt.Errorf("%w: %q", ErrKEKUnknown, id)
}

// IDs returns the ids of every configured key, current first.
func (s *StaticKEKs) IDs() []string {
	out := []string{s.current.id}
	for id := range s.byID {
		if id != s.current.id {
			out = append(out, id)
		}
	}
	return out
}

// decodeKEK decodes the base64 value of a KEK variable.
func decodeKEK(name, val string) ([]byte, error) {
	val = strings.TrimSpace(val)
	b, err := base64.StdEncoding.DecodeString(val)
	if err != nil {
		if b2, err2 := base64.RawStdEncoding.DecodeString(val); err2 == nil {
			b, err = b2, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("vault: %s is not valid base64 (generate one with `openssl rand -base64 32`)", name)
	}
	if len(b) != KEKSize {
		return nil, fmt.Errorf("vault: %s must decode to exactly %d bytes, got %d (generate one with `openssl rand -base64 32`)", name, KEKSize, len(b))
	}
	return b, nil
}

// KEKFromEnv builds a StaticKEKs from the environment (getenv is usually
// os.Getenv):
//
//   - MANA_AUTH_KEK: the current key, standard base64 of exactly 32 bytes.
//   - MANA_AUTH_KEK_ID: its id (default "env-v1", what every existing row
//     names).
//   - MANA_AUTH_KEK_PREVIOUS: retired keys still readable during a KEK
//     rotation, comma-separated "id:base64" (a bare base64 entry is
//     "env-v1").
//
// A malformed value is always an error naming the variable. A missing
// MANA_AUTH_KEK is an error when production is true; in development the
// all-zero key is used instead and a loud warning is logged with
// slog.Default (every vault is then readable by anyone with the database).
// In production an all-zero MANA_AUTH_KEK is refused as well.
func KEKFromEnv(getenv func(string) string, production bool) (*StaticKEKs, error) {
	if getenv == nil {
		return nil, errors.New("vault: KEKFromEnv needs a getenv function")
	}
	id := strings.TrimSpace(getenv(EnvKEKID))
	if id == "" {
		id = DefaultKEKID
	} else if err := validKEKID(id); err != nil {
		return nil, fmt.Errorf("vault: %s: %w", EnvKEKID, err)
	}
	var current KEK
	raw := getenv(EnvKEK)
	if strings.TrimSpace(raw) == "" {
		if production {
			return nil, fmt.Errorf("vault: %s is required in production: base64 of 32 random bytes (generate one with `openssl rand -base64 32`)", EnvKEK)
		}
		current, _ = NewKEK(id, make([]byte, KEKSize))
		slog.Default().Warn("vault: "+EnvKEK+" is not set; using the all-zero development KEK. "+
			"Every master key in the database is readable by anyone who has it. NEVER run like this in production.",
			"kek_id", id)
	} else {
		b, err := decodeKEK(EnvKEK, raw)
		if err != nil {
			return nil, err
		}
		current, _ = NewKEK(id, b)
		clear(b)
		if production && current.allZero() {
			return nil, fmt.Errorf("vault: %s is the all-zero development key; set a random key in production", EnvKEK)
		}
	}
	var previous []KEK
	if prev := strings.TrimSpace(getenv(EnvKEKPrevious)); prev != "" {
		for i, entry := range strings.Split(prev, ",") {
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			pid, val := DefaultKEKID, entry
			if j := strings.IndexByte(entry, ':'); j >= 0 {
				pid, val = strings.TrimSpace(entry[:j]), entry[j+1:]
			}
			name := fmt.Sprintf("%s entry %d", EnvKEKPrevious, i+1)
			if err := validKEKID(pid); err != nil {
				return nil, fmt.Errorf("vault: %s: %w", name, err)
			}
			b, err := decodeKEK(name, val)
			if err != nil {
				return nil, err
			}
			k, _ := NewKEK(pid, b)
			clear(b)
			previous = append(previous, k)
		}
	}
	return NewStaticKEKs(current, previous...)
}

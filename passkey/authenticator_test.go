package passkey

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"sort"
	"testing"
)

// A tiny CBOR encoder (RFC 8949), enough for attestation objects and COSE
// keys: unsigned and negative integers, byte and text strings, maps.

type cborPair struct {
	k, v any
}

// cborMap is a map written in the given key order.
type cborMap []cborPair

func cborHead(b *bytes.Buffer, major byte, n uint64) {
	switch {
	case n < 24:
		b.WriteByte(major<<5 | byte(n))
	case n <= 0xff:
		b.WriteByte(major<<5 | 24)
		b.WriteByte(byte(n))
	case n <= 0xffff:
		b.WriteByte(major<<5 | 25)
		_ = binary.Write(b, binary.BigEndian, uint16(n))
	case n <= 0xffffffff:
		b.WriteByte(major<<5 | 26)
		_ = binary.Write(b, binary.BigEndian, uint32(n))
	default:
		b.WriteByte(major<<5 | 27)
		_ = binary.Write(b, binary.BigEndian, n)
	}
}

func cborEncode(b *bytes.Buffer, v any) {
	switch x := v.(type) {
	case int:
		if x >= 0 {
			cborHead(b, 0, uint64(x))
		} else {
			cborHead(b, 1, uint64(-1-x))
		}
	case []byte:
		cborHead(b, 2, uint64(len(x)))
		b.Write(x)
	case string:
		cborHead(b, 3, uint64(len(x)))
		b.WriteString(x)
	case cborMap:
		cborHead(b, 5, uint64(len(x)))
		for _, p := range x {
			cborEncode(b, p.k)
			cborEncode(b, p.v)
		}
	default:
		panic("cbor: unsupported type")
	}
}

func cbor(v any) []byte {
	var b bytes.Buffer
	cborEncode(&b, v)
	return b.Bytes()
}

func TestCBOREncoder(t *testing.T) {
	t.Parallel()
	// Vectors from RFC 8949 appendix A.
	cases := []struct {
		v    any
		want string
	}{
		{0, "00"}, {23, "17"}, {24, "1818"}, {1000, "1903e8"}, {-1, "20"}, {-1000, "3903e7"},
		{[]byte{1, 2, 3, 4}, "4401020304"}, {"IETF", "6449455446"},
		{cborMap{{1, 2}, {3, 4}}, "a201020304"},
	}
	for _, c := range cases {
		got := cbor(c.v)
		if h := hexString(got); h != c.want {
			t.Errorf("cbor(%v) = %s, want %s", c.v, h, c.want)
		}
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// Authenticator flags (WebAuthn §6.1).
const (
	flagUP = 0x01
	flagUV = 0x04
	flagBE = 0x08
	flagBS = 0x10
	flagAT = 0x40
)

// softKey is a software authenticator holding one ES256 credential, in the
// manner of a platform authenticator: it builds attestation ("none") and
// assertion responses per the WebAuthn spec, as a browser would hand them
// to SimpleWebAuthn's startRegistration / startAuthentication.
type softKey struct {
	t       *testing.T
	key     *ecdsa.PrivateKey
	credID  []byte
	aaguid  []byte
	counter uint32 // last counter used; 0 with step 0 means a counter-less authenticator
	step    uint32 // counter increment per signature
	flags   byte   // extra flags (BE, BS, UV)
	handle  []byte // user handle received at registration
}

func newSoftKey(t *testing.T) *softKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	aaguid := []byte{0xea, 0x9b, 0x8d, 0x66, 0x4d, 0x01, 0x1d, 0x21, 0x3c, 0xe4, 0xb6, 0xb4, 0x8c, 0xb5, 0x75, 0xd4}
	return &softKey{t: t, key: k, credID: id, aaguid: aaguid, step: 1, flags: flagUV}
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (s *softKey) cose() []byte {
	pub, err := s.key.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		s.t.Fatal(err)
	}
	return cbor(cborMap{{1, 2}, {3, -7}, {-1, 1}, {-2, pub[1:33]}, {-3, pub[33:65]}})
}

// ceremony overrides parts of what a browser and authenticator would do,
// to produce faulty responses.
type ceremony struct {
	origin     string // clientDataJSON origin (default: the env's origin)
	rpID       string // hashed into authenticatorData (default: the options' RP ID)
	challenge  string // clientDataJSON challenge (default: the options' challenge)
	typ        string // clientDataJSON type
	counter    *uint32
	flags      *byte // replaces all flags
	userHandle []byte
	noHandle   bool
	tamper     bool // flip a bit of the signature
	credID     []byte
}

func clientData(typ, challenge, origin string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": origin, "crossOrigin": false})
	return b
}

func authData(rpID string, flags byte, counter uint32, attested []byte) []byte {
	h := sha256.Sum256([]byte(rpID))
	var b bytes.Buffer
	b.Write(h[:])
	b.WriteByte(flags)
	_ = binary.Write(&b, binary.BigEndian, counter)
	b.Write(attested)
	return b.Bytes()
}

// create answers creation options with a "none" attestation.
func (s *softKey) create(opts CreationOptions, origin string, c ceremony) map[string]any {
	s.t.Helper()
	if c.origin == "" {
		c.origin = origin
	}
	if c.rpID == "" {
		c.rpID = opts.RP.ID
	}
	if c.challenge == "" {
		c.challenge = opts.Challenge
	}
	if c.typ == "" {
		c.typ = "webauthn.create"
	}
	h, err := base64.RawURLEncoding.DecodeString(opts.User.ID)
	if err != nil {
		s.t.Fatal(err)
	}
	s.handle = h
	credID := s.credID
	if c.credID != nil {
		credID = c.credID
	}
	var att bytes.Buffer
	att.Write(s.aaguid)
	_ = binary.Write(&att, binary.BigEndian, uint16(len(credID)))
	att.Write(credID)
	att.Write(s.cose())
	flags := flagUP | flagAT | s.flags
	if c.flags != nil {
		flags = *c.flags
	}
	counter := s.counter
	if c.counter != nil {
		counter = *c.counter
	}
	ad := authData(c.rpID, flags, counter, att.Bytes())
	obj := cbor(cborMap{{"fmt", "none"}, {"attStmt", cborMap{}}, {"authData", ad}})
	return map[string]any{
		"id": b64u(credID), "rawId": b64u(credID), "type": "public-key",
		"authenticatorAttachment": "platform",
		"response": map[string]any{
			"clientDataJSON":    b64u(clientData(c.typ, c.challenge, c.origin)),
			"attestationObject": b64u(obj),
			"transports":        []string{"hybrid", "internal"},
		},
	}
}

// get answers request options with an assertion signed over
// authenticatorData || SHA-256(clientDataJSON).
func (s *softKey) get(opts RequestOptions, origin string, c ceremony) map[string]any {
	s.t.Helper()
	if c.origin == "" {
		c.origin = origin
	}
	if c.rpID == "" {
		c.rpID = opts.RPID
	}
	if c.challenge == "" {
		c.challenge = opts.Challenge
	}
	if c.typ == "" {
		c.typ = "webauthn.get"
	}
	counter := s.counter + s.step
	if c.counter != nil {
		counter = *c.counter
	}
	s.counter = counter
	flags := flagUP | s.flags
	if c.flags != nil {
		flags = *c.flags
	}
	ad := authData(c.rpID, flags, counter, nil)
	cd := clientData(c.typ, c.challenge, c.origin)
	sum := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, ad...), sum[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, s.key, digest[:])
	if err != nil {
		s.t.Fatal(err)
	}
	if c.tamper {
		sig[len(sig)-1] ^= 0x01
	}
	credID := s.credID
	if c.credID != nil {
		credID = c.credID
	}
	resp := map[string]any{
		"clientDataJSON":    b64u(cd),
		"authenticatorData": b64u(ad),
		"signature":         b64u(sig),
	}
	switch {
	case c.userHandle != nil:
		resp["userHandle"] = b64u(c.userHandle)
	case !c.noHandle && s.handle != nil:
		resp["userHandle"] = b64u(s.handle)
	}
	return map[string]any{
		"id": b64u(credID), "rawId": b64u(credID), "type": "public-key",
		"authenticatorAttachment": "platform", "response": resp,
	}
}

// sortedKeys returns the keys of a JSON object, sorted.
func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

package jwt

import (
	"crypto/ed25519"
	"sync"
)

// tokenMemoMax bounds the tokens a key remembers for one second.
const tokenMemoMax = 1024

// tokenMemo remembers, for one signing key, the tokens it signed during
// the current second, by payload. A client that asks for its session
// several times a second (an app polling get-session, several tabs)
// then costs one Ed25519 signature a second instead of one a request.
//
// It is sound because it only memoizes a pure function: EdDSA (RFC 8032)
// is deterministic, so signJWS(key, header, payload) is the same token
// every time, and the memo is looked up with every one of those inputs —
// it belongs to the key (see signingKey; a rotated or removed key takes
// its memo with it) and is keyed by the whole payload, which the caller
// builds from the session and user it has just read. A revoked session
// never reaches Mint, and a changed role, email or session changes the
// payload; either way the memo can only ever return the token a fresh
// signature would give. The payload carries iat in whole seconds, so a
// token from an earlier second can never match again: the memo is
// emptied when the second changes, which also bounds its size (at most
// tokenMemoMax tokens, about 0.5 MB with the default claims).
type tokenMemo struct {
	mu     sync.Mutex
	second int64
	tokens map[string]string // payload → compact JWS
}

// sign returns signJWS(key, header, payload), from the memo when this
// second's payload was signed before; iat is the payload's issue time.
func (m *tokenMemo) sign(key ed25519.PrivateKey, header string, payload []byte, iat int64) string {
	m.mu.Lock()
	if m.second == iat {
		if tok, ok := m.tokens[string(payload)]; ok {
			m.mu.Unlock()
			return tok
		}
	}
	m.mu.Unlock()
	tok := signJWS(key, header, payload)
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case iat > m.second || m.tokens == nil:
		m.second = iat
		if m.tokens == nil {
			m.tokens = make(map[string]string)
		}
		clear(m.tokens)
	case iat < m.second:
		return tok // a late request of an earlier second: not kept
	}
	if len(m.tokens) < tokenMemoMax {
		m.tokens[string(payload)] = tok
	}
	return tok
}

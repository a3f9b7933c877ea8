package server

import (
	"context"
	"net/http"

	"github.com/managarten/mana-auth/vault"
)

const vaultPrefix = "/api/v1/me/encryption-vault"

// vaultRoutes mounts the encryption vault for the caller (session cookie or
// bearer JWT). The caller is authenticated here, so a refusal has the body
// of the other /api/v1/me routes ({statusCode, message, code}). Key reads
// also go to the security log.
func (s *Server) vaultRoutes(mux *http.ServeMux) {
	h := s.vault.Service().Handler(vault.HandlerOptions{
		Prefix: vaultPrefix,
		Authenticate: func(r *http.Request) (string, error) {
			if p := principalFrom(r.Context()); p != nil {
				return p.UserID, nil
			}
			p, err := s.authenticate(r)
			if err != nil {
				return "", err
			}
			return p.UserID, nil
		},
	})
	mux.Handle(vaultPrefix+"/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r)
		if err != nil {
			s.writeStatusErr(w, r, err)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if r.Method == http.MethodGet && r.URL.Path == vaultPrefix+"/key" && sw.status == http.StatusOK {
			s.sec.record(r.Context(), eventFor(r.Context(), EventVaultKeyRead, p.UserID, nil))
		}
	}))
}

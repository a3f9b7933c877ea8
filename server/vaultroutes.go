package server

import (
	"net/http"

	"github.com/managarten/mana-auth/vault"
)

const vaultPrefix = "/api/v1/me/encryption-vault"

// vaultRoutes mounts the encryption vault for the caller (session cookie or
// bearer JWT). Key reads also go to the security log.
func (s *Server) vaultRoutes(mux *http.ServeMux) {
	h := s.vault.Service().Handler(vault.HandlerOptions{
		Prefix: vaultPrefix,
		Authenticate: func(r *http.Request) (string, error) {
			p, err := s.authenticate(r)
			if err != nil {
				return "", err
			}
			return p.UserID, nil
		},
	})
	mux.Handle(vaultPrefix+"/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if r.Method == http.MethodGet && r.URL.Path == vaultPrefix+"/key" && sw.status == http.StatusOK {
			if p, err := s.authenticate(r); err == nil {
				s.sec.record(r.Context(), eventFor(r.Context(), EventVaultKeyRead, p.UserID, nil))
			}
		}
	}))
}

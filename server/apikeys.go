package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/managarten/mana-auth/apikey"
	"github.com/managarten/mana-auth/plugin"
)

// The /api/v1/api-keys routes of upstream mana-auth (routes/api-keys.ts
// at 7b362066b), served by the api-key plugin: service keys
// "sk_live_…" with scopes (the plugin's permissions {"scopes": […]}),
// validated by mana's speech services with POST /api/v1/api-keys/validate.
// Keys are stored as the plugin stores them (a SHA-256, never the key);
// a revoked key is disabled, so that the list still shows it with its
// revokedAt, as upstream's does.

const (
	v1KeyPrefix = "sk_live_"
	// v1ScopeResource is the permission resource that holds a key's
	// scopes.
	v1ScopeResource = "scopes"
)

// v1DefaultScopes are upstream's default scopes.
var v1DefaultScopes = []string{"stt", "tts"}

// v1APIKey is a key as upstream's list answers it.
type v1APIKey struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	KeyPrefix  string   `json:"keyPrefix"`
	Scopes     []string `json:"scopes"`
	CreatedAt  string   `json:"createdAt"`
	LastUsedAt *string  `json:"lastUsedAt"`
	RevokedAt  *string  `json:"revokedAt"`
}

// v1KeyMeta is what the v1 routes keep in a key's metadata.
type v1KeyMeta struct {
	KeyPrefix string `json:"keyPrefix"`
}

func toV1Key(k *apikey.Key) v1APIKey {
	out := v1APIKey{ID: k.ID, CreatedAt: plugin.FormatTime(k.CreatedAt), Scopes: k.Permissions[v1ScopeResource]}
	if out.Scopes == nil {
		out.Scopes = []string{}
	}
	if k.Name != nil {
		out.Name = *k.Name
	}
	var meta v1KeyMeta
	if len(k.Metadata) > 0 && json.Unmarshal(k.Metadata, &meta) == nil && meta.KeyPrefix != "" {
		out.KeyPrefix = meta.KeyPrefix
	} else if k.Start != nil {
		out.KeyPrefix = *k.Start
	}
	if k.LastRequest != nil {
		s := plugin.FormatTime(*k.LastRequest)
		out.LastUsedAt = &s
	}
	if !k.Enabled {
		s := plugin.FormatTime(k.UpdatedAt)
		out.RevokedAt = &s
	}
	return out
}

func (s *Server) apiKeyRoutes(mux *http.ServeMux) {
	if s.apikeys == nil {
		return
	}
	mux.Handle("GET /api/v1/api-keys", s.requireUser(http.HandlerFunc(s.handleListAPIKeys)))
	mux.Handle("POST /api/v1/api-keys", s.requireUser(http.HandlerFunc(s.handleCreateAPIKey)))
	mux.Handle("DELETE /api/v1/api-keys/{id}", s.requireUser(http.HandlerFunc(s.handleRevokeAPIKey)))
	mux.HandleFunc("POST /api/v1/api-keys/validate", s.handleValidateAPIKey)
}

func (s *Server) handleListAPIKeys(w http.ResponseWriter, r *http.Request) {
	out, err := s.v1APIKeys(r.Context(), principalFrom(r.Context()).UserID)
	if err != nil {
		s.writeStatusErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// v1APIKeys lists the user's API keys in upstream's shape (mana-v1 §3.2).
func (s *Server) v1APIKeys(ctx context.Context, userID string) ([]v1APIKey, error) {
	list, err := s.apikeys.ListKeys(ctx, userID, apikey.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := make([]v1APIKey, 0, len(list.Keys))
	for _, k := range list.Keys {
		out = append(out, toV1Key(k))
	}
	return out, nil
}

var errV1KeyInput = plugin.NewError(http.StatusBadRequest, "VALIDATION", "name (a string of 1 to 32 characters) is required; scopes is a list of strings")

func (s *Server) handleCreateAPIKey(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name   *string  `json:"name"`
		Scopes []string `json:"scopes"`
	}
	if err := readJSON(r, &in); err != nil {
		s.writeStatusErr(w, r, err)
		return
	}
	if in.Name == nil || strings.TrimSpace(*in.Name) == "" || len(*in.Name) > 32 || slices.Contains(in.Scopes, "") {
		s.writeStatusErr(w, r, errV1KeyInput)
		return
	}
	scopes := in.Scopes
	if scopes == nil {
		scopes = v1DefaultScopes
	}
	off := false
	nk, err := s.apikeys.CreateKey(r.Context(), apikey.CreateInput{UserID: principalFrom(r.Context()).UserID, Name: in.Name,
		Prefix: v1KeyPrefix, Permissions: apikey.Permissions{v1ScopeResource: scopes},
		// The speech services apply upstream's 60 per minute themselves
		// (the validate answer's rateLimit); a use limit here would end
		// a key after a day's tenth call.
		RateLimitEnabled: &off})
	if err != nil {
		s.writeStatusErr(w, r, err)
		return
	}
	meta, _ := json.Marshal(v1KeyMeta{KeyPrefix: strings.TrimPrefix(nk.Secret, v1KeyPrefix)[:8]})
	k, err := s.apikeys.UpdateKey(r.Context(), nk.ReferenceID, nk.ID, apikey.UpdateInput{Metadata: meta})
	if err != nil {
		s.writeStatusErr(w, r, err)
		return
	}
	out := struct {
		v1APIKey
		UserID string `json:"userId"`
		Key    string `json:"key"`
	}{toV1Key(k), k.ReferenceID, nk.Secret}
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) handleRevokeAPIKey(w http.ResponseWriter, r *http.Request) {
	off := false
	_, err := s.apikeys.UpdateKey(r.Context(), principalFrom(r.Context()).UserID, r.PathValue("id"), apikey.UpdateInput{Enabled: &off})
	if errors.Is(err, apikey.ErrKeyNotFound) {
		writeJSON(w, http.StatusNotFound, statusBody{StatusCode: http.StatusNotFound, Message: "API key not found", Code: "NOT_FOUND"})
		return
	}
	if err != nil {
		s.writeStatusErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
}

// v1Validation is upstream's validate answer.
type v1Validation struct {
	Valid     bool           `json:"valid"`
	Reason    string         `json:"reason,omitempty"`
	UserID    string         `json:"userId,omitempty"`
	Scopes    []string       `json:"scopes,omitempty"`
	RateLimit *v1KeyRateRule `json:"rateLimit,omitempty"`
}

type v1KeyRateRule struct {
	Requests int `json:"requests"`
	Window   int `json:"window"`
}

// handleValidateAPIKey answers POST /api/v1/api-keys/validate {apiKey,
// scope}: no caller authentication, the key is the credential. Every
// failure is {"valid":false} (with reason scope_denied for a key without
// the scope), as upstream answers.
func (s *Server) handleValidateAPIKey(w http.ResponseWriter, r *http.Request) {
	var in struct {
		APIKey string `json:"apiKey"`
		Scope  string `json:"scope"`
	}
	if err := readJSON(r, &in); err != nil {
		s.writeStatusErr(w, r, err)
		return
	}
	if in.APIKey == "" {
		writeJSON(w, http.StatusOK, v1Validation{})
		return
	}
	res, err := s.apikeys.Verify(r.Context(), in.APIKey, nil)
	if err != nil {
		s.writeStatusErr(w, r, err)
		return
	}
	if !res.Valid || res.Key == nil {
		writeJSON(w, http.StatusOK, v1Validation{})
		return
	}
	scopes := res.Key.Permissions[v1ScopeResource]
	if in.Scope != "" && !slices.Contains(scopes, in.Scope) {
		writeJSON(w, http.StatusOK, v1Validation{Reason: "scope_denied"})
		return
	}
	writeJSON(w, http.StatusOK, v1Validation{Valid: true, UserID: res.Key.ReferenceID, Scopes: scopes,
		RateLimit: &v1KeyRateRule{Requests: 60, Window: int(time.Minute / time.Second)}})
}

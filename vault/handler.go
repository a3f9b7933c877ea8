package vault

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
)

// ActionZKToggle is the audit action of a /zero-knowledge request whose
// "enable" is not a boolean (so neither zk_enable nor zk_disable).
const ActionZKToggle = "zk_toggle"

// DefaultMaxBodyBytes bounds request bodies when HandlerOptions.MaxBodyBytes
// is zero.
const DefaultMaxBodyBytes = 16 << 10

// HandlerOptions configures Service.Handler.
type HandlerOptions struct {
	// Prefix is the path the handler is mounted at, without the trailing
	// slash, e.g. "/api/v1/me/encryption-vault". The routes are matched on
	// the rest of the path. Requests outside it answer 404.
	Prefix string
	// Authenticate returns the id of the user a request acts for, or an
	// error (401, or the error's status if it is an *plugin.Error with a 5xx
	// status). Default: the Auth's session (cookie, or bearer token with
	// auth.Config.Bearer). The mana server passes one that also accepts a
	// bearer JWT.
	Authenticate func(r *http.Request) (userID string, err error)
	// MaxBodyBytes bounds request bodies. Default DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// Handler returns the HTTP API of the vault under opts.Prefix:
//
//	GET    /status          {vaultExists, hasRecoveryWrap, zeroKnowledge, recoverySetAt}
//	POST   /init            key body (creates the vault on first call)
//	GET    /key             key body; 404 VAULT_NOT_INITIALISED
//	POST   /rotate          key body with a new master key; 409 ZK_ROTATE_FORBIDDEN
//	POST   /recovery-wrap   {recoveryWrappedMk, recoveryIv} -> {ok:true}
//	DELETE /recovery-wrap   {ok:true}; 409 ZK_ACTIVE
//	POST   /zero-knowledge  {enable:true} | {enable:false, masterKey} -> {ok:true, zeroKnowledge}
//
// The key body is {"masterKey","formatVersion","kekId"} or, in
// zero-knowledge mode, {"requiresRecoveryCode":true,"recoveryWrappedMk",
// "recoveryIv","formatVersion"}. Errors are {"error":"<message>",
// "code":"<CODE>"} with the status of the error; an unauthenticated
// request gets 401 {"statusCode":401,"message":"…"}, and one for a user
// that no longer exists (a deleted account's still-valid token) 401
// {"error":"User not found","code":"USER_NOT_FOUND"}. Responses are never
// cached (Cache-Control: no-store).
//
// The handler does not check origins or rate-limit: mount it behind
// auth.Auth.Protect (which also records the client IP and user agent for
// the audit rows; without it the Auth's ClientIP is used).
func (s *Service) Handler(opts HandlerOptions) http.Handler {
	h := &handler{s: s, prefix: strings.TrimRight(opts.Prefix, "/"), authn: opts.Authenticate, max: opts.MaxBodyBytes}
	if h.max <= 0 {
		h.max = DefaultMaxBodyBytes
	}
	if h.authn == nil {
		h.authn = func(r *http.Request) (string, error) {
			sd, err := s.a.Session(r)
			if err != nil {
				return "", err
			}
			return sd.User.ID, nil
		}
	}
	return h
}

type handler struct {
	s      *Service
	prefix string
	authn  func(r *http.Request) (string, error)
	max    int64
}

type route struct {
	method string
	fn     func(h *handler, w http.ResponseWriter, r *http.Request, userID string)
}

var routes = map[string][]route{
	"/status":         {{http.MethodGet, (*handler).status}},
	"/init":           {{http.MethodPost, (*handler).initVault}},
	"/key":            {{http.MethodGet, (*handler).key}},
	"/rotate":         {{http.MethodPost, (*handler).rotate}},
	"/recovery-wrap":  {{http.MethodPost, (*handler).setRecovery}, {http.MethodDelete, (*handler).clearRecovery}},
	"/zero-knowledge": {{http.MethodPost, (*handler).zeroKnowledge}},
}

// ServeHTTP routes, authenticates and serves one request.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	path := r.URL.Path
	if h.prefix != "" {
		rest, found := strings.CutPrefix(path, h.prefix)
		if !found || (rest != "" && rest[0] != '/') {
			writeError(w, plugin.NewError(http.StatusNotFound, "NOT_FOUND", "not found"))
			return
		}
		path = rest
	}
	rs, found := routes[path]
	if !found {
		writeError(w, plugin.NewError(http.StatusNotFound, "NOT_FOUND", "not found"))
		return
	}
	var rt *route
	var allow []string
	for i := range rs {
		allow = append(allow, rs[i].method)
		if rs[i].method == r.Method {
			rt = &rs[i]
		}
	}
	if rt == nil {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, plugin.NewError(http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "method not allowed"))
		return
	}
	userID, err := h.authn(r)
	if err != nil || userID == "" {
		var ae *plugin.Error
		if errors.As(err, &ae) && ae.Status >= 500 {
			writeError(w, ae)
			return
		}
		msg := ErrUnauthenticated.Message
		if ae != nil && ae.Status == http.StatusUnauthorized && ae.Message != "" && ae.Message != auth.ErrUnauthorized.Message {
			msg = ae.Message
		}
		writeJSON(w, http.StatusUnauthorized, struct {
			StatusCode int    `json:"statusCode"`
			Message    string `json:"message"`
		}{http.StatusUnauthorized, msg})
		return
	}
	ctx := r.Context()
	if plugin.RequestInfoFrom(ctx) == (plugin.RequestInfo{}) {
		info := plugin.RequestInfo{UserAgent: r.UserAgent()}
		if h.s.a != nil {
			info.IP = h.s.a.ClientIP(r)
		}
		r = r.WithContext(plugin.WithRequestInfo(ctx, info))
	}
	rt.fn(h, w, r, userID)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"Internal server error","code":"INTERNAL_SERVER_ERROR"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	clear(b)
}

// errorBody is the vault's error shape (mana-v1 §1.3, "ad-hoc").
type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// writeError writes {"error","code"} with the error's status. Details of
// 5xx errors stay in the log.
func writeError(w http.ResponseWriter, err error) {
	ae := plugin.AsError(err)
	writeJSON(w, ae.Status, errorBody{Error: ae.Message, Code: ae.Code})
}

func (h *handler) writeKey(w http.ResponseWriter, k *Key, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, k)
	clear(k.MasterKey)
}

func (h *handler) status(w http.ResponseWriter, r *http.Request, userID string) {
	st, err := h.s.Status(r.Context(), userID)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (h *handler) initVault(w http.ResponseWriter, r *http.Request, userID string) {
	k, err := h.s.Init(r.Context(), userID)
	h.writeKey(w, k, err)
}

func (h *handler) key(w http.ResponseWriter, r *http.Request, userID string) {
	k, err := h.s.Key(r.Context(), userID)
	h.writeKey(w, k, err)
}

func (h *handler) rotate(w http.ResponseWriter, r *http.Request, userID string) {
	k, err := h.s.Rotate(r.Context(), userID)
	h.writeKey(w, k, err)
}

// readBody decodes a JSON object body into raw members. A body that is not
// a JSON object yields an empty map (each route then answers with its own
// message, as the original service does).
func (h *handler) readBody(w http.ResponseWriter, r *http.Request) (map[string]json.RawMessage, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.max))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, auth.ErrBodyTooLarge
		}
		return nil, badRequest("could not read the request body")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return map[string]json.RawMessage{}, nil
	}
	return m, nil
}

func jsonString(m map[string]json.RawMessage, k string) (string, bool) {
	var s string
	if err := json.Unmarshal(m[k], &s); err != nil || m[k] == nil {
		return "", false
	}
	return s, true
}

// reject writes err and an audit row for it (failures are audited too).
func (h *handler) reject(w http.ResponseWriter, r *http.Request, userID, action string, err error) {
	ae := plugin.AsError(err)
	if aerr := h.s.auditOnly(r.Context(), userID, fail(action, ae.Status, "bad-request: "+ae.Message, err)); aerr != nil {
		writeError(w, aerr)
		return
	}
	writeError(w, err)
}

func (h *handler) setRecovery(w http.ResponseWriter, r *http.Request, userID string) {
	const required = "recoveryWrappedMk and recoveryIv are required (base64 strings)"
	m, err := h.readBody(w, r)
	if err != nil {
		h.reject(w, r, userID, ActionRecoverySet, err)
		return
	}
	ws, ok1 := jsonString(m, "recoveryWrappedMk")
	is, ok2 := jsonString(m, "recoveryIv")
	if !ok1 || !ok2 || ws == "" || is == "" {
		h.reject(w, r, userID, ActionRecoverySet, badRequest(required))
		return
	}
	wrapped, err1 := DecodeBase64(ws)
	iv, err2 := DecodeBase64(is)
	if err1 != nil || err2 != nil {
		h.reject(w, r, userID, ActionRecoverySet, badRequest("recoveryWrappedMk and recoveryIv must be standard base64"))
		return
	}
	if err := h.s.SetRecoveryWrap(r.Context(), userID, wrapped, iv); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (h *handler) clearRecovery(w http.ResponseWriter, r *http.Request, userID string) {
	if err := h.s.DeleteRecoveryWrap(r.Context(), userID); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (h *handler) zeroKnowledge(w http.ResponseWriter, r *http.Request, userID string) {
	m, err := h.readBody(w, r)
	if err != nil {
		h.reject(w, r, userID, ActionZKToggle, err)
		return
	}
	var enable bool
	if raw, found := m["enable"]; !found || json.Unmarshal(raw, &enable) != nil || string(raw) == "null" {
		h.reject(w, r, userID, ActionZKToggle, badRequest("`enable: boolean` is required"))
		return
	}
	var mk []byte
	if !enable {
		s, ok := jsonString(m, "masterKey")
		if !ok || s == "" {
			h.reject(w, r, userID, ActionZKDisable, badRequest("`masterKey: base64` is required when disabling zero-knowledge"))
			return
		}
		if mk, err = DecodeBase64(s); err != nil {
			h.reject(w, r, userID, ActionZKDisable, badRequest("masterKey must be standard base64"))
			return
		}
		defer clear(mk)
	}
	if err := h.s.SetZeroKnowledge(r.Context(), userID, enable, mk); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true, "zeroKnowledge": enable})
}

// auditOnly writes the audit row of a request rejected before reaching an
// operation.
func (s *Service) auditOnly(ctx context.Context, userID string, o outcome) error {
	err := s.run(ctx, userID, false, func(q txn) error { return q.audit(ctx, s.auditRow(ctx, userID, o)) })
	if err != nil {
		return s.storageErr(ctx, userID, err)
	}
	return nil
}

package plugin

import (
	"context"
	"net/http"
	"strings"

	"github.com/managarten/mana-auth/storage"
)

// RequestInfo is what a session records about the client that created it.
// The handler puts it in the request context; Go callers may set it with
// WithRequestInfo.
type RequestInfo struct {
	IP        string
	UserAgent string
	// Request is the HTTP request being served, if any: plugin hooks that
	// run deep in an operation (a BeforeSessionCreate hook reading a
	// trusted-device cookie) find it here. The handler and Protect set
	// it; a Go caller signing a user in on behalf of an HTTP request sets
	// it too (WithRequestInfo), so that such hooks see that request.
	Request *http.Request
}

type requestInfoKey struct{}

// WithRequestInfo returns ctx carrying info. A UserAgent that is not text
// (a header may hold any byte) has its invalid bytes and NULs replaced by
// U+FFFD, so that it can be stored with the session and the security log.
func WithRequestInfo(ctx context.Context, info RequestInfo) context.Context {
	if !storage.Storable(info.UserAgent) {
		info.UserAgent = strings.ReplaceAll(strings.ToValidUTF8(info.UserAgent, "\uFFFD"), "\x00", "\uFFFD")
	}
	return context.WithValue(ctx, requestInfoKey{}, info)
}

// RequestInfoFrom returns the RequestInfo in ctx (zero if none).
func RequestInfoFrom(ctx context.Context) RequestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(RequestInfo)
	return info
}

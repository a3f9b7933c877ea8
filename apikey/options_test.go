package apikey_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/apikey"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/plugin/plugintest"
)

// TestErrorCodes checks ErrorCodes (plugin.ErrorSource) against every
// error the package declares.
func TestErrorCodes(t *testing.T) {
	t.Parallel()
	p, err := apikey.New(apikey.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var cases []plugintest.ErrorCase
	for name, e := range map[string]*plugin.Error{
		"ErrUnauthorizedSession": apikey.ErrUnauthorizedSession, "ErrKeyNotFound": apikey.ErrKeyNotFound,
		"ErrKeyDisabled": apikey.ErrKeyDisabled, "ErrKeyExpired": apikey.ErrKeyExpired,
		"ErrUsageExceeded": apikey.ErrUsageExceeded, "ErrInvalidAPIKey": apikey.ErrInvalidAPIKey,
		"ErrRateLimited": apikey.ErrRateLimited, "ErrServerOnlyProperty": apikey.ErrServerOnlyProperty,
		"ErrExpiresInTooSmall": apikey.ErrExpiresInTooSmall, "ErrExpiresInTooLarge": apikey.ErrExpiresInTooLarge,
		"ErrKeyDisabledExpiration": apikey.ErrKeyDisabledExpiration, "ErrInvalidMetadataType": apikey.ErrInvalidMetadataType,
		"ErrMetadataDisabled": apikey.ErrMetadataDisabled, "ErrInvalidNameLength": apikey.ErrInvalidNameLength,
		"ErrInvalidPrefixLength": apikey.ErrInvalidPrefixLength, "ErrNameRequired": apikey.ErrNameRequired,
		"ErrNoValuesToUpdate":                apikey.ErrNoValuesToUpdate,
		"ErrRefillAmountAndIntervalRequired": apikey.ErrRefillAmountAndIntervalRequired,
		"ErrRefillIntervalAndAmountRequired": apikey.ErrRefillIntervalAndAmountRequired,
		"ErrInvalidRemaining":                apikey.ErrInvalidRemaining, "ErrUserBanned": apikey.ErrUserBanned,
		"ErrInvalidReferenceID": apikey.ErrInvalidReferenceID,
	} {
		cases = append(cases, plugintest.ErrorCase{Name: name, Err: e, Decl: e})
	}
	plugintest.CheckErrorCodes(t, p, ".", cases)
}

// TestNewDefaults checks that the zero Options are Better Auth's
// defaults.
func TestNewDefaults(t *testing.T) {
	t.Parallel()
	p, err := apikey.New(apikey.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := apikey.Options{DefaultKeyLength: 64, Headers: []string{"x-api-key"}, MinPrefixLength: 1, MaxPrefixLength: 32,
		MinNameLength: 1, MaxNameLength: 32, RateLimitWindow: 24 * time.Hour, RateLimitMax: 10,
		MinExpiresIn: 24 * time.Hour, MaxExpiresIn: 365 * 24 * time.Hour, StartLength: 6}
	if d := cmp.Diff(want, p.Options()); d != "" {
		t.Fatalf("defaults (-want +got):\n%s", d)
	}
}

// TestNewRefusesBadOptions checks that New names what is wrong with the
// options.
func TestNewRefusesBadOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts apikey.Options
		want string
	}{
		{"short keys", apikey.Options{DefaultKeyLength: 16}, "DefaultKeyLength"},
		{"huge keys", apikey.Options{DefaultKeyLength: 5000}, "DefaultKeyLength"},
		{"bad prefix", apikey.Options{DefaultPrefix: "my app"}, "DefaultPrefix"},
		{"prefix bounds", apikey.Options{MinPrefixLength: 10, MaxPrefixLength: 5}, "prefix length"},
		{"name bounds", apikey.Options{MinNameLength: -1}, "name length"},
		{"bad header", apikey.Options{Headers: []string{"x api key"}}, "header name"},
		{"negative window", apikey.Options{RateLimitWindow: -time.Second}, "RateLimitWindow"},
		{"negative max", apikey.Options{RateLimitMax: -1}, "RateLimitMax"},
		{"expiry bounds", apikey.Options{MinExpiresIn: 48 * time.Hour, MaxExpiresIn: 24 * time.Hour}, "expiresIn bounds"},
		{"default expiry", apikey.Options{DefaultExpiresIn: -time.Hour}, "DefaultExpiresIn"},
		{"start length", apikey.Options{StartLength: -1}, "StartLength"},
		{"permissions", apikey.Options{DefaultPermissions: map[string][]string{"a": {"\x00"}}}, "DefaultPermissions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := apikey.New(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

// TestCustomHeaders checks Options.Headers: the first header set wins,
// and the default header is then not read.
func TestCustomHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{opts: apikey.Options{EnableSessionForAPIKeys: true, Headers: []string{"x-key", "authorization-key"}}})
	alice := e.user("alice@example.com")
	key := alice.create(nil).str("key")
	c := e.client()
	r := c.doWith("GET", "/get-session", map[string]string{"authorization-key": key})
	if r.status != 200 || r.body["user"] == nil {
		t.Fatalf("second header: %d %s", r.status, r.raw)
	}
	r = c.doWith("GET", "/get-session", map[string]string{"x-api-key": key})
	if r.status != 200 || r.raw != "null" {
		t.Fatalf("x-api-key with other headers configured: %d %s", r.status, r.raw)
	}
	r = c.doWith("GET", "/get-session", map[string]string{"x-key": "bad", "authorization-key": key})
	expectErr(t, r, 403, "INVALID_API_KEY", "")
}

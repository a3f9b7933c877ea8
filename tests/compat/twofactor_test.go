package compat_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/twofactor"
)

// TestBetterAuthTwoFactorClient runs twofactor.mjs — Better Auth's JS
// client with twoFactorClient, codes from the `otpauth` package — against
// our server with the two-factor plugin: enable, sign-in answered with
// twoFactorRedirect (onTwoFactorRedirect), verify-totp, replay refusal,
// trusted device, backup codes used once, disable.
func TestBetterAuthTwoFactorClient(t *testing.T) {
	node := requireNode(t)
	dir := compatDir(t)
	ensureNodeModules(t, dir)
	requireOTPAuth(t, dir)
	baseURL := startAuthServer(t, auth.Config{Secret: testSecret, RateLimit: auth.RateLimitConfig{Disabled: true}},
		nil, twofactor.New(twofactor.Options{}))
	runScript(t, node, dir, "twofactor.mjs", baseURL)
}

// TestTwoFactorScriptAgainstBetterAuth runs twofactor.mjs against real
// Better Auth with its two-factor plugin (twofactor-reference.mjs), so a
// failure of TestBetterAuthTwoFactorClient points at our server. The replay
// check is skipped there: Better Auth accepts a used code again.
func TestTwoFactorScriptAgainstBetterAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode")
	}
	node := requireNode(t)
	dir := compatDir(t)
	ensureNodeModules(t, dir)
	requireOTPAuth(t, dir)
	runScript(t, node, dir, "twofactor.mjs", startReferenceServer(t, node, dir, "twofactor-reference.mjs"),
		"TWOFACTOR_REFERENCE=1")
}

func requireOTPAuth(t *testing.T, dir string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "otpauth", "package.json")); err != nil {
		t.Fatalf("node_modules/otpauth is missing (package.json pins it; run `npm ci` in tests/compat): %v", err)
	}
}

package server

import (
	"bufio"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/keyring"
)

// envOf turns a map into a getenv function.
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// devDefaults is the configuration of an empty environment: development
// needs nothing.
func devDefaults() Config {
	return Config{
		Port: 3001, DatabaseSchema: "auth", DataDir: "data", BaseURL: "http://localhost:3001",
		AutoMigrate: true, ShutdownTimeout: 15 * time.Second, QueryTimeout: 3 * time.Second, JWTAudience: "mana",
	}
}

const (
	goodSecret = "0123456789abcdef0123456789abcdef"             // 32 characters
	goodKEK    = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=" // base64 of 32 bytes of 0x01
	goodKEK2   = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=" // 32 bytes of 0x02
)

// prodEnv is a complete production environment.
func prodEnv() map[string]string {
	return map[string]string{
		"NODE_ENV": "production", "BASE_URL": "https://auth.mana.how", "AUTH_SECRET": goodSecret,
		"MANA_SERVICE_KEY": "service-key-0123456789", "SMTP_HOST": "stalwart", "MANA_AUTH_KEK": goodKEK,
	}
}

func TestFromEnvEmptyIsDevelopment(t *testing.T) {
	t.Parallel()
	c, err := FromEnv(envOf(nil))
	if err != nil {
		t.Fatalf("an empty environment must be enough for development: %v", err)
	}
	if d := cmp.Diff(devDefaults(), c); d != "" {
		t.Errorf("defaults (-want +got):\n%s", d)
	}
	if c.Production || c.RequireEmailVerification || c.Secret != "" {
		t.Errorf("development defaults are not lenient: %+v", c)
	}
	if got := c.rpID(); got != "localhost" {
		t.Errorf("passkey RP ID of the default BASE_URL = %q, want localhost", got)
	}
}

// configCases covers every variable FromEnv reads (TestConfigCasesCoverFromEnv
// checks that).
var configCases = []struct {
	name string
	env  map[string]string
	want func(*Config)
}{
	{"PORT", map[string]string{"PORT": "8080"}, func(c *Config) { c.Port, c.BaseURL = 8080, "http://localhost:8080" }},
	{"HOST", map[string]string{"HOST": "0.0.0.0"}, func(c *Config) { c.Host = "0.0.0.0" }},
	{"DATABASE_URL trimmed", map[string]string{"DATABASE_URL": " postgres://u@db:5432/mana "}, func(c *Config) { c.DatabaseURL = "postgres://u@db:5432/mana" }},
	{"DATABASE_SCHEMA", map[string]string{"DATABASE_SCHEMA": "mana_auth"}, func(c *Config) { c.DatabaseSchema = "mana_auth" }},
	{"MANA_SCHEMA", map[string]string{"MANA_SCHEMA": "upstream"}, func(c *Config) { c.SchemaPreset, c.Naming = "upstream", UpstreamNaming() }},
	{"SCHEMA_MAPPING_FILE", map[string]string{"SCHEMA_MAPPING_FILE": "presets/upstream.json"}, func(c *Config) { c.Naming = UpstreamNaming() }},
	{"DATA_DIR", map[string]string{"DATA_DIR": "/var/lib/mana-auth"}, func(c *Config) { c.DataDir = "/var/lib/mana-auth" }},
	{"BASE_URL trailing slash", map[string]string{"BASE_URL": " https://auth.example.com/ "}, func(c *Config) { c.BaseURL = "https://auth.example.com" }},
	{"COOKIE_DOMAIN", map[string]string{"COOKIE_DOMAIN": ".mana.how"}, func(c *Config) { c.CookieDomain = ".mana.how" }},
	{"NODE_ENV development", map[string]string{"NODE_ENV": "development"}, func(c *Config) {}},
	{"NODE_ENV production", prodEnv(), func(c *Config) {
		c.Production, c.RequireEmailVerification, c.BaseURL = true, true, "https://auth.mana.how"
		c.Secret, c.SecretSource, c.ServiceKey, c.SMTPHost, c.KEK = goodSecret, "AUTH_SECRET", "service-key-0123456789", "stalwart", goodKEK
	}},
	{"AUTH_SECRET", map[string]string{"AUTH_SECRET": goodSecret}, func(c *Config) { c.Secret, c.SecretSource = goodSecret, "AUTH_SECRET" }},
	{"BETTER_AUTH_SECRET", map[string]string{"BETTER_AUTH_SECRET": goodSecret + "-ba"}, func(c *Config) {
		c.Secret, c.SecretSource = goodSecret+"-ba", "BETTER_AUTH_SECRET"
	}},
	{"BETTER_AUTH_SECRETS", map[string]string{"BETTER_AUTH_SECRETS": " 2:" + goodSecret + "-v2 , 1:old:with:colons"}, func(c *Config) {
		c.Secrets = []keyring.Version{{Version: 2, Value: goodSecret + "-v2"}, {Version: 1, Value: "old:with:colons"}}
	}},
	{"BETTER_AUTH_SECRETS with a short legacy AUTH_SECRET", map[string]string{"BETTER_AUTH_SECRETS": "3:" + goodSecret, "AUTH_SECRET": "short-legacy"}, func(c *Config) {
		c.Secrets, c.Secret, c.SecretSource = []keyring.Version{{Version: 3, Value: goodSecret}}, "short-legacy", "AUTH_SECRET"
	}},
	{"BETTER_AUTH_SECRETS in production without AUTH_SECRET", with(prodEnv(), "AUTH_SECRET", "", "BETTER_AUTH_SECRETS", "1:"+goodSecret), func(c *Config) {
		c.Production, c.RequireEmailVerification, c.BaseURL = true, true, "https://auth.mana.how"
		c.Secrets, c.ServiceKey, c.SMTPHost, c.KEK = []keyring.Version{{Version: 1, Value: goodSecret}}, "service-key-0123456789", "stalwart", goodKEK
	}},
	{"AUTH_SECRET wins over BETTER_AUTH_SECRET", map[string]string{"AUTH_SECRET": goodSecret, "BETTER_AUTH_SECRET": goodSecret + "-ba"}, func(c *Config) {
		c.Secret, c.SecretSource = goodSecret, "AUTH_SECRET"
	}},
	{"TRUSTED_ORIGINS", map[string]string{"TRUSTED_ORIGINS": " https://mana.how, https://*.mana.how,,myapp://"}, func(c *Config) {
		c.TrustedOrigins = []string{"https://mana.how", "https://*.mana.how", "myapp://"}
	}},
	{"TRUSTED_PROXIES", map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1,::1"}, func(c *Config) {
		c.TrustedProxies = []string{"10.0.0.0/8", "127.0.0.1", "::1"}
	}},
	{"MANA_ADMIN_EMAILS lower-cased", map[string]string{"MANA_ADMIN_EMAILS": "Admin@Mana.how, ops@mana.how"}, func(c *Config) {
		c.AdminEmails = []string{"admin@mana.how", "ops@mana.how"}
	}},
	{"LOG_FORMAT", map[string]string{"LOG_FORMAT": "JSON"}, func(c *Config) { c.LogFormat = "json" }},
	{"MIGRATE_ON_START", map[string]string{"MIGRATE_ON_START": "false"}, func(c *Config) { c.AutoMigrate = false }},
	{"SHUTDOWN_TIMEOUT", map[string]string{"SHUTDOWN_TIMEOUT": "1m30s"}, func(c *Config) { c.ShutdownTimeout = 90 * time.Second }},
	{"DATABASE_QUERY_TIMEOUT", map[string]string{"DATABASE_QUERY_TIMEOUT": "750ms"}, func(c *Config) { c.QueryTimeout = 750 * time.Millisecond }},
	{"SYNC_DATABASE_URL", map[string]string{"SYNC_DATABASE_URL": " postgres://u@db/mana_sync "}, func(c *Config) { c.SyncDatabaseURL = "postgres://u@db/mana_sync" }},
	{"MANA_SERVICE_KEY", map[string]string{"MANA_SERVICE_KEY": "k"}, func(c *Config) { c.ServiceKey = "k" }},
	{"MANA_CREDITS_URL", map[string]string{"MANA_CREDITS_URL": "http://mana-credits:3061/"}, func(c *Config) { c.CreditsURL = "http://mana-credits:3061" }},
	{"MANA_SUBSCRIPTIONS_URL", map[string]string{"MANA_SUBSCRIPTIONS_URL": "http://mana-subscriptions:3063"}, func(c *Config) {
		c.SubscriptionsURL = "http://mana-subscriptions:3063"
	}},
	{"SMTP_*", map[string]string{"SMTP_HOST": "mail.example.com", "SMTP_PORT": "465", "SMTP_USER": "u", "SMTP_PASS": "p",
		"SMTP_FROM": "Mana <noreply@mana.how>", "SMTP_TLS": "implicit"}, func(c *Config) {
		c.SMTPHost, c.SMTPPort, c.SMTPUser, c.SMTPPass, c.SMTPFrom, c.SMTPTLS = "mail.example.com", "465", "u", "p", "Mana <noreply@mana.how>", "implicit"
	}},
	{"MANA_AUTH_KEK*", map[string]string{"MANA_AUTH_KEK": goodKEK, "MANA_AUTH_KEK_ID": "env-v2", "MANA_AUTH_KEK_PREVIOUS": "env-v1:" + goodKEK2}, func(c *Config) {
		c.KEK, c.KEKID, c.KEKPrevious = goodKEK, "env-v2", "env-v1:"+goodKEK2
	}},
	{"REQUIRE_EMAIL_VERIFICATION on in development", map[string]string{"REQUIRE_EMAIL_VERIFICATION": "true"}, func(c *Config) { c.RequireEmailVerification = true }},
	{"REQUIRE_EMAIL_VERIFICATION off in production", with(prodEnv(), "REQUIRE_EMAIL_VERIFICATION", "false"), func(c *Config) {
		c.Production, c.BaseURL = true, "https://auth.mana.how"
		c.Secret, c.SecretSource, c.ServiceKey, c.SMTPHost, c.KEK = goodSecret, "AUTH_SECRET", "service-key-0123456789", "stalwart", goodKEK
	}},
	{"MAX_DAILY_SIGNUPS", map[string]string{"MAX_DAILY_SIGNUPS": "100"}, func(c *Config) { c.MaxDailySignups = 100 }},
	{"JWT_AUDIENCE", map[string]string{"JWT_AUDIENCE": "mana-apps"}, func(c *Config) { c.JWTAudience = "mana-apps" }},
	{"METRICS_ADDR", map[string]string{"METRICS_ADDR": "127.0.0.1:9464"}, func(c *Config) { c.MetricsAddr = "127.0.0.1:9464" }},
	{"METRICS_TOKEN trimmed", map[string]string{"METRICS_TOKEN": " metrics-token-0123456789 "}, func(c *Config) { c.MetricsToken = "metrics-token-0123456789" }},
	{"RATE_LIMIT_ENABLED true", map[string]string{"RATE_LIMIT_ENABLED": "true"}, func(c *Config) {}},
	{"TWO_FACTOR_OTP true", map[string]string{"TWO_FACTOR_OTP": "true"}, func(c *Config) { c.TwoFactorOTP = true }},
	{"TWO_FACTOR_OTP false", map[string]string{"TWO_FACTOR_OTP": "false"}, func(c *Config) {}},
	{"DISABLED_PLUGINS", map[string]string{"DISABLED_PLUGINS": " Admin, open-api "}, func(c *Config) { c.DisabledPlugins = []string{"admin", "open-api"} }},
	{"RATE_LIMIT_ENABLED false", map[string]string{"RATE_LIMIT_ENABLED": "false"}, func(c *Config) { c.RateLimitDisabled = true }},
	{"RATE_LIMIT_ENABLED false in production", with(prodEnv(), "RATE_LIMIT_ENABLED", "false"), func(c *Config) {
		c.Production, c.RequireEmailVerification, c.BaseURL, c.RateLimitDisabled = true, true, "https://auth.mana.how", true
		c.Secret, c.SecretSource, c.ServiceKey, c.SMTPHost, c.KEK = goodSecret, "AUTH_SECRET", "service-key-0123456789", "stalwart", goodKEK
	}},
	{"WEBAUTHN_RP_ID", map[string]string{"WEBAUTHN_RP_ID": "mana.how"}, func(c *Config) { c.WebAuthnRPID = "mana.how" }},
	{"REDIS_URL trimmed", map[string]string{"REDIS_URL": " redis://redis:6379/0 "}, func(c *Config) { c.RedisURL = "redis://redis:6379/0" }},
	{"SESSION_COOKIE_CACHE_MAX_AGE seconds", map[string]string{"SESSION_COOKIE_CACHE_MAX_AGE": "300"}, func(c *Config) {
		c.CookieCache = auth.CookieCacheConfig{Enabled: true, MaxAge: 5 * time.Minute}
	}},
	{"SESSION_COOKIE_CACHE_MAX_AGE 0 is off", map[string]string{"SESSION_COOKIE_CACHE_MAX_AGE": "0"}, func(c *Config) {}},
	{"SESSION_COOKIE_CACHE_*", map[string]string{"SESSION_COOKIE_CACHE_MAX_AGE": "10m", "SESSION_COOKIE_CACHE_STRATEGY": "jwe",
		"SESSION_COOKIE_CACHE_VERSION": "2"}, func(c *Config) {
		c.CookieCache = auth.CookieCacheConfig{Enabled: true, MaxAge: 10 * time.Minute, Strategy: auth.CookieCacheJWE, Version: "2"}
	}},
	{"OAUTH_GOOGLE_*", map[string]string{"OAUTH_GOOGLE_CLIENT_ID": " g-id ", "OAUTH_GOOGLE_CLIENT_SECRET": "g-secret"}, func(c *Config) {
		c.OAuth.Providers = []OAuthProvider{{Kind: "google", ID: "google", ClientID: "g-id", ClientSecret: "g-secret"}}
	}},
	{"OAUTH_GITHUB_*", map[string]string{"OAUTH_GITHUB_CLIENT_ID": "gh-id", "OAUTH_GITHUB_CLIENT_SECRET": "gh-secret"}, func(c *Config) {
		c.OAuth.Providers = []OAuthProvider{{Kind: "github", ID: "github", ClientID: "gh-id", ClientSecret: "gh-secret"}}
	}},
	{"OAUTH_DISCORD_*", map[string]string{"OAUTH_DISCORD_CLIENT_ID": "d-id", "OAUTH_DISCORD_CLIENT_SECRET": "d-secret"}, func(c *Config) {
		c.OAuth.Providers = []OAuthProvider{{Kind: "discord", ID: "discord", ClientID: "d-id", ClientSecret: "d-secret"}}
	}},
	{"OAUTH_MICROSOFT_* tenant common by default", map[string]string{"OAUTH_MICROSOFT_CLIENT_ID": "ms-id", "OAUTH_MICROSOFT_CLIENT_SECRET": "ms-secret"}, func(c *Config) {
		c.OAuth.Providers = []OAuthProvider{{Kind: "microsoft", ID: "microsoft", ClientID: "ms-id", ClientSecret: "ms-secret", TenantID: "common"}}
	}},
	{"OAUTH_MICROSOFT_TENANT_ID", map[string]string{"OAUTH_MICROSOFT_CLIENT_ID": "ms-id", "OAUTH_MICROSOFT_CLIENT_SECRET": "ms-secret",
		"OAUTH_MICROSOFT_TENANT_ID": "organizations"}, func(c *Config) {
		c.OAuth.Providers = []OAuthProvider{{Kind: "microsoft", ID: "microsoft", ClientID: "ms-id", ClientSecret: "ms-secret", TenantID: "organizations"}}
	}},
	{"OAUTH_GITLAB_*", map[string]string{"OAUTH_GITLAB_CLIENT_ID": "gl-id", "OAUTH_GITLAB_CLIENT_SECRET": "gl-secret",
		"OAUTH_GITLAB_BASE_URL": "https://gitlab.example.com/"}, func(c *Config) {
		c.OAuth.Providers = []OAuthProvider{{Kind: "gitlab", ID: "gitlab", ClientID: "gl-id", ClientSecret: "gl-secret", BaseURL: "https://gitlab.example.com"}}
	}},
	{"OAUTH_APPLE_*", map[string]string{"OAUTH_APPLE_CLIENT_ID": "com.example.web", "OAUTH_APPLE_TEAM_ID": "TEAM123456",
		"OAUTH_APPLE_KEY_ID": "KEY1234567", "OAUTH_APPLE_PRIVATE_KEY": testAppleKey, "OAUTH_APPLE_APP_BUNDLE_IDS": "com.example.ios, com.example.mac"}, func(c *Config) {
		c.OAuth.Providers = []OAuthProvider{{Kind: "apple", ID: "apple", ClientID: "com.example.web", TeamID: "TEAM123456", KeyID: "KEY1234567",
			PrivateKey: testAppleKey, Audiences: []string{"com.example.ios", "com.example.mac"}}}
	}},
	{"OAUTH_APPLE_PRIVATE_KEY on one line", map[string]string{"OAUTH_APPLE_CLIENT_ID": "com.example.web", "OAUTH_APPLE_TEAM_ID": "TEAM123456",
		"OAUTH_APPLE_KEY_ID": "KEY1234567", "OAUTH_APPLE_PRIVATE_KEY": strings.ReplaceAll(testAppleKey, "\n", `\n`)}, func(c *Config) {
		c.OAuth.Providers = []OAuthProvider{{Kind: "apple", ID: "apple", ClientID: "com.example.web", TeamID: "TEAM123456", KeyID: "KEY1234567",
			PrivateKey: strings.ReplaceAll(testAppleKey, "\n", `\n`)}}
	}},
	{"OAUTH_APPLE_PRIVATE_KEY_FILE", map[string]string{"OAUTH_APPLE_CLIENT_ID": "com.example.web", "OAUTH_APPLE_TEAM_ID": "TEAM123456",
		"OAUTH_APPLE_KEY_ID": "KEY1234567", "OAUTH_APPLE_PRIVATE_KEY_FILE": testAppleKeyFile}, func(c *Config) {
		c.OAuth.Providers = []OAuthProvider{{Kind: "apple", ID: "apple", ClientID: "com.example.web", TeamID: "TEAM123456", KeyID: "KEY1234567",
			PrivateKey: strings.TrimSpace(testAppleKey)}}
	}},
	{"OAUTH_TRUSTED_PROVIDERS and OAUTH_ENCRYPT_TOKENS false", map[string]string{"OAUTH_GOOGLE_CLIENT_ID": "g-id", "OAUTH_GOOGLE_CLIENT_SECRET": "g-secret",
		"OAUTH_GITHUB_CLIENT_ID": "gh-id", "OAUTH_GITHUB_CLIENT_SECRET": "gh-secret", "OAUTH_TRUSTED_PROVIDERS": "github, google", "OAUTH_ENCRYPT_TOKENS": "false"}, func(c *Config) {
		c.OAuth = OAuthConfig{Providers: []OAuthProvider{{Kind: "google", ID: "google", ClientID: "g-id", ClientSecret: "g-secret"},
			{Kind: "github", ID: "github", ClientID: "gh-id", ClientSecret: "gh-secret"}}, TrustedProviders: []string{"github", "google"}, PlainTokens: true}
	}},
	{"OAUTH_ENCRYPT_TOKENS true", map[string]string{"OAUTH_ENCRYPT_TOKENS": "true"}, func(c *Config) {}},
}

func with(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

func TestFromEnvReadsEveryVariable(t *testing.T) {
	t.Parallel()
	for _, tc := range configCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := FromEnv(envOf(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			want := devDefaults()
			tc.want(&want)
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("FromEnv (-want +got):\n%s", d)
			}
		})
	}
}

// Production refuses to start without what it needs, naming the variable.
func TestFromEnvProductionStrict(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string // ConfigError.Var
	}{
		{"no BASE_URL", with(prodEnv(), "BASE_URL", ""), "BASE_URL"},
		{"http BASE_URL", with(prodEnv(), "BASE_URL", "http://auth.mana.how"), "BASE_URL"},
		{"no secret", with(prodEnv(), "AUTH_SECRET", ""), "AUTH_SECRET"},
		{"short AUTH_SECRET", with(prodEnv(), "AUTH_SECRET", "too-short"), "AUTH_SECRET"},
		{"short BETTER_AUTH_SECRET", with(prodEnv(), "AUTH_SECRET", "", "BETTER_AUTH_SECRET", "too-short"), "BETTER_AUTH_SECRET"},
		{"no MANA_AUTH_KEK", with(prodEnv(), "MANA_AUTH_KEK", ""), "MANA_AUTH_KEK"},
		{"all-zero MANA_AUTH_KEK", with(prodEnv(), "MANA_AUTH_KEK", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="), "MANA_AUTH_KEK"},
		{"no SMTP_HOST", with(prodEnv(), "SMTP_HOST", ""), "SMTP_HOST"},
		{"no MANA_SERVICE_KEY", with(prodEnv(), "MANA_SERVICE_KEY", ""), "MANA_SERVICE_KEY"},
		{"short MANA_SERVICE_KEY", with(prodEnv(), "MANA_SERVICE_KEY", "short"), "MANA_SERVICE_KEY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := FromEnv(envOf(tc.env))
			assertConfigError(t, err, tc.want)
		})
	}
	if _, err := FromEnv(envOf(prodEnv())); err != nil {
		t.Fatalf("complete production environment refused: %v", err)
	}
}

// NODE_ENV=production alone names every variable it needs, at once (not one
// per start).
func TestFromEnvProductionNamesEveryMissingVariable(t *testing.T) {
	t.Parallel()
	_, err := FromEnv(envOf(map[string]string{"NODE_ENV": "production"}))
	var got []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ce *ConfigError
		if !errors.As(e, &ce) {
			t.Fatalf("%v is not a *ConfigError", e)
		}
		got = append(got, ce.Var)
	}
	want := []string{"BASE_URL", "MANA_SERVICE_KEY", "SMTP_HOST", "MANA_AUTH_KEK", "AUTH_SECRET"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("missing variables named (-want +got):\n%s", diff)
	}
}

func assertConfigError(t *testing.T, err error, wantVar string) {
	t.Helper()
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("error = %v (%T), want a *ConfigError for %s", err, err, wantVar)
	}
	if ce.Var != wantVar {
		t.Fatalf("ConfigError.Var = %q (%v), want %q", ce.Var, err, wantVar)
	}
	if !strings.HasPrefix(err.Error(), wantVar+": ") {
		t.Errorf("message %q does not start with the variable", err)
	}
}

// malformedCases: one bad value each, in an otherwise empty (development)
// environment.
var malformedCases = []struct {
	name, key, val string
}{
	{"PORT not a number", "PORT", "http"},
	{"NODE_ENV typo", "NODE_ENV", "prod"},
	{"DISABLED_PLUGINS unknown", "DISABLED_PLUGINS", "admin,jwt"},
	{"DATABASE_URL without scheme", "DATABASE_URL", "postgres//bad"},
	{"DATABASE_URL of another database", "DATABASE_URL", "mysql://user:secret@db:3306/mana"},
	{"DATABASE_URL without host", "DATABASE_URL", "postgres://"},
	{"TRUSTED_ORIGINS without scheme", "TRUSTED_ORIGINS", "localhost:5173"},
	{"PORT zero", "PORT", "0"},
	{"PORT too big", "PORT", "70000"},
	{"BASE_URL relative", "BASE_URL", "auth.mana.how"},
	{"BASE_URL ftp", "BASE_URL", "ftp://auth.mana.how"},
	{"MIGRATE_ON_START", "MIGRATE_ON_START", "sometimes"},
	{"SHUTDOWN_TIMEOUT no unit", "SHUTDOWN_TIMEOUT", "15"},
	{"SHUTDOWN_TIMEOUT negative", "SHUTDOWN_TIMEOUT", "-1s"},
	{"DATABASE_QUERY_TIMEOUT no unit", "DATABASE_QUERY_TIMEOUT", "3"},
	{"LOG_FORMAT", "LOG_FORMAT", "xml"},
	{"REQUIRE_EMAIL_VERIFICATION", "REQUIRE_EMAIL_VERIFICATION", "maybe"},
	{"MAX_DAILY_SIGNUPS negative", "MAX_DAILY_SIGNUPS", "-1"},
	{"MAX_DAILY_SIGNUPS not a number", "MAX_DAILY_SIGNUPS", "lots"},
	{"MANA_CREDITS_URL", "MANA_CREDITS_URL", "mana-credits:3061"},
	{"MANA_SUBSCRIPTIONS_URL", "MANA_SUBSCRIPTIONS_URL", "ftp://subs"},
	{"AUTH_SECRET short", "AUTH_SECRET", "short"},
	{"BETTER_AUTH_SECRET short", "BETTER_AUTH_SECRET", "short"},
	{"BETTER_AUTH_SECRETS without version", "BETTER_AUTH_SECRETS", goodSecret},
	{"BETTER_AUTH_SECRETS bad version", "BETTER_AUTH_SECRETS", "v2:" + goodSecret},
	{"BETTER_AUTH_SECRETS negative version", "BETTER_AUTH_SECRETS", "-1:" + goodSecret},
	{"BETTER_AUTH_SECRETS empty secret", "BETTER_AUTH_SECRETS", "2:" + goodSecret + ",1:"},
	{"BETTER_AUTH_SECRETS duplicate version", "BETTER_AUTH_SECRETS", "2:" + goodSecret + ",2:" + goodSecret + "x"},
	{"BETTER_AUTH_SECRETS short current", "BETTER_AUTH_SECRETS", "2:short,1:" + goodSecret},
	{"BETTER_AUTH_SECRETS trailing comma", "BETTER_AUTH_SECRETS", "2:" + goodSecret + ","},
	{"TRUSTED_ORIGINS", "TRUSTED_ORIGINS", "https://mana.how,app.mana.how"},
	{"TRUSTED_ORIGINS no host", "TRUSTED_ORIGINS", "https://"},
	{"TRUSTED_PROXIES", "TRUSTED_PROXIES", "10.0.0.0/8,proxy.local"},
	{"COOKIE_DOMAIN with scheme", "COOKIE_DOMAIN", "https://mana.how"},
	{"COOKIE_DOMAIN dots only", "COOKIE_DOMAIN", "."},
	{"WEBAUTHN_RP_ID with scheme", "WEBAUTHN_RP_ID", "https://mana.how"},
	{"WEBAUTHN_RP_ID IP", "WEBAUTHN_RP_ID", "10.1.2.3"},
	{"METRICS_ADDR no port", "METRICS_ADDR", "127.0.0.1"},
	{"METRICS_TOKEN short", "METRICS_TOKEN", "short"},
	{"RATE_LIMIT_ENABLED", "RATE_LIMIT_ENABLED", "yes please"},
	{"TWO_FACTOR_OTP", "TWO_FACTOR_OTP", "sometimes"},
	{"SMTP_HOST with port", "SMTP_HOST", "mail.example.com:587"},
	{"SMTP_PORT", "SMTP_PORT", "smtp"},
	{"SMTP_TLS", "SMTP_TLS", "sometimes"},
	{"SMTP_FROM", "SMTP_FROM", "not an address"},
	{"MANA_AUTH_KEK not base64", "MANA_AUTH_KEK", "not base64!"},
	{"MANA_AUTH_KEK wrong length", "MANA_AUTH_KEK", "AQID"},
	{"MANA_AUTH_KEK_ID", "MANA_AUTH_KEK_ID", "has space"},
	{"MANA_AUTH_KEK_PREVIOUS", "MANA_AUTH_KEK_PREVIOUS", "env-v0:AQID"},
	{"SESSION_COOKIE_CACHE_MAX_AGE not a duration", "SESSION_COOKIE_CACHE_MAX_AGE", "five minutes"},
	{"SESSION_COOKIE_CACHE_MAX_AGE negative", "SESSION_COOKIE_CACHE_MAX_AGE", "-300"},
	{"SESSION_COOKIE_CACHE_MAX_AGE fraction", "SESSION_COOKIE_CACHE_MAX_AGE", "1.5s"},
	{"SESSION_COOKIE_CACHE_MAX_AGE too long", "SESSION_COOKIE_CACHE_MAX_AGE", "9999h"},
	{"SESSION_COOKIE_CACHE_STRATEGY without the cache", "SESSION_COOKIE_CACHE_STRATEGY", "jwe"},
	{"SESSION_COOKIE_CACHE_VERSION without the cache", "SESSION_COOKIE_CACHE_VERSION", "2"},
	{"OAUTH_GOOGLE_CLIENT_SECRET without the client id", "OAUTH_GOOGLE_CLIENT_SECRET", "g-secret"},
	{"OAUTH_MICROSOFT_TENANT_ID without the client id", "OAUTH_MICROSOFT_TENANT_ID", "organizations"},
	{"OAUTH_GITLAB_BASE_URL without the client id", "OAUTH_GITLAB_BASE_URL", "https://gitlab.example.com"},
	{"OAUTH_APPLE_TEAM_ID without the client id", "OAUTH_APPLE_TEAM_ID", "TEAM123456"},
	{"OAUTH_APPLE_PRIVATE_KEY_FILE without the client id", "OAUTH_APPLE_PRIVATE_KEY_FILE", "/run/secrets/apple.p8"},
	{"OAUTH_TRUSTED_PROVIDERS naming no configured provider", "OAUTH_TRUSTED_PROVIDERS", "google"},
	{"OAUTH_ENCRYPT_TOKENS", "OAUTH_ENCRYPT_TOKENS", "sometimes"},
}

func TestFromEnvMalformed(t *testing.T) {
	t.Parallel()
	for _, tc := range malformedCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{tc.key: tc.val}
			if strings.HasPrefix(tc.key, "SMTP_") && tc.key != "SMTP_HOST" {
				env["SMTP_HOST"] = "mail.example.com" // the other SMTP variables are read only with a host
			}
			if tc.key == "MANA_AUTH_KEK_ID" || tc.key == "MANA_AUTH_KEK_PREVIOUS" {
				env["MANA_AUTH_KEK"] = goodKEK
			}
			_, err := FromEnv(envOf(env))
			assertConfigError(t, err, tc.key)
		})
	}
}

func TestEnsureSecret(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	c := Config{DataDir: dir}
	generated, err := c.EnsureSecret()
	if err != nil || !generated {
		t.Fatalf("first EnsureSecret = %v, %v", generated, err)
	}
	path := filepath.Join(dir, "auth-secret")
	if c.SecretSource != path || len(c.Secret) < 32 {
		t.Fatalf("secret %q from %q", c.Secret, c.SecretSource)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode = %v, want 0600", fi.Mode().Perm())
	}
	// A new process (fresh Config) reuses it.
	c2 := Config{DataDir: dir}
	if generated, err := c2.EnsureSecret(); err != nil || generated || c2.Secret != c.Secret {
		t.Fatalf("second EnsureSecret = %v, %v, same secret %v", generated, err, c2.Secret == c.Secret)
	}
	// A configured secret is left alone and nothing is read.
	c3 := Config{DataDir: filepath.Join(t.TempDir(), "none"), Secret: goodSecret, SecretSource: "AUTH_SECRET"}
	if generated, err := c3.EnsureSecret(); err != nil || generated || c3.Secret != goodSecret {
		t.Fatalf("configured secret: %v, %v, %q", generated, err, c3.Secret)
	}
	if _, err := os.Stat(c3.DataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("EnsureSecret with a configured secret touched %s", c3.DataDir)
	}
	// A file with a too-short secret is refused, not replaced.
	short := t.TempDir()
	os.WriteFile(filepath.Join(short, "auth-secret"), []byte("short\n"), 0o600)
	c4 := Config{DataDir: short}
	if _, err := c4.EnsureSecret(); err == nil || c4.Secret != "" {
		t.Fatalf("short secret file accepted: %q", c4.Secret)
	}
	if b, _ := os.ReadFile(filepath.Join(short, "auth-secret")); string(b) != "short\n" {
		t.Errorf("short secret file was rewritten: %q", b)
	}
	// Production never generates one.
	prod := Config{DataDir: filepath.Join(t.TempDir(), "prod"), Production: true}
	_, err = prod.EnsureSecret()
	assertConfigError(t, err, "AUTH_SECRET")
	if _, err := os.Stat(prod.DataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("EnsureSecret in production created %s", prod.DataDir)
	}
}

// fromEnvVariables lists the variables FromEnv reads, from the source:
// every getenv("NAME") call in config.go.
func fromEnvVariables(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "config.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) != 1 {
			return true
		}
		if id, ok := call.Fun.(*ast.Ident); !ok || id.Name != "getenv" {
			return true
		}
		lit, ok := call.Args[0].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			t.Errorf("%s: getenv with a non-literal name; list it by hand", fset.Position(call.Pos()))
			return true
		}
		name, _ := strconv.Unquote(lit.Value)
		seen[name] = true
		return true
	})
	var out []string
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	if len(out) < 30 {
		t.Fatalf("found only %d getenv calls in config.go: %v", len(out), out)
	}
	return out
}

var envLineRE = regexp.MustCompile(`^#?\s*([A-Z][A-Z0-9_]*)=`)

// .env.example documents exactly the variables FromEnv reads.
func TestEnvExampleListsEveryVariable(t *testing.T) {
	t.Parallel()
	vars := fromEnvVariables(t)
	f, err := os.Open(filepath.Join("..", ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	documented := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := envLineRE.FindStringSubmatch(strings.TrimSpace(sc.Text())); m != nil {
			documented[m[1]] = true
		}
	}
	for _, v := range vars {
		if !documented[v] {
			t.Errorf(".env.example does not list %s (read by FromEnv)", v)
		}
	}
	for v := range documented {
		if !slices.Contains(vars, v) && !isGenericOIDCVar(v) {
			t.Errorf(".env.example lists %s, which FromEnv does not read", v)
		}
	}
}

// The tables above exercise every variable FromEnv reads.
func TestConfigCasesCoverFromEnv(t *testing.T) {
	t.Parallel()
	covered := map[string]bool{}
	for _, tc := range configCases {
		for k := range tc.env {
			covered[k] = true
		}
	}
	for _, v := range fromEnvVariables(t) {
		if !covered[v] {
			t.Errorf("no configCases entry sets %s", v)
		}
	}
}

// BETTER_AUTH_SECRETS errors say what is wrong where, without quoting a
// secret.
func TestFromEnvSecretsMessages(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{goodSecret, "secrets entry 1 is not of the form <version>:<secret>"},
		{"2:" + goodSecret + ",x:" + goodSecret, "secrets entry 2: the version before ':' must be an integer"},
		{"2:" + goodSecret + ",1: ", "secrets entry 2 (version 1): empty secret"},
		{"2:" + goodSecret + ",2:" + goodSecret + "x", "secrets entry 2: version 2 appears twice"},
		{"2:short-secret-value", "secrets entry 1 (version 2) is the current secret and must be at least 32 characters"},
	} {
		_, err := FromEnv(envOf(map[string]string{"BETTER_AUTH_SECRETS": tc.in}))
		assertConfigError(t, err, "BETTER_AUTH_SECRETS")
		if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `format "<version>:<secret>,…"`) {
			t.Errorf("%q: %v; want it to say %q", tc.in, err, tc.want)
		}
		if strings.Contains(err.Error(), goodSecret) || strings.Contains(err.Error(), "short-secret-value") {
			t.Errorf("error quotes a secret: %v", err)
		}
	}
}

// With versioned secrets EnsureSecret generates nothing, but an existing
// development secret is read as the legacy secret.
func TestEnsureSecretWithVersions(t *testing.T) {
	t.Parallel()
	versions := []keyring.Version{{Version: 1, Value: goodSecret}}
	dir := filepath.Join(t.TempDir(), "data")
	c := Config{DataDir: dir, Secrets: versions}
	if generated, err := c.EnsureSecret(); err != nil || generated || c.Secret != "" {
		t.Fatalf("EnsureSecret = %v, %v, secret %q", generated, err, c.Secret)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("EnsureSecret with versioned secrets created %s", dir)
	}
	// An earlier development run left its secret: it becomes the legacy one.
	old := Config{DataDir: dir}
	if _, err := old.EnsureSecret(); err != nil {
		t.Fatal(err)
	}
	c = Config{DataDir: dir, Secrets: versions, Production: true}
	if generated, err := c.EnsureSecret(); err != nil || generated || c.Secret != old.Secret || c.SecretSource != filepath.Join(dir, "auth-secret") {
		t.Fatalf("EnsureSecret = %v, %v, secret from %q", generated, err, c.SecretSource)
	}
	cfg := c.AuthConfig(nil, nil)
	if d := cmp.Diff(versions, cfg.Secrets); d != "" || cfg.Secret != old.Secret {
		t.Errorf("AuthConfig secrets (-want +got):\n%s", d)
	}
}

// SESSION_COOKIE_CACHE_* reach the SDK; an unknown strategy is refused.
func TestCookieCacheEnv(t *testing.T) {
	t.Parallel()
	_, err := FromEnv(envOf(map[string]string{"SESSION_COOKIE_CACHE_MAX_AGE": "300", "SESSION_COOKIE_CACHE_STRATEGY": "JWE"}))
	assertConfigError(t, err, "SESSION_COOKIE_CACHE_STRATEGY")
	c, err := FromEnv(envOf(map[string]string{"SESSION_COOKIE_CACHE_MAX_AGE": "2m", "SESSION_COOKIE_CACHE_STRATEGY": "jwt"}))
	if err != nil {
		t.Fatal(err)
	}
	want := auth.CookieCacheConfig{Enabled: true, MaxAge: 2 * time.Minute, Strategy: auth.CookieCacheJWT}
	if d := cmp.Diff(want, c.AuthConfig(nil, nil).Session.CookieCache); d != "" {
		t.Errorf("auth.Config.Session.CookieCache (-want +got):\n%s", d)
	}
}

// .env.example loads alike in a POSIX shell (set -a; . ./.env) and in an
// env-file loader that takes each KEY=VALUE line literally (docker
// --env-file, systemd EnvironmentFile=): no inline comments, no value that
// needs quotes. Its values parse.
func TestEnvExampleLoads(t *testing.T) {
	t.Parallel()
	path, err := filepath.Abs(filepath.Join("..", ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	literal := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("line %q is neither a comment nor KEY=VALUE", line)
		}
		literal[k] = v
	}
	out, err := exec.Command("sh", "-c", `set -e; set -a; . "$1"; set +a; env -0`, "sh", path).Output()
	if err != nil {
		t.Fatalf("sourcing .env.example in sh: %v", err)
	}
	shell := map[string]string{}
	for _, kv := range strings.Split(string(out), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			shell[k] = v
		}
	}
	for k, v := range literal {
		if shell[k] != v {
			t.Errorf("%s: the shell reads %q, a literal loader %q", k, shell[k], v)
		}
	}
	// The values are valid: production without its secrets names only the
	// missing ones.
	_, err = FromEnv(func(k string) string { return literal[k] })
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		var ce *ConfigError
		if e != nil && (!errors.As(e, &ce) || !strings.Contains(ce.Msg, "is required")) {
			t.Errorf(".env.example: %v", e)
		}
	}
}

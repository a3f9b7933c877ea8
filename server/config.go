package server

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/keyring"
	"github.com/managarten/mana-auth/mail"
	"github.com/managarten/mana-auth/oauth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/vault"
)

// Config is the configuration of the reference server. FromEnv reads it
// from the environment variables of the mana-auth service.
type Config struct {
	// Port to listen on (PORT, default 3001).
	Port int
	// Host is the address to listen on (HOST, e.g. 0.0.0.0, ::, 127.0.0.1
	// or a host name). Empty listens on the loopback addresses (127.0.0.1
	// and ::1) in development, so that a development server is not
	// reachable from the network, and on every interface in production.
	Host string
	// DatabaseURL is the PostgreSQL URL (DATABASE_URL). Empty means the
	// embedded SQLite database under DataDir.
	DatabaseURL string
	// DatabaseSchema is the PostgreSQL schema of the tables
	// (DATABASE_SCHEMA, default "auth" as in the mana deployment).
	DatabaseSchema string
	// SchemaPreset is MANA_SCHEMA: "upstream" serves the upstream
	// mana-auth database as it is (UpstreamNaming); empty, Better Auth's
	// default names.
	SchemaPreset string
	// Naming maps the tables and columns to an existing database's names
	// (MANA_SCHEMA's preset, or the JSON storage.Naming in the file
	// SCHEMA_MAPPING_FILE names; see docs/MIGRATING.md).
	Naming storage.Naming
	// DataDir holds the SQLite file and the development secret
	// (DATA_DIR, default "./data").
	DataDir string
	// BaseURL is the public URL (BASE_URL, default http://localhost:PORT).
	BaseURL string
	// CookieDomain enables cross-subdomain cookies (COOKIE_DOMAIN, e.g.
	// ".mana.how").
	CookieDomain string
	// Production is NODE_ENV=production: strict configuration.
	Production bool
	// Secret signs cookies and tokens (AUTH_SECRET or BETTER_AUTH_SECRET).
	// With Secrets set it only opens data sealed before versioned secrets
	// (Better Auth's legacy secret) and may be empty.
	Secret string
	// SecretSource says where Secret came from, for the start-up log.
	SecretSource string
	// Secrets are versioned secrets for rotation (BETTER_AUTH_SECRETS,
	// "2:new,1:old", current first; see keyring.Parse): the first
	// signs and seals, the others only open what they sealed.
	Secrets []keyring.Version
	// TrustedOrigins are origins allowed besides BaseURL's
	// (TRUSTED_ORIGINS, comma-separated).
	TrustedOrigins []string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed (TRUSTED_PROXIES, comma-separated IPs or CIDRs).
	TrustedProxies []string
	// AdminEmails get role admin (MANA_ADMIN_EMAILS, comma-separated).
	AdminEmails []string
	// LogFormat is "json" or "text" (LOG_FORMAT; default text).
	LogFormat string
	// AutoMigrate applies migrations on start (MIGRATE_ON_START, default
	// true).
	AutoMigrate bool
	// ShutdownTimeout bounds the drain on SIGTERM (SHUTDOWN_TIMEOUT,
	// default 15s).
	ShutdownTimeout time.Duration
	// QueryTimeout bounds each PostgreSQL operation
	// (DATABASE_QUERY_TIMEOUT, default 3s), so an unreachable or frozen
	// database makes requests fail fast with 503 instead of hanging.
	QueryTimeout time.Duration

	// SyncDatabaseURL is the mana-sync PostgreSQL database
	// (SYNC_DATABASE_URL) for the GDPR data view; empty disables it.
	SyncDatabaseURL string
	// ServiceKey guards /api/v1/internal/* and is sent to mana-credits
	// (MANA_SERVICE_KEY). Required in production; without it the internal
	// routes answer 401 to everyone.
	ServiceKey string
	// CreditsURL is mana-credits (MANA_CREDITS_URL); empty disables the
	// credits calls.
	CreditsURL string
	// SubscriptionsURL is mana-subscriptions (MANA_SUBSCRIPTIONS_URL); read
	// for completeness, no route calls it (as upstream).
	SubscriptionsURL string
	// SMTP settings (SMTP_HOST, SMTP_PORT, SMTP_USER, SMTP_PASS, SMTP_FROM,
	// SMTP_TLS); without SMTP_HOST mail is printed to the log.
	SMTPHost, SMTPPort, SMTPUser, SMTPPass, SMTPFrom, SMTPTLS string
	// KEK is MANA_AUTH_KEK, the base64 key that wraps vault master keys;
	// KEKID (MANA_AUTH_KEK_ID, default "env-v1") names it and KEKPrevious
	// (MANA_AUTH_KEK_PREVIOUS, "id:base64,…") lists retired keys still
	// readable while `mana-auth vault rewrap` moves vaults to the new one.
	KEK, KEKID, KEKPrevious string
	// RequireEmailVerification refuses sign-in until the email is verified
	// (REQUIRE_EMAIL_VERIFICATION; default true in production).
	RequireEmailVerification bool
	// TwoFactorOTP lets users choose one-time codes by mail as their second
	// factor (TWO_FACTOR_OTP=true; default off): a code by mail is a weaker
	// second factor than an authenticator, since the mailbox also resets
	// the password. A user is only ever offered the factors they enrolled.
	TwoFactorOTP bool
	// DisabledPlugins are the optional plugins not mounted
	// (DISABLED_PLUGINS, comma-separated ids, see OptionalPlugins).
	DisabledPlugins []string
	// MaxDailySignups caps sign-ups per day (MAX_DAILY_SIGNUPS; 0 = off).
	MaxDailySignups int
	// JWTAudience is the aud claim of access tokens (JWT_AUDIENCE,
	// default "mana"); the issuer is BaseURL.
	JWTAudience string
	// WebAuthnRPID is the passkey relying party ID (WEBAUTHN_RP_ID; default
	// the COOKIE_DOMAIN or BASE_URL host). Passkeys are off when it would be
	// an IP address.
	WebAuthnRPID string
	// MetricsAddr serves Prometheus metrics on its own listener
	// (METRICS_ADDR, e.g. "127.0.0.1:9464"); empty serves /metrics on the
	// main listener.
	MetricsAddr string
	// MetricsToken (METRICS_TOKEN, at least 16 characters) makes /metrics
	// answer only requests with "Authorization: Bearer <token>" (compared
	// in constant time), on the main listener and on MetricsAddr's. In
	// production without it the main listener has no /metrics (404):
	// serve it on MetricsAddr or set a token.
	MetricsToken string
	// RateLimitDisabled turns the rate limiter off (RATE_LIMIT_ENABLED=false,
	// Better Auth's rateLimit.enabled), e.g. for the end-to-end test rig of
	// an app. It is on by default, in development too. The login lockout is
	// not a rate limit and stays on.
	RateLimitDisabled bool
	// RedisURL (REDIS_URL, redis:// or rediss://) keeps the rate-limit
	// counters in Redis; without it they are in the PostgreSQL database
	// (table "rateLimit") when DATABASE_URL is set, else in memory.
	RedisURL string
	// CookieCache is Better Auth's session cookie cache, off unless
	// SESSION_COOKIE_CACHE_MAX_AGE is set (seconds or a duration such as
	// 5m; 0 = off), with SESSION_COOKIE_CACHE_STRATEGY (compact, jwt or
	// jwe; default compact) and SESSION_COOKIE_CACHE_VERSION (default
	// "1"). A revoked session stays usable through its cache cookie for
	// up to the max age (see auth.CookieCacheConfig).
	CookieCache auth.CookieCacheConfig
	// OAuth is social sign-in with OAuth 2.0 and OpenID Connect providers
	// (the OAUTH_* variables, see OAuthConfig). Off, with no oauth plugin
	// mounted, when no provider is configured.
	OAuth OAuthConfig
}

// ConfigError names the variable that is wrong.
type ConfigError struct {
	Var string
	Msg string
}

// Error names the variable and what is wrong with it.
func (e *ConfigError) Error() string { return e.Var + ": " + e.Msg }

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// OptionalPlugins are the ids of the plugins DISABLED_PLUGINS can turn
// off; every one is mounted by default.
var OptionalPlugins = []string{"admin", "api-key", "email-otp", "username", "multi-session", "open-api"}

// enabled reports whether the optional plugin with the id is mounted.
func (c Config) enabled(id string) bool { return !slices.Contains(c.DisabledPlugins, id) }

// FromEnv reads the configuration from getenv. It does not generate the
// development secret: see EnsureSecret. Unable to list the environment,
// it mounts no generic OpenID provider (OAUTH_OIDC_<ID>_*) and notices no
// misspelt OAUTH_ variable: FromEnviron does both.
func FromEnv(getenv func(string) string) (Config, error) {
	return fromEnv(getenv, nil)
}

// FromEnviron reads the configuration from environ, "NAME=value" strings
// as os.Environ returns them (what main passes): as FromEnv, and since it
// sees the variables' names, it also mounts the generic OpenID providers
// (OAUTH_OIDC_<ID>_DISCOVERY_URL …) and refuses an OAUTH_ variable it does
// not know. A name listed twice has its first value, as os.Getenv reads
// it.
func FromEnviron(environ []string) (Config, error) {
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if _, ok := env[k]; !ok && k != "" {
			env[k] = v
		}
	}
	return fromEnv(func(k string) string { return env[k] }, env)
}

// fromEnv reads the configuration through getenv; env is the whole
// environment when it can be listed (FromEnviron), else nil.
func fromEnv(getenv func(string) string, env map[string]string) (Config, error) {
	switch getenv("NODE_ENV") {
	case "", "development", "production", "test":
	default:
		// A typo ("prod") must not quietly run a development server.
		return Config{}, &ConfigError{"NODE_ENV", fmt.Sprintf("%q is not one of development, production, test", getenv("NODE_ENV"))}
	}
	c := Config{
		DatabaseURL:    strings.TrimSpace(getenv("DATABASE_URL")),
		DatabaseSchema: getenv("DATABASE_SCHEMA"),
		DataDir:        getenv("DATA_DIR"),
		BaseURL:        strings.TrimRight(strings.TrimSpace(getenv("BASE_URL")), "/"),
		CookieDomain:   strings.TrimSpace(getenv("COOKIE_DOMAIN")),
		Production:     getenv("NODE_ENV") == "production",
		TrustedOrigins: splitList(getenv("TRUSTED_ORIGINS")),
		TrustedProxies: splitList(getenv("TRUSTED_PROXIES")),
		AdminEmails:    splitList(strings.ToLower(getenv("MANA_ADMIN_EMAILS"))),
		LogFormat:      strings.ToLower(getenv("LOG_FORMAT")),
		Host:           strings.TrimSpace(getenv("HOST")),
		AutoMigrate:    true,
		Port:           3001,
	}
	// Production needs several variables: name every missing one at once.
	var missing []error
	require := func(name, msg string) { missing = append(missing, &ConfigError{name, msg}) }
	if err := checkDatabaseURL(c.DatabaseURL); err != nil {
		return c, err
	}
	if p := getenv("PORT"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return c, &ConfigError{"PORT", fmt.Sprintf("%q is not a port number", p)}
		}
		c.Port = n
	}
	if c.DatabaseSchema == "" {
		c.DatabaseSchema = "auth"
	}
	{
		var err error
		if c.SchemaPreset, c.Naming, err = namingFromEnv(getenv("MANA_SCHEMA"), getenv("SCHEMA_MAPPING_FILE")); err != nil {
			return c, err
		}
	}
	if c.DataDir == "" {
		c.DataDir = "data"
	}
	switch {
	case c.BaseURL == "" && c.Production:
		require("BASE_URL", "is required in production (the public https URL, e.g. https://auth.example.com)")
	case c.BaseURL == "":
		c.BaseURL = fmt.Sprintf("http://localhost:%d", c.Port)
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c, &ConfigError{"BASE_URL", fmt.Sprintf("%q is not an absolute http(s) URL", c.BaseURL)}
		}
		if c.Production && u.Scheme != "https" {
			return c, &ConfigError{"BASE_URL", "must be https in production"}
		}
	}
	if v := getenv("MIGRATE_ON_START"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, &ConfigError{"MIGRATE_ON_START", "must be true or false"}
		}
		c.AutoMigrate = b
	}
	c.QueryTimeout = 3 * time.Second
	if v := getenv("DATABASE_QUERY_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return c, &ConfigError{"DATABASE_QUERY_TIMEOUT", "must be a duration such as 3s"}
		}
		c.QueryTimeout = d
	}
	c.ShutdownTimeout = 15 * time.Second
	if v := getenv("SHUTDOWN_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return c, &ConfigError{"SHUTDOWN_TIMEOUT", "must be a duration such as 15s"}
		}
		c.ShutdownTimeout = d
	}
	switch c.LogFormat {
	case "", "text", "json":
	default:
		return c, &ConfigError{"LOG_FORMAT", "must be text or json"}
	}
	c.SyncDatabaseURL = strings.TrimSpace(getenv("SYNC_DATABASE_URL"))
	c.ServiceKey = getenv("MANA_SERVICE_KEY")
	c.CreditsURL = strings.TrimRight(strings.TrimSpace(getenv("MANA_CREDITS_URL")), "/")
	c.SubscriptionsURL = strings.TrimRight(strings.TrimSpace(getenv("MANA_SUBSCRIPTIONS_URL")), "/")
	c.SMTPHost, c.SMTPPort, c.SMTPUser, c.SMTPPass = getenv("SMTP_HOST"), getenv("SMTP_PORT"), getenv("SMTP_USER"), getenv("SMTP_PASS")
	c.SMTPFrom, c.SMTPTLS = getenv("SMTP_FROM"), getenv("SMTP_TLS")
	c.KEK, c.KEKID, c.KEKPrevious = getenv("MANA_AUTH_KEK"), getenv("MANA_AUTH_KEK_ID"), getenv("MANA_AUTH_KEK_PREVIOUS")
	c.MetricsAddr = getenv("METRICS_ADDR")
	c.MetricsToken = strings.TrimSpace(getenv("METRICS_TOKEN"))
	if c.MetricsToken != "" && len(c.MetricsToken) < 16 {
		return c, &ConfigError{"METRICS_TOKEN", "must be at least 16 characters (generate one with `openssl rand -hex 16`)"}
	}
	if v := getenv("RATE_LIMIT_ENABLED"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, &ConfigError{"RATE_LIMIT_ENABLED", "must be true or false"}
		}
		c.RateLimitDisabled = !b
	}
	c.RedisURL = strings.TrimSpace(getenv("REDIS_URL"))
	if u, err := url.Parse(c.RedisURL); c.RedisURL != "" && (err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix")) {
		return c, &ConfigError{"REDIS_URL", "must be a redis://, rediss:// or unix:// URL"}
	}
	c.WebAuthnRPID = getenv("WEBAUTHN_RP_ID")
	c.JWTAudience = getenv("JWT_AUDIENCE")
	if c.JWTAudience == "" {
		c.JWTAudience = "mana"
	}
	c.RequireEmailVerification = c.Production
	if v := getenv("REQUIRE_EMAIL_VERIFICATION"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, &ConfigError{"REQUIRE_EMAIL_VERIFICATION", "must be true or false"}
		}
		c.RequireEmailVerification = b
	}
	if v := getenv("TWO_FACTOR_OTP"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, &ConfigError{"TWO_FACTOR_OTP", "must be true or false"}
		}
		c.TwoFactorOTP = b
	}
	if v := getenv("DISABLED_PLUGINS"); v != "" {
		for _, id := range splitList(strings.ToLower(v)) {
			if !slices.Contains(OptionalPlugins, id) {
				return c, &ConfigError{"DISABLED_PLUGINS", fmt.Sprintf("%q is not one of %s", id, strings.Join(OptionalPlugins, ", "))}
			}
			c.DisabledPlugins = append(c.DisabledPlugins, id)
		}
	}
	if v := getenv("MAX_DAILY_SIGNUPS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return c, &ConfigError{"MAX_DAILY_SIGNUPS", "must be a whole number (0 = no cap)"}
		}
		c.MaxDailySignups = n
	}
	for _, u := range []struct{ name, val string }{{"MANA_CREDITS_URL", c.CreditsURL}, {"MANA_SUBSCRIPTIONS_URL", c.SubscriptionsURL}} {
		if u.val == "" {
			continue
		}
		if pu, err := url.Parse(u.val); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return c, &ConfigError{u.name, fmt.Sprintf("%q is not an absolute http(s) URL", u.val)}
		}
	}
	cc, err := cookieCacheFromEnv(getenv)
	if err != nil {
		return c, err
	}
	c.CookieCache = cc
	if c.OAuth, err = oauthFromEnv(getenv, env); err != nil {
		return c, err
	}
	if err := c.checkFormats(); err != nil {
		return c, err
	}
	if c.Production {
		if c.ServiceKey == "" || len(c.ServiceKey) < 16 {
			require("MANA_SERVICE_KEY", "is required in production (at least 16 characters)")
		}
		if c.SMTPHost == "" {
			require("SMTP_HOST", "is required in production (mail would only be logged)")
		}
		if c.KEK == "" {
			require("MANA_AUTH_KEK", "is required in production (base64 of 32 bytes, generate with `openssl rand -base64 32`)")
		}
	}
	if s := getenv("AUTH_SECRET"); s != "" {
		c.Secret, c.SecretSource = s, "AUTH_SECRET"
	} else if s := getenv("BETTER_AUTH_SECRET"); s != "" {
		c.Secret, c.SecretSource = s, "BETTER_AUTH_SECRET"
	}
	secrets, err := keyring.Parse(getenv("BETTER_AUTH_SECRETS"))
	if err != nil {
		return c, &ConfigError{"BETTER_AUTH_SECRETS", strings.TrimPrefix(err.Error(), "auth: ") +
			` (format "<version>:<secret>,…", current first)`}
	}
	c.Secrets = secrets
	if c.Secret != "" && len(c.Secret) < 32 && len(c.Secrets) == 0 {
		return c, &ConfigError{c.SecretSource, "must be at least 32 characters (generate one with `openssl rand -base64 32`)"}
	}
	if c.Secret == "" && len(c.Secrets) == 0 && c.Production {
		require("AUTH_SECRET", "is required in production (or BETTER_AUTH_SECRET, or BETTER_AUTH_SECRETS): generate one with `openssl rand -base64 32`")
	}
	return c, errors.Join(missing...)
}

// checkDatabaseURL accepts an empty DATABASE_URL (SQLite) or a PostgreSQL
// URL, postgres:// or postgresql:// with a host or a socket, and names
// what is wrong otherwise (without echoing a password).
func checkDatabaseURL(raw string) error {
	if raw == "" {
		return nil
	}
	const want = "must be a PostgreSQL URL such as postgres://user:password@host:5432/db (or empty for SQLite)"
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return &ConfigError{"DATABASE_URL", want + "; it has no scheme://"}
	}
	if scheme != "postgres" && scheme != "postgresql" {
		return &ConfigError{"DATABASE_URL", fmt.Sprintf("%s; %q databases are not supported", want, scheme)}
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Host == "" && !strings.Contains(rest, "host=")) {
		return &ConfigError{"DATABASE_URL", want + "; it has no host"}
	}
	return nil
}

// cookieCacheFromEnv reads SESSION_COOKIE_CACHE_MAX_AGE (seconds or a Go
// duration; empty or 0 leaves the cache off), SESSION_COOKIE_CACHE_STRATEGY
// and SESSION_COOKIE_CACHE_VERSION, and checks them as auth.New would.
func cookieCacheFromEnv(getenv func(string) string) (auth.CookieCacheConfig, error) {
	var cc auth.CookieCacheConfig
	const maxAgeVar = "SESSION_COOKIE_CACHE_MAX_AGE"
	if v := strings.TrimSpace(getenv("SESSION_COOKIE_CACHE_MAX_AGE")); v != "" {
		d, err := time.ParseDuration(v)
		if n, nerr := strconv.Atoi(v); nerr == nil {
			d, err = time.Duration(n)*time.Second, nil
		}
		switch {
		case err != nil || d < 0:
			return cc, &ConfigError{maxAgeVar, "must be a number of seconds or a duration such as 5m (0 = off)"}
		case d%time.Second != 0:
			return cc, &ConfigError{maxAgeVar, "must be a whole number of seconds"}
		case d > 400*24*time.Hour:
			return cc, &ConfigError{maxAgeVar, "exceeds the 400-day cookie limit"}
		}
		cc.Enabled, cc.MaxAge = d > 0, d
	}
	cc.Strategy = auth.CookieCacheStrategy(strings.TrimSpace(getenv("SESSION_COOKIE_CACHE_STRATEGY")))
	cc.Version = strings.TrimSpace(getenv("SESSION_COOKIE_CACHE_VERSION"))
	for _, v := range [][2]string{{"SESSION_COOKIE_CACHE_STRATEGY", string(cc.Strategy)}, {"SESSION_COOKIE_CACHE_VERSION", cc.Version}} {
		if v[1] != "" && !cc.Enabled {
			return cc, &ConfigError{v[0], "is set but the cookie cache is off (set " + maxAgeVar + ")"}
		}
	}
	switch cc.Strategy {
	case "", auth.CookieCacheCompact, auth.CookieCacheJWT, auth.CookieCacheJWE:
	default:
		return cc, &ConfigError{"SESSION_COOKIE_CACHE_STRATEGY", fmt.Sprintf("%q must be compact, jwt or jwe", cc.Strategy)}
	}
	return cc, nil
}

// checkFormats rejects values that later stages (auth.New, the mailer, the
// vault's key ring, the passkey plugin, the metrics listener) would refuse
// or misuse, so that a typo stops the start with the variable's name.
func (c Config) checkFormats() error {
	for _, o := range c.TrustedOrigins {
		if strings.ContainsAny(o, "*?") {
			continue // a pattern such as https://*.mana.how
		}
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || !strings.Contains(o, "://") || ((u.Scheme == "http" || u.Scheme == "https") && u.Host == "") {
			return &ConfigError{"TRUSTED_ORIGINS", fmt.Sprintf("%q is not an origin: write scheme://host[:port], such as https://app.mana.how or http://localhost:5173", o)}
		}
	}
	for _, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				return &ConfigError{"TRUSTED_PROXIES", fmt.Sprintf("%q is not an IP address or CIDR", p)}
			}
		}
	}
	if d := c.CookieDomain; d != "" && (strings.ContainsAny(d, "/:;, \t") || strings.Trim(d, ".") == "") {
		return &ConfigError{"COOKIE_DOMAIN", fmt.Sprintf("%q is not a domain such as .mana.how", d)}
	}
	if c.WebAuthnRPID != "" {
		if err := protocol.ValidateRPID(c.WebAuthnRPID); err != nil {
			return &ConfigError{"WEBAUTHN_RP_ID", fmt.Sprintf("%q is not a relying party ID (a domain such as mana.how): %v", c.WebAuthnRPID, err)}
		}
	}
	if c.MetricsAddr != "" {
		_, p, err := net.SplitHostPort(c.MetricsAddr)
		if n, perr := strconv.Atoi(p); err != nil || perr != nil || n < 0 || n > 65535 {
			return &ConfigError{"METRICS_ADDR", fmt.Sprintf("%q is not a host:port listen address", c.MetricsAddr)}
		}
	}
	if _, err := mail.FromEnv(c.smtpEnv); err != nil {
		return &ConfigError{namedIn(err, "SMTP_HOST", "SMTP_PORT", "SMTP_FROM", "SMTP_TLS", "SMTP_USER", "SMTP_PASS"), err.Error()}
	}
	if c.KEK != "" || c.KEKID != "" || c.KEKPrevious != "" {
		if _, err := vault.KEKFromEnv(c.kekEnv, c.Production); err != nil {
			return &ConfigError{namedIn(err, "MANA_AUTH_KEK_PREVIOUS", "MANA_AUTH_KEK_ID", "MANA_AUTH_KEK"), err.Error()}
		}
	}
	return nil
}

// namedIn returns the first of names that err's message mentions (the
// first name if none).
func namedIn(err error, names ...string) string {
	for _, n := range names {
		if strings.Contains(err.Error(), n) {
			return n
		}
	}
	return names[0]
}

// smtpEnv answers mail.FromEnv from the configuration.
func (c Config) smtpEnv(name string) string {
	switch name {
	case "SMTP_HOST":
		return c.SMTPHost
	case "SMTP_PORT":
		return c.SMTPPort
	case "SMTP_USER":
		return c.SMTPUser
	case "SMTP_PASS":
		return c.SMTPPass
	case "SMTP_FROM":
		return c.SMTPFrom
	case "SMTP_TLS":
		return c.SMTPTLS
	}
	return ""
}

// EnsureSecret fills in a development secret when none is configured: it
// reads DataDir/auth-secret, creating it (mode 0600) with 32 random bytes
// on first use. It refuses in production. With versioned secrets
// (BETTER_AUTH_SECRETS) it generates nothing, but an existing file is
// still read, as the legacy secret that opens what it sealed.
func (c *Config) EnsureSecret() (generated bool, err error) {
	if c.Secret != "" {
		return false, nil
	}
	path := filepath.Join(c.DataDir, "auth-secret")
	if len(c.Secrets) > 0 {
		if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) != "" {
			c.Secret, c.SecretSource = strings.TrimSpace(string(b)), path
		} else if err != nil && !errors.Is(err, os.ErrNotExist) {
			return false, err
		}
		return false, nil
	}
	if c.Production {
		return false, &ConfigError{"AUTH_SECRET", "is required in production"}
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return false, fmt.Errorf("creating %s: %w", c.DataDir, err)
	}
	if b, err := os.ReadFile(path); err == nil {
		s := strings.TrimSpace(string(b))
		if len(s) < 32 {
			return false, fmt.Errorf("%s holds a secret shorter than 32 characters; delete it to generate a new one", path)
		}
		c.Secret, c.SecretSource = s, path
		return false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	s := base64.StdEncoding.EncodeToString(raw[:])
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return false, fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := f.WriteString(s + "\n"); err != nil {
		f.Close()
		return false, err
	}
	if err := f.Close(); err != nil {
		return false, err
	}
	c.Secret, c.SecretSource = s, path
	return true, nil
}

// kekEnv answers vault.KEKFromEnv from the configuration.
func (c Config) kekEnv(name string) string {
	switch name {
	case "MANA_AUTH_KEK":
		return c.KEK
	case "MANA_AUTH_KEK_ID":
		return c.KEKID
	case "MANA_AUTH_KEK_PREVIOUS":
		return c.KEKPrevious
	}
	return ""
}

// rpID is the passkey relying party ID, or "" when only an IP is known.
func (c Config) rpID() string {
	if c.WebAuthnRPID != "" {
		return c.WebAuthnRPID
	}
	host := strings.TrimPrefix(c.CookieDomain, ".")
	if host == "" {
		if u, err := url.Parse(c.BaseURL); err == nil {
			host = u.Hostname()
		}
	}
	if net.ParseIP(host) != nil {
		return ""
	}
	return host
}

// OAuthConfig is the social sign-in of the reference server, read from
// the OAUTH_ variables. With no provider the oauth plugin is not mounted.
type OAuthConfig struct {
	// Providers are the configured providers: the built-in ones in the
	// order google, github, discord, microsoft, gitlab, apple, then the
	// generic OpenID ones by id.
	Providers []OAuthProvider
	// TrustedProviders are provider ids whose users' addresses count as
	// verified for account linking (OAUTH_TRUSTED_PROVIDERS,
	// comma-separated; each must be a configured provider).
	TrustedProviders []string
	// PlainTokens stores the providers' access and refresh tokens in plain
	// text (OAUTH_ENCRYPT_TOKENS=false). By default they are sealed with
	// the secret's keyring, so that a copy of the database holds no usable
	// token (Better Auth's account.encryptOAuthTokens, which is off by
	// default there).
	PlainTokens bool
}

// OAuthProvider is one provider of OAuthConfig, as plain values.
type OAuthProvider struct {
	// Kind is the built-in provider ("google", "github", "discord",
	// "microsoft", "gitlab", "apple") or "oidc" for a generic OpenID
	// provider (OAUTH_OIDC_<ID>_*).
	Kind string
	// ID is the provider id of requests and of the callback route
	// /api/auth/callback/<ID>: the Kind of a built-in provider, the
	// lower-cased <ID> with "_" read as "-" of a generic one.
	ID string
	// ClientID and ClientSecret are the client's credentials at the
	// provider (OAUTH_<PROVIDER>_CLIENT_ID and _CLIENT_SECRET; Apple has no
	// secret: it signs one with PrivateKey).
	ClientID, ClientSecret string
	// DiscoveryURL and Scopes are a generic provider's
	// (OAUTH_OIDC_<ID>_DISCOVERY_URL and _SCOPES, separated by spaces or
	// commas; default "openid email profile").
	DiscoveryURL string
	Scopes       []string
	// TenantID is Microsoft's tenant (OAUTH_MICROSOFT_TENANT_ID, default
	// "common").
	TenantID string
	// BaseURL is a self-managed GitLab's URL (OAUTH_GITLAB_BASE_URL;
	// empty: gitlab.com).
	BaseURL string
	// TeamID, KeyID and PrivateKey (the .p8 key's PEM) sign Apple's client
	// secret (OAUTH_APPLE_TEAM_ID, OAUTH_APPLE_KEY_ID,
	// OAUTH_APPLE_PRIVATE_KEY or the file OAUTH_APPLE_PRIVATE_KEY_FILE);
	// Audiences are the app bundle ids whose ID tokens Apple ID-token
	// sign-in accepts (OAUTH_APPLE_APP_BUNDLE_IDS, comma-separated).
	TeamID, KeyID, PrivateKey string
	Audiences                 []string
}

// oauthVars are the OAUTH_ variables FromEnv reads by name. Besides them
// only the generic providers' OAUTH_OIDC_<ID>_<suffix> (oidcSuffixes) are
// known: FromEnviron refuses any other OAUTH_ variable, so that a typo
// stops the start instead of leaving a provider off.
var oauthVars = []string{
	"OAUTH_GOOGLE_CLIENT_ID", "OAUTH_GOOGLE_CLIENT_SECRET",
	"OAUTH_GITHUB_CLIENT_ID", "OAUTH_GITHUB_CLIENT_SECRET",
	"OAUTH_DISCORD_CLIENT_ID", "OAUTH_DISCORD_CLIENT_SECRET",
	"OAUTH_MICROSOFT_CLIENT_ID", "OAUTH_MICROSOFT_CLIENT_SECRET", "OAUTH_MICROSOFT_TENANT_ID",
	"OAUTH_GITLAB_CLIENT_ID", "OAUTH_GITLAB_CLIENT_SECRET", "OAUTH_GITLAB_BASE_URL",
	"OAUTH_APPLE_CLIENT_ID", "OAUTH_APPLE_TEAM_ID", "OAUTH_APPLE_KEY_ID", "OAUTH_APPLE_PRIVATE_KEY",
	"OAUTH_APPLE_PRIVATE_KEY_FILE", "OAUTH_APPLE_APP_BUNDLE_IDS",
	"OAUTH_TRUSTED_PROVIDERS", "OAUTH_ENCRYPT_TOKENS",
}

// The generic OpenID providers' variables: OAUTH_OIDC_<ID><suffix>.
const oidcPrefix = "OAUTH_OIDC_"

var oidcSuffixes = []string{"_DISCOVERY_URL", "_CLIENT_ID", "_CLIENT_SECRET", "_SCOPES"}

// oidcEnvID matches the <ID> of a generic provider's variables.
var oidcEnvID = regexp.MustCompile(`^[A-Za-z0-9]+(_[A-Za-z0-9]+)*$`)

// oauthFromEnv reads the OAUTH_ variables through getenv; env, when not
// nil, is the whole environment, scanned for the generic providers and for
// unknown OAUTH_ variables. Secrets are never quoted in its errors.
func oauthFromEnv(getenv func(string) string, env map[string]string) (OAuthConfig, error) {
	var o OAuthConfig
	if env != nil {
		// A misspelt name first: it is the cause of what else is wrong.
		if err := checkOAuthNames(env); err != nil {
			return o, err
		}
	}
	byID := map[string]string{} // provider id → the variable that configured it
	add := func(p OAuthProvider, from string) error {
		if prev, dup := byID[p.ID]; dup {
			return &ConfigError{from, fmt.Sprintf("names provider %q, which %s already configures", p.ID, prev)}
		}
		if p.ID == plugin.CredentialProvider {
			return &ConfigError{from, fmt.Sprintf("provider id %q is the password account's; choose another", p.ID)}
		}
		byID[p.ID] = from
		o.Providers = append(o.Providers, p)
		return nil
	}
	notOn := func(name, idVar string) error {
		return &ConfigError{name, "is set but " + idVar + " is not (a provider is on when its client id is set)"}
	}
	for _, b := range []struct{ kind, idVar, secretVar, id, secret string }{
		{"google", "OAUTH_GOOGLE_CLIENT_ID", "OAUTH_GOOGLE_CLIENT_SECRET", getenv("OAUTH_GOOGLE_CLIENT_ID"), getenv("OAUTH_GOOGLE_CLIENT_SECRET")},
		{"github", "OAUTH_GITHUB_CLIENT_ID", "OAUTH_GITHUB_CLIENT_SECRET", getenv("OAUTH_GITHUB_CLIENT_ID"), getenv("OAUTH_GITHUB_CLIENT_SECRET")},
		{"discord", "OAUTH_DISCORD_CLIENT_ID", "OAUTH_DISCORD_CLIENT_SECRET", getenv("OAUTH_DISCORD_CLIENT_ID"), getenv("OAUTH_DISCORD_CLIENT_SECRET")},
		{"microsoft", "OAUTH_MICROSOFT_CLIENT_ID", "OAUTH_MICROSOFT_CLIENT_SECRET", getenv("OAUTH_MICROSOFT_CLIENT_ID"), getenv("OAUTH_MICROSOFT_CLIENT_SECRET")},
		{"gitlab", "OAUTH_GITLAB_CLIENT_ID", "OAUTH_GITLAB_CLIENT_SECRET", getenv("OAUTH_GITLAB_CLIENT_ID"), getenv("OAUTH_GITLAB_CLIENT_SECRET")},
	} {
		id, secret := strings.TrimSpace(b.id), strings.TrimSpace(b.secret)
		switch {
		case id == "" && secret != "":
			return o, notOn(b.secretVar, b.idVar)
		case id == "":
			continue
		case secret == "":
			return o, &ConfigError{b.secretVar, "is required when " + b.idVar + " is set"}
		}
		p := OAuthProvider{Kind: b.kind, ID: b.kind, ClientID: id, ClientSecret: secret}
		if b.kind == "microsoft" {
			p.TenantID = "common"
		}
		if err := add(p, b.idVar); err != nil {
			return o, err
		}
	}
	on := func(kind string) *OAuthProvider {
		for i := range o.Providers {
			if o.Providers[i].Kind == kind {
				return &o.Providers[i]
			}
		}
		return nil
	}
	if t := strings.TrimSpace(getenv("OAUTH_MICROSOFT_TENANT_ID")); t != "" {
		ms := on("microsoft")
		if ms == nil {
			return o, notOn("OAUTH_MICROSOFT_TENANT_ID", "OAUTH_MICROSOFT_CLIENT_ID")
		}
		if !msTenant.MatchString(t) {
			return o, &ConfigError{"OAUTH_MICROSOFT_TENANT_ID", fmt.Sprintf("%q is not a tenant: common, organizations, consumers, a tenant id or a domain", t)}
		}
		ms.TenantID = t
	}
	if u := strings.TrimRight(strings.TrimSpace(getenv("OAUTH_GITLAB_BASE_URL")), "/"); u != "" {
		gl := on("gitlab")
		if gl == nil {
			return o, notOn("OAUTH_GITLAB_BASE_URL", "OAUTH_GITLAB_CLIENT_ID")
		}
		if !httpURL(u) {
			return o, &ConfigError{"OAUTH_GITLAB_BASE_URL", fmt.Sprintf("%q is not an absolute http(s) URL such as https://gitlab.example.com", u)}
		}
		gl.BaseURL = u
	}
	apple, err := appleFromEnv(getenv)
	if err != nil {
		return o, err
	}
	if apple != nil {
		if err := add(*apple, "OAUTH_APPLE_CLIENT_ID"); err != nil {
			return o, err
		}
	}
	if env != nil {
		generic, err := oidcFromEnv(env)
		if err != nil {
			return o, err
		}
		for _, g := range generic {
			if err := add(g.OAuthProvider, g.from); err != nil {
				return o, err
			}
		}
	}
	o.TrustedProviders = splitList(getenv("OAUTH_TRUSTED_PROVIDERS"))
	for _, id := range o.TrustedProviders {
		if _, ok := byID[id]; !ok {
			return o, &ConfigError{"OAUTH_TRUSTED_PROVIDERS", fmt.Sprintf("%q is not a configured provider (configured: %s)", id, providerList(o.Providers))}
		}
	}
	if v := strings.TrimSpace(getenv("OAUTH_ENCRYPT_TOKENS")); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return o, &ConfigError{"OAUTH_ENCRYPT_TOKENS", "must be true or false"}
		}
		o.PlainTokens = !b
	}
	// Every provider as the oauth plugin will check it, so that a bad
	// value stops the start here, with its variable's name.
	for _, p := range o.Providers {
		pr, err := p.provider()
		if err == nil {
			_, err = oauth.New(oauth.Config{Providers: []oauth.Provider{pr}})
		}
		if err != nil {
			return o, &ConfigError{byID[p.ID], err.Error()}
		}
	}
	return o, nil
}

// msTenant matches a Microsoft tenant: common, organizations, consumers,
// a tenant id (a GUID) or a domain.
var msTenant = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]*$`)

// httpURL reports whether u is an absolute http(s) URL with a host.
func httpURL(u string) bool {
	pu, err := url.Parse(u)
	return err == nil && (pu.Scheme == "http" || pu.Scheme == "https") && pu.Host != ""
}

// providerList names the providers' ids for a message.
func providerList(ps []OAuthProvider) string {
	if len(ps) == 0 {
		return "none"
	}
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	return strings.Join(ids, ", ")
}

// appleFromEnv reads Sign in with Apple's variables: nil without
// OAUTH_APPLE_CLIENT_ID. Every missing variable is named at once; the
// private key is checked (without quoting it).
func appleFromEnv(getenv func(string) string) (*OAuthProvider, error) {
	p := &OAuthProvider{Kind: "apple", ID: "apple", ClientID: strings.TrimSpace(getenv("OAUTH_APPLE_CLIENT_ID")),
		TeamID: strings.TrimSpace(getenv("OAUTH_APPLE_TEAM_ID")), KeyID: strings.TrimSpace(getenv("OAUTH_APPLE_KEY_ID")),
		PrivateKey: strings.TrimSpace(getenv("OAUTH_APPLE_PRIVATE_KEY")), Audiences: splitList(getenv("OAUTH_APPLE_APP_BUNDLE_IDS"))}
	keyFile := strings.TrimSpace(getenv("OAUTH_APPLE_PRIVATE_KEY_FILE"))
	if p.ClientID == "" {
		for _, v := range []struct{ name, val string }{{"OAUTH_APPLE_TEAM_ID", p.TeamID}, {"OAUTH_APPLE_KEY_ID", p.KeyID},
			{"OAUTH_APPLE_PRIVATE_KEY", p.PrivateKey}, {"OAUTH_APPLE_PRIVATE_KEY_FILE", keyFile},
			{"OAUTH_APPLE_APP_BUNDLE_IDS", strings.Join(p.Audiences, ",")}} {
			if v.val != "" {
				return nil, &ConfigError{v.name, "is set but OAUTH_APPLE_CLIENT_ID is not (a provider is on when its client id is set)"}
			}
		}
		return nil, nil
	}
	if p.PrivateKey != "" && keyFile != "" {
		return nil, &ConfigError{"OAUTH_APPLE_PRIVATE_KEY_FILE", "is set together with OAUTH_APPLE_PRIVATE_KEY: set one of them"}
	}
	keyVar := "OAUTH_APPLE_PRIVATE_KEY"
	if keyFile != "" {
		keyVar = "OAUTH_APPLE_PRIVATE_KEY_FILE"
		b, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, &ConfigError{keyVar, fmt.Sprintf("cannot read the key: %v", err)}
		}
		p.PrivateKey = strings.TrimSpace(string(b))
	}
	var missing []error
	const with = "is required when OAUTH_APPLE_CLIENT_ID is set"
	if p.TeamID == "" {
		missing = append(missing, &ConfigError{"OAUTH_APPLE_TEAM_ID", with + " (the Apple developer team id)"})
	}
	if p.KeyID == "" {
		missing = append(missing, &ConfigError{"OAUTH_APPLE_KEY_ID", with + " (the id of the Sign in with Apple key)"})
	}
	if p.PrivateKey == "" {
		missing = append(missing, &ConfigError{"OAUTH_APPLE_PRIVATE_KEY", with + " (the .p8 key's PEM, or its path in OAUTH_APPLE_PRIVATE_KEY_FILE)"})
	}
	if len(missing) > 0 {
		return nil, errors.Join(missing...)
	}
	// (A PEM written on one line, with \n for its line breaks, is read
	// by oauth.Apple.)
	if _, err := p.provider(); err != nil {
		return nil, &ConfigError{keyVar, strings.TrimPrefix(err.Error(), "oauth: Apple: ")}
	}
	return p, nil
}

// oidcProvider is a generic provider and the variable that configures it.
type oidcProvider struct {
	OAuthProvider
	from string // its OAUTH_OIDC_<ID>_DISCOVERY_URL
}

// setOAuthNames returns the names of env's OAUTH_ variables that are set
// (not empty), sorted.
func setOAuthNames(env map[string]string) []string {
	var names []string
	for k, v := range env {
		if strings.HasPrefix(k, "OAUTH_") && strings.TrimSpace(v) != "" {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	return names
}

// oidcEnvIDOf returns the <ID> of OAUTH_OIDC_<ID>_DISCOVERY_URL.
func oidcEnvIDOf(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, oidcPrefix)
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, "_DISCOVERY_URL")
}

// checkOAuthNames refuses any OAUTH_ variable of env that is neither one
// of oauthVars nor a variable of a generic provider whose discovery URL
// is set.
func checkOAuthNames(env map[string]string) error {
	names := setOAuthNames(env)
	ids := map[string]bool{} // the <ID>s with a discovery URL
	for _, n := range names {
		if id, ok := oidcEnvIDOf(n); ok {
			ids[id] = true
		}
	}
	for _, n := range names {
		if err := knownOAuthVar(n, ids); err != nil {
			return err
		}
	}
	return nil
}

// oidcFromEnv returns the generic OpenID providers of env, each turned on
// by its OAUTH_OIDC_<ID>_DISCOVERY_URL, sorted by id.
func oidcFromEnv(env map[string]string) ([]oidcProvider, error) {
	val := func(name string) string { return strings.TrimSpace(env[name]) }
	var out []oidcProvider
	for _, n := range setOAuthNames(env) {
		envID, ok := oidcEnvIDOf(n)
		if !ok {
			continue
		}
		if !oidcEnvID.MatchString(envID) || len(envID) > 64 {
			return nil, &ConfigError{n, "the provider id between " + oidcPrefix + " and _DISCOVERY_URL must be letters and digits joined by single _, at most 64 characters"}
		}
		p := OAuthProvider{Kind: "oidc", ID: strings.ToLower(strings.ReplaceAll(envID, "_", "-")),
			DiscoveryURL: val(n), ClientID: val(oidcPrefix + envID + "_CLIENT_ID"),
			ClientSecret: val(oidcPrefix + envID + "_CLIENT_SECRET"), Scopes: scopeList(env[oidcPrefix+envID+"_SCOPES"])}
		if !httpURL(p.DiscoveryURL) {
			return nil, &ConfigError{n, fmt.Sprintf("%q is not an absolute http(s) URL (the provider's …/.well-known/openid-configuration)", p.DiscoveryURL)}
		}
		if p.ClientID == "" {
			return nil, &ConfigError{oidcPrefix + envID + "_CLIENT_ID", "is required when " + n + " is set"}
		}
		if len(p.Scopes) == 0 {
			p.Scopes = []string{"openid", "email", "profile"}
		}
		out = append(out, oidcProvider{p, n})
	}
	slices.SortStableFunc(out, func(a, b oidcProvider) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// scopeList splits a scope list at spaces or commas (a comma-separated
// list needs no quotes in an environment file).
func scopeList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}

// knownOAuthVar refuses the OAUTH_ variable n unless FromEnviron reads it:
// one of oauthVars, or a variable of a generic provider whose discovery
// URL is set (ids holds their <ID>s).
func knownOAuthVar(n string, ids map[string]bool) error {
	if slices.Contains(oauthVars, n) {
		return nil
	}
	if rest, ok := strings.CutPrefix(n, oidcPrefix); ok {
		for _, suf := range oidcSuffixes {
			envID, ok := strings.CutSuffix(rest, suf)
			switch {
			case !ok || envID == "":
			case ids[envID]:
				return nil
			default:
				return &ConfigError{n, "is set but " + oidcPrefix + envID + "_DISCOVERY_URL is not (a generic provider is on when its discovery URL is set)"}
			}
		}
	}
	return &ConfigError{n, "is not a variable mana-auth reads (a typo? docs/OPERATIONS.md lists the OAUTH_ variables under \"Social sign-in\")"}
}

// provider returns the oauth plugin's provider.
func (p OAuthProvider) provider() (oauth.Provider, error) {
	switch p.Kind {
	case "google":
		return oauth.Google(p.ClientID, p.ClientSecret), nil
	case "github":
		return oauth.GitHub(p.ClientID, p.ClientSecret), nil
	case "discord":
		return oauth.Discord(p.ClientID, p.ClientSecret), nil
	case "microsoft":
		return oauth.Microsoft(oauth.MicrosoftConfig{ClientID: p.ClientID, ClientSecret: p.ClientSecret, TenantID: p.TenantID}), nil
	case "gitlab":
		return oauth.GitLab(oauth.GitLabConfig{ClientID: p.ClientID, ClientSecret: p.ClientSecret, BaseURL: p.BaseURL}), nil
	case "apple":
		return oauth.Apple(oauth.AppleConfig{ClientID: p.ClientID, TeamID: p.TeamID, KeyID: p.KeyID,
			PrivateKey: p.PrivateKey, Audiences: p.Audiences})
	case "oidc":
		pr := oauth.OIDC(p.ID, p.DiscoveryURL, p.ClientID, p.ClientSecret)
		if len(p.Scopes) > 0 {
			pr.Scopes = p.Scopes
		}
		return pr, nil
	}
	return oauth.Provider{}, fmt.Errorf("oauth: unknown provider kind %q", p.Kind)
}

// Plugin returns the oauth plugin of the configuration, or nil (and no
// error) when no provider is configured: social sign-in is off.
func (o OAuthConfig) Plugin() (*oauth.Plugin, error) {
	if len(o.Providers) == 0 {
		return nil, nil
	}
	cfg := oauth.Config{EncryptTokens: !o.PlainTokens, AccountLinking: oauth.AccountLinking{TrustedProviders: o.TrustedProviders}}
	for _, p := range o.Providers {
		pr, err := p.provider()
		if err != nil {
			return nil, err
		}
		cfg.Providers = append(cfg.Providers, pr)
	}
	return oauth.New(cfg)
}

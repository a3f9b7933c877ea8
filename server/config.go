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
	"strconv"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/keyring"
	"github.com/managarten/mana-auth/mail"
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

// FromEnv reads the configuration from getenv (os.Getenv in main). It
// does not generate the development secret: see EnsureSecret.
func FromEnv(getenv func(string) string) (Config, error) {
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

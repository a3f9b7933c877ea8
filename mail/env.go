package mail

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/managarten/mana-auth/auth"
)

// DefaultFrom is the sender FromEnv uses when SMTP_FROM is not set.
const DefaultFrom = "noreply@localhost"

// FromEnv builds the service's Mailer from the environment, read through
// getenv (os.Getenv if nil):
//
//	SMTP_HOST  server name; if empty, a LogMailer writing to slog.Default()
//	           is returned and nothing is sent
//	SMTP_PORT  port, default 587 (465 means implicit TLS)
//	SMTP_USER  AUTH user name; no AUTH if empty
//	SMTP_PASS  AUTH password
//	SMTP_FROM  sender, default "noreply@localhost" — set it in production,
//	           e.g. "Mana <noreply@mana.how>"
//	SMTP_TLS   "opportunistic" (default), "mandatory" or "implicit"
//
// An invalid value is reported with the variable's name.
func FromEnv(getenv func(string) string) (auth.Mailer, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	rawHost := getenv("SMTP_HOST")
	if strings.TrimSpace(rawHost) == "" {
		return &LogMailer{}, nil
	}
	host, err := checkHost(rawHost)
	if err != nil {
		return nil, fmt.Errorf("mail: SMTP_HOST: %w", err)
	}
	cfg := SMTPConfig{
		Host:     host,
		Username: getenv("SMTP_USER"),
		Password: getenv("SMTP_PASS"),
		From:     strings.TrimSpace(getenv("SMTP_FROM")),
	}
	if p := strings.TrimSpace(getenv("SMTP_PORT")); p != "" {
		port, err := strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 {
			return nil, fmt.Errorf("mail: SMTP_PORT=%q is not a port number (1-65535)", p)
		}
		cfg.Port = port
	}
	if cfg.From == "" {
		cfg.From = DefaultFrom
	} else if _, err := parseFrom(cfg.From); err != nil {
		return nil, fmt.Errorf("mail: SMTP_FROM: %w", err)
	}
	if cfg.TLSPolicy, err = ParseTLSPolicy(getenv("SMTP_TLS")); err != nil {
		return nil, fmt.Errorf("mail: SMTP_TLS=%q: want opportunistic, mandatory or implicit", getenv("SMTP_TLS"))
	}
	m, err := NewSMTP(cfg)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return m, nil
}

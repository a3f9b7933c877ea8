package auth

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// originMatcher decides whether an origin or a redirect URL is trusted,
// following Better Auth's rules (spec §5.1).
type originMatcher struct {
	base     *url.URL
	exact    map[string]bool // origins, lower-case
	patterns []originPattern
	custom   []string // custom-scheme prefixes like "myapp://"
	list     string   // BaseURL's origin and the configured origins, for logs
}

type originPattern struct {
	re         *regexp.Regexp
	withScheme bool
}

func newOriginMatcher(baseURL string, trusted []string) (*originMatcher, error) {
	base, err := url.Parse(baseURL)
	if err != nil {
		return nil, err
	}
	m := &originMatcher{base: base, exact: map[string]bool{originOf(base): true}, list: originOf(base)}
	for _, t := range trusted {
		if t = strings.TrimSpace(t); t != "" && t != originOf(base) {
			m.list += "," + t
		}
	}
	for _, t := range trusted {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if strings.ContainsAny(t, "*?") {
			withScheme := strings.Contains(t, "://")
			var b strings.Builder
			b.WriteString("^")
			for _, r := range strings.ToLower(t) {
				switch r {
				case '*':
					b.WriteString(`[^/\\]*`)
				case '?':
					b.WriteString(`[^/\\]`)
				default:
					b.WriteString(regexp.QuoteMeta(string(r)))
				}
			}
			b.WriteString("$")
			re, err := regexp.Compile(b.String())
			if err != nil {
				return nil, fmt.Errorf("auth: trusted origin %q: %w", t, err)
			}
			m.patterns = append(m.patterns, originPattern{re: re, withScheme: withScheme})
			continue
		}
		u, err := url.Parse(t)
		if err != nil || u.Scheme == "" || !strings.Contains(t, "://") {
			// "localhost:5173" parses as scheme "localhost": say what is meant.
			return nil, fmt.Errorf("auth: trusted origin %q is not an origin: write scheme://host[:port], such as http://localhost:5173", t)
		}
		if u.Scheme == "http" || u.Scheme == "https" {
			if u.Host == "" {
				return nil, fmt.Errorf("auth: trusted origin %q has no host", t)
			}
			m.exact[originOf(u)] = true
		} else {
			m.custom = append(m.custom, strings.ToLower(strings.TrimSuffix(t, "/")))
		}
	}
	return m, nil
}

// originOf is the URL's origin as JavaScript's URL.origin gives it:
// lower-case scheme and host, default ports dropped.
func originOf(u *url.URL) string {
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if scheme == "https" {
		host = strings.TrimSuffix(host, ":443")
	} else if scheme == "http" {
		host = strings.TrimSuffix(host, ":80")
	}
	return scheme + "://" + host
}

// TrustedOrigin reports whether an absolute URL's origin is trusted.
func (m *originMatcher) trustedOrigin(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return false
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		s := strings.ToLower(raw)
		for _, c := range m.custom {
			if s == c || strings.HasPrefix(s, c+"/") || strings.HasPrefix(s, c+"?") || strings.HasPrefix(s, c) && strings.HasSuffix(c, "://") {
				return true
			}
		}
		return false
	}
	if u.Host == "" || u.User != nil {
		return false
	}
	o := originOf(u)
	if m.exact[o] {
		return true
	}
	host := strings.ToLower(u.Host)
	for _, p := range m.patterns {
		if p.withScheme && p.re.MatchString(o) || !p.withScheme && p.re.MatchString(host) {
			return true
		}
	}
	return false
}

// safeRelative reports whether s is a relative path that stays on this
// origin: it starts with a single "/", holds no backslash, no control
// characters and no encoded slashes.
func safeRelative(s string) bool {
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.ContainsRune(s, '\\') {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	ls := strings.ToLower(s)
	if strings.Contains(ls, "%2f") || strings.Contains(ls, "%5c") {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "" && u.Host == ""
}

// trustedRedirect reports whether a callback URL is allowed: a safe
// relative path or an absolute URL with a trusted origin.
func (m *originMatcher) trustedRedirect(s string) bool {
	if strings.HasPrefix(s, "/") {
		return safeRelative(s)
	}
	return m.trustedOrigin(s)
}

// TrustedOrigin reports whether the origin of rawURL is trusted (BaseURL's
// origin or one of Config.TrustedOrigins).
func (a *Auth) TrustedOrigin(rawURL string) bool { return a.origins.trustedOrigin(rawURL) }

// trustedRedirect reports whether rawURL may be used as a redirect target:
// a safe relative path or an absolute URL on a trusted origin.
func (a *Auth) trustedRedirect(rawURL string) bool { return a.origins.trustedRedirect(rawURL) }

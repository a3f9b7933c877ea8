package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Who may read /metrics: in production the main listener has none (404)
// unless METRICS_TOKEN is set, and then only with the token as a bearer;
// in development it is open unless a token is set. METRICS_ADDR moves it
// to its own listener (MetricsHandler), which asks for the token too when
// one is set.
func TestMetricsAccess(t *testing.T) {
	t.Parallel()
	const tok = "metrics-token-0123456789abcdef"
	type try struct {
		authz string // Authorization header; "" for none
		want  int
	}
	open := []try{{"", 200}, {"Bearer anything", 200}}
	guarded := []try{
		{"", 401}, {"Bearer wrong-token-0123456789ab", 401}, {"Bearer " + tok + "x", 401}, {"Basic " + tok, 401},
		{"Bearer", 401}, {"Bearer " + tok, 200}, {"bearer " + tok, 200},
	}
	absent := []try{{"", 404}, {"Bearer " + tok, 404}}
	for _, tc := range []struct {
		name       string
		production bool
		token      string
		addr       string // METRICS_ADDR
		main       []try  // GET /metrics on the main listener
		own        []try  // MetricsHandler (the METRICS_ADDR listener)
	}{
		{"development", false, "", "", open, open},
		{"development with METRICS_TOKEN", false, tok, "", guarded, guarded},
		{"production", true, "", "", absent, open},
		{"production with METRICS_TOKEN", true, tok, "", guarded, guarded},
		{"production with METRICS_ADDR", true, "", "127.0.0.1:9464", absent, open},
		{"production with METRICS_ADDR and METRICS_TOKEN", true, tok, "127.0.0.1:9464", absent, guarded},
		{"development with METRICS_ADDR", false, "", "127.0.0.1:9464", absent, open},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := newTestEnv(t, func(c *Config) {
				c.Production, c.MetricsToken, c.MetricsAddr = tc.production, tc.token, tc.addr
				if tc.production {
					c.KEK = goodKEK
				}
			})
			own := httptest.NewServer(env.s.MetricsHandler())
			defer own.Close()
			for _, l := range []struct {
				name, url string
				tries     []try
			}{{"main listener", env.srv.URL, tc.main}, {"METRICS_ADDR listener", own.URL, tc.own}} {
				for _, tr := range l.tries {
					req, _ := http.NewRequest("GET", l.url+"/metrics", nil)
					if tr.authz != "" {
						req.Header.Set("Authorization", tr.authz)
					}
					res, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					body, _ := io.ReadAll(res.Body)
					res.Body.Close()
					served := strings.Contains(string(body), "mana_auth_http_requests_total")
					if res.StatusCode != tr.want || served != (tr.want == 200) {
						t.Errorf("%s, Authorization %q: %d (metrics in the body: %v), want %d", l.name, tr.authz, res.StatusCode, served, tr.want)
					}
					if tr.want == 401 && res.Header.Get("WWW-Authenticate") == "" {
						t.Errorf("%s, Authorization %q: 401 without WWW-Authenticate", l.name, tr.authz)
					}
				}
			}
		})
	}
}

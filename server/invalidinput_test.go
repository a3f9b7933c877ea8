package server

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/storage"
)

// unstorable are strings no database stores: PostgreSQL refuses invalid
// UTF-8 (a cut two-byte sequence, a surrogate in WTF-8) and NUL bytes.
var unstorable = []struct{ name, s string }{
	{"invalid UTF-8", "\xc3("},
	{"NUL", "a\x00b"},
	{"lone surrogate", "\xed\xa0\x80"},
}

// Strings that no database can store, in every place a request carries
// one to a query (query and path parameters, JSON bodies, the bearer
// token), answer as the same request with an unknown value does — or,
// where they would be written, 400 — on every storage; never a 5xx, and
// no SERVICE_ERROR security event is written for them (issue 17 item 11:
// PostgreSQL answered 500 to each).
func TestE2EUnstorableStrings(t *testing.T) {
	t.Parallel()
	onEachStore(t, nil, testUnstorableStrings)
}

func testUnstorableStrings(t *testing.T, env *e2e) {
	ctx := context.Background()
	a := env.seed(t, "alice@example.com")
	aUser, _ := env.s.auth.Host().FindUserByID(ctx, a.id)
	second := env.session(t, aUser) // without an active organization
	admin := env.seed(t, "admin@example.com")
	r := env.post(t, "/api/auth/organization/create", `{"name":"alice-org","slug":"alice-org"}`, "Cookie", a.cookie)
	want(t, "organization create", r, 200, "")
	aOrg := str(r.body["id"])
	env.settleCredits(t) // the sign-ups' credits run in the background: not during a snapshot

	callers := map[string][]string{
		"a.cookie":  {"Cookie", a.cookie},
		"a.second":  {"Cookie", second.cookie},
		"admin.jwt": bearer(admin.jwt),
		"key":       {"X-Service-Key", "internal-service-key-123"},
	}
	const (
		v1   = "/api/v1/auth"
		adm  = "/api/v1/admin"
		intl = "/api/v1/internal"
		org  = "/api/auth/organization"
	)
	// In path, query and body, {v} is the value (escaped for its place);
	// in a header it is the raw value (net/http refuses a NUL there).
	cases := []struct {
		desc               string
		method, path, body string
		as                 string
		hdr                []string
		or400              bool // a validation refusal is fine too
	}{
		{desc: "magic link token", method: "GET", path: "/api/auth/magic-link/verify?token={v}"},
		{desc: "magic link token with a callback", method: "GET", path: "/api/auth/magic-link/verify?token={v}&callbackURL=%2Fdone"},
		{desc: "reset-password path token", method: "GET", path: "/api/auth/reset-password/{v}?callbackURL=%2Freset"},
		{desc: "reset-password body token", method: "POST", path: "/api/auth/reset-password", body: `{"token":"{v}","newPassword":"password456"}`},
		{desc: "verify-email token", method: "GET", path: "/api/auth/verify-email?token={v}"},
		{desc: "bearer session token", method: "GET", path: "/api/auth/get-session", hdr: []string{"Authorization", "Bearer {v}abc"}},
		{desc: "bearer session token", method: "GET", path: "/api/auth/list-sessions", hdr: []string{"Authorization", "Bearer {v}abc"}},
		{desc: "bearer session token", method: "GET", path: v1 + "/session", hdr: []string{"Authorization", "Bearer {v}abc"}},
		{desc: "bearer session token", method: "POST", path: v1 + "/refresh", hdr: []string{"Authorization", "Bearer {v}abc"}},
		{desc: "bearer access token", method: "GET", path: "/api/v1/me/data", hdr: []string{"Authorization", "Bearer {v}abc"}},
		{desc: "revoked token", method: "POST", path: "/api/auth/revoke-session", body: `{"token":"{v}"}`, as: "a.cookie"},
		{desc: "sign-in email", method: "POST", path: "/api/auth/sign-in/email", body: `{"email":"x{v}@example.com","password":"password123"}`, or400: true},
		{desc: "password reset email", method: "POST", path: "/api/auth/request-password-reset", body: `{"email":"x{v}@example.com"}`, or400: true},
		{desc: "organization id", method: "GET", path: org + "/get-full-organization?organizationId={v}", as: "a.cookie"},
		{desc: "organization slug", method: "GET", path: org + "/get-full-organization?organizationSlug={v}", as: "a.cookie"},
		{desc: "organization id", method: "GET", path: org + "/list-members?organizationId={v}", as: "a.cookie"},
		{desc: "organization id", method: "POST", path: org + "/set-active", body: `{"organizationId":"{v}"}`, as: "a.second"},
		{desc: "login email", method: "POST", path: v1 + "/login", body: `{"email":"x{v}@example.com","password":"password123"}`, or400: true},
		{desc: "reset token", method: "POST", path: v1 + "/reset-password", body: `{"token":"{v}","newPassword":"password456"}`},
		{desc: "access token", method: "POST", path: v1 + "/validate", body: `{"token":"{v}"}`},
		{desc: "user id", method: "GET", path: adm + "/users/{v}/data", as: "admin.jwt"},
		{desc: "user id", method: "DELETE", path: adm + "/users/{v}/data", as: "admin.jwt"},
		{desc: "user id", method: "GET", path: adm + "/users/{v}/tier", as: "admin.jwt"},
		{desc: "user id", method: "PUT", path: adm + "/users/{v}/tier", body: `{"tier":"beta"}`, as: "admin.jwt"},
		{desc: "user id", method: "GET", path: adm + "/security-events?userId={v}", as: "admin.jwt"},
		{desc: "search", method: "GET", path: adm + "/users?search={v}", as: "admin.jwt"},
		{desc: "search with a tier", method: "GET", path: adm + "/users?tier=beta&search={v}", as: "admin.jwt"},
		{desc: "organization and user id", method: "GET", path: intl + "/org/{v}/member/{v}", as: "key"},
		{desc: "organization id", method: "GET", path: intl + "/org/{v}/member/" + a.id, as: "key"},
		{desc: "user id", method: "GET", path: intl + "/users/{v}/memberships", as: "key"},
	}
	send := func(t *testing.T, method, path, body, as string, hdr []string) resp {
		t.Helper()
		h := append([]string(nil), callers[as]...)
		return env.do(t, req{method: method, path: path, body: body, hdr: append(h, hdr...)})
	}
	for _, tc := range cases {
		for _, bad := range unstorable {
			if tc.hdr != nil && strings.Contains(bad.s, "\x00") {
				continue
			}
			t.Run(tc.method+" "+strings.SplitN(tc.path, "?", 2)[0]+": "+tc.desc+", "+bad.name, func(t *testing.T) {
				fill := func(v string) (path, body string, hdr []string) {
					path = strings.ReplaceAll(tc.path, "{v}", url.PathEscape(v))
					body = strings.ReplaceAll(tc.body, "{v}", strings.ReplaceAll(v, "\x00", `\u0000`))
					for _, h := range tc.hdr {
						hdr = append(hdr, strings.ReplaceAll(h, "{v}", v))
					}
					return path, body, hdr
				}
				before := env.snapshot(t)
				path, body, hdr := fill(bad.s)
				got := send(t, tc.method, path, body, tc.as, hdr)
				if got.status >= 500 {
					t.Fatalf("status %d, want the answer to an unknown value; body %s", got.status, short(got.raw))
				}
				env.unchanged(t, "the request", before)
				if tc.or400 && got.status == 400 {
					return
				}
				path, body, hdr = fill("nope")
				twin := send(t, tc.method, path, body, tc.as, hdr)
				if got.status != twin.status || errCode(got) != errCode(twin) {
					t.Errorf("answer %d %q, want %d %q as for an unknown value; body %s", got.status, errCode(got), twin.status, errCode(twin), short(got.raw))
				}
			})
		}
	}

	// Writes of such strings are refused with a 400 and store nothing.
	// (JSON bodies carry only the NUL: encoding/json replaces invalid
	// UTF-8 by U+FFFD.)
	writes := []struct {
		desc               string
		method, path, body string
		as                 string
		code               string
	}{
		{"sign-up name", "POST", "/api/auth/sign-up/email", `{"name":"a\u0000b","email":"nul@example.com","password":"password123"}`, "", ""},
		{"register name", "POST", v1 + "/register", `{"name":"a\u0000b","email":"nul@example.com","password":"password123"}`, "", "VALIDATION"},
		{"user name", "POST", "/api/auth/update-user", `{"name":"a\u0000b"}`, "a.cookie", ""},
		{"organization name", "POST", org + "/create", `{"name":"a\u0000b","slug":"nul-org"}`, "a.cookie", ""},
		{"organization slug", "POST", org + "/create", `{"name":"nul","slug":"nul\u0000org"}`, "a.cookie", ""},
		{"organization name", "POST", org + "/update", `{"organizationId":"` + aOrg + `","data":{"name":"a\u0000b"}}`, "a.cookie", ""},
		{"invitation email", "POST", org + "/invite-member", `{"email":"nul\u0000@example.com","role":"member","organizationId":"` + aOrg + `"}`, "a.cookie", ""},
	}
	for _, tc := range writes {
		t.Run(tc.method+" "+tc.path+": "+tc.desc+" with a NUL", func(t *testing.T) {
			before := env.snapshot(t)
			got := send(t, tc.method, tc.path, tc.body, tc.as, nil)
			if got.status != 400 || (tc.code != "" && errCode(got) != tc.code) {
				t.Errorf("answer %d %q, want 400 %s; body %s", got.status, errCode(got), tc.code, short(got.raw))
			}
			env.unchanged(t, "the request", before)
		})
	}

	// A User-Agent header may hold any bytes but NUL and CTLs: one that is
	// not UTF-8 neither refuses a sign-in nor keeps its security event
	// out of the log.
	for _, bad := range unstorable[:1] {
		ua := []string{"User-Agent", "Mozilla/5.0 " + bad.s}
		t.Run("sign-in with a User-Agent holding "+bad.name, func(t *testing.T) {
			r := send(t, "POST", "/api/auth/sign-in/email", `{"email":"alice@example.com","password":"password123"}`, "", ua)
			want(t, "sign-in", r, 200, "")
			sd, err := env.s.auth.GetSession(ctx, str(r.body["token"]))
			if err != nil {
				t.Fatal(err)
			}
			if got := *sd.Session.UserAgent; got != "Mozilla/5.0 \uFFFD(" {
				t.Errorf("session user agent %q", got)
			}
			failures := env.count(t, TableSecurityEvent, storage.W("eventType", EventLoginFailure))
			want(t, "login", send(t, "POST", v1+"/login", `{"email":"alice@example.com","password":"wrong-password"}`, "", ua), 401, "INVALID_CREDENTIALS")
			if n := env.count(t, TableSecurityEvent, storage.W("eventType", EventLoginFailure)); n != failures+1 {
				t.Errorf("%d LOGIN_FAILURE events after a failed login, want %d", n, failures+1)
			}
		})
	}

	// list-members filters by any operator with the caller's value: one
	// that no database stores compares as it would in byte order (the
	// only member's role is "owner").
	for _, tc := range []struct {
		op, v string
		want  int
	}{
		{"eq", "\xc3(", 0}, {"eq", "ow\x00ner", 0}, {"ne", "\xc3(", 1}, {"ne", "\x00", 1},
		{"lt", "\xc3(", 1}, {"lte", "\xed\xa0\x80", 1}, {"lt", "owner\x00", 1}, {"lt", "ow\x00", 0}, {"lt", "\x00", 0},
		{"gt", "\xc3(", 0}, {"gte", "ow\x00", 1}, {"gt", "owner\x00", 0}, {"gt", "\x00", 1}, {"gt", "\xff", 0}, {"lt", "\xff", 1},
		{"in", "\xc3(", 0}, {"in", "owner,\xc3(", 1}, {"not_in", "\xc3(", 1}, {"not_in", "owner,\x00", 0},
		{"contains", "\xc3(", 0}, {"contains", "\x00", 0}, {"starts_with", "ow\x00", 0}, {"ends_with", "\xed\xa0\x80", 0},
	} {
		t.Run(fmt.Sprintf("list-members filter role %s %q", tc.op, tc.v), func(t *testing.T) {
			q := url.Values{"organizationId": {aOrg}, "filterField": {"role"}, "filterOperator": {tc.op}, "filterValue": {tc.v}}
			got := send(t, "GET", org+"/list-members?"+q.Encode(), "", "a.cookie", nil)
			want(t, "list-members", got, 200, "")
			if n := len(arr(got.body["members"])); n != tc.want {
				t.Errorf("%d members, want %d; body %s", n, tc.want, short(got.raw))
			}
		})
	}

	// The admin search matches names in title case, rune by rune.
	for _, u := range []struct{ email, name string }{
		{"emile@example.com", "Émile Zola"}, {"strasse@example.com", "ßtraße"}, {"taro@example.com", "日本太郎"},
	} {
		usr := &auth.User{Name: u.name, Email: u.email, EmailVerified: true}
		if err := env.s.auth.Host().CreateUser(ctx, usr, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		search string
		want   []string
	}{
		{"émile", []string{"emile@example.com"}}, {"É", []string{"emile@example.com"}},
		{"ß", []string{"strasse@example.com"}}, {"ßtra", []string{"strasse@example.com"}},
		{"日本", []string{"taro@example.com"}}, {"a\x00", nil}, {"\xc3", nil},
	} {
		t.Run(fmt.Sprintf("admin search %q", tc.search), func(t *testing.T) {
			got := send(t, "GET", adm+"/users?search="+url.QueryEscape(tc.search), "", "admin.jwt", nil)
			want(t, "admin search", got, 200, "")
			var emails []string
			for _, u := range arr(got.body["users"]) {
				emails = append(emails, str(u.(map[string]any)["email"]))
			}
			if strings.Join(emails, " ") != strings.Join(tc.want, " ") {
				t.Errorf("found %q, want %q", emails, tc.want)
			}
		})
	}

	if n := env.count(t, TableSecurityEvent, storage.W("eventType", EventServiceError)); n != 0 {
		t.Errorf("%d SERVICE_ERROR security events, want none", n)
	}
}

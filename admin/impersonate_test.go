package admin_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/admin"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// setCookies returns the Set-Cookie headers of r by cookie name.
func setCookies(r reply) map[string]string {
	out := map[string]string{}
	for _, h := range r.header.Values("Set-Cookie") {
		name, _, _ := strings.Cut(h, "=")
		out[name] = h
	}
	return out
}

// TestImpersonation runs an impersonation from start to stop: the
// session, its cookies, what it may do, what the user sees, and the
// admin's session restored.
func TestImpersonation(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, kind string) {
		e := newEnv(t, envOpts{db: kind})
		adm := e.admin("root@example.com")
		bob := e.signUp("bob@example.com")
		carol := e.signUp("carol@example.com")
		adminToken := adm.session()["session"].(map[string]any)["token"].(string)
		e.clock.Set(e.clock.Now().Truncate(time.Second))
		now := e.clock.Now()

		r := adm.post("/admin/impersonate-user", map[string]any{"userId": bob.user})
		if r.status != 200 {
			t.Fatalf("impersonate-user: %d %s", r.status, r.raw)
		}
		s, u := r.obj("session"), r.obj("user")
		if s["impersonatedBy"] != adm.user || s["userId"] != bob.user || u["id"] != bob.user {
			t.Errorf("impersonation answer: %s", r.raw)
		}
		if exp, _ := time.Parse(time.RFC3339, s["expiresAt"].(string)); exp.Sub(now.Add(time.Hour)).Abs() > time.Second {
			t.Errorf("expiresAt %v, want about %v", exp, now.Add(time.Hour))
		}
		ck := setCookies(r)
		for name, want := range map[string]string{
			"better-auth.admin_session": "; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax",
			"better-auth.session_token": "; Path=/; HttpOnly; SameSite=Lax",
			"better-auth.dont_remember": "; Path=/; HttpOnly; SameSite=Lax",
		} {
			if !strings.HasSuffix(ck[name], want) || strings.HasPrefix(ck[name], name+"=;") {
				t.Errorf("Set-Cookie %s = %q, want a value and %q", name, ck[name], want)
			}
		}
		if v := adm.cookie("better-auth.admin_session").Value; !strings.HasPrefix(v, adminToken+":") && !strings.HasPrefix(v, strings.ReplaceAll(adminToken+":", ":", "%3A")) {
			t.Errorf("admin_session = %q, want the admin's token", v)
		}

		// The browser now acts as bob, with bob's permissions only.
		gs := adm.session()
		if gs["user"].(map[string]any)["id"] != bob.user || gs["session"].(map[string]any)["impersonatedBy"] != adm.user {
			t.Errorf("get-session while impersonating: %v", gs)
		}
		if r := adm.get("/admin/list-users", nil); r.status != 403 {
			t.Errorf("list-users while impersonating a user: %d", r.status)
		}
		if r := adm.post("/admin/impersonate-user", map[string]any{"userId": carol.user}); r.err().Code != "YOU_ARE_NOT_ALLOWED_TO_IMPERSONATE_USERS" {
			t.Errorf("impersonating while impersonating: %d %s", r.status, r.raw)
		}
		// Bob does not see it; the admin's list does.
		r = bob.do("GET", "/list-sessions", nil)
		var own []map[string]any
		if err := jsonUnmarshal(r.raw, &own); err != nil || r.status != 200 || len(own) != 1 || own[0]["impersonatedBy"] != nil {
			t.Errorf("bob's list-sessions: %d %s", r.status, r.raw)
		}
		r = e.admin("other@example.com").post("/admin/list-user-sessions", map[string]any{"userId": bob.user})
		if list, _ := r.body["sessions"].([]any); len(list) != 2 {
			t.Errorf("list-user-sessions: %s", r.raw)
		}
		if n := e.count(plugin.TableSession, storage.W("token", adminToken)); n != 1 {
			t.Errorf("the admin's session is gone while impersonating")
		}

		r = adm.post("/admin/stop-impersonating", nil)
		if r.status != 200 || r.obj("user")["id"] != adm.user || r.obj("session")["token"] != adminToken {
			t.Fatalf("stop-impersonating: %d %s", r.status, r.raw)
		}
		ck = setCookies(r)
		if !strings.HasPrefix(ck["better-auth.admin_session"], "better-auth.admin_session=; Max-Age=0") ||
			!strings.HasPrefix(ck["better-auth.dont_remember"], "better-auth.dont_remember=; Max-Age=0") {
			t.Errorf("stop-impersonating cookies: %v", ck)
		}
		if gs := adm.session(); gs["user"].(map[string]any)["id"] != adm.user {
			t.Errorf("get-session after stopping: %v", gs)
		}
		if n := e.count(plugin.TableSession, storage.Where{Field: admin.FieldImpersonatedBy, Op: storage.Ne, Value: nil}); n != 0 {
			t.Errorf("%d impersonation sessions left", n)
		}
		if diff := cmp.Diff(errBody{400, "", "You are not impersonating anyone"}, adm.post("/admin/stop-impersonating", nil).err()); diff != "" {
			t.Errorf("stopping twice (-want +got):\n%s", diff)
		}
	})
}

// TestImpersonationExpiry: the impersonation session ends after
// ImpersonationSessionDuration.
func TestImpersonationExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{opts: admin.Options{ImpersonationSessionDuration: 10 * time.Minute}})
	adm := e.admin("root@example.com")
	bob := e.signUp("bob@example.com")
	if r := adm.post("/admin/impersonate-user", map[string]any{"userId": bob.user}); r.status != 200 {
		t.Fatal(r.raw)
	}
	e.clock.Advance(9 * time.Minute)
	if adm.session() == nil {
		t.Fatal("the impersonation ended early")
	}
	e.clock.Advance(2 * time.Minute)
	if s := adm.session(); s != nil {
		t.Errorf("the impersonation outlived its duration: %v", s)
	}
}

// TestImpersonateAdmins: admins cannot be impersonated, unless
// AllowImpersonatingAdmins or user:impersonate-admins; an impersonated
// admin cannot impersonate in turn.
func TestImpersonateAdmins(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, kind string) {
		e := newEnv(t, envOpts{db: kind})
		adm := e.admin("root@example.com")
		other := e.admin("other@example.com")
		r := adm.post("/admin/impersonate-user", map[string]any{"userId": other.user})
		if diff := cmp.Diff(errBody{403, "YOU_CANNOT_IMPERSONATE_ADMINS", "You cannot impersonate admins"}, r.err()); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if r := adm.post("/admin/impersonate-user", map[string]any{"userId": adm.user}); r.err().Code != "YOU_CANNOT_IMPERSONATE_ADMINS" {
			t.Errorf("impersonating oneself: %d %s", r.status, r.raw)
		}
		if r := adm.post("/admin/impersonate-user", map[string]any{"userId": "nobody"}); r.status != 404 {
			t.Errorf("impersonating nobody: %d %s", r.status, r.raw)
		}

		e2 := newEnv(t, envOpts{db: kind, opts: admin.Options{AllowImpersonatingAdmins: true}})
		adm2 := e2.admin("root@example.com")
		other2 := e2.admin("other@example.com")
		plain2 := e2.signUp("plain@example.com")
		if r := adm2.post("/admin/impersonate-user", map[string]any{"userId": other2.user}); r.status != 200 {
			t.Fatalf("AllowImpersonatingAdmins: %d %s", r.status, r.raw)
		}
		r = adm2.post("/admin/impersonate-user", map[string]any{"userId": plain2.user})
		if r.err().Code != "YOU_ARE_NOT_ALLOWED_TO_IMPERSONATE_USERS" {
			t.Errorf("an impersonated admin impersonating: %d %s", r.status, r.raw)
		}
		if r := adm2.post("/admin/stop-impersonating", nil); r.status != 200 || r.obj("user")["id"] != adm2.user {
			t.Errorf("stop after the refused nesting: %d %s", r.status, r.raw)
		}

		ac := admin.DefaultAccessControl()
		super, err := ac.NewRole(admin.Statements{"user": {"impersonate", "impersonate-admins"}})
		if err != nil {
			t.Fatal(err)
		}
		e3 := newEnv(t, envOpts{db: kind, opts: admin.Options{Roles: map[string]admin.Role{"super": super, "admin": admin.AdminRole(), "user": admin.UserRole()}}})
		s3 := e3.signUp("super@example.com")
		e3.setRole(s3.user, "super")
		a3 := e3.admin("admin@example.com")
		if r := s3.post("/admin/impersonate-user", map[string]any{"userId": a3.user}); r.status != 200 {
			t.Errorf("impersonate-admins permission: %d %s", r.status, r.raw)
		}
	})
}

// TestImpersonateBanned: a banned user cannot be impersonated.
func TestImpersonateBanned(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	adm := e.admin("root@example.com")
	bob := e.signUp("bob@example.com")
	adm.post("/admin/ban-user", map[string]any{"userId": bob.user})
	if r := adm.post("/admin/impersonate-user", map[string]any{"userId": bob.user}); r.err().Code != "BANNED_USER" || r.status != 403 {
		t.Errorf("impersonating a banned user: %d %s", r.status, r.raw)
	}
	if gs := adm.session(); gs["user"].(map[string]any)["id"] != adm.user {
		t.Error("a refused impersonation changed the admin's session")
	}
}

// rawPost posts to path with a fixed Cookie header, outside any jar.
func rawPost(t *testing.T, e *env, path, cookie string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+"/api/auth"+path, nil)
	req.Header.Set("Origin", e.srv.URL)
	req.Header.Set("Cookie", cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func cookieHeader(b *browser) string {
	req, _ := http.NewRequest("GET", b.e.srv.URL, nil)
	var parts []string
	for _, c := range b.jar.Cookies(req.URL) {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

// TestStopImpersonating covers the refusals of stop-impersonating and
// runs it from many requests at once: it succeeds once.
func TestStopImpersonating(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, kind string) {
		e := newEnv(t, envOpts{db: kind})
		adm := e.admin("root@example.com")
		other := e.admin("other@example.com")
		bob := e.signUp("bob@example.com")
		if r := adm.post("/admin/impersonate-user", map[string]any{"userId": bob.user}); r.status != 200 {
			t.Fatal(r.raw)
		}
		if r := other.post("/admin/impersonate-user", map[string]any{"userId": bob.user}); r.status != 200 {
			t.Fatal(r.raw)
		}
		mine, theirs := cookieHeader(adm), cookieHeader(other)
		// The impersonation session without its admin_session cookie, and
		// with another admin's: refused, nothing ended.
		var withoutAdmin, swapped []string
		for _, c := range strings.Split(mine, "; ") {
			if !strings.HasPrefix(c, "better-auth.admin_session=") {
				withoutAdmin = append(withoutAdmin, c)
			}
		}
		swapped = append(swapped, withoutAdmin...)
		for _, c := range strings.Split(theirs, "; ") {
			if strings.HasPrefix(c, "better-auth.admin_session=") {
				swapped = append(swapped, c)
			}
		}
		for name, cookie := range map[string]string{"no admin cookie": strings.Join(withoutAdmin, "; "), "another admin's cookie": strings.Join(swapped, "; ")} {
			status, body := rawPost(t, e, "/admin/stop-impersonating", cookie)
			if status != 500 || body != `{"message":"Failed to find admin session"}` {
				t.Errorf("%s: %d %s", name, status, body)
			}
		}
		if n := e.count(plugin.TableSession, storage.W(admin.FieldImpersonatedBy, adm.user)); n != 1 {
			t.Fatalf("a refused stop ended the impersonation (%d left)", n)
		}
		const n = 6
		var wg sync.WaitGroup
		statuses := make([]int, n)
		for i := range n {
			wg.Go(func() { statuses[i], _ = rawPost(t, e, "/admin/stop-impersonating", mine) })
		}
		wg.Wait()
		ok := 0
		for _, s := range statuses {
			switch s {
			case 200:
				ok++
			case 401:
			default:
				t.Errorf("status %d", s)
			}
		}
		if ok != 1 {
			t.Errorf("%d stops succeeded (%v), want 1", ok, statuses)
		}
	})
}

// TestImpersonationData: the impersonations an admin opened are in their
// export and end with their erasure.
func TestImpersonationData(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	adm := e.admin("root@example.com")
	bob := e.signUp("bob@example.com")
	r := adm.post("/admin/impersonate-user", map[string]any{"userId": bob.user})
	sid := r.obj("session")["id"]
	out, err := e.a.ExportUser(context.Background(), adm.user)
	if err != nil {
		t.Fatal(err)
	}
	imps, _ := out["admin"].(map[string]any)["impersonations"].([]admin.ImpersonationRecord)
	if len(imps) != 1 || imps[0].SessionID != sid || imps[0].UserID != bob.user {
		t.Errorf("export: %#v", out["admin"])
	}
	if err := e.a.DeleteUser(context.Background(), adm.user); err != nil {
		t.Fatal(err)
	}
	if n := e.count(plugin.TableSession, storage.W("userId", bob.user)); n != 1 {
		t.Errorf("bob has %d sessions after the admin's erasure, want his own", n)
	}
}

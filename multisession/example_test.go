package multisession_test

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/multisession"
	"github.com/managarten/mana-auth/storage/memory"
)

// Example signs two users in in one browser, lists the browser's device
// sessions, switches to the first user and signs both out at once.
func Example() {
	ms, err := multisession.New(multisession.Options{MaximumSessions: 5})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	a, err := auth.New(auth.Config{BaseURL: base, Secret: "an-example-secret-of-at-least-32-characters"}, memory.New(), ms)
	if err != nil {
		log.Fatal(err)
	}
	srv.Config.Handler = a.Handler()
	srv.Start()
	defer srv.Close()

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	call := func(method, path, body string, out any) {
		req, _ := http.NewRequest(method, base+"/api/auth"+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", base)
		res, err := browser.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer res.Body.Close()
		if out != nil {
			_ = json.NewDecoder(res.Body).Decode(out)
		}
	}
	type device struct {
		Session struct{ Token string }
		User    struct{ Email string }
	}

	// Better Auth's client: authClient.signUp.email, twice.
	call("POST", "/sign-up/email", `{"email":"ada@example.com","password":"a long password","name":"Ada"}`, nil)
	call("POST", "/sign-up/email", `{"email":"bob@example.com","password":"a long password","name":"Bob"}`, nil)

	// authClient.multiSession.listDeviceSessions()
	var devices []device
	call("GET", "/multi-session/list-device-sessions", "", &devices)
	for _, d := range devices {
		fmt.Println("device session:", d.User.Email)
	}

	// authClient.multiSession.setActive({sessionToken})
	var active device
	call("POST", "/multi-session/set-active", `{"sessionToken":"`+devices[0].Session.Token+`"}`, &active)
	fmt.Println("active:", active.User.Email)

	// authClient.signOut() ends every session of the browser.
	call("POST", "/sign-out", `{}`, nil)
	devices = nil
	call("GET", "/multi-session/list-device-sessions", "", &devices)
	fmt.Println("after sign-out:", len(devices))
	// Output:
	// device session: ada@example.com
	// device session: bob@example.com
	// active: ada@example.com
	// after sign-out: 0
}

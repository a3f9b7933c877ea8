package verify_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/managarten/mana-auth/jwt/verify"
)

// What an auth server with the jwt plugin publishes and mints: its JWKS
// (GET /api/auth/jwks) and a token with the default claims, issued at
// issuedAt for 15 minutes (issuer https://auth.example.com, audience
// "mana", as the reference server's).
const (
	jwks  = `{"keys":[{"alg":"EdDSA","crv":"Ed25519","x":"eJ1mZqeYaQKe779cgMrFD5sgUFYZzToKnNFEqVA43-8","kty":"OKP","kid":"Fq3b7rM9xKpVw2LcTn8ZeYhA4sJuGd1Q"}]}`
	token = "eyJhbGciOiJFZERTQSIsImtpZCI6IkZxM2I3ck05eEtwVncyTGNUbjhaZVloQTRzSnVHZDFRIn0." +
		"eyJzdWIiOiJ1XzdIcTIiLCJlbWFpbCI6ImFkYUBleGFtcGxlLmNvbSIsInJvbGUiOiJ1c2VyIiwic2lkIjoic19LOXg0IiwiaWF0IjoxOTAwMDAwMDAwLCJleHAiOjE5MDAwMDA5MDAsImlzcyI6Imh0dHBzOi8vYXV0aC5leGFtcGxlLmNvbSIsImF1ZCI6Im1hbmEifQ." +
		"iK3q1frlf8c4ele4bFSCqYhHjQUkczfJ_NFVpKvlS0jLm1NU9SQXnPDh8xRs_5tiXfg7yhZ8eQOfaWkHphqCBQ"
)

var issuedAt = time.Unix(1_900_000_000, 0)

// authServer stands in for the auth server: it serves the JWKS.
func authServer() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, jwks)
	}))
}

// ExampleNew verifies a token in a service that knows only the auth
// server's JWKS URL.
func ExampleNew() {
	srv := authServer()
	defer srv.Close()

	v, err := verify.New(srv.URL+"/api/auth/jwks",
		verify.WithIssuer("https://auth.example.com"), verify.WithAudience("mana"),
		verify.WithNow(func() time.Time { return issuedAt.Add(time.Minute) })) // a real service leaves the clock alone
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	c, err := v.Verify(ctx, token)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Subject, c.Email, c.Role, c.SessionID, c.ExpiresAt.Sub(c.IssuedAt))

	// A tampered token is refused with a stable error code.
	_, err = v.Verify(ctx, token[:len(token)-2]+"AA")
	fmt.Println(err)
	// Output:
	// u_7Hq2 ada@example.com user s_K9x4 15m0s
	// jwt: INVALID_SIGNATURE: invalid signature
}

// ExampleNewStatic verifies against keys known in advance: a JWKS
// document read from configuration instead of fetched.
func ExampleNewStatic() {
	keys, err := verify.ParseJWKS([]byte(jwks))
	if err != nil {
		log.Fatal(err)
	}
	v, err := verify.NewStatic(keys, verify.WithIssuer("https://auth.example.com"), verify.WithAudience("mana"),
		verify.WithNow(func() time.Time { return issuedAt.Add(time.Hour) }))
	if err != nil {
		log.Fatal(err)
	}
	_, err = v.Verify(context.Background(), token)
	fmt.Println(err)
	var e *verify.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code, errors.Is(err, verify.ErrTokenExpired))
	}
	// Output:
	// jwt: TOKEN_EXPIRED: token expired
	// TOKEN_EXPIRED true
}

// ExampleMiddleware protects an API: the handlers read the claims from
// the request context; one route requires role "admin".
func ExampleMiddleware() {
	jwksSrv := authServer()
	defer jwksSrv.Close()
	v, err := verify.New(jwksSrv.URL, verify.WithIssuer("https://auth.example.com"), verify.WithAudience("mana"),
		verify.WithNow(func() time.Time { return issuedAt }))
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/me", verify.Middleware(v, verify.MiddlewareOptions{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := verify.ClaimsFrom(r.Context())
		fmt.Fprintf(w, "hello %s (%s)", c.Email, c.Role)
	})))
	mux.Handle("/admin", verify.Middleware(v, verify.MiddlewareOptions{RequireRole: []string{"admin"}})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "welcome, admin")
	})))
	api := httptest.NewServer(mux)
	defer api.Close()

	get := func(path, bearer string) {
		req, _ := http.NewRequest("GET", api.URL+path, nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		fmt.Println(resp.StatusCode, string(b))
		if h := resp.Header.Get("WWW-Authenticate"); h != "" {
			fmt.Println("  WWW-Authenticate:", h)
		}
	}
	get("/me", token)
	get("/me", "")
	get("/me", "not-a-jwt")
	get("/admin", token)
	// Output:
	// 200 hello ada@example.com (user)
	// 401 {"message":"missing bearer token","code":"MISSING_TOKEN"}
	//   WWW-Authenticate: Bearer
	// 401 {"message":"token is not a compact JWS (want 3 parts)","code":"MALFORMED_TOKEN"}
	//   WWW-Authenticate: Bearer error="invalid_token", error_description="token is not a compact JWS (want 3 parts)"
	// 403 {"message":"insufficient role","code":"INSUFFICIENT_ROLE"}
	//   WWW-Authenticate: Bearer error="insufficient_scope", error_description="insufficient role"
}

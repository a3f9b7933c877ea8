package openapi_test

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http/httptest"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/openapi"
	"github.com/managarten/mana-auth/storage/memory"
)

// Example mounts the plugin and fetches the document as a client would:
// it describes every route, its own two included.
func Example() {
	docs, err := openapi.New(openapi.Options{})
	if err != nil {
		log.Fatal(err)
	}
	a, err := auth.New(auth.Config{BaseURL: "https://auth.example.com", Secret: "a-secret-of-at-least-32-characters-long"}, memory.New(), docs)
	if err != nil {
		log.Fatal(err)
	}
	w := httptest.NewRecorder()
	a.Handler().ServeHTTP(w, httptest.NewRequest("GET", "https://auth.example.com/api/auth/open-api/generate-schema", nil))

	var doc openapi.Document
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		log.Fatal(err)
	}
	signIn := doc.Paths["/sign-in/email"].Post
	fmt.Println(w.Code, doc.OpenAPI, doc.Servers[0].URL)
	ops := 0
	for _, item := range doc.Paths {
		for _, op := range []*openapi.Operation{item.Get, item.Post} {
			if op != nil {
				ops++
			}
		}
	}
	fmt.Println("routes:", len(a.Routes()), "operations:", ops, "tags:", doc.Tags[0].Name, doc.Tags[1].Name)
	fmt.Println(signIn.OperationID, signIn.RequestBody.Content["application/json"].Schema.Required)
	fmt.Println(doc.Paths["/list-sessions"].Get.Security)
	// Output:
	// 200 3.1.1 https://auth.example.com/api/auth
	// routes: 25 operations: 25 tags: core open-api
	// signInEmail [email password]
	// [map[sessionCookie:[]] map[bearerAuth:[]]]
}

// ExampleGenerate writes the document of an Auth's routes without the
// plugin, as the mana-auth openapi command does.
func ExampleGenerate() {
	a, err := auth.New(auth.Config{BaseURL: "https://auth.example.com", Secret: "a-secret-of-at-least-32-characters-long"}, memory.New())
	if err != nil {
		log.Fatal(err)
	}
	doc, err := openapi.Generate(a.Host(), openapi.Info{Title: "Acme accounts", Version: "2.0.0"})
	if err != nil {
		log.Fatal(err)
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(doc.Info.Title, doc.Info.Version, len(out) > 0)
	fmt.Println(doc.Paths["/reset-password/{token}"].Get.Parameters[0].Name)
	// Output:
	// Acme accounts 2.0.0 true
	// token
}

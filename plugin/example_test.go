package plugin_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
)

// notesPlugin is a third-party plugin: a table, a route and a hook, written
// against the public API only.
type notesPlugin struct{ a plugin.Host }

func (p *notesPlugin) ID() string                  { return "notes" }
func (p *notesPlugin) Init(a plugin.Host) error    { p.a = a; return nil }
func (p *notesPlugin) ErrorCodes() []*plugin.Error { return []*plugin.Error{errEmptyNote} }

var errEmptyNote = plugin.NewError(http.StatusBadRequest, "EMPTY_NOTE", "A note needs a body")

func (p *notesPlugin) Schema() storage.Schema {
	return storage.Schema{Tables: []storage.Table{{Name: "note", Fields: []storage.Field{
		{Name: "userId", Type: storage.String, Required: true, Index: true,
			References: &storage.Reference{Table: "user", Field: "id", OnDelete: storage.Cascade}},
		{Name: "body", Type: storage.String, Required: true},
	}}}}
}
func (p *notesPlugin) Endpoints() []plugin.Endpoint {
	return []plugin.Endpoint{{
		Method: "POST", Path: "/notes", Auth: plugin.SessionRequired,
		Body: []plugin.Param{plugin.Required("body", plugin.KindString)},
		Handler: func(c *plugin.Context) (any, error) {
			if strings.TrimSpace(c.String("body")) == "" {
				return nil, errEmptyNote
			}
			id := plugin.NewID()
			err := p.a.DB().Create(c.Context(), "note", storage.Record{"id": id, "userId": c.Session().User.ID, "body": c.String("body")})
			if err != nil {
				return nil, plugin.StorageError(err)
			}
			return map[string]string{"id": id}, nil
		},
	}}
}

func Example() {
	p := &notesPlugin{}
	a, err := auth.New(auth.Config{
		BaseURL: "http://localhost:3000",
		Secret:  "an-example-secret-of-at-least-32-characters",
	}, memory.New(), p)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	res, _ := a.SignUpEmail(ctx, auth.SignUpInput{Name: "Ada", Email: "ada@example.com", Password: "correct horse"})

	post := func(body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "http://localhost:3000/api/auth/notes", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", "http://localhost:3000")
		req.AddCookie(res.Cookies[0])
		rec := httptest.NewRecorder()
		a.Handler().ServeHTTP(rec, req)
		return rec
	}
	fmt.Println(post(`{"body":"remember the milk"}`).Code)
	fmt.Println(post(`{"body":" "}`).Body)
	n, _ := a.Host().DB().Count(ctx, "note", storage.W("userId", res.User.ID))
	fmt.Println(n)
	// Output:
	// 200
	// {"message":"A note needs a body","code":"EMPTY_NOTE"}
	// 1
}

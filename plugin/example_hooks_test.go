package plugin_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"strings"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
)

// handlePlugin keeps a user field "handle" lower-case and refuses one
// that starts with "admin", on every write of user fields.
type handlePlugin struct{}

var errReservedHandle = plugin.NewError(http.StatusBadRequest, "RESERVED_HANDLE", "That handle is reserved")

func (handlePlugin) ID() string                  { return "handle" }
func (handlePlugin) ErrorCodes() []*plugin.Error { return []*plugin.Error{errReservedHandle} }
func (handlePlugin) Schema() storage.Schema {
	return storage.Schema{Tables: []storage.Table{{Name: plugin.TableUser, Fields: []storage.Field{
		{Name: "handle", Type: storage.String, Unique: true, Input: true},
	}}}}
}
func (handlePlugin) Hooks() plugin.Hooks {
	return plugin.Hooks{BeforeUserUpdate: func(ctx context.Context, userID string, fields map[string]any) error {
		h, ok := fields["handle"].(string)
		if !ok {
			return nil // not being set
		}
		h = strings.ToLower(h)
		if strings.HasPrefix(h, "admin") {
			return errReservedHandle
		}
		fields["handle"] = h // what is written
		return nil
	}}
}

// BeforeUserUpdate sees the fields of every update of a user — POST
// /update-user and auth.(*Auth).UpdateUser, Host.UpdateUser, … — and may
// normalise or refuse them.
func ExampleHooks_beforeUserUpdate() {
	a, err := auth.New(auth.Config{
		BaseURL: "http://localhost:3000",
		Secret:  "an-example-secret-of-at-least-32-characters",
	}, memory.New(), handlePlugin{})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	res, err := a.SignUpEmail(ctx, auth.SignUpInput{Name: "Ada", Email: "ada@example.com", Password: "correct horse"})
	if err != nil {
		log.Fatal(err)
	}
	u, err := a.UpdateUser(ctx, res.User.ID, auth.UpdateUserInput{Extra: map[string]any{"handle": "Ada_L"}})
	fmt.Println(u.Extra["handle"], err)
	_, err = a.Host().UpdateUser(ctx, res.User.ID, map[string]any{"handle": "Administrator"})
	fmt.Println(err)
	// Output:
	// ada_l <nil>
	// RESERVED_HANDLE: That handle is reserved
}

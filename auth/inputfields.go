package auth

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// Input fields: the user fields plugins declare with storage.Field.Input
// (Better Auth's input attribute), which the bodies of sign-up and
// update-user may set.

// inputField returns the user field called name if a plugin declared it
// with Input.
func (a *Auth) inputField(name string) (storage.Field, bool) {
	if userCore[name] {
		return storage.Field{}, false
	}
	f, ok := a.schema.Table(plugin.TableUser).Field(name)
	return f, ok && f.Input
}

// inputFieldsOf returns the values the body gives the input fields, as
// Go values of their types (strings, bools, int64, time.Time, nil), or
// the VALIDATION_ERROR of the first of the wrong type.
func (a *Auth) inputFieldsOf(body map[string]any) (map[string]any, error) {
	var out map[string]any
	for _, f := range a.schema.Table(plugin.TableUser).Fields {
		v, ok := body[f.Name]
		if !ok || !f.Input || userCore[f.Name] {
			continue
		}
		val, err := inputValue(f, v)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = map[string]any{}
		}
		out[f.Name] = val
	}
	return out, nil
}

// inputValue converts the JSON value v of field f to its Go type, worded
// as Zod words a wrong type.
func inputValue(f storage.Field, v any) (any, error) {
	path := "body." + f.Name
	if v == nil {
		if f.Required {
			return nil, plugin.InvalidInput(path, typeWord(f.Type), "null")
		}
		return nil, nil
	}
	switch f.Type {
	case storage.String:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case storage.Bool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case storage.Int:
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				return i, nil
			}
			return nil, plugin.InvalidInput(path, "int", "number")
		}
	case storage.Date:
		if s, ok := v.(string); ok {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				return t, nil
			}
		}
	}
	return nil, plugin.InvalidInput(path, typeWord(f.Type), plugin.JSONKind(v))
}

// typeWord names a field type as Zod's messages do.
func typeWord(t storage.FieldType) string {
	switch t {
	case storage.Bool:
		return "boolean"
	case storage.Int:
		return "number"
	case storage.Date:
		return "date"
	}
	return "string"
}

// checkInputFields checks the input-field values a Go caller gives
// SignUpEmail: each key an input field, each value of its type.
func (a *Auth) checkInputFields(m map[string]any) error {
	for k, v := range m {
		f, ok := a.inputField(k)
		if !ok {
			return ErrFieldNotAllowed.WithMessage(k + " is not allowed to be set")
		}
		if v == nil && f.Required {
			return plugin.InvalidInput("body."+k, typeWord(f.Type), "null")
		}
		if _, err := storage.Normalize(f.Type, v); err != nil {
			return plugin.InvalidInput("body."+k, typeWord(f.Type), plugin.JSONKind(v)).With(err)
		}
	}
	return nil
}

// errFailedToUpdateUser answers an update of a user whose write conflicted
// on a unique field that no BeforeUserUpdate hook claims (Better Auth's
// code); errors.Is matches it to storage.ErrConflict through cause.
func errFailedToUpdateUser(cause error) error {
	return plugin.NewError(http.StatusUnprocessableEntity, "FAILED_TO_UPDATE_USER", "Failed to update user").With(cause)
}

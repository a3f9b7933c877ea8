package plugin

import (
	"encoding/json"
)

// Kind is the expected JSON type of a body parameter.
type Kind int

// Parameter kinds.
const (
	KindString Kind = iota + 1
	KindEmail       // a string that must be an email address
	KindBool
	KindNumber
	KindObject
	KindArray
	KindAny
)

// String returns the kind's name as validation messages use it.
func (k Kind) String() string {
	switch k {
	case KindString, KindEmail:
		return "string"
	case KindBool:
		return "boolean"
	case KindNumber:
		return "number"
	case KindObject:
		return "object"
	case KindArray:
		return "array"
	}
	return "any"
}

// Param declares one body parameter of an endpoint. The pipeline checks
// declared parameters before the session and the handler run, answering
// 400 VALIDATION_ERROR with Better Auth's "[body.name] message" text.
type Param struct {
	Name     string
	Kind     Kind
	Optional bool
}

// JSONKind names the JSON type of a decoded value as validation messages
// do: "string", "number", "boolean", "object", "array", "null".
func JSONKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number, float64:
		return "number"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return "unknown"
}

// Required declares a body parameter that must be present, of kind k.
func Required(name string, k Kind) Param { return Param{Name: name, Kind: k} }

// Optional declares a body parameter that may be absent (or null).
func Optional(name string, k Kind) Param { return Param{Name: name, Kind: k, Optional: true} }

// InvalidInput is the 400 VALIDATION_ERROR for an input of the wrong type,
// worded as Zod words it in Better Auth's answers: "[path] Invalid input:
// expected <expected>, received <received>", with path such as
// "body.name" or "query.id" and received a JSONKind or "undefined".
func InvalidInput(path, expected, received string) *Error {
	return ErrValidation.WithMessage("[" + path + "] Invalid input: expected " + expected + ", received " + received)
}

package openapi

import "encoding/json"

// Version is the OpenAPI version of the documents Generate builds, the
// one Better Auth's open-api plugin writes.
const Version = "3.1.1"

// Document is an OpenAPI 3.1 document: the subset of the specification
// that Generate fills in. Marshalled with encoding/json it is the JSON
// document (map keys sorted, so the output is stable); an app may add to
// it (more servers, descriptions, its own paths) before marshalling.
type Document struct {
	// OpenAPI is the specification version, Version.
	OpenAPI string `json:"openapi"`
	// Info describes the API.
	Info Info `json:"info"`
	// Servers hold the URL the paths are relative to: BaseURL + BasePath.
	Servers []Server `json:"servers,omitempty"`
	// Tags group the operations: "core" and one per plugin ID.
	Tags []Tag `json:"tags,omitempty"`
	// Paths are the routes relative to the server URL, ":name" segments
	// written "{name}".
	Paths map[string]*PathItem `json:"paths"`
	// Components hold what operations refer to with $ref.
	Components Components `json:"components"`
}

// Info is the document's info object. Generate fills in what is empty:
// Title from the host's AppName, Description and Version with Better
// Auth's.
type Info struct {
	// Title names the API. Default: Settings.AppName, else "Better Auth".
	Title string `json:"title"`
	// Description describes it (CommonMark). Default Better Auth's "API
	// Reference for your Better Auth Instance".
	Description string `json:"description,omitempty"`
	// Version is the API's version. Default Better Auth's "1.1.0".
	Version string `json:"version"`
}

// Server is a server object: the URL the paths are relative to.
type Server struct {
	// URL is absolute, or relative to where the document is served from.
	URL string `json:"url"`
	// Description says which server it is.
	Description string `json:"description,omitempty"`
}

// Tag is a tag object: a group of operations.
type Tag struct {
	// Name is the tag operations list.
	Name string `json:"name"`
	// Description describes the group.
	Description string `json:"description,omitempty"`
}

// PathItem is a path item object: the operations of one path, by method.
type PathItem struct {
	Get     *Operation `json:"get,omitempty"`     // GET
	Put     *Operation `json:"put,omitempty"`     // PUT
	Post    *Operation `json:"post,omitempty"`    // POST
	Delete  *Operation `json:"delete,omitempty"`  // DELETE
	Options *Operation `json:"options,omitempty"` // OPTIONS
	Head    *Operation `json:"head,omitempty"`    // HEAD
	Patch   *Operation `json:"patch,omitempty"`   // PATCH
	Trace   *Operation `json:"trace,omitempty"`   // TRACE
}

// slot returns the field of the method (upper case), or nil for a method
// OpenAPI 3.1 cannot express.
func (p *PathItem) slot(method string) **Operation {
	switch method {
	case "GET":
		return &p.Get
	case "PUT":
		return &p.Put
	case "POST":
		return &p.Post
	case "DELETE":
		return &p.Delete
	case "OPTIONS":
		return &p.Options
	case "HEAD":
		return &p.Head
	case "PATCH":
		return &p.Patch
	case "TRACE":
		return &p.Trace
	}
	return nil
}

// Operation is an operation object: one route.
type Operation struct {
	// Tags holds the tag of the plugin that declared the route.
	Tags []string `json:"tags,omitempty"`
	// Description says what the route requires and accepts (CommonMark).
	Description string `json:"description,omitempty"`
	// OperationID names the operation uniquely in the document.
	OperationID string `json:"operationId"`
	// Parameters are the path and query parameters.
	Parameters []Parameter `json:"parameters,omitempty"`
	// RequestBody is the body, nil for routes that read none.
	RequestBody *RequestBody `json:"requestBody,omitempty"`
	// Responses are the answers by status code.
	Responses map[string]*Response `json:"responses"`
	// Security lists the alternative credentials the route accepts;
	// an empty requirement ({}) among them makes them optional.
	Security []SecurityRequirement `json:"security,omitempty"`
}

// Parameter is a parameter object.
type Parameter struct {
	// Name is the parameter's name.
	Name string `json:"name"`
	// In is "path" or "query".
	In string `json:"in"`
	// Description describes it.
	Description string `json:"description,omitempty"`
	// Required is always true for path parameters.
	Required bool `json:"required,omitempty"`
	// Schema is the value's schema.
	Schema *Schema `json:"schema"`
}

// RequestBody is a request body object.
type RequestBody struct {
	// Description describes the body.
	Description string `json:"description,omitempty"`
	// Required reports that the route refuses a request without a body.
	Required bool `json:"required,omitempty"`
	// Content holds the body's schema by media type.
	Content map[string]*MediaType `json:"content"`
}

// MediaType is a media type object.
type MediaType struct {
	// Schema is the body's schema.
	Schema *Schema `json:"schema,omitempty"`
	// Examples are named examples of the body, usually $refs to
	// Components.Examples.
	Examples map[string]*Example `json:"examples,omitempty"`
}

// Example is an example object, or a reference to one.
type Example struct {
	// Ref is "#/components/examples/<name>"; the other fields are then
	// empty.
	Ref string `json:"$ref,omitempty"`
	// Summary describes the example in a line.
	Summary string `json:"summary,omitempty"`
	// Value is the example's value.
	Value any `json:"value,omitempty"`
}

// Response is a response object, or a reference to one.
type Response struct {
	// Ref is "#/components/responses/<name>"; the other fields are then
	// empty.
	Ref string `json:"$ref,omitempty"`
	// Description describes the answer (required unless Ref is set).
	Description string `json:"description,omitempty"`
	// Headers are the response headers worth knowing (Location,
	// X-Retry-After).
	Headers map[string]*Header `json:"headers,omitempty"`
	// Content holds the body's schema by media type.
	Content map[string]*MediaType `json:"content,omitempty"`
}

// Header is a header object.
type Header struct {
	// Description describes the header.
	Description string `json:"description,omitempty"`
	// Schema is the header value's schema.
	Schema *Schema `json:"schema"`
}

// Schema is a JSON Schema (2020-12, OpenAPI 3.1's dialect). The empty
// Schema accepts any value.
type Schema struct {
	// Ref is "#/components/schemas/<name>".
	Ref string `json:"$ref,omitempty"`
	// Type is the JSON type, or several ("string", "null").
	Type Types `json:"type,omitempty"`
	// Format refines a string type ("email").
	Format string `json:"format,omitempty"`
	// Description describes the value.
	Description string `json:"description,omitempty"`
	// Properties are an object's known members.
	Properties map[string]*Schema `json:"properties,omitempty"`
	// Required lists the members that must be present.
	Required []string `json:"required,omitempty"`
	// Items is the schema of an array's items.
	Items *Schema `json:"items,omitempty"`
}

// Types is the type keyword of a Schema: one type is written as a string,
// several as an array (OpenAPI 3.1), none leaves the keyword out.
type Types []string

// MarshalJSON writes one type as a string, several as an array.
func (t Types) MarshalJSON() ([]byte, error) {
	if len(t) == 1 {
		return json.Marshal(t[0])
	}
	return json.Marshal([]string(t))
}

// UnmarshalJSON reads a string or an array of strings.
func (t *Types) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*t = Types{one}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(t))
}

// Components is the components object.
type Components struct {
	// Schemas holds "Error", Better Auth's error body {message, code}.
	Schemas map[string]*Schema `json:"schemas,omitempty"`
	// Responses holds the error responses operations share, named
	// "<tag>.<status>" (with a suffix when a tag has several of a status).
	Responses map[string]*Response `json:"responses,omitempty"`
	// Examples holds one error body per declared error code, named
	// "<tag>.<CODE>".
	Examples map[string]*Example `json:"examples,omitempty"`
	// SecuritySchemes holds "sessionCookie" and "bearerAuth".
	SecuritySchemes map[string]*SecurityScheme `json:"securitySchemes,omitempty"`
}

// SecurityScheme is a security scheme object.
type SecurityScheme struct {
	// Type is "apiKey" or "http".
	Type string `json:"type"`
	// Description says how to obtain the credential.
	Description string `json:"description,omitempty"`
	// Name is the cookie's or header's name (apiKey).
	Name string `json:"name,omitempty"`
	// In is "cookie" or "header" (apiKey).
	In string `json:"in,omitempty"`
	// Scheme is the HTTP authorization scheme ("bearer").
	Scheme string `json:"scheme,omitempty"`
}

// SecurityRequirement names the schemes a request must satisfy together
// (scheme name → scopes, always empty here).
type SecurityRequirement map[string][]string

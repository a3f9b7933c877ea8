// Package openapi is Better Auth's open-api plugin: an OpenAPI 3.1
// document of every route the auth server mounts, served at
// GET /open-api/generate-schema, and an API reference page (Scalar) at
// GET /reference, both under BasePath as in Better Auth 1.7.
//
// Usage:
//
//	docs, err := openapi.New(openapi.Options{})
//	if err != nil { … }
//	a, err := auth.New(auth.Config{…}, db, twofactor.New(…), docs)
//
// The document is built from the declarations of the mounted endpoints
// (plugin.Host.Endpoints) and the error codes their plugins declare
// (plugin.Host.ErrorCodes), so it lists every route, the core's and every
// plugin's, and no other: each operation has its plugin as tag ("core"
// for the core), an operationId (Better Auth's where it has one), its
// path parameters, its body parameters with their JSON types (and form
// encoding where the route accepts it), the session it requires (cookie
// or bearer token), and per status the error codes it may answer, as
// examples of Better Auth's error body {message, code}; 429 carries the
// X-Retry-After header. Routes declare no response shape, so a 200 is
// any JSON value.
//
// Generate builds the same document without the plugin, for a command
// that writes it to a file:
//
//	doc, err := openapi.Generate(a.Host(), openapi.Info{})
//	out, err := json.MarshalIndent(doc, "", "  ")
//
// # Security
//
// The document reveals nothing a client could not learn by calling the
// routes, but it does list them all: set DisableDefaultReference (or mount
// no plugin and use Generate) where that matters. The reference page
// loads Scalar's script on the auth server's origin, where a script can
// call every route with the visitor's session cookie: pin its version or
// serve a copy (Options.ScriptURL) with Options.ScriptIntegrity.
package openapi

package apikey

import (
	"bytes"
	"encoding/json"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/managarten/mana-auth/plugin"
)

// handleCreate is POST /api-key/create.
func (p *Plugin) handleCreate(c *plugin.Context) (any, error) {
	b, err := readBody(c)
	if err != nil {
		return nil, err
	}
	ck := checker{b: b, at: "body"}
	ck.str("configId")
	name := ck.str("name")
	expiresIn := ck.num("expiresIn", true, 1)
	prefix := ck.str("prefix")
	if prefix != nil && !prefixPattern.MatchString(*prefix) {
		ck.issue("prefix", "Invalid prefix format, must be alphanumeric and contain only underscores and hyphens.")
	}
	remaining := ck.num("remaining", true, 0)
	metadata := b["metadata"]
	refillAmount := ck.num("refillAmount", false, 1)
	refillInterval := ck.num("refillInterval", false, math.Inf(-1))
	rateLimitWindow := ck.num("rateLimitTimeWindow", false, math.Inf(-1))
	rateLimitMax := ck.num("rateLimitMax", false, math.Inf(-1))
	rateLimitEnabled := ck.bool("rateLimitEnabled")
	permissions := ck.record("permissions", false)
	if err := ck.err(); err != nil {
		return nil, err
	}
	// What only the server may set; remaining may be null.
	if refillAmount != nil || refillInterval != nil || rateLimitMax != nil || rateLimitWindow != nil ||
		rateLimitEnabled != nil || permissions != nil || remaining != nil && !remaining.null {
		return nil, ErrServerOnlyProperty
	}
	if _, ok := b["userId"]; ok { // a client may not name the user
		return nil, ErrUnauthorizedSession
	}
	sd := c.Session()
	if sd == nil {
		return nil, ErrUnauthorizedSession
	}
	a := createArgs{userID: sd.User.ID, name: name, metadata: metadata}
	if prefix != nil {
		a.prefix = *prefix
	}
	if expiresIn != nil && !expiresIn.null {
		d := seconds(expiresIn.v)
		a.expiresIn = &d
	}
	return p.create(c.Context(), a)
}

// handleGet is GET /api-key/get?id=….
func (p *Plugin) handleGet(c *plugin.Context) (any, error) {
	ck := checker{q: c.Request().URL.Query(), at: "query"}
	ck.queryStr("configId", false)
	id := ck.queryStr("id", true)
	if err := ck.err(); err != nil {
		return nil, err
	}
	sd := c.Session()
	if sd == nil {
		return nil, errUnauthorized()
	}
	return p.GetKey(c.Context(), sd.User.ID, id)
}

// handleList is GET /api-key/list.
func (p *Plugin) handleList(c *plugin.Context) (any, error) {
	ck := checker{q: c.Request().URL.Query(), at: "query"}
	cfg := ck.queryStr("configId", false)
	org := ck.queryStr("organizationId", false)
	limit := ck.queryInt("limit")
	offset := ck.queryInt("offset")
	sortBy := ck.queryStr("sortBy", false)
	dir := ck.queryStr("sortDirection", false)
	if ck.q.Has("sortDirection") && dir != "asc" && dir != "desc" && len(ck.q["sortDirection"]) == 1 {
		ck.issue("sortDirection", `Invalid option: expected one of "asc"|"desc"`)
	}
	if err := ck.err(); err != nil {
		return nil, err
	}
	sd := c.Session()
	if sd == nil {
		return nil, errUnauthorized()
	}
	if org != "" {
		// Keys owned by organizations are not supported: an
		// organization has none.
		return &KeyList{Keys: []*Key{}, Limit: limit, Offset: offset}, nil
	}
	return p.ListKeys(c.Context(), sd.User.ID, ListOptions{Limit: limit, Offset: offset, SortBy: sortBy,
		Desc: dir == "desc", ConfigID: cfg})
}

// handleUpdate is POST /api-key/update.
func (p *Plugin) handleUpdate(c *plugin.Context) (any, error) {
	b, err := readBody(c)
	if err != nil {
		return nil, err
	}
	ck := checker{b: b, at: "body"}
	ck.str("configId")
	keyID := ck.required("keyId")
	name := ck.str("name")
	enabled := ck.bool("enabled")
	remaining := ck.num("remaining", false, 1)
	refillAmount := ck.num("refillAmount", false, math.Inf(-1))
	refillInterval := ck.num("refillInterval", false, math.Inf(-1))
	metadata := b["metadata"]
	expiresIn := ck.num("expiresIn", true, 1)
	rateLimitEnabled := ck.bool("rateLimitEnabled")
	rateLimitWindow := ck.num("rateLimitTimeWindow", false, math.Inf(-1))
	rateLimitMax := ck.num("rateLimitMax", false, math.Inf(-1))
	permissions := ck.record("permissions", true)
	if err := ck.err(); err != nil {
		return nil, err
	}
	sd := c.Session()
	if sd == nil {
		return nil, ErrUnauthorizedSession
	}
	if uid := coerceString(b["userId"]); uid != "" && uid != sd.User.ID {
		return nil, ErrUnauthorizedSession
	}
	if refillAmount != nil || refillInterval != nil || rateLimitMax != nil || rateLimitWindow != nil ||
		rateLimitEnabled != nil || remaining != nil || permissions != nil {
		return nil, ErrServerOnlyProperty
	}
	in := UpdateInput{Name: name, Metadata: metadata}
	if enabled != nil {
		in.Enabled = &enabled.v
	}
	if expiresIn != nil {
		var d time.Duration // null: no expiry
		if !expiresIn.null {
			d = seconds(expiresIn.v)
		}
		in.ExpiresIn = &d
	}
	return p.update(c.Context(), sd.User.ID, keyID, in)
}

// handleDelete is POST /api-key/delete.
func (p *Plugin) handleDelete(c *plugin.Context) (any, error) {
	b, err := readBody(c)
	if err != nil {
		return nil, err
	}
	ck := checker{b: b, at: "body"}
	ck.str("configId")
	keyID := ck.required("keyId")
	if err := ck.err(); err != nil {
		return nil, err
	}
	sd := c.Session()
	if sd == nil {
		return nil, errUnauthorized()
	}
	if b, _ := sd.User.Extra["banned"].(bool); b {
		return nil, ErrUserBanned
	}
	if err := p.DeleteKey(c.Context(), sd.User.ID, keyID); err != nil {
		return nil, err
	}
	return map[string]bool{"success": true}, nil
}

// seconds converts Better Auth's expiresIn (seconds, a JSON number) to a
// Duration, saturating beyond a century (then too large for any bound).
func seconds(s float64) time.Duration {
	if s*float64(time.Second) >= float64(maxDuration) {
		return maxDuration + time.Second
	}
	return time.Duration(s * float64(time.Second))
}

// readBody decodes the JSON body as an object of raw values, or answers
// Zod's "[body] Invalid input: expected object, received …".
func readBody(c *plugin.Context) (map[string]json.RawMessage, error) {
	raw, present := c.RawBody()
	if !present {
		return nil, plugin.InvalidInput("body", "object", "undefined")
	}
	if k := jsonKind(raw); k != "object" {
		return nil, plugin.InvalidInput("body", "object", k)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, plugin.ErrValidation.WithMessage("[body] Invalid input")
	}
	return m, nil
}

// jsonKind names the type of a JSON value as Zod's messages do.
func jsonKind(raw json.RawMessage) string {
	v := bytes.TrimSpace(raw)
	if len(v) == 0 {
		return "undefined"
	}
	switch v[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// coerceString is Zod's z.coerce.string() of a body value, as far as it
// matters here: "" for an absent value or an empty string or array.
func coerceString(raw json.RawMessage) string {
	switch jsonKind(raw) {
	case "undefined":
		return ""
	case "string":
		var s string
		_ = json.Unmarshal(raw, &s)
		return s
	case "array":
		var a []any
		if json.Unmarshal(raw, &a) == nil && len(a) == 0 {
			return ""
		}
	}
	return string(bytes.TrimSpace(raw))
}

// checker validates a body (or query string) as Zod does, collecting
// the issues in the schema's order: "[body.name] Invalid input:
// expected string, received number; …".
type checker struct {
	b      map[string]json.RawMessage
	q      url.Values
	at     string
	issues []string
}

func (ck *checker) issue(field, msg string) {
	ck.issues = append(ck.issues, "["+ck.at+"."+field+"] "+msg)
}

func (ck *checker) mismatch(field, want, got string) {
	ck.issue(field, "Invalid input: expected "+want+", received "+got)
}

// err returns the issues as a 400 VALIDATION_ERROR, or nil.
func (ck *checker) err() error {
	if len(ck.issues) == 0 {
		return nil
	}
	return plugin.ErrValidation.WithMessage(strings.Join(ck.issues, "; "))
}

// str reads an optional string (nil if absent; null is an issue).
func (ck *checker) str(field string) *string {
	raw, ok := ck.b[field]
	if !ok {
		return nil
	}
	if k := jsonKind(raw); k != "string" {
		ck.mismatch(field, "string", k)
		return nil
	}
	var s string
	_ = json.Unmarshal(raw, &s)
	return &s
}

// required reads a required string.
func (ck *checker) required(field string) string {
	if _, ok := ck.b[field]; !ok {
		ck.mismatch(field, "string", "undefined")
		return ""
	}
	if s := ck.str(field); s != nil {
		return *s
	}
	return ""
}

// number is an optional number that was present: its value, or null.
type number struct {
	v    float64
	null bool
}

// num reads an optional number at least min (nil if absent; null
// allowed if nullable).
func (ck *checker) num(field string, nullable bool, min float64) *number {
	raw, ok := ck.b[field]
	if !ok {
		return nil
	}
	switch k := jsonKind(raw); {
	case k == "null" && nullable:
		return &number{null: true}
	case k != "number":
		ck.mismatch(field, "number", k)
		return nil
	}
	f, err := strconv.ParseFloat(string(bytes.TrimSpace(raw)), 64)
	if err != nil { // beyond float64: JavaScript reads ±Infinity
		ck.mismatch(field, "number", "Infinity")
		return nil
	}
	if f < min {
		ck.issue(field, "Too small: expected number to be >="+strconv.FormatFloat(min, 'f', -1, 64))
		return nil
	}
	return &number{v: f}
}

// boolean is an optional boolean that was present.
type boolean struct{ v bool }

// bool reads an optional boolean (nil if absent).
func (ck *checker) bool(field string) *boolean {
	raw, ok := ck.b[field]
	if !ok {
		return nil
	}
	if k := jsonKind(raw); k != "boolean" {
		ck.mismatch(field, "boolean", k)
		return nil
	}
	return &boolean{v: string(bytes.TrimSpace(raw)) == "true"}
}

// record reads an optional z.record(z.string(), z.array(z.string()))
// (nil if absent; a pointer to nil for null when nullable).
func (ck *checker) record(field string, nullable bool) *Permissions {
	raw, ok := ck.b[field]
	if !ok {
		return nil
	}
	switch k := jsonKind(raw); {
	case k == "null" && nullable:
		return new(Permissions)
	case k != "object":
		ck.mismatch(field, "record", k)
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		ck.mismatch(field, "record", "object")
		return nil
	}
	out := Permissions{}
	n := len(ck.issues)
	for _, res := range sortedKeys(raw, m) {
		v := m[res]
		if k := jsonKind(v); k != "array" {
			ck.mismatch(field+"."+res, "array", k)
			continue
		}
		var items []json.RawMessage
		_ = json.Unmarshal(v, &items)
		acts := make([]string, 0, len(items))
		for i, it := range items {
			var s string
			if k := jsonKind(it); k != "string" {
				ck.mismatch(field+"."+res+"."+strconv.Itoa(i), "string", k)
				continue
			}
			_ = json.Unmarshal(it, &s)
			acts = append(acts, s)
		}
		out[res] = acts
	}
	if len(ck.issues) > n {
		return nil
	}
	return &out
}

// sortedKeys returns the keys of the object raw in their order in raw
// (Zod reports issues in the input's order).
func sortedKeys(raw json.RawMessage, m map[string]json.RawMessage) []string {
	d := json.NewDecoder(bytes.NewReader(raw))
	var keys []string
	seen := map[string]bool{}
	if _, err := d.Token(); err != nil { // {
		return nil
	}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			break
		}
		k, _ := t.(string)
		if !seen[k] {
			if _, ok := m[k]; ok {
				keys = append(keys, k)
				seen[k] = true
			}
		}
		var skip json.RawMessage
		if d.Decode(&skip) != nil {
			break
		}
	}
	return keys
}

// queryStr reads a query parameter declared z.string() ("" if absent).
// A parameter given twice is an array to Better Auth.
func (ck *checker) queryStr(field string, required bool) string {
	vs, ok := ck.q[field]
	switch {
	case !ok && required:
		ck.mismatch(field, "string", "undefined")
	case len(vs) > 1:
		ck.mismatch(field, "string", "array")
	case ok:
		return vs[0]
	}
	return ""
}

// queryInt reads a query parameter declared
// z.coerce.number().int().nonnegative() (nil if absent).
func (ck *checker) queryInt(field string) *int {
	vs, ok := ck.q[field]
	if !ok {
		return nil
	}
	f := math.NaN()
	if len(vs) == 1 { // Number(array) is NaN
		s := strings.TrimSpace(vs[0])
		if s == "" {
			f = 0 // Number("") is 0
		} else if v, err := strconv.ParseFloat(s, 64); err == nil || math.IsInf(v, 0) {
			f = v
		}
	}
	switch {
	case math.IsNaN(f):
		ck.mismatch(field, "number", "NaN")
	case math.IsInf(f, 0) || f != math.Trunc(f):
		ck.mismatch(field, "int", "number")
	case f < 0:
		ck.issue(field, "Too small: expected number to be >=0")
	case f > math.MaxInt32:
		n := math.MaxInt32
		return &n
	default:
		n := int(f)
		return &n
	}
	return nil
}

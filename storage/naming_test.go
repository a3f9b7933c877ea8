package storage_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/storage"
)

// namingSchema is a small schema in Better Auth's default names, with a
// CHECK over a renamed column.
func namingSchema() storage.Schema {
	return storage.Schema{Tables: []storage.Table{
		{Name: "user", Fields: []storage.Field{
			{Name: "email", Type: storage.String, Required: true, Unique: true},
			{Name: "emailVerified", Type: storage.Bool, Required: true},
			{Name: "role", Type: storage.String},
			{Name: "createdAt", Type: storage.Date, Required: true},
		}},
		{Name: "session", Fields: []storage.Field{
			{Name: "userId", Type: storage.String, Required: true,
				References: &storage.Reference{Table: "user", Field: "id", OnDelete: storage.Cascade}},
			{Name: "expiresAt", Type: storage.Date, Required: true},
		}},
		{Name: "encryption_vaults", Fields: []storage.Field{
			{Name: "wrappedMk", Column: "wrapped_mk", Type: storage.String},
			{Name: "recoveryWrappedMk", Column: "recovery_wrapped_mk", Type: storage.String},
		}, Checks: []storage.Check{{Name: "has_wrap",
			Expr: `"wrapped_mk" IS NOT NULL OR "recovery_wrapped_mk" IS NOT NULL OR 'wrapped_mk' = "x""y"`}}},
	}}
}

func TestNamingApply(t *testing.T) {
	s := namingSchema()
	n := storage.Naming{
		Plural: true,
		Tables: map[string]string{"encryption_vaults": "encryption_vaults"},
		Fields: map[string]map[string]string{
			"user":              {"emailVerified": "email_verified", "createdAt": "created_at"},
			"session":           {"userId": "user_id"},
			"encryption_vaults": {"wrappedMk": "wrapped_master_key"},
		},
		Types: map[string]map[string]string{"user": {"role": "auth.user_role"}},
	}
	if err := n.Apply(&s); err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	type col struct{ Field, Column, DBType string }
	got := map[string][]col{}
	for _, tb := range s.Tables {
		for _, f := range tb.AllFields() {
			got[tb.TableName()] = append(got[tb.TableName()], col{f.Name, f.ColumnName(), f.DBType})
		}
	}
	want := map[string][]col{
		"users": {{"id", "id", ""}, {"email", "email", ""}, {"emailVerified", "email_verified", ""},
			{"role", "role", "auth.user_role"}, {"createdAt", "created_at", ""}},
		"sessions":          {{"id", "id", ""}, {"userId", "user_id", ""}, {"expiresAt", "expiresAt", ""}},
		"encryption_vaults": {{"id", "id", ""}, {"wrappedMk", "wrapped_master_key", ""}, {"recoveryWrappedMk", "recovery_wrapped_mk", ""}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	if got, want := s.Tables[2].Checks[0].Expr, `"wrapped_master_key" IS NOT NULL OR "recovery_wrapped_mk" IS NOT NULL OR 'wrapped_mk' = "x""y"`; got != want {
		t.Errorf("check expression = %s, want %s", got, want)
	}
	// The declared schema is not changed through shared slices.
	if orig := namingSchema(); orig.Tables[0].Fields[1].Column != "" {
		t.Error("Apply changed the declaration")
	}
}

func TestNamingApplyZero(t *testing.T) {
	s := namingSchema()
	if err := (storage.Naming{}).Apply(&s); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(namingSchema(), s, cmp.Comparer(func(a, b storage.Check) bool { return a.Name == b.Name && a.Expr == b.Expr })); diff != "" {
		t.Errorf("the zero Naming changed the schema (-want +got):\n%s", diff)
	}
}

func TestNamingApplyErrors(t *testing.T) {
	tests := []struct {
		name string
		n    storage.Naming
		want []string
	}{
		{"unknown table", storage.Naming{Tables: map[string]string{"users": "users"}},
			[]string{`tables: unknown table "users"`}},
		{"unknown table in fields", storage.Naming{Fields: map[string]map[string]string{"usr": {"email": "e"}}},
			[]string{`fields: unknown table "usr"`}},
		{"unknown field", storage.Naming{Fields: map[string]map[string]string{"user": {"email_verified": "email_verified"}}},
			[]string{`fields: table "user" has no field "email_verified"`}},
		{"unknown field in types", storage.Naming{Types: map[string]map[string]string{"user": {"rol": "auth.user_role"}}},
			[]string{`types: table "user" has no field "rol"`}},
		{"empty table name", storage.Naming{Tables: map[string]string{"user": ""}},
			[]string{`tables: table "user": empty name`}},
		{"invalid table name", storage.Naming{Tables: map[string]string{"user": `users"; drop`}},
			[]string{`tables: table "user": invalid table name "users\"; drop"`}},
		{"empty column", storage.Naming{Fields: map[string]map[string]string{"user": {"email": ""}}},
			[]string{`fields: user.email: empty column name`}},
		{"invalid column", storage.Naming{Fields: map[string]map[string]string{"user": {"email": "e-mail"}}},
			[]string{`fields: user.email: invalid column name "e-mail"`}},
		{"id renamed", storage.Naming{Fields: map[string]map[string]string{"user": {"id": "user_id"}}},
			[]string{`fields: user.id: the id column cannot be renamed`}},
		{"type of a date", storage.Naming{Types: map[string]map[string]string{"user": {"createdAt": "timestamp"}}},
			[]string{`types: user.createdAt: a database type can only be given to a string field, not a date`}},
		{"invalid type", storage.Naming{Types: map[string]map[string]string{"user": {"role": "varchar(10)"}}},
			[]string{`types: user.role: invalid type "varchar(10)"`}},
		{"empty type", storage.Naming{Types: map[string]map[string]string{"user": {"role": ""}}},
			[]string{`types: user.role: empty type`}},
		{"column named twice", storage.Naming{Fields: map[string]map[string]string{"user": {"emailVerified": "email", "role": "EMAIL"}}},
			[]string{`table user (user): fields email, emailVerified, role all map to column "email"`}},
		{"column of an unrenamed field", storage.Naming{Fields: map[string]map[string]string{"session": {"expiresAt": "userId"}}},
			[]string{`table session (session): fields userId, expiresAt all map to column "userid"`}},
		{"column named id", storage.Naming{Fields: map[string]map[string]string{"session": {"userId": "id"}}},
			[]string{`table session (session): fields id, userId all map to column "id"`}},
		{"table named twice", storage.Naming{Tables: map[string]string{"user": "accounts", "session": "Accounts"}},
			[]string{`tables user, session all map to table "accounts"`}},
		{"plural onto a named table", storage.Naming{Plural: true, Tables: map[string]string{"user": "sessions"}},
			[]string{`tables user, session all map to table "sessions"`}},
		{"every problem at once", storage.Naming{
			Tables: map[string]string{"nope": "x", "user": ""},
			Fields: map[string]map[string]string{"user": {"nope": "x"}}},
			[]string{`tables: unknown table "nope"`, `tables: table "user": empty name`, `fields: table "user" has no field "nope"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := namingSchema()
			err := tt.n.Apply(&s)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %s", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "storage: naming:") {
				t.Errorf("error %q does not start with storage: naming:", err)
			}
			if diff := cmp.Diff(namingSchema().Tables[0].Fields, s.Tables[0].Fields); diff != "" || s.Tables[0].DBName != "" {
				t.Errorf("a refused naming changed the schema:\n%s", diff)
			}
		})
	}
}

func TestNamingJSON(t *testing.T) {
	const file = `{
  "plural": true,
  "tables": {"verification": "verification"},
  "fields": {"user": {"emailVerified": "email_verified"}},
  "types": {"user": {"role": "auth.user_role"}}
}`
	var n storage.Naming
	if err := json.Unmarshal([]byte(file), &n); err != nil {
		t.Fatal(err)
	}
	want := storage.Naming{Plural: true, Tables: map[string]string{"verification": "verification"},
		Fields: map[string]map[string]string{"user": {"emailVerified": "email_verified"}},
		Types:  map[string]map[string]string{"user": {"role": "auth.user_role"}}}
	if diff := cmp.Diff(want, n); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
	b, err := json.Marshal(storage.Naming{})
	if err != nil || string(b) != "{}" {
		t.Errorf("the zero Naming encodes as %s, %v", b, err)
	}
}

func TestNamingOnlyWithout(t *testing.T) {
	n := storage.Naming{Plural: true,
		Tables: map[string]string{"user": "users", "rateLimit": "rate_limits"},
		Fields: map[string]map[string]string{"user": {"emailVerified": "email_verified"}, "rateLimit": {"lastRequest": "last_request"}},
		Types:  map[string]map[string]string{"user": {"role": "auth.user_role"}}}
	only := storage.Naming{Plural: true, Tables: map[string]string{"rateLimit": "rate_limits"},
		Fields: map[string]map[string]string{"rateLimit": {"lastRequest": "last_request"}}}
	if diff := cmp.Diff(only, n.Only("rateLimit")); diff != "" {
		t.Errorf("Only (-want +got):\n%s", diff)
	}
	without := storage.Naming{Plural: true, Tables: map[string]string{"user": "users"},
		Fields: map[string]map[string]string{"user": {"emailVerified": "email_verified"}},
		Types:  map[string]map[string]string{"user": {"role": "auth.user_role"}}}
	if diff := cmp.Diff(without, n.Without("rateLimit")); diff != "" {
		t.Errorf("Without (-want +got):\n%s", diff)
	}
	if !(storage.Naming{}).IsZero() || n.IsZero() || !(storage.Naming{Tables: map[string]string{}}).IsZero() {
		t.Error("IsZero")
	}
}

func TestSnakeCase(t *testing.T) {
	for in, want := range map[string]string{
		"emailVerified":    "email_verified",
		"userId":           "user_id",
		"id":               "id",
		"twoFactorEnabled": "two_factor_enabled",
		"credentialID":     "credential_id",
		"HTMLParser":       "html_parser",
		"ipAddress":        "ip_address",
		"wrappedMk":        "wrapped_mk",
		"already_snake":    "already_snake",
		"x509Cert":         "x509_cert",
		"A1":               "a_1",
		"aB1c":             "a_b_1c",
		"lastRequest":      "last_request",
		"":                 "",
	} {
		if got := storage.SnakeCase(in); got != want {
			t.Errorf("SnakeCase(%q) = %q, want %q", in, got, want)
		}
	}
}

package passkey

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// TablePasskey is the logical name of the passkey table.
const TablePasskey = "passkey"

// Device types, as Better Auth (SimpleWebAuthn) stores them: a credential
// that may be backed up or synced (backup eligible) is "multiDevice".
const (
	DeviceTypeSingle = "singleDevice"
	DeviceTypeMulti  = "multiDevice"
)

// Passkey is a row of the passkey table: a WebAuthn credential of a user.
// Its JSON form is Better Auth's.
type Passkey struct {
	// ID is the row id.
	ID string
	// Name is the label the user gave the passkey, if any.
	Name *string
	// PublicKey is the credential public key (COSE), standard base64.
	PublicKey string
	// UserID is the owner.
	UserID string
	// CredentialID is the WebAuthn credential ID, base64url without padding.
	CredentialID string
	// Counter is the last signature counter seen.
	Counter int64
	// DeviceType is DeviceTypeMulti for a backup-eligible credential, else
	// DeviceTypeSingle. It never changes.
	DeviceType string
	// BackedUp is the backup state seen last.
	BackedUp bool
	// Transports are the authenticator transports, comma-separated.
	Transports *string
	// CreatedAt is when the passkey was registered.
	CreatedAt *time.Time
	// AAGUID identifies the authenticator model (a UUID string).
	AAGUID *string
}

// Schema implements plugin.SchemaSource: the passkey table with Better
// Auth's columns.
func (p *Plugin) Schema() storage.Schema {
	S, B, I, D := storage.String, storage.Bool, storage.Int, storage.Date
	return storage.Schema{Tables: []storage.Table{{
		Name: TablePasskey,
		Fields: []storage.Field{
			{Name: "name", Type: S},
			{Name: "publicKey", Type: S, Required: true},
			{Name: "userId", Type: S, Required: true, Index: true,
				References: &storage.Reference{Table: plugin.TableUser, Field: "id", OnDelete: storage.Cascade}},
			{Name: "credentialID", Type: S, Required: true, Index: true},
			{Name: "counter", Type: I, Required: true},
			{Name: "deviceType", Type: S, Required: true},
			{Name: "backedUp", Type: B, Required: true},
			{Name: "transports", Type: S},
			{Name: "createdAt", Type: D},
			{Name: "aaguid", Type: S},
		},
	}}}
}

func passkeyFromRecord(r storage.Record) *Passkey {
	return &Passkey{
		ID: r.String("id"), Name: r.StringPtr("name"), PublicKey: r.String("publicKey"),
		UserID: r.String("userId"), CredentialID: r.String("credentialID"), Counter: r.Int("counter"),
		DeviceType: r.String("deviceType"), BackedUp: r.Bool("backedUp"), Transports: r.StringPtr("transports"),
		CreatedAt: r.TimePtr("createdAt"), AAGUID: r.StringPtr("aaguid"),
	}
}

func (k *Passkey) record() storage.Record {
	return storage.Record{
		"id": k.ID, "name": k.Name, "publicKey": k.PublicKey, "userId": k.UserID,
		"credentialID": k.CredentialID, "counter": k.Counter, "deviceType": k.DeviceType,
		"backedUp": k.BackedUp, "transports": k.Transports, "createdAt": k.CreatedAt, "aaguid": k.AAGUID,
	}
}

// MarshalJSON renders the passkey as Better Auth returns it: id, name,
// publicKey, userId, credentialID, counter, deviceType, backedUp,
// transports, createdAt, aaguid (absent optional values are null; dates in
// plugin.TimeFormat).
func (k *Passkey) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	k.writeFields(&b)
	b.WriteByte('}')
	return b.Bytes(), nil
}

// writeFields writes the opening brace and the fields, without the
// closing brace, so that other keys can follow.
func (k *Passkey) writeFields(b *bytes.Buffer) {
	var created *string
	if k.CreatedAt != nil {
		s := plugin.FormatTime(*k.CreatedAt)
		created = &s
	}
	b.WriteByte('{')
	fields := []struct {
		k string
		v any
	}{
		{"id", k.ID}, {"name", k.Name}, {"publicKey", k.PublicKey}, {"userId", k.UserID},
		{"credentialID", k.CredentialID}, {"counter", k.Counter}, {"deviceType", k.DeviceType},
		{"backedUp", k.BackedUp}, {"transports", k.Transports}, {"createdAt", created}, {"aaguid", k.AAGUID},
	}
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(f.k)
		vb, _ := json.Marshal(f.v)
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
}

// registrationResult is verify-registration's answer with createSession:
// the passkey's fields, then session and user.
type registrationResult struct {
	passkey *Passkey
	session *plugin.Session
	user    *plugin.User
}

func (r registrationResult) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	r.passkey.writeFields(&b)
	sb, err := json.Marshal(r.session)
	if err != nil {
		return nil, err
	}
	ub, err := json.Marshal(r.user)
	if err != nil {
		return nil, err
	}
	b.WriteString(`,"session":`)
	b.Write(sb)
	b.WriteString(`,"user":`)
	b.Write(ub)
	b.WriteByte('}')
	return b.Bytes(), nil
}

// ExportedPasskey is the metadata of a passkey in a user's data export.
// The public key and credential ID are left out.
type ExportedPasskey struct {
	// ID is the passkey's row id.
	ID string `json:"id"`
	// Name is the user's label.
	Name *string `json:"name"`
	// CreatedAt is when it was registered (plugin.TimeFormat, as every date
	// of an export).
	CreatedAt *string `json:"createdAt"`
	// DeviceType is DeviceTypeSingle or DeviceTypeMulti.
	DeviceType string `json:"deviceType"`
	// BackedUp is the last backup state seen.
	BackedUp bool `json:"backedUp"`
	// Transports are the authenticator transports, comma-separated.
	Transports *string `json:"transports"`
}

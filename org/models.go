package org

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// The logical table names of the plugin (Better Auth's).
const (
	TableOrganization = "organization"
	TableMember       = "member"
	TableInvitation   = "invitation"
	TableTeam         = "team"
	TableTeamMember   = "teamMember"
)

// The session fields the plugin adds.
const (
	FieldActiveOrganizationID = "activeOrganizationId"
	FieldActiveTeamID         = "activeTeamId"
)

// Invitation statuses.
const (
	StatusPending  = "pending"
	StatusAccepted = "accepted"
	StatusRejected = "rejected"
	StatusCanceled = "canceled"
)

// Organization is an organization. Metadata is stored as JSON text and
// returned as an object.
type Organization struct {
	ID        string
	Name      string
	Slug      string
	Logo      *string
	Metadata  map[string]any
	CreatedAt time.Time
}

type orgJSON struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	Slug      string         `json:"slug"`
	Logo      *string        `json:"logo"`
	CreatedAt string         `json:"createdAt"`
	Metadata  map[string]any `json:"metadata"`
}

func (o *Organization) json() orgJSON {
	return orgJSON{ID: o.ID, Name: o.Name, Slug: o.Slug, Logo: o.Logo, CreatedAt: plugin.FormatTime(o.CreatedAt), Metadata: o.Metadata}
}

// MarshalJSON renders the organization as Better Auth does.
func (o *Organization) MarshalJSON() ([]byte, error) { return json.Marshal(o.json()) }

// MemberUser is the part of a user shown with a member.
type MemberUser struct {
	ID    string  `json:"id"`
	Name  string  `json:"name"`
	Email string  `json:"email"`
	Image *string `json:"image"`
}

// Member is a user's membership of an organization. Role is the stored,
// comma-joined role list (e.g. "admin,member"). User is set by the routes
// that return it.
type Member struct {
	ID             string
	OrganizationID string
	UserID         string
	Role           string
	CreatedAt      time.Time
	User           *MemberUser
}

type memberJSON struct {
	ID             string      `json:"id"`
	OrganizationID string      `json:"organizationId"`
	UserID         string      `json:"userId"`
	Role           string      `json:"role"`
	CreatedAt      string      `json:"createdAt"`
	User           *MemberUser `json:"user,omitempty"`
}

// MarshalJSON renders the member as Better Auth does.
func (m *Member) MarshalJSON() ([]byte, error) {
	return json.Marshal(memberJSON{ID: m.ID, OrganizationID: m.OrganizationID, UserID: m.UserID,
		Role: m.Role, CreatedAt: plugin.FormatTime(m.CreatedAt), User: m.User})
}

// Roles returns the member's role names.
func (m *Member) Roles() []string { return ParseRoles(m.Role) }

// Invitation is an invitation to join an organization. TeamID holds the
// comma-joined team ids (teams only).
type Invitation struct {
	ID             string
	OrganizationID string
	Email          string
	Role           string
	Status         string
	ExpiresAt      time.Time
	CreatedAt      time.Time
	InviterID      string
	TeamID         *string
}

type invitationJSON struct {
	ID             string  `json:"id"`
	OrganizationID string  `json:"organizationId"`
	Email          string  `json:"email"`
	Role           string  `json:"role"`
	Status         string  `json:"status"`
	ExpiresAt      string  `json:"expiresAt"`
	CreatedAt      string  `json:"createdAt"`
	InviterID      string  `json:"inviterId"`
	TeamID         *string `json:"teamId,omitempty"`
}

func (i *Invitation) json() invitationJSON {
	return invitationJSON{ID: i.ID, OrganizationID: i.OrganizationID, Email: i.Email, Role: i.Role,
		Status: i.Status, ExpiresAt: plugin.FormatTime(i.ExpiresAt), CreatedAt: plugin.FormatTime(i.CreatedAt),
		InviterID: i.InviterID, TeamID: i.TeamID}
}

// MarshalJSON renders the invitation as Better Auth does.
func (i *Invitation) MarshalJSON() ([]byte, error) { return json.Marshal(i.json()) }

// Team is a team of an organization.
type Team struct {
	ID             string
	Name           string
	OrganizationID string
	CreatedAt      time.Time
	UpdatedAt      *time.Time
}

// MarshalJSON renders the team as Better Auth does (without memberCount).
func (t *Team) MarshalJSON() ([]byte, error) {
	var upd *string
	if t.UpdatedAt != nil {
		s := plugin.FormatTime(*t.UpdatedAt)
		upd = &s
	}
	return json.Marshal(struct {
		ID             string  `json:"id"`
		Name           string  `json:"name"`
		OrganizationID string  `json:"organizationId"`
		CreatedAt      string  `json:"createdAt"`
		UpdatedAt      *string `json:"updatedAt"`
	}{t.ID, t.Name, t.OrganizationID, plugin.FormatTime(t.CreatedAt), upd})
}

// TeamMember is a user's membership of a team.
type TeamMember struct {
	ID        string
	TeamID    string
	UserID    string
	CreatedAt time.Time
}

// MarshalJSON renders the team member as Better Auth does (without the
// hidden membershipKey).
func (t *TeamMember) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID        string `json:"id"`
		TeamID    string `json:"teamId"`
		UserID    string `json:"userId"`
		CreatedAt string `json:"createdAt"`
	}{t.ID, t.TeamID, t.UserID, plugin.FormatTime(t.CreatedAt)})
}

// FullOrganization is the answer of get-full-organization: the
// organization with its members (each with its user), the invitations the
// caller may see and, with teams, its teams.
type FullOrganization struct {
	*Organization
	Members     []*Member
	Invitations []*Invitation
	Teams       []*Team // nil without teams
}

// MarshalJSON renders the full organization as Better Auth does.
func (f *FullOrganization) MarshalJSON() ([]byte, error) {
	var teams *[]*Team
	if f.Teams != nil {
		teams = &f.Teams
	}
	return json.Marshal(struct {
		orgJSON
		Members     []*Member     `json:"members"`
		Invitations []*Invitation `json:"invitations"`
		Teams       *[]*Team      `json:"teams,omitempty"`
	}{f.Organization.json(), nonNil(f.Members), nonNil(f.Invitations), teams})
}

// createdOrganization is the answer of create: the organization with
// members [creator].
type createdOrganization struct {
	org    *Organization
	member *Member
}

func (c createdOrganization) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		orgJSON
		Members []*Member `json:"members"`
	}{c.org.json(), []*Member{c.member}})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// ---- records

func orgFromRecord(r storage.Record) *Organization {
	o := &Organization{ID: r.String("id"), Name: r.String("name"), Slug: r.String("slug"),
		Logo: r.StringPtr("logo"), CreatedAt: r.Time("createdAt")}
	if s := r.String("metadata"); s != "" {
		var m map[string]any
		if json.Unmarshal([]byte(s), &m) == nil {
			o.Metadata = m
		}
	}
	return o
}

func metadataValue(m map[string]any) (any, error) {
	if m == nil {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

func memberFromRecord(r storage.Record) *Member {
	return &Member{ID: r.String("id"), OrganizationID: r.String("organizationId"), UserID: r.String("userId"),
		Role: r.String("role"), CreatedAt: r.Time("createdAt")}
}

func invitationFromRecord(r storage.Record) *Invitation {
	return &Invitation{ID: r.String("id"), OrganizationID: r.String("organizationId"), Email: r.String("email"),
		Role: r.String("role"), Status: r.String("status"), ExpiresAt: r.Time("expiresAt"),
		CreatedAt: r.Time("createdAt"), InviterID: r.String("inviterId"), TeamID: r.StringPtr("teamId")}
}

func (i *Invitation) record(teams bool) storage.Record {
	r := storage.Record{"id": i.ID, "organizationId": i.OrganizationID, "email": i.Email, "role": i.Role,
		"status": i.Status, "expiresAt": i.ExpiresAt, "createdAt": i.CreatedAt, "inviterId": i.InviterID}
	if teams {
		r["teamId"] = i.TeamID
	}
	return r
}

func teamFromRecord(r storage.Record) *Team {
	return &Team{ID: r.String("id"), Name: r.String("name"), OrganizationID: r.String("organizationId"),
		CreatedAt: r.Time("createdAt"), UpdatedAt: r.TimePtr("updatedAt")}
}

func teamMemberFromRecord(r storage.Record) *TeamMember {
	return &TeamMember{ID: r.String("id"), TeamID: r.String("teamId"), UserID: r.String("userId"), CreatedAt: r.Time("createdAt")}
}

func memberUser(u storage.Record) *MemberUser {
	return &MemberUser{ID: u.String("id"), Name: u.String("name"), Email: u.String("email"), Image: u.StringPtr("image")}
}

// pairKey is the hidden unique key of a (parent, user) pair:
// base64url(SHA-256(JSON ["<parent>","<user>"])) without padding, the
// formula of Better Auth's teamMember.membershipKey. The member table gets
// one too, so that the database itself refuses a second membership of the
// same user in the same organization.
func pairKey(parent, userID string) string {
	b, _ := json.Marshal([]string{parent, userID})
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// schema returns the plugin's tables and session fields.
func (p *Plugin) schema() storage.Schema {
	S, D, I := storage.String, storage.Date, storage.Int
	orgRef := &storage.Reference{Table: TableOrganization, Field: "id", OnDelete: storage.Cascade}
	userRef := &storage.Reference{Table: plugin.TableUser, Field: "id", OnDelete: storage.Cascade}
	inv := []storage.Field{
		{Name: "organizationId", Type: S, Required: true, Index: true, References: orgRef},
		{Name: "email", Type: S, Required: true, Index: true},
		{Name: "role", Type: S},
	}
	if p.opts.Teams.Enabled {
		inv = append(inv, storage.Field{Name: "teamId", Type: S})
	}
	inv = append(inv,
		storage.Field{Name: "status", Type: S, Required: true},
		storage.Field{Name: "expiresAt", Type: D, Required: true},
		storage.Field{Name: "createdAt", Type: D, Required: true},
		storage.Field{Name: "inviterId", Type: S, Required: true, Index: true, References: userRef},
	)
	sessionFields := []storage.Field{{Name: FieldActiveOrganizationID, Type: S}}
	tables := []storage.Table{
		{Name: TableOrganization, Fields: []storage.Field{
			{Name: "name", Type: S, Required: true},
			{Name: "slug", Type: S, Required: true, Unique: true},
			{Name: "logo", Type: S},
			{Name: "createdAt", Type: D, Required: true},
			{Name: "metadata", Type: S},
		}},
	}
	if p.opts.Teams.Enabled {
		teamRef := &storage.Reference{Table: TableTeam, Field: "id", OnDelete: storage.Cascade}
		tables = append(tables,
			storage.Table{Name: TableTeam, Fields: []storage.Field{
				{Name: "name", Type: S, Required: true},
				{Name: "memberCount", Type: I, Required: true},
				{Name: "organizationId", Type: S, Required: true, Index: true, References: orgRef},
				{Name: "createdAt", Type: D, Required: true},
				{Name: "updatedAt", Type: D},
			}},
			storage.Table{Name: TableTeamMember, Fields: []storage.Field{
				{Name: "teamId", Type: S, Required: true, Index: true, References: teamRef},
				{Name: "userId", Type: S, Required: true, Index: true, References: userRef},
				{Name: "membershipKey", Type: S, Unique: true},
				{Name: "createdAt", Type: D},
			}},
		)
		sessionFields = append(sessionFields, storage.Field{Name: FieldActiveTeamID, Type: S})
	}
	tables = append(tables,
		storage.Table{Name: TableMember, Fields: []storage.Field{
			{Name: "organizationId", Type: S, Required: true, Index: true, References: orgRef},
			{Name: "userId", Type: S, Required: true, Index: true, References: userRef},
			{Name: "role", Type: S, Required: true},
			{Name: "createdAt", Type: D, Required: true},
			// membershipKey is this package's addition (nullable, so rows
			// written by Better Auth stay valid): pairKey(orgId, userId).
			{Name: "membershipKey", Type: S, Unique: true},
		}},
		storage.Table{Name: TableInvitation, Fields: inv},
		storage.Table{Name: plugin.TableSession, Fields: sessionFields},
	)
	return storage.Schema{Tables: tables}
}

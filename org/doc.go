// Package org is the organization plugin: organizations, members with
// roles, invitations by email and (optionally) teams, wire-compatible with
// Better Auth 1.7's organization plugin, so that its JS client
// (organizationClient from "better-auth/client/plugins") works unchanged.
//
// Usage:
//
//	orgs := org.New(org.Options{
//		OrganizationLimit: 5,
//		InvitationURL: func(inv *org.Invitation) string {
//			return "https://app.example.com/invite/" + inv.ID
//		},
//	})
//	a, err := auth.New(auth.Config{BaseURL: ..., Secret: ..., Mailer: mailer}, db, orgs)
//	...
//	// In a handler behind a.RequireSession, acting as the signed-in user:
//	sd := auth.SessionFrom(r.Context())
//	acme, _, err := orgs.CreateOrganization(ctx, sd, org.CreateOrganizationInput{Name: "Acme", Slug: "acme"})
//	inv, err := orgs.InviteMember(ctx, sd, org.InviteMemberInput{Email: "bob@example.com", Roles: []string{"member"}})
//	// The server's own questions, about any user:
//	role, err := orgs.MemberRole(ctx, acme.ID, userID) // "owner", "admin,member", …
//	ok := orgs.Authorize(role, org.Permissions{"invitation": {"create"}})
//
// To put the active organization into the jwt plugin's tokens, wrap its
// payload with ActiveOrganizationID (see there).
//
// # Routes
//
// All under BasePath (default /api/auth), all needing a session except as
// noted; methods are those the JS client infers (POST with a body, GET
// without). Each route's handler calls the Plugin method named beside it
// (see Go API):
//
//	POST /organization/create                 CreateOrganization    {name, slug, logo?, metadata?, keepCurrentActiveOrganization?}
//	POST /organization/check-slug             CheckOrganizationSlug {slug}
//	POST /organization/update                 UpdateOrganization    {data:{name?, slug?, logo?, metadata?}, organizationId?}
//	POST /organization/delete                 DeleteOrganization    {organizationId}
//	POST /organization/set-active             SetActiveOrganization {organizationId?: string|null, organizationSlug?}
//	GET  /organization/get-organization       GetOrganization       ?organizationId&organizationSlug
//	GET  /organization/get-full-organization  GetFullOrganization   ?organizationId&organizationSlug&membersLimit
//	GET  /organization/list                   ListOrganizations
//	POST /organization/invite-member          InviteMember          {email, role, organizationId?, resend?, teamId?}
//	POST /organization/cancel-invitation      CancelInvitation      {invitationId}
//	POST /organization/accept-invitation      AcceptInvitation      {invitationId}
//	POST /organization/reject-invitation      RejectInvitation      {invitationId}
//	GET  /organization/get-invitation         GetInvitation         ?id
//	GET  /organization/list-invitations       ListInvitations       ?organizationId
//	GET  /organization/list-user-invitations  ListUserInvitations   (session optional; 400 without)
//	POST /organization/remove-member          RemoveMember          {memberIdOrEmail, organizationId?}
//	POST /organization/update-member-role     UpdateMemberRole      {memberId, role, organizationId?}
//	GET  /organization/get-active-member      GetActiveMember
//	GET  /organization/get-active-member-role GetActiveMemberRole   ?userId&organizationId&organizationSlug
//	GET  /organization/list-members           ListMembers           ?limit&offset&sortBy&sortDirection&filterField&filterOperator&filterValue&organizationId&organizationSlug
//	POST /organization/leave                  LeaveOrganization     {organizationId}
//	POST /organization/has-permission         HasPermission         {permissions, organizationId?}
//
// With Options.Teams.Enabled also:
//
//	POST /organization/create-team        CreateTeam       {name, organizationId?}
//	POST /organization/remove-team        RemoveTeam       {teamId, organizationId?}
//	POST /organization/update-team        UpdateTeam       {teamId, data:{name?, organizationId?}}
//	GET  /organization/list-teams         ListTeams        ?organizationId
//	POST /organization/set-active-team    SetActiveTeam    {teamId?: string|null}
//	GET  /organization/list-user-teams    ListUserTeams    ?userId&organizationId
//	GET  /organization/list-team-members  ListTeamMembers  ?teamId
//	POST /organization/add-team-member    AddTeamMember    {teamId, userId, organizationId?}
//	POST /organization/remove-team-member RemoveTeamMember {teamId, userId, organizationId?}
//
// Better Auth's server-only addMember has no route; it is [Plugin.AddMember].
//
// # Go API
//
// Every route is a thin layer over its Plugin method (the one-path rule):
// the method does the whole operation (authorization checks,
// transactions, limits, AllowUserToCreateOrganization, mails) and returns
// *plugin.Error values with the route's status and code; the handler only
// reads and checks the request (with Better Auth's validation messages)
// and writes the answer. So a Go program can do everything a client can,
// with the same rules: create an organization, invite, accept, change
// roles, manage teams, list members with a typed [MemberFilter]. The
// names are those of Better Auth's server API (auth.api.acceptInvitation
// is AcceptInvitation), except InviteMember and ListTeams, named as its
// client names them (createInvitation and listOrganizationTeams there).
//
// The methods take the acting user's *plugin.SessionData. Its User acts;
// its Session, if set, is the session whose active organization (and
// team) a method falls back to when no organization is named, and which
// create, accept-invitation, set-active and set-active-team set and the
// not-a-member answers clear, in the database and in sd. To act for a
// user outside a request, pass &plugin.SessionData{User: u}: nothing then
// reads or writes a session. A nil sd (or one without a User) is 401
// UNAUTHORIZED, except for CreateOrganization, where it is the server
// creating on behalf of CreateOrganizationInput.UserID.
//
// Trusted methods, with no route and no permission check, answer the
// server's own questions: [Plugin.AddMember], [Plugin.IsMember],
// [Plugin.MemberRole], [Plugin.Members], [Plugin.Organization] and
// [Plugin.Authorize] (with MemberRole, whether any user may do something).
//
// # Roles and permissions
//
// Roles are stored comma-joined ("admin,member"). The default roles owner
// (the CreatorRole), admin and member carry Better Auth's default
// statements (see DefaultRoles); Options.AccessControl adds resources,
// actions and roles. A member may do something if any one of their roles
// grants every requested action. Only holders of the creator role may
// grant it, change the roles of its holders, or remove them; its last
// holder can neither leave, be removed nor be demoted.
//
// # Consistency under concurrency
//
// Every operation that checks a rule and then writes (creating an
// organization under OrganizationLimit, adding a member under
// MembershipLimit, inviting under InvitationLimit, accepting an
// invitation, removing, demoting or leaving) runs in one storage
// transaction that first takes a row lock: the organization's row (or,
// for OrganizationLimit, the user's; for team membership, the team's) is
// updated to itself. The memory and SQLite adapters serialise transactions,
// so the rules hold there trivially; on PostgreSQL (READ COMMITTED) the
// lock makes concurrent transactions on the same organization take turns,
// and every later statement sees what the previous holder committed, so
// the counts and the last-owner rule hold too (the race tests run against
// all three adapters and fail on PostgreSQL without the lock). A
// transaction that takes several locks takes them in the order user,
// organization, team.
//
// Setting a session's active organization (create, accept-invitation,
// set-active) happens in the transaction that checked the membership, and
// removals clear it in theirs, so a session never keeps pointing at an
// organization (or team) its user has left; ActiveOrganizationID can be
// put into tokens.
//
// Independently of locking, the database itself enforces unique slugs
// (organization.slug is UNIQUE) and one membership per user and
// organization: the member table has a hidden, nullable, unique
// membershipKey = base64url(SHA-256(JSON [organizationId, userId])), the
// formula of Better Auth's teamMember.membershipKey (rows written by
// Better Auth itself have none and are not covered). An invitation changes
// state only from "pending" (a conditional update), so it is accepted,
// rejected or cancelled once.
//
// # Invitations
//
// invite-member stores the invitation (48 h by default) and, if the Auth
// has a Mailer, sends plugin.EmailInvitation to the invitee with URL
// Options.InvitationURL(inv) (default <BaseURL>/accept-invitation/<id>)
// and Data "organization" (name), "organizationSlug", "inviter" (name, else
// email), "inviterEmail", "role" and "invitationId"; if sending fails the
// invitation is removed and the route answers the mail error. Only the
// signed-in user whose email is the invited one can accept or reject it,
// once, before it expires and unless it was cancelled.
//
// # Members, non-members and unknown ids
//
// Every route answers as Better Auth 1.7 does for an organization that
// does not exist, one the caller is not a member of and a member without
// the permission, so that its client's error handling works unchanged. For
// example get-organization, get-full-organization and set-active answer a
// non-member (a removed member too) 403
// USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION and clear the session's active
// organization, and answer an unknown organization 400
// ORGANIZATION_NOT_FOUND. That tells a signed-in user whether an id or
// slug exists, which check-slug tells anyway. The routes that fall back to
// the session's active organization answer a stale one (an organization
// the user has left, as a cookie cache can still carry) as for a
// non-member. Where Better Auth's answer would tell a caller more about
// another organization, the caller gets "not found" (see below).
//
// # Differences from Better Auth
//
// Deliberate differences:
//
//   - Slugs must be valid (see ValidSlug): create, update and check-slug
//     answer 400 INVALID_SLUG otherwise.
//   - remove-member given the id of another organization's member answers
//     400 MEMBER_NOT_FOUND; Better Auth first applies its owner rules to
//     that member, telling the caller whether it is an owner there.
//   - metadata is always returned as an object (Better Auth returns the
//     stored JSON text from some routes); logo and image are null, not
//     absent.
//   - Every role error carries code ROLE_NOT_FOUND (invite-member's has
//     none in Better Auth; an empty role is a bare 400 there).
//   - Only pending invitations can be cancelled; accepting while already a
//     member is 400 USER_IS_ALREADY_A_MEMBER_OF_THIS_ORGANIZATION (Better
//     Auth adds a second membership); list-user-invitations leaves out
//     expired invitations.
//   - The last owner cannot be demoted by anyone (Better Auth only checks
//     self-demotion, so two owners demoting each other leave none).
//   - Removing, leaving and deleting clear the active organization of
//     every affected session, not only the caller's.
//   - has-permission accepts the deprecated "permission" key as an alias
//     (Better Auth 1.7 answers success:false for it).
//   - Options.AccessControl roles are merged into the default roles
//     (Better Auth replaces them all when roles are given).
//   - set-active and set-active-team re-issue the session cookies only
//     with the session cookie cache on; then so do create and
//     accept-invitation, which Better Auth leaves to a stale cache until
//     it expires.
//
// Not implemented: dynamic access control (create-role and friends),
// additionalFields on the plugin's tables, organizationHooks, limits given
// as functions, and the server-only email query of list-user-invitations.
//
// # User data
//
// The plugin is an plugin.DataSource: exports list memberships, invitations
// received and sent, and team memberships; erasure follows the rule of
// [Plugin.DeleteUser] (an organization whose only member is deleted goes
// with them; otherwise ownership passes on).
package org

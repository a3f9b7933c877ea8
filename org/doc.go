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
//	ok, err := orgs.IsMember(ctx, orgID, userID)    // for the server's own routes
//	role, err := orgs.MemberRole(ctx, orgID, userID) // "owner", "admin,member", …
//
// To put the active organization into the jwt plugin's tokens, wrap its
// payload with ActiveOrganizationID (see there).
//
// # Routes
//
// All under BasePath (default /api/auth), all needing a session except as
// noted; methods are those the JS client infers (POST with a body, GET
// without).
//
//	POST /organization/create                 {name, slug, logo?, metadata?, keepCurrentActiveOrganization?}
//	POST /organization/check-slug             {slug}
//	POST /organization/update                 {data:{name?, slug?, logo?, metadata?}, organizationId?}
//	POST /organization/delete                 {organizationId}
//	POST /organization/set-active             {organizationId?: string|null, organizationSlug?}
//	GET  /organization/get-organization       ?organizationId&organizationSlug
//	GET  /organization/get-full-organization  ?organizationId&organizationSlug&membersLimit
//	GET  /organization/list
//	POST /organization/invite-member          {email, role, organizationId?, resend?, teamId?}
//	POST /organization/cancel-invitation      {invitationId}
//	POST /organization/accept-invitation      {invitationId}
//	POST /organization/reject-invitation      {invitationId}
//	GET  /organization/get-invitation         ?id
//	GET  /organization/list-invitations       ?organizationId
//	GET  /organization/list-user-invitations  (session optional; 400 without)
//	POST /organization/remove-member          {memberIdOrEmail, organizationId?}
//	POST /organization/update-member-role     {memberId, role, organizationId?}
//	GET  /organization/get-active-member
//	GET  /organization/get-active-member-role ?userId&organizationId&organizationSlug
//	GET  /organization/list-members           ?limit&offset&sortBy&sortDirection&filterField&filterOperator&filterValue&organizationId&organizationSlug
//	POST /organization/leave                  {organizationId}
//	POST /organization/has-permission         {permissions, organizationId?}
//
// With Options.Teams.Enabled also:
//
//	POST /organization/create-team        {name, organizationId?}
//	POST /organization/remove-team        {teamId, organizationId?}
//	POST /organization/update-team        {teamId, data:{name?, organizationId?}}
//	GET  /organization/list-teams         ?organizationId
//	POST /organization/set-active-team    {teamId?: string|null}
//	GET  /organization/list-user-teams    ?userId&organizationId
//	GET  /organization/list-team-members  ?teamId
//	POST /organization/add-team-member    {teamId, userId, organizationId?}
//	POST /organization/remove-team-member {teamId, userId, organizationId?}
//
// Better Auth's server-only addMember has no route; it is [Plugin.AddMember].
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
// has a Mailer, sends auth.EmailInvitation to the invitee with URL
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
// The plugin is an auth.DataSource: exports list memberships, invitations
// received and sent, and team memberships; erasure follows the rule of
// [Plugin.DeleteUser] (an organization whose only member is deleted goes
// with them; otherwise ownership passes on).
package org

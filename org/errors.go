package org

import (
	"net/http"
	"slices"
	"strings"

	"github.com/managarten/mana-auth/plugin"
)

// Error codes of the organization plugin: Better Auth's
// ORGANIZATION_ERROR_CODES, except CodeInvalidSlug. Each is the Code of
// one Err value below; compare errors with errors.Is(err, ErrX), which
// matches by code, or their Code with these constants.
const (
	CodeNotAllowedToCreateOrganization  = "YOU_ARE_NOT_ALLOWED_TO_CREATE_A_NEW_ORGANIZATION"
	CodeMaximumOrganizationsReached     = "YOU_HAVE_REACHED_THE_MAXIMUM_NUMBER_OF_ORGANIZATIONS"
	CodeOrganizationAlreadyExists       = "ORGANIZATION_ALREADY_EXISTS"
	CodeSlugTaken                       = "ORGANIZATION_SLUG_ALREADY_TAKEN"
	CodeOrganizationNotFound            = "ORGANIZATION_NOT_FOUND"
	CodeUserNotMember                   = "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION"
	CodeNotAllowedToUpdateOrganization  = "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_ORGANIZATION"
	CodeNotAllowedToDeleteOrganization  = "YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_ORGANIZATION"
	CodeNoActiveOrganization            = "NO_ACTIVE_ORGANIZATION"
	CodeAlreadyMember                   = "USER_IS_ALREADY_A_MEMBER_OF_THIS_ORGANIZATION"
	CodeMemberNotFound                  = "MEMBER_NOT_FOUND"
	CodeRoleNotFound                    = "ROLE_NOT_FOUND"
	CodeTeamAlreadyExists               = "TEAM_ALREADY_EXISTS"
	CodeTeamNotFound                    = "TEAM_NOT_FOUND"
	CodeCannotLeaveAsOnlyOwner          = "YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER"
	CodeCannotLeaveWithoutOwner         = "YOU_CANNOT_LEAVE_THE_ORGANIZATION_WITHOUT_AN_OWNER"
	CodeNotAllowedToDeleteMember        = "YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_MEMBER"
	CodeNotAllowedToInvite              = "YOU_ARE_NOT_ALLOWED_TO_INVITE_USERS_TO_THIS_ORGANIZATION"
	CodeAlreadyInvited                  = "USER_IS_ALREADY_INVITED_TO_THIS_ORGANIZATION"
	CodeInvitationNotFound              = "INVITATION_NOT_FOUND"
	CodeNotRecipient                    = "YOU_ARE_NOT_THE_RECIPIENT_OF_THE_INVITATION"
	CodeEmailVerificationRequiredAccept = "EMAIL_VERIFICATION_REQUIRED_BEFORE_ACCEPTING_OR_REJECTING_INVITATION"
	CodeEmailVerificationRequired       = "EMAIL_VERIFICATION_REQUIRED_FOR_INVITATION"
	CodeNotAllowedToCancelInvitation    = "YOU_ARE_NOT_ALLOWED_TO_CANCEL_THIS_INVITATION"
	CodeNotAllowedToListInvitations     = "YOU_ARE_NOT_ALLOWED_TO_LIST_INVITATIONS"
	CodeInviterNoLongerMember           = "INVITER_IS_NO_LONGER_A_MEMBER_OF_THE_ORGANIZATION"
	CodeNotAllowedToInviteWithRole      = "YOU_ARE_NOT_ALLOWED_TO_INVITE_USER_WITH_THIS_ROLE"
	CodeMaximumTeamsReached             = "YOU_HAVE_REACHED_THE_MAXIMUM_NUMBER_OF_TEAMS"
	CodeUnableToRemoveLastTeam          = "UNABLE_TO_REMOVE_LAST_TEAM"
	CodeNotAllowedToUpdateMember        = "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER"
	CodeMembershipLimitReached          = "ORGANIZATION_MEMBERSHIP_LIMIT_REACHED"
	CodeNotAllowedToCreateTeams         = "YOU_ARE_NOT_ALLOWED_TO_CREATE_TEAMS_IN_THIS_ORGANIZATION"
	CodeNotAllowedToDeleteTeams         = "YOU_ARE_NOT_ALLOWED_TO_DELETE_TEAMS_IN_THIS_ORGANIZATION"
	CodeNotAllowedToUpdateTeam          = "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_TEAM"
	CodeNotAllowedToDeleteTeam          = "YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_TEAM"
	CodeInvitationLimitReached          = "INVITATION_LIMIT_REACHED"
	CodeTeamMemberLimitReached          = "TEAM_MEMBER_LIMIT_REACHED"
	CodeUserNotTeamMember               = "USER_IS_NOT_A_MEMBER_OF_THE_TEAM"
	CodeNoActiveTeam                    = "YOU_DO_NOT_HAVE_AN_ACTIVE_TEAM"
	CodeNotAllowedToCreateTeamMember    = "YOU_ARE_NOT_ALLOWED_TO_CREATE_A_NEW_TEAM_MEMBER"
	CodeNotAllowedToRemoveTeamMember    = "YOU_ARE_NOT_ALLOWED_TO_REMOVE_A_TEAM_MEMBER"
	CodeNotAllowedToAccessOrganization  = "YOU_ARE_NOT_ALLOWED_TO_ACCESS_THIS_ORGANIZATION"
	CodeNotAMember                      = "YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION"
	CodeInvalidTeamID                   = "INVALID_TEAM_ID"
	// CodeOrganizationDeletionDisabled answers delete when
	// Options.DisableOrganizationDeletion is set.
	CodeOrganizationDeletionDisabled = "ORGANIZATION_DELETION_DISABLED"
	// CodeInvalidSlug is this package's own: a slug that is not lower-case
	// letters, digits and inner hyphens within the length bounds. Better
	// Auth accepts any non-empty slug.
	CodeInvalidSlug = "INVALID_SLUG"
)

// The errors of the organization plugin, with Better Auth's messages and
// the status its routes answer them with; ErrorCodes lists them. A few
// codes are answered with another status on some routes, as Better Auth
// does (noted on the error): errors.Is matches those answers too, since it
// compares codes.
var (
	// ErrNotAllowedToCreateOrganization (403): create refused by
	// Options.AllowUserToCreateOrganization.
	ErrNotAllowedToCreateOrganization = plugin.NewError(http.StatusForbidden, CodeNotAllowedToCreateOrganization, "You are not allowed to create a new organization")
	// ErrMaximumOrganizationsReached (403): create beyond
	// Options.OrganizationLimit.
	ErrMaximumOrganizationsReached = plugin.NewError(http.StatusForbidden, CodeMaximumOrganizationsReached, "You have reached the maximum number of organizations")
	// ErrOrganizationAlreadyExists (400): create with a slug another
	// organization has (check-slug and update answer ErrSlugTaken).
	ErrOrganizationAlreadyExists = plugin.NewError(http.StatusBadRequest, CodeOrganizationAlreadyExists, "Organization already exists")
	// ErrSlugTaken (400): check-slug or update with a slug another
	// organization has.
	ErrSlugTaken = plugin.NewError(http.StatusBadRequest, CodeSlugTaken, "Organization slug already taken")
	// ErrOrganizationNotFound (400): no such organization.
	ErrOrganizationNotFound = plugin.NewError(http.StatusBadRequest, CodeOrganizationNotFound, "Organization not found")
	// ErrUserNotMember (400): the caller (or the user named) is not a
	// member. Better Auth answers it with 403 on set-active,
	// get-organization and get-full-organization, and with 401 on
	// has-permission.
	ErrUserNotMember = plugin.NewError(http.StatusBadRequest, CodeUserNotMember, "User is not a member of the organization")
	// ErrNotAllowedToUpdateOrganization (403): update without
	// organization:update.
	ErrNotAllowedToUpdateOrganization = plugin.NewError(http.StatusForbidden, CodeNotAllowedToUpdateOrganization, "You are not allowed to update this organization")
	// ErrNotAllowedToDeleteOrganization (403): delete without
	// organization:delete.
	ErrNotAllowedToDeleteOrganization = plugin.NewError(http.StatusForbidden, CodeNotAllowedToDeleteOrganization, "You are not allowed to delete this organization")
	// ErrNoActiveOrganization (400): no organization given and none active.
	ErrNoActiveOrganization = plugin.NewError(http.StatusBadRequest, CodeNoActiveOrganization, "No active organization")
	// ErrAlreadyMember (400): adding, inviting or accepting the invitation
	// of a user who is a member already.
	ErrAlreadyMember = plugin.NewError(http.StatusBadRequest, CodeAlreadyMember, "User is already a member of this organization")
	// ErrMemberNotFound (400): no such member (often: the caller is not
	// one).
	ErrMemberNotFound = plugin.NewError(http.StatusBadRequest, CodeMemberNotFound, "Member not found")
	// ErrRoleNotFound (400): no role or an unknown one; naming unknown
	// roles its message is "ROLE_NOT_FOUND: a, b", as Better Auth's.
	ErrRoleNotFound = plugin.NewError(http.StatusBadRequest, CodeRoleNotFound, "Role not found")
	// ErrTeamAlreadyExists is in Better Auth's list; no route answers it
	// (400 if one did).
	ErrTeamAlreadyExists = plugin.NewError(http.StatusBadRequest, CodeTeamAlreadyExists, "Team already exists")
	// ErrTeamNotFound (400): no such team in the organization.
	ErrTeamNotFound = plugin.NewError(http.StatusBadRequest, CodeTeamNotFound, "Team not found")
	// ErrCannotLeaveAsOnlyOwner (400): the last holder of the creator role
	// leaving or removed.
	ErrCannotLeaveAsOnlyOwner = plugin.NewError(http.StatusBadRequest, CodeCannotLeaveAsOnlyOwner, "You cannot leave the organization as the only owner")
	// ErrCannotLeaveWithoutOwner (400): the last holder of the creator role
	// losing it.
	ErrCannotLeaveWithoutOwner = plugin.NewError(http.StatusBadRequest, CodeCannotLeaveWithoutOwner, "You cannot leave the organization without an owner")
	// ErrNotAllowedToDeleteMember (401, Better Auth's status):
	// remove-member without member:delete.
	ErrNotAllowedToDeleteMember = plugin.NewError(http.StatusUnauthorized, CodeNotAllowedToDeleteMember, "You are not allowed to delete this member")
	// ErrNotAllowedToInvite (403): invite-member without invitation:create
	// (and create-team by a non-member, as Better Auth).
	ErrNotAllowedToInvite = plugin.NewError(http.StatusForbidden, CodeNotAllowedToInvite, "You are not allowed to invite users to this organization")
	// ErrAlreadyInvited (400): a pending invitation of the address exists.
	ErrAlreadyInvited = plugin.NewError(http.StatusBadRequest, CodeAlreadyInvited, "User is already invited to this organization")
	// ErrInvitationNotFound (400): no such pending invitation
	// (reject-invitation says "Invitation not found!", as Better Auth).
	ErrInvitationNotFound = plugin.NewError(http.StatusBadRequest, CodeInvitationNotFound, "Invitation not found")
	// ErrNotRecipient (403): an invitation of another address.
	ErrNotRecipient = plugin.NewError(http.StatusForbidden, CodeNotRecipient, "You are not the recipient of the invitation")
	// ErrEmailVerificationRequiredAccept (403): accepting or rejecting
	// with an unverified address under
	// Options.RequireEmailVerificationOnInvitation.
	ErrEmailVerificationRequiredAccept = plugin.NewError(http.StatusForbidden, CodeEmailVerificationRequiredAccept, "Email verification required before accepting or rejecting invitation")
	// ErrEmailVerificationRequired (403): viewing or listing invitations
	// with an unverified address.
	ErrEmailVerificationRequired = plugin.NewError(http.StatusForbidden, CodeEmailVerificationRequired, "Email verification required to view or list invitations for the session email")
	// ErrNotAllowedToCancelInvitation (403): cancel without
	// invitation:cancel.
	ErrNotAllowedToCancelInvitation = plugin.NewError(http.StatusForbidden, CodeNotAllowedToCancelInvitation, "You are not allowed to cancel this invitation")
	// ErrNotAllowedToListInvitations (403): list-invitations without
	// invitation:create.
	ErrNotAllowedToListInvitations = plugin.NewError(http.StatusForbidden, CodeNotAllowedToListInvitations, "You are not allowed to list invitations for this organization")
	// ErrInviterNoLongerMember (400): get-invitation of an invitation whose
	// inviter left.
	ErrInviterNoLongerMember = plugin.NewError(http.StatusBadRequest, CodeInviterNoLongerMember, "Inviter is no longer a member of the organization")
	// ErrNotAllowedToInviteWithRole (403): inviting with the creator role
	// without holding it.
	ErrNotAllowedToInviteWithRole = plugin.NewError(http.StatusForbidden, CodeNotAllowedToInviteWithRole, "You are not allowed to invite a user with this role")
	// ErrMaximumTeamsReached (400): create-team beyond
	// TeamOptions.MaximumTeams.
	ErrMaximumTeamsReached = plugin.NewError(http.StatusBadRequest, CodeMaximumTeamsReached, "You have reached the maximum number of teams")
	// ErrUnableToRemoveLastTeam (400): removing an organization's last
	// team without TeamOptions.AllowRemovingAllTeams.
	ErrUnableToRemoveLastTeam = plugin.NewError(http.StatusBadRequest, CodeUnableToRemoveLastTeam, "Unable to remove last team")
	// ErrNotAllowedToUpdateMember (403): update-member-role (or another's
	// list-user-teams) without member:update.
	ErrNotAllowedToUpdateMember = plugin.NewError(http.StatusForbidden, CodeNotAllowedToUpdateMember, "You are not allowed to update this member")
	// ErrMembershipLimitReached (403): joining beyond
	// Options.MembershipLimit.
	ErrMembershipLimitReached = plugin.NewError(http.StatusForbidden, CodeMembershipLimitReached, "Organization membership limit reached")
	// ErrNotAllowedToCreateTeams (403): create-team without team:create.
	ErrNotAllowedToCreateTeams = plugin.NewError(http.StatusForbidden, CodeNotAllowedToCreateTeams, "You are not allowed to create teams in this organization")
	// ErrNotAllowedToDeleteTeams (403): remove-team without team:delete.
	ErrNotAllowedToDeleteTeams = plugin.NewError(http.StatusForbidden, CodeNotAllowedToDeleteTeams, "You are not allowed to delete teams in this organization")
	// ErrNotAllowedToUpdateTeam (403): update-team by a non-member or
	// without team:update.
	ErrNotAllowedToUpdateTeam = plugin.NewError(http.StatusForbidden, CodeNotAllowedToUpdateTeam, "You are not allowed to update this team")
	// ErrNotAllowedToDeleteTeam (403): remove-team by a non-member or of the
	// session's active team.
	ErrNotAllowedToDeleteTeam = plugin.NewError(http.StatusForbidden, CodeNotAllowedToDeleteTeam, "You are not allowed to delete this team")
	// ErrInvitationLimitReached (403): inviting beyond
	// Options.InvitationLimit.
	ErrInvitationLimitReached = plugin.NewError(http.StatusForbidden, CodeInvitationLimitReached, "Invitation limit reached")
	// ErrTeamMemberLimitReached (403): joining a team beyond
	// TeamOptions.MaximumMembersPerTeam.
	ErrTeamMemberLimitReached = plugin.NewError(http.StatusForbidden, CodeTeamMemberLimitReached, "Team member limit reached")
	// ErrUserNotTeamMember (400): the user is not in the team. Better Auth
	// answers it with 403 on set-active-team.
	ErrUserNotTeamMember = plugin.NewError(http.StatusBadRequest, CodeUserNotTeamMember, "User is not a member of the team")
	// ErrNoActiveTeam (400): no team given and none active.
	ErrNoActiveTeam = plugin.NewError(http.StatusBadRequest, CodeNoActiveTeam, "You do not have an active team")
	// ErrNotAllowedToCreateTeamMember (403): add-team-member without
	// member:update.
	ErrNotAllowedToCreateTeamMember = plugin.NewError(http.StatusForbidden, CodeNotAllowedToCreateTeamMember, "You are not allowed to create a new member")
	// ErrNotAllowedToRemoveTeamMember (403): remove-team-member without
	// member:delete.
	ErrNotAllowedToRemoveTeamMember = plugin.NewError(http.StatusForbidden, CodeNotAllowedToRemoveTeamMember, "You are not allowed to remove a team member")
	// ErrNotAllowedToAccessOrganization (403): list-teams by a non-member.
	ErrNotAllowedToAccessOrganization = plugin.NewError(http.StatusForbidden, CodeNotAllowedToAccessOrganization, "You are not allowed to access this organization as an owner")
	// ErrNotAMember (403): the caller is not a member (list-members,
	// get-active-member-role, list-user-teams).
	ErrNotAMember = plugin.NewError(http.StatusForbidden, CodeNotAMember, "You are not a member of this organization")
	// ErrInvalidTeamID (400): a team id holding the list separator ",".
	ErrInvalidTeamID = plugin.NewError(http.StatusBadRequest, CodeInvalidTeamID, "Team id contains a reserved character")
	// ErrOrganizationDeletionDisabled (404, Better Auth's status): delete
	// under Options.DisableOrganizationDeletion.
	ErrOrganizationDeletionDisabled = plugin.NewError(http.StatusNotFound, CodeOrganizationDeletionDisabled, "Organization deletion is disabled")
	// ErrInvalidSlug (400): a slug ValidSlug refuses; the message the
	// routes answer names the length bounds.
	ErrInvalidSlug = plugin.NewError(http.StatusBadRequest, CodeInvalidSlug, "Invalid slug")
)

// errorCodes lists every declared error, for ErrorCodes and Message.
var errorCodes = []*plugin.Error{
	ErrNotAllowedToCreateOrganization, ErrMaximumOrganizationsReached, ErrOrganizationAlreadyExists,
	ErrSlugTaken, ErrOrganizationNotFound, ErrUserNotMember, ErrNotAllowedToUpdateOrganization,
	ErrNotAllowedToDeleteOrganization, ErrNoActiveOrganization, ErrAlreadyMember, ErrMemberNotFound,
	ErrRoleNotFound, ErrTeamAlreadyExists, ErrTeamNotFound, ErrCannotLeaveAsOnlyOwner,
	ErrCannotLeaveWithoutOwner, ErrNotAllowedToDeleteMember, ErrNotAllowedToInvite, ErrAlreadyInvited,
	ErrInvitationNotFound, ErrNotRecipient, ErrEmailVerificationRequiredAccept, ErrEmailVerificationRequired,
	ErrNotAllowedToCancelInvitation, ErrNotAllowedToListInvitations, ErrInviterNoLongerMember,
	ErrNotAllowedToInviteWithRole, ErrMaximumTeamsReached, ErrUnableToRemoveLastTeam,
	ErrNotAllowedToUpdateMember, ErrMembershipLimitReached, ErrNotAllowedToCreateTeams,
	ErrNotAllowedToDeleteTeams, ErrNotAllowedToUpdateTeam, ErrNotAllowedToDeleteTeam,
	ErrInvitationLimitReached, ErrTeamMemberLimitReached, ErrUserNotTeamMember, ErrNoActiveTeam,
	ErrNotAllowedToCreateTeamMember, ErrNotAllowedToRemoveTeamMember, ErrNotAllowedToAccessOrganization,
	ErrNotAMember, ErrInvalidTeamID, ErrOrganizationDeletionDisabled, ErrInvalidSlug,
}

// ErrorCodes implements plugin.ErrorSource: every error above, Better
// Auth's $ERROR_CODES of the plugin.
func (p *Plugin) ErrorCodes() []*plugin.Error { return slices.Clone(errorCodes) }

// Message returns Better Auth's message for an error code of this package
// ("" for an unknown code): the Message of its Err value.
func Message(code string) string {
	for _, e := range errorCodes {
		if e.Code == code {
			return e.Message
		}
	}
	return ""
}

// withStatus returns a copy of e answered with status, for the routes
// where Better Auth answers e's code with another status; errors.Is still
// matches it (by code).
func withStatus(e *plugin.Error, status int) *plugin.Error {
	c := *e
	c.Status = status
	return &c
}

// roleNotFound is Better Auth's "ROLE_NOT_FOUND: a, b" error.
func roleNotFound(names []string) *plugin.Error {
	return ErrRoleNotFound.WithMessage(CodeRoleNotFound + ": " + strings.Join(names, ", "))
}

// validation returns a 400 VALIDATION_ERROR with Better Auth's
// "[body.x] message" text (plugin.InvalidInput for a value of the wrong
// type).
func validation(msg string) *plugin.Error { return plugin.ErrValidation.WithMessage(msg) }

// messageOnly returns an error that carries only a message, as a few of
// Better Auth's organization errors do.
func messageOnly(status int, msg string) *plugin.Error { return plugin.NewError(status, "", msg) }

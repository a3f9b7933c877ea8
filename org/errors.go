package org

import (
	"net/http"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
)

// Error codes of the organization plugin. They and their messages (see
// Message) are Better Auth's ORGANIZATION_ERROR_CODES, except
// CodeInvalidSlug. Errors are *auth.Error values: compare their Code with
// these constants. The HTTP status of a code depends on the route, as in
// Better Auth.
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
	// Options.DisableOrganizationDeletion is set (404, as Better Auth).
	CodeOrganizationDeletionDisabled = "ORGANIZATION_DELETION_DISABLED"
	// CodeInvalidSlug is this package's own: a slug that is not lower-case
	// letters, digits and inner hyphens within the length bounds (400).
	// Better Auth accepts any non-empty slug.
	CodeInvalidSlug = "INVALID_SLUG"
)

var messages = map[string]string{
	CodeNotAllowedToCreateOrganization:  "You are not allowed to create a new organization",
	CodeMaximumOrganizationsReached:     "You have reached the maximum number of organizations",
	CodeOrganizationAlreadyExists:       "Organization already exists",
	CodeSlugTaken:                       "Organization slug already taken",
	CodeOrganizationNotFound:            "Organization not found",
	CodeUserNotMember:                   "User is not a member of the organization",
	CodeNotAllowedToUpdateOrganization:  "You are not allowed to update this organization",
	CodeNotAllowedToDeleteOrganization:  "You are not allowed to delete this organization",
	CodeNoActiveOrganization:            "No active organization",
	CodeAlreadyMember:                   "User is already a member of this organization",
	CodeMemberNotFound:                  "Member not found",
	CodeRoleNotFound:                    "Role not found",
	CodeTeamAlreadyExists:               "Team already exists",
	CodeTeamNotFound:                    "Team not found",
	CodeCannotLeaveAsOnlyOwner:          "You cannot leave the organization as the only owner",
	CodeCannotLeaveWithoutOwner:         "You cannot leave the organization without an owner",
	CodeNotAllowedToDeleteMember:        "You are not allowed to delete this member",
	CodeNotAllowedToInvite:              "You are not allowed to invite users to this organization",
	CodeAlreadyInvited:                  "User is already invited to this organization",
	CodeInvitationNotFound:              "Invitation not found",
	CodeNotRecipient:                    "You are not the recipient of the invitation",
	CodeEmailVerificationRequiredAccept: "Email verification required before accepting or rejecting invitation",
	CodeEmailVerificationRequired:       "Email verification required to view or list invitations for the session email",
	CodeNotAllowedToCancelInvitation:    "You are not allowed to cancel this invitation",
	CodeNotAllowedToListInvitations:     "You are not allowed to list invitations for this organization",
	CodeInviterNoLongerMember:           "Inviter is no longer a member of the organization",
	CodeNotAllowedToInviteWithRole:      "You are not allowed to invite a user with this role",
	CodeMaximumTeamsReached:             "You have reached the maximum number of teams",
	CodeUnableToRemoveLastTeam:          "Unable to remove last team",
	CodeNotAllowedToUpdateMember:        "You are not allowed to update this member",
	CodeMembershipLimitReached:          "Organization membership limit reached",
	CodeNotAllowedToCreateTeams:         "You are not allowed to create teams in this organization",
	CodeNotAllowedToDeleteTeams:         "You are not allowed to delete teams in this organization",
	CodeNotAllowedToUpdateTeam:          "You are not allowed to update this team",
	CodeNotAllowedToDeleteTeam:          "You are not allowed to delete this team",
	CodeInvitationLimitReached:          "Invitation limit reached",
	CodeTeamMemberLimitReached:          "Team member limit reached",
	CodeUserNotTeamMember:               "User is not a member of the team",
	CodeNoActiveTeam:                    "You do not have an active team",
	CodeNotAllowedToCreateTeamMember:    "You are not allowed to create a new member",
	CodeNotAllowedToRemoveTeamMember:    "You are not allowed to remove a team member",
	CodeNotAllowedToAccessOrganization:  "You are not allowed to access this organization as an owner",
	CodeNotAMember:                      "You are not a member of this organization",
	CodeInvalidTeamID:                   "Team id contains a reserved character",
	CodeOrganizationDeletionDisabled:    "Organization deletion is disabled",
	CodeInvalidSlug:                     "Invalid slug",
}

// Message returns Better Auth's message for an error code of this package
// ("" for an unknown code).
func Message(code string) string { return messages[code] }

// newErr returns the error with code and its message, answered with status.
func newErr(status int, code string) *auth.Error {
	return plugin.NewError(status, code, messages[code])
}

func badRequest(code string) *auth.Error { return newErr(http.StatusBadRequest, code) }
func forbidden(code string) *auth.Error  { return newErr(http.StatusForbidden, code) }

// roleNotFound is Better Auth's "ROLE_NOT_FOUND: a, b" error.
func roleNotFound(names []string) *auth.Error {
	msg := CodeRoleNotFound + ": "
	for i, n := range names {
		if i > 0 {
			msg += ", "
		}
		msg += n
	}
	return plugin.NewError(http.StatusBadRequest, CodeRoleNotFound, msg)
}

// validation returns a 400 VALIDATION_ERROR with Better Auth's
// "[body.x] message" text.
func validation(msg string) *auth.Error { return plugin.ErrValidation.WithMessage(msg) }

// messageOnly returns an error that carries only a message, as a few of
// Better Auth's organization errors do.
func messageOnly(status int, msg string) *auth.Error { return plugin.NewError(status, "", msg) }

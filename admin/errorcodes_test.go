package admin_test

import (
	"testing"

	"github.com/managarten/mana-auth/admin"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/plugin/plugintest"
)

// TestErrorCodes checks ErrorCodes against every error the package
// declares.
func TestErrorCodes(t *testing.T) {
	t.Parallel()
	p, err := admin.New(admin.Options{})
	if err != nil {
		t.Fatal(err)
	}
	own := func(name string, e *plugin.Error) plugintest.ErrorCase {
		return plugintest.ErrorCase{Name: name, Err: e, Decl: e}
	}
	plugintest.CheckErrorCodes(t, p, ".", []plugintest.ErrorCase{
		own("ErrYouCannotBanYourself", admin.ErrYouCannotBanYourself),
		own("ErrNotAllowedToChangeUsersRole", admin.ErrNotAllowedToChangeUsersRole),
		own("ErrNotAllowedToCreateUsers", admin.ErrNotAllowedToCreateUsers),
		own("ErrNotAllowedToListUsers", admin.ErrNotAllowedToListUsers),
		own("ErrNotAllowedToListUsersSessions", admin.ErrNotAllowedToListUsersSessions),
		own("ErrNotAllowedToBanUsers", admin.ErrNotAllowedToBanUsers),
		own("ErrNotAllowedToImpersonateUsers", admin.ErrNotAllowedToImpersonateUsers),
		own("ErrNotAllowedToRevokeUsersSessions", admin.ErrNotAllowedToRevokeUsersSessions),
		own("ErrNotAllowedToDeleteUsers", admin.ErrNotAllowedToDeleteUsers),
		own("ErrNotAllowedToSetUsersPassword", admin.ErrNotAllowedToSetUsersPassword),
		own("ErrBannedUser", admin.ErrBannedUser),
		own("ErrNotAllowedToGetUser", admin.ErrNotAllowedToGetUser),
		own("ErrNoDataToUpdate", admin.ErrNoDataToUpdate),
		own("ErrNotAllowedToUpdateUsers", admin.ErrNotAllowedToUpdateUsers),
		own("ErrYouCannotRemoveYourself", admin.ErrYouCannotRemoveYourself),
		own("ErrNotAllowedToSetNonExistentValue", admin.ErrNotAllowedToSetNonExistentValue),
		own("ErrYouCannotImpersonateAdmins", admin.ErrYouCannotImpersonateAdmins),
		own("ErrInvalidRoleType", admin.ErrInvalidRoleType),
		own("ErrNotAllowedToSetUsersEmail", admin.ErrNotAllowedToSetUsersEmail),
		own("ErrNotAllowedToSetUsersPhoneNumber", admin.ErrNotAllowedToSetUsersPhoneNumber),
		own("ErrPasswordCannotBeUpdatedViaUpdateUser", admin.ErrPasswordCannotBeUpdatedViaUpdateUser),
		own("ErrUserIDCannotBeUpdated", admin.ErrUserIDCannotBeUpdated),
	})
}

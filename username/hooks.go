package username

import (
	"context"
	"errors"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// Hooks implements plugin.HookSource: Better Auth's before-hooks on
// sign-up and update-user (the username is checked before the routes'
// own checks, as there), and its database hooks: BeforeUserCreate and
// BeforeUserUpdate check and normalise the username of every user
// created or updated, whatever creates or updates it (admin's
// update-user, plugin.Host.UpdateUser).
func (p *Plugin) Hooks() plugin.Hooks {
	return plugin.Hooks{
		Before: []plugin.Hook{
			{Match: plugin.PathIs("/sign-up/email"), Handler: p.displayAsUsername},
			{Match: plugin.PathIs("/sign-up/email", "/update-user"), Handler: p.checkBody},
		},
		BeforeUserCreate: p.beforeUserCreate,
		BeforeUserUpdate: p.beforeUserUpdate,
	}
}

// displayAsUsername makes a sign-up's displayUsername its username too
// when no username is given and the displayUsername is a valid one.
func (p *Plugin) displayAsUsername(c *plugin.Context) error {
	body := c.Body()
	d, ok := body[FieldDisplayUsername].(string)
	if _, given := body[FieldUsername]; ok && !given && p.check(d) == nil {
		body[FieldUsername] = d
	}
	return nil
}

// checkBody refuses an invalid, taken or reserved username (and an
// invalid display username) of a sign-up or update-user, before the
// route's own checks as Better Auth does; on update-user it also enforces
// ImmutableUsername. The values stay as given: BeforeUserCreate and
// BeforeUserUpdate normalise them as they are written.
func (p *Plugin) checkBody(c *plugin.Context) error {
	body := c.Body()
	if body == nil {
		return nil // not an object: the route answers
	}
	ctx := c.Context()
	update := c.Path() == "/update-user"
	raw, given := body[FieldUsername]
	switch name := raw.(type) {
	case string:
		if err := p.check(name); err != nil {
			return err
		}
		norm := p.Normalize(name)
		var self *plugin.User
		if update {
			var err error
			if self, err = p.sessionUser(c); err != nil {
				return err
			}
			if p.opts.ImmutableUsername && self != nil {
				if cur, _ := self.Extra[FieldUsername].(string); cur != "" && cur != norm {
					return ErrUsernameIsImmutable
				}
			}
		}
		selfID := ""
		if self != nil {
			selfID = self.ID
		}
		if err := p.checkFree(ctx, norm, selfID); err != nil {
			return err
		}
	case nil:
		// Clearing the username (Better Auth lets null through, even
		// with immutableUsername: here an immutable one stays).
		if given && update && p.opts.ImmutableUsername {
			self, err := p.sessionUser(c)
			if err != nil {
				return err
			}
			if self != nil {
				if cur, _ := self.Extra[FieldUsername].(string); cur != "" {
					return ErrUsernameIsImmutable
				}
			}
		}
	}
	if p.opts.DisableDisplayUsername {
		return nil
	}
	if d, ok := body[FieldDisplayUsername].(string); ok {
		if err := p.checkDisplay(d); err != nil {
			return err
		}
	}
	return nil
}

// errUserNotFound matches the host's USER_NOT_FOUND (errors.Is compares
// codes).
var errUserNotFound = &plugin.Error{Code: "USER_NOT_FOUND"}

// sessionUser returns the request's user as stored now (not as a cookie
// cache may remember it), or nil without a session.
func (p *Plugin) sessionUser(c *plugin.Context) (*plugin.User, error) {
	sd := c.Session()
	if sd == nil {
		return nil, nil
	}
	u, err := p.h.FindUserByID(c.Context(), sd.User.ID)
	if errors.Is(err, errUserNotFound) {
		return nil, nil
	}
	return u, err
}

// checkFree returns ErrUsernameIsAlreadyTaken unless the normalised
// username is free or held by the user selfID; a reserved username is
// taken unless selfID holds it.
func (p *Plugin) checkFree(ctx context.Context, norm, selfID string) error {
	rec, err := p.h.DB().FindOne(ctx, plugin.TableUser, storage.W(FieldUsername, norm))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		if p.reserved[norm] {
			return ErrUsernameIsAlreadyTaken
		}
		return nil
	case err != nil:
		return plugin.StorageError(err)
	case selfID == "" || rec.String("id") != selfID:
		return ErrUsernameIsAlreadyTaken
	}
	return nil
}

// beforeUserCreate checks and normalises the username of a new user
// (Better Auth's databaseHooks.user.create.before): invalid, taken or
// reserved is refused; displayUsername defaults to the username as given.
// Both fields are set (null when absent), so that every user object shows
// them.
func (p *Plugin) beforeUserCreate(ctx context.Context, u *plugin.User) error {
	if u.Extra == nil {
		u.Extra = map[string]any{}
	}
	var display *string
	if !p.opts.DisableDisplayUsername {
		switch d := u.Extra[FieldDisplayUsername].(type) {
		case string:
			if d != "" {
				if err := p.checkDisplay(d); err != nil {
					return err
				}
				d = p.normalizeDisplay(d)
			}
			display = &d
		case nil:
		default:
			return ErrInvalidDisplayUsername
		}
	}
	switch name := u.Extra[FieldUsername].(type) {
	case string:
		if err := p.check(name); err != nil {
			return err
		}
		norm := p.Normalize(name)
		if err := p.checkFree(ctx, norm, u.ID); err != nil {
			return err
		}
		u.Extra[FieldUsername] = norm
		if display == nil || *display == "" {
			display = &name
		}
	case nil:
		u.Extra[FieldUsername] = nil
	default:
		return ErrInvalidUsername
	}
	if !p.opts.DisableDisplayUsername {
		if display == nil {
			u.Extra[FieldDisplayUsername] = nil
		} else {
			u.Extra[FieldDisplayUsername] = *display
		}
	}
	return nil
}

// beforeUserUpdate checks and normalises the username and display
// username written to a user, on every path (Better Auth's
// databaseHooks.user.update.before): update-user, admin's update-user,
// SetUsername, plugin.Host.UpdateUser. An invalid username is refused
// with update-user's 400 codes, one another user holds (or a reserved one
// the user does not hold) with ErrUsernameIsAlreadyTaken; null clears
// it. Run again after the write lost a race for the username, it finds
// the winner's row and answers ErrUsernameIsAlreadyTaken. Immutability is
// the rule of the user's own routes (update-user, SetUsername), as in
// Better Auth: an admin may change a username.
func (p *Plugin) beforeUserUpdate(ctx context.Context, userID string, fields map[string]any) error {
	if v, ok := fields[FieldUsername]; ok {
		switch name := v.(type) {
		case string:
			if err := p.check(name); err != nil {
				return err
			}
			norm := p.Normalize(name)
			if err := p.checkFree(ctx, norm, userID); err != nil {
				return err
			}
			fields[FieldUsername] = norm
		case nil:
		default:
			return ErrInvalidUsername
		}
	}
	if p.opts.DisableDisplayUsername {
		return nil
	}
	if v, ok := fields[FieldDisplayUsername]; ok {
		switch d := v.(type) {
		case string:
			if err := p.checkDisplay(d); err != nil {
				return err
			}
			fields[FieldDisplayUsername] = p.normalizeDisplay(d)
		case nil:
		default:
			return ErrInvalidDisplayUsername
		}
	}
	return nil
}

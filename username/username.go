package username

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"unicode/utf16"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// The user fields the plugin adds.
const (
	// FieldUsername is the normalised username (unique).
	FieldUsername = "username"
	// FieldDisplayUsername is the username as the user typed it.
	FieldDisplayUsername = "displayUsername"
)

// Order says whether a value is validated as given or once normalised.
type Order string

// The validation orders (Better Auth's names).
const (
	// PreNormalization validates the value as given (the default).
	PreNormalization Order = "pre-normalization"
	// PostNormalization validates the normalised value.
	PostNormalization Order = "post-normalization"
)

// ValidationOrder says when the validators run, for the username and the
// display username (Better Auth's validationOrder).
type ValidationOrder struct {
	// Username is PreNormalization (default) or PostNormalization.
	Username Order
	// DisplayUsername is PreNormalization (default) or PostNormalization.
	DisplayUsername Order
}

// Options configures the plugin (Better Auth's UsernameOptions).
type Options struct {
	// MinUsernameLength is the shortest username, in UTF-16 code units as
	// JavaScript counts. Default 3.
	MinUsernameLength int
	// MaxUsernameLength is the longest username. Default 30.
	MaxUsernameLength int
	// UsernameValidator reports whether a username (of valid length) is
	// acceptable. Default: ASCII letters, digits, "_" and "."
	// (/^[a-zA-Z0-9_.]+$/). Whatever it accepts, a username that is not
	// a valid name (plugin.CheckName: a control or invisible format
	// character, invalid UTF-8, over 256 UTF-16 code units) is refused.
	UsernameValidator func(username string) bool
	// UsernameNormalization maps a username to the form stored and
	// looked up. Default strings.ToLower; to keep usernames as typed (and
	// lookups case-sensitive), use func(s string) string { return s }.
	UsernameNormalization func(username string) string
	// DisplayUsernameValidator, if set, reports whether a display
	// username is acceptable (else 400 INVALID_DISPLAY_USERNAME). A
	// display username must in any case be a valid name (at most 256
	// UTF-16 code units, nothing hidden), as the user's name must.
	DisplayUsernameValidator func(displayUsername string) bool
	// DisplayUsernameNormalization, if set, maps a display username to the
	// form stored. Default: stored as given.
	DisplayUsernameNormalization func(displayUsername string) string
	// ValidationOrder says whether the validators see values as given
	// (default) or normalised.
	ValidationOrder ValidationOrder
	// ReservedUsernames are refused as if taken (400
	// USERNAME_IS_ALREADY_TAKEN, is-username-available false), compared
	// normalised. A user who holds one already keeps it and signs in with
	// it. Better Auth has no such option; empty by default.
	ReservedUsernames []string
	// ImmutableUsername refuses to change a username once set (400
	// USERNAME_IS_IMMUTABLE); setting it again, in any case, is allowed.
	ImmutableUsername bool
	// DisableDisplayUsername leaves out the displayUsername field (Better
	// Auth's displayUsername: false).
	DisableDisplayUsername bool
}

// The plugin's errors, with Better Auth's codes and messages. The
// username checks answer 400 on sign-up and update-user and 422 on
// sign-in and is-username-available, as Better Auth does.
var (
	ErrInvalidUsernameOrPassword = plugin.NewError(http.StatusUnauthorized, "INVALID_USERNAME_OR_PASSWORD", "Invalid username or password")
	ErrUsernameIsAlreadyTaken    = plugin.NewError(http.StatusBadRequest, "USERNAME_IS_ALREADY_TAKEN", "Username is already taken. Please try another.")
	ErrUsernameTooShort          = plugin.NewError(http.StatusBadRequest, "USERNAME_TOO_SHORT", "Username is too short")
	ErrUsernameTooLong           = plugin.NewError(http.StatusBadRequest, "USERNAME_TOO_LONG", "Username is too long")
	ErrInvalidUsername           = plugin.NewError(http.StatusBadRequest, "INVALID_USERNAME", "Username is invalid")
	ErrInvalidDisplayUsername    = plugin.NewError(http.StatusBadRequest, "INVALID_DISPLAY_USERNAME", "Display username is invalid")
	ErrUsernameIsImmutable       = plugin.NewError(http.StatusBadRequest, "USERNAME_IS_IMMUTABLE", "Username cannot be updated")
)

// unprocessable is e answered 422, as sign-in and is-username-available
// answer the username checks.
func unprocessable(e *plugin.Error) *plugin.Error {
	c := *e
	c.Status = http.StatusUnprocessableEntity
	return &c
}

var defaultValidator = regexp.MustCompile(`^[a-zA-Z0-9_.]+$`)

// Plugin is the username plugin.
type Plugin struct {
	opts     Options
	reserved map[string]bool
	h        plugin.Host
}

var (
	_ plugin.Initializer    = (*Plugin)(nil)
	_ plugin.SchemaSource   = (*Plugin)(nil)
	_ plugin.EndpointSource = (*Plugin)(nil)
	_ plugin.HookSource     = (*Plugin)(nil)
	_ plugin.ErrorSource    = (*Plugin)(nil)
)

// New returns the plugin, or an error naming what is wrong with opts.
func New(opts Options) (*Plugin, error) {
	if opts.MinUsernameLength < 0 || opts.MaxUsernameLength < 0 {
		return nil, errors.New("username: MinUsernameLength and MaxUsernameLength must not be negative")
	}
	if opts.MinUsernameLength == 0 {
		opts.MinUsernameLength = 3
	}
	if opts.MaxUsernameLength == 0 {
		opts.MaxUsernameLength = 30
	}
	if opts.MaxUsernameLength < opts.MinUsernameLength {
		return nil, fmt.Errorf("username: MaxUsernameLength %d is below MinUsernameLength %d", opts.MaxUsernameLength, opts.MinUsernameLength)
	}
	for _, o := range []Order{opts.ValidationOrder.Username, opts.ValidationOrder.DisplayUsername} {
		if o != "" && o != PreNormalization && o != PostNormalization {
			return nil, fmt.Errorf("username: ValidationOrder %q: want %q or %q", o, PreNormalization, PostNormalization)
		}
	}
	if opts.UsernameValidator == nil {
		opts.UsernameValidator = defaultValidator.MatchString
	}
	if opts.UsernameNormalization == nil {
		opts.UsernameNormalization = strings.ToLower
	}
	p := &Plugin{opts: opts, reserved: map[string]bool{}}
	for _, r := range opts.ReservedUsernames {
		if r == "" {
			return nil, errors.New("username: an empty string among ReservedUsernames")
		}
		p.reserved[opts.UsernameNormalization(r)] = true
	}
	return p, nil
}

// ID implements plugin.Plugin.
func (p *Plugin) ID() string { return "username" }

// Init implements plugin.Initializer.
func (p *Plugin) Init(h plugin.Host) error {
	p.h = h
	return nil
}

// Schema implements plugin.SchemaSource: user.username (unique,
// normalised) and user.displayUsername, both nullable, both settable by
// sign-up and update-user (storage.Field.Input).
func (p *Plugin) Schema() storage.Schema {
	fields := []storage.Field{{Name: FieldUsername, Type: storage.String, Unique: true, Input: true}}
	if !p.opts.DisableDisplayUsername {
		fields = append(fields, storage.Field{Name: FieldDisplayUsername, Type: storage.String, Input: true})
	}
	return storage.Schema{Tables: []storage.Table{{Name: plugin.TableUser, Fields: fields}}}
}

// ErrorCodes implements plugin.ErrorSource.
func (p *Plugin) ErrorCodes() []*plugin.Error {
	return []*plugin.Error{ErrInvalidUsernameOrPassword, ErrUsernameIsAlreadyTaken, ErrUsernameTooShort,
		ErrUsernameTooLong, ErrInvalidUsername, ErrInvalidDisplayUsername, ErrUsernameIsImmutable}
}

// Normalize returns the form of a username that is stored and looked up.
func (p *Plugin) Normalize(username string) string { return p.opts.UsernameNormalization(username) }

func (p *Plugin) normalizeDisplay(s string) string {
	if p.opts.DisplayUsernameNormalization != nil {
		return p.opts.DisplayUsernameNormalization(s)
	}
	return s
}

// Validate checks a username as given against the length, the validator
// and the text rules (after normalising it, with PostNormalization): nil,
// ErrUsernameTooShort, ErrUsernameTooLong or ErrInvalidUsername. It does
// not look at the database (taken or reserved).
func (p *Plugin) Validate(username string) error {
	if err := p.check(username); err != nil {
		return err
	}
	return nil
}

// check is Validate with a concrete type.
func (p *Plugin) check(username string) *plugin.Error {
	v := username
	if p.opts.ValidationOrder.Username == PostNormalization {
		v = p.Normalize(username)
	}
	n := utf16Len(v)
	switch {
	case n < p.opts.MinUsernameLength:
		return ErrUsernameTooShort
	case n > p.opts.MaxUsernameLength:
		return ErrUsernameTooLong
	case plugin.CheckName(v) != nil || !storage.Storable(v) || !p.opts.UsernameValidator(v):
		return ErrInvalidUsername
	}
	return nil
}

// checkDisplay checks a display username.
func (p *Plugin) checkDisplay(display string) *plugin.Error {
	v := display
	if p.opts.ValidationOrder.DisplayUsername == PostNormalization {
		v = p.normalizeDisplay(display)
	}
	if plugin.CheckName(v) != nil || plugin.CheckName(display) != nil || !storage.Storable(v) {
		return ErrInvalidDisplayUsername
	}
	if p.opts.DisplayUsernameValidator != nil && !p.opts.DisplayUsernameValidator(v) {
		return ErrInvalidDisplayUsername
	}
	return nil
}

// utf16Len is the length of s in UTF-16 code units, as JavaScript counts.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

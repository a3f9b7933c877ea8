package auth

import "github.com/managarten/mana-auth/plugin"

// The records and answers an app handles, defined with the plugin API
// (package plugin) that both the app and plugins see.
type (
	// User is a user (plugin.User).
	User = plugin.User
	// Session is a session (plugin.Session).
	Session = plugin.Session
	// SessionData is a session with its user, the answer of get-session
	// (plugin.SessionData).
	SessionData = plugin.SessionData
	// AuthResult is what signing a user in returns (plugin.AuthResult).
	AuthResult = plugin.AuthResult
	// Error is the error type of every operation, the core's and every
	// plugin's (plugin.Error): errors.As(err, &e) with e an *auth.Error
	// finds the status, code and user-safe message.
	Error = plugin.Error
	// Plugin extends an Auth (plugin.Plugin): see package plugin.
	Plugin = plugin.Plugin
	// Email is a message for a Mailer to render and send (plugin.Email).
	Email = plugin.Email
	// Mailer sends the emails of the core and the plugins (plugin.Mailer).
	Mailer = plugin.Mailer
)

package magiclink_test

import (
	"testing"

	"github.com/managarten/mana-auth/magiclink"
	"github.com/managarten/mana-auth/plugin/plugintest"
)

// TestErrorCodes checks ErrorCodes (plugin.ErrorSource) against every error
// the package declares: Decl is the error that declares each one's code
// (itself, another of the package's, or the core's).
func TestErrorCodes(t *testing.T) {
	t.Parallel()
	plugintest.CheckErrorCodes(t, magiclink.New(magiclink.Options{}), ".", []plugintest.ErrorCase{})
}

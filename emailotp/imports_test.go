package emailotp_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports: the plugin is written on the plugin API alone, as a third
// party writes one (as oauth is): no package auth, no other plugin.
func TestImports(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", ".", "../plugin/otp").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps listed %d packages", len(deps))
	}
	const mod = "github.com/managarten/mana-auth/"
	for _, d := range deps {
		rest, ok := strings.CutPrefix(d, mod)
		if !ok {
			continue
		}
		switch top, _, _ := strings.Cut(rest, "/"); top {
		case "auth", "twofactor", "magiclink", "oauth", "org", "passkey", "vault", "jwt", "server":
			t.Errorf("emailotp or plugin/otp depends on %s", d)
		}
	}
}

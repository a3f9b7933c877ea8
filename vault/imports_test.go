package vault

import (
	"os/exec"
	"strings"
	"testing"
)

// The vault works through the storage API only: neither it nor anything
// it imports depends on the PostgreSQL adapter or on pgx (its tests may).
func TestImportsNoPostgres(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 || deps[len(deps)-1] != "github.com/managarten/mana-auth/vault" {
		t.Fatalf("go list -deps listed %d packages, ending with %q", len(deps), deps[len(deps)-1])
	}
	for _, d := range deps {
		if strings.HasPrefix(d, "github.com/managarten/mana-auth/storage/postgres") ||
			strings.HasPrefix(d, "github.com/jackc/pgx") {
			t.Errorf("package vault depends on %s", d)
		}
	}
}

package memory_test

import (
	"testing"

	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
	"github.com/managarten/mana-auth/storage/storagetest"
)

// TestConformanceNamed: the memory adapter keeps records by logical
// names, so a naming changes nothing it does.
func TestConformanceNamed(t *testing.T) {
	storagetest.RunNamed(t, storagetest.Naming("owner_kind"), func(*testing.T) storage.Adapter { return memory.New() })
}

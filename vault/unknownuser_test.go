package vault

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// A user id with no user row (a deleted account whose access token is
// still valid, or one that never existed) is ErrUnknownUser (401) from
// every operation, and no operator error is logged: the foreign keys of
// the vault tables refuse its rows, which is the client's problem, not
// the database's. Export and erase (the DataSource) find nothing.
func TestUnknownUser(t *testing.T) {
	t.Parallel()
	wrapped, iv := make([]byte, WrappedKeySize), make([]byte, IVSize)
	ops := []struct {
		name string
		fn   func(s *Service, ctx context.Context, uid string) error
	}{
		{"Status", func(s *Service, ctx context.Context, uid string) error { _, err := s.Status(ctx, uid); return err }},
		{"Init", func(s *Service, ctx context.Context, uid string) error { _, err := s.Init(ctx, uid); return err }},
		{"Key", func(s *Service, ctx context.Context, uid string) error { _, err := s.Key(ctx, uid); return err }},
		{"Rotate", func(s *Service, ctx context.Context, uid string) error { _, err := s.Rotate(ctx, uid); return err }},
		{"SetRecoveryWrap", func(s *Service, ctx context.Context, uid string) error {
			return s.SetRecoveryWrap(ctx, uid, wrapped, iv)
		}},
		{"SetRecoveryWrap with bad sizes", func(s *Service, ctx context.Context, uid string) error {
			return s.SetRecoveryWrap(ctx, uid, wrapped[:3], iv)
		}},
		{"DeleteRecoveryWrap", func(s *Service, ctx context.Context, uid string) error { return s.DeleteRecoveryWrap(ctx, uid) }},
		{"SetZeroKnowledge on", func(s *Service, ctx context.Context, uid string) error {
			return s.SetZeroKnowledge(ctx, uid, true, nil)
		}},
		{"SetZeroKnowledge off", func(s *Service, ctx context.Context, uid string) error {
			return s.SetZeroKnowledge(ctx, uid, false, make([]byte, MasterKeySize))
		}},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		t.Parallel()
		e := newEnv(t, b.open(t))
		ctx := context.Background()
		deleted := e.user(t)
		if _, err := e.svc.Init(ctx, deleted); err != nil {
			t.Fatal(err)
		}
		if err := e.a.DeleteUser(ctx, deleted); err != nil {
			t.Fatal(err)
		}
		for _, uid := range []string{deleted, "never-existed-" + randHex(4)} {
			for _, op := range ops {
				if err := op.fn(e.svc, ctx, uid); !errors.Is(err, ErrUnknownUser) {
					t.Errorf("%s(%s) = %v, want ErrUnknownUser", op.name, uid, err)
				}
			}
			if ex, err := e.svc.ExportUser(ctx, uid); ex != nil || err != nil {
				t.Errorf("ExportUser(%s) = %v, %v; want nil, nil", uid, ex, err)
			}
			if err := e.svc.DeleteUser(ctx, uid); err != nil {
				t.Errorf("DeleteUser(%s) = %v", uid, err)
			}
		}
		if strings.Contains(e.logs.String(), "level=ERROR") {
			t.Errorf("errors logged for unknown users:\n%s", e.logs.String())
		}
		// A live user is unaffected.
		live := e.user(t)
		if st, err := e.svc.Status(ctx, live); err != nil || st.VaultExists {
			t.Errorf("Status(live user) = %+v, %v", st, err)
		}
	})
}

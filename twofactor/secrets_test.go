package twofactor_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/keyring"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
	"github.com/managarten/mana-auth/twofactor"
)

// secretsEnv is an env over db with the given secrets, its clock moved on
// by skip so that codes accepted by earlier envs are not replays.
func secretsEnv(t *testing.T, db storage.Adapter, skip time.Duration, secret string, versions ...keyring.Version) *env {
	t.Helper()
	e := newEnv(t, envOpts{db: db, cfg: func(c *auth.Config) { c.Secret, c.Secrets = secret, versions }})
	e.advance(skip)
	return e
}

// signInTOTP signs u in with a TOTP code and returns the status.
func (e *env) signInTOTP(t *testing.T, u user) int {
	t.Helper()
	b := e.browser()
	b.pending(t, u)
	return b.post(t, "/two-factor/verify-totp", map[string]any{"code": e.code(u.key, 0)}).status
}

// signInBackup signs u in with a backup code and returns the reply.
func (e *env) signInBackup(t *testing.T, u user, code string) reply {
	t.Helper()
	b := e.browser()
	b.pending(t, u)
	return b.post(t, "/two-factor/verify-backup-code", map[string]any{"code": code})
}

// Two-factor secrets and backup codes stay usable across rotations while
// the secret that protects them is configured; new ones are protected by
// the current version; removing a secret makes its users' second factor
// fail (500 for TOTP, refused backup codes), never a panic.
func TestTwoFactorAcrossSecretRotation(t *testing.T) {
	t.Parallel()
	s0 := "twofactor-rotation-secret-zero-0123456789"
	v1 := keyring.Version{Version: 1, Value: "twofactor-rotation-secret-one-0123456789"}
	v2 := keyring.Version{Version: 2, Value: "twofactor-rotation-secret-two-0123456789"}
	db := memory.New()

	type stored struct{ secret, codes string }
	prefixes := func(e *env, u user) stored {
		r := e.twoFactorRow(t, u.id)
		sec, codes := r.String("secret"), r.String("backupCodes")
		if i := strings.LastIndex(sec, "$"); i >= 0 {
			sec = sec[:i+1]
		} else {
			sec = "hex"
		}
		return stored{sec, codes[:strings.LastIndex(codes[:strings.Index(codes, "[")-1], ":")+1]}
	}

	// 0: a single secret.
	e0 := secretsEnv(t, db, 0, s0)
	ann := e0.enroll(t, "ann@example.com")
	if got := prefixes(e0, ann); got != (stored{"hex", "hashed:v1:"}) {
		t.Fatalf("ann's row: %+v", got)
	}

	// 1: version 1 added, s0 kept as legacy.
	e1 := secretsEnv(t, db, 2*time.Minute, s0, v1)
	if st := e1.signInTOTP(t, ann); st != 200 {
		t.Fatalf("ann's TOTP after adding version 1: %d", st)
	}
	ok(t, e1.signInBackup(t, ann, ann.codes[0]))
	ben := e1.enroll(t, "ben@example.com")
	if got := prefixes(e1, ben); got != (stored{"$ba$1$", "hashed:v2:1:"}) {
		t.Fatalf("ben's row: %+v", got)
	}
	// A spent code keeps the others' key (s0 for ann).
	if got := prefixes(e1, ann); got.codes != "hashed:v1:" {
		t.Fatalf("ann's codes after spending one: %+v", got)
	}

	// 2: version 2 current, 1 kept, s0 dropped.
	e2 := secretsEnv(t, db, 4*time.Minute, "", v2, v1)
	if st := e2.signInTOTP(t, ben); st != 200 {
		t.Fatalf("ben's TOTP after adding version 2: %d", st)
	}
	ok(t, e2.signInBackup(t, ben, ben.codes[0]))
	cid := e2.enroll(t, "cid@example.com")
	if got := prefixes(e2, cid); got != (stored{"$ba$2$", "hashed:v2:2:"}) {
		t.Fatalf("cid's row: %+v", got)
	}
	// ann's secret and codes were protected by s0, which is gone.
	if st := e2.signInTOTP(t, ann); st != 500 {
		t.Fatalf("ann's TOTP without s0: %d, want 500", st)
	}
	want(t, e2.signInBackup(t, ann, ann.codes[1]), 401, "INVALID_BACKUP_CODE")

	// 3: version 1 dropped.
	e3 := secretsEnv(t, db, 6*time.Minute, "", v2)
	if st := e3.signInTOTP(t, cid); st != 200 {
		t.Fatalf("cid's TOTP with version 2 only: %d", st)
	}
	ok(t, e3.signInBackup(t, cid, cid.codes[0]))
	if st := e3.signInTOTP(t, ben); st != 500 {
		t.Fatalf("ben's TOTP without version 1: %d, want 500", st)
	}
	want(t, e3.signInBackup(t, ben, ben.codes[1]), 401, "INVALID_BACKUP_CODE")

	// Putting version 1 back makes ben's factor work again: nothing was lost.
	e4 := secretsEnv(t, db, 8*time.Minute, "", v2, v1)
	if st := e4.signInTOTP(t, ben); st != 200 {
		t.Fatalf("ben's TOTP with version 1 back: %d", st)
	}
	ok(t, e4.signInBackup(t, ben, ben.codes[1]))

	// The Go API names the missing secret.
	_, err := e3.p.GetTOTPURI(context.Background(), sessionOf(t, e3, ben), password)
	if err == nil || !strings.Contains(err.Error(), "secret version 1, which is not configured") {
		t.Fatalf("GetTOTPURI without version 1: %v", err)
	}
}

// sessionOf creates a session for u directly.
func sessionOf(t *testing.T, e *env, u user) *auth.SessionData {
	t.Helper()
	ctx := context.Background()
	usr, err := e.a.Host().FindUserByID(ctx, u.id)
	if err != nil || usr == nil {
		t.Fatalf("user %s: %v", u.id, err)
	}
	res, err := e.a.Host().CreateSession(ctx, usr, true)
	if err != nil {
		t.Fatal(err)
	}
	return &auth.SessionData{Session: res.Session, User: res.User}
}

// TestBetterAuthRotatedRows: twoFactor rows Better Auth wrote before
// versioned secrets and under versions 1 and 2 (the rotation fixture) work
// here with the same configuration: its TOTP secrets verify codes, its
// encrypted backup codes are accepted and re-stored hashed under the
// current version.
func TestBetterAuthRotatedRows(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../keyring/testdata/betterauth-rotation.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Phases map[string]struct {
			Secret  string            `json:"secret"`
			Secrets []keyring.Version `json:"secrets"`
		} `json:"phases"`
		Users []struct {
			Phase, Email, UserID, TotpURI string
			BackupCodes                   []string
		} `json:"users"`
		Rows struct {
			TwoFactor []struct {
				UserID, Secret, BackupCodes string
			} `json:"twoFactor"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Users) != 3 || len(f.Rows.TwoFactor) != 3 {
		t.Fatalf("fixture has %d users and %d twoFactor rows, want 3", len(f.Users), len(f.Rows.TwoFactor))
	}
	c := f.Phases["C"]
	e := newEnv(t, envOpts{cfg: func(cfg *auth.Config) { cfg.Secret, cfg.Secrets = c.Secret, c.Secrets }})
	ctx := context.Background()
	wantPrefix := map[string]string{"A": "", "B": "$ba$1$", "C": "$ba$2$"}
	for _, fu := range f.Users {
		var row struct{ UserID, Secret, BackupCodes string }
		for _, r := range f.Rows.TwoFactor {
			if r.UserID == fu.UserID {
				row = r
			}
		}
		if p := wantPrefix[fu.Phase]; !strings.HasPrefix(row.Secret, p) || !strings.HasPrefix(row.BackupCodes, p) ||
			(p == "" && strings.HasPrefix(row.Secret, "$")) {
			t.Fatalf("phase %s row: secret %.10s…, codes %.10s…; want prefix %q", fu.Phase, row.Secret, row.BackupCodes, p)
		}
		// Our user, with Better Auth's columns.
		br := e.browser()
		id := br.signUp(t, fu.Email)
		ok(t, br.post(t, "/sign-out", nil))
		if _, err := e.db.Update(ctx, plugin.TableUser, storage.Record{"twoFactorEnabled": true}, storage.W("id", id)); err != nil {
			t.Fatal(err)
		}
		if err := e.db.Create(ctx, twofactor.TableTwoFactor, storage.Record{"id": plugin.NewID(), "userId": id,
			"secret": row.Secret, "backupCodes": row.BackupCodes, "verified": true, "failedVerificationCount": int64(0)}); err != nil {
			t.Fatal(err)
		}
		u := user{id: id, email: fu.Email, key: keyFromURI(t, fu.TotpURI)}
		if st := e.signInTOTP(t, u); st != 200 {
			t.Errorf("phase %s: TOTP from Better Auth's secret: %d", fu.Phase, st)
		}
		ok(t, e.signInBackup(t, u, fu.BackupCodes[3]))
		if got := e.twoFactorRow(t, id).String("backupCodes"); !strings.HasPrefix(got, "hashed:v2:2:") {
			t.Errorf("phase %s: codes re-stored as %.14s…, want hashed under version 2", fu.Phase, got)
		}
		want(t, e.signInBackup(t, u, fu.BackupCodes[3]), 401, "INVALID_BACKUP_CODE")
		ok(t, e.signInBackup(t, u, fu.BackupCodes[4]))
		e.advance(30 * time.Second)
	}
}

package twofactor

import (
	"context"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// Export is what ExportUser returns about a user: metadata, never
// secrets or codes.
type Export struct {
	// Enabled is the user's twoFactorEnabled flag.
	Enabled bool `json:"enabled"`
	// Factors are the user's twoFactor rows.
	Factors []ExportFactor `json:"factors"`
	// TrustedDevices are the devices that skip the second factor.
	TrustedDevices []ExportDevice `json:"trustedDevices"`
}

// ExportFactor describes a twoFactor row.
type ExportFactor struct {
	// ID is the row id.
	ID string `json:"id"`
	// Verified is false while TOTP enrolment awaits its first code.
	Verified bool `json:"verified"`
	// BackupCodesRemaining counts the unused backup codes.
	BackupCodesRemaining int `json:"backupCodesRemaining"`
	// FailedVerificationCount counts consecutive wrong codes.
	FailedVerificationCount int64 `json:"failedVerificationCount"`
	// LockedUntil is the end of a lockout, if any (plugin.TimeFormat).
	LockedUntil *string `json:"lockedUntil"`
}

// ExportDevice describes a trusted device.
type ExportDevice struct {
	// CreatedAt is when the device was (last) trusted (plugin.TimeFormat,
	// as every date of an export).
	CreatedAt string `json:"createdAt"`
	// ExpiresAt is when the trust ends.
	ExpiresAt string `json:"expiresAt"`
}

// ExportUser implements plugin.DataSource.
func (p *Plugin) ExportUser(ctx context.Context, userID string) (any, error) {
	u, err := p.a.FindUserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := Export{Enabled: Enabled(u), Factors: []ExportFactor{}, TrustedDevices: []ExportDevice{}}
	recs, err := p.a.DB().FindMany(ctx, TableTwoFactor, storage.Query{Where: []storage.Where{storage.W("userId", userID)}})
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	for _, rec := range recs {
		r := rowFromRecord(rec)
		f := ExportFactor{ID: r.ID, Verified: r.Verified}
		if r.LockedUntil != nil {
			t := plugin.FormatTime(*r.LockedUntil)
			f.LockedUntil = &t
		}
		if r.Failed != nil {
			f.FailedVerificationCount = *r.Failed
		}
		if n, err := p.remaining(r.BackupCodes); err == nil {
			f.BackupCodesRemaining = n
		}
		out.Factors = append(out.Factors, f)
	}
	devs, err := p.a.DB().FindMany(ctx, plugin.TableVerification, storage.Query{Where: []storage.Where{
		{Field: "identifier", Op: storage.StartsWith, Value: "trust-device-"}, storage.W("value", userID),
		{Field: "expiresAt", Op: storage.Gt, Value: p.a.Now()},
	}, Sort: []storage.Sort{{Field: "createdAt"}}})
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	for _, d := range devs {
		out.TrustedDevices = append(out.TrustedDevices, ExportDevice{CreatedAt: plugin.FormatTime(d.Time("createdAt")),
			ExpiresAt: plugin.FormatTime(d.Time("expiresAt"))})
	}
	return out, nil
}

// DeleteUser implements plugin.DataSource: it deletes the user's twoFactor
// rows, trusted devices, pending sign-ins, codes and TOTP replay record.
func (p *Plugin) DeleteUser(ctx context.Context, userID string) error {
	db := p.a.DB()
	if _, err := db.Delete(ctx, TableTwoFactor, storage.W("userId", userID)); err != nil {
		return plugin.StorageError(err)
	}
	// Pending sign-ins ("2fa-<20>" → userId) with their attempt counters,
	// first-factor marks and codes.
	pend, err := db.FindMany(ctx, plugin.TableVerification, storage.Query{Where: []storage.Where{
		{Field: "identifier", Op: storage.StartsWith, Value: "2fa-"}, storage.W("value", userID),
	}})
	if err != nil {
		return plugin.StorageError(err)
	}
	for _, v := range pend {
		if id := v.String("identifier"); validChallenge(id) {
			p.endChallenge(ctx, id)
		}
	}
	for _, w := range [][]storage.Where{
		{{Field: "identifier", Op: storage.StartsWith, Value: "trust-device-"}, storage.W("value", userID)},
		{{Field: "identifier", Op: storage.StartsWith, Value: otpID(userID + "!")}},
		{storage.W("identifier", stepIdentifier(userID))},
	} {
		if _, err := db.Delete(ctx, plugin.TableVerification, w...); err != nil {
			return plugin.StorageError(err)
		}
	}
	return nil
}

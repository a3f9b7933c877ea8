package vault

import (
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// Logical table names (also the default table names in the database).
const (
	TableVaults = "encryption_vaults"
	TableAudit  = "encryption_vault_audit"
)

// Settings of the vault's transactions (storage.ScopedTx), which the
// row-level security the vault tables declare reads on PostgreSQL.
const (
	// PostgresUserSetting holds the id of the user a transaction acts for:
	// every vault transaction sets it (transaction-local: it can never
	// reach the next user of a pooled connection), and the policies admit
	// only the rows whose user_id equals it.
	PostgresUserSetting = "app.current_user_id"
	// PostgresMaintenanceSetting, set to "on" in a transaction, lets that
	// transaction read (not write) every vault row; RewrapAll sets it to
	// find the rows to re-wrap, then updates each row in a transaction
	// scoped to its user.
	PostgresMaintenanceSetting = "app.vault_maintenance"
)

// Names of the CHECK constraints on encryption_vaults.
const (
	CheckHasWrap       = "encryption_vaults_has_wrap"
	CheckWrapIVPair    = "encryption_vaults_wrap_iv_pair"
	CheckZKConsistency = "encryption_vaults_zk_consistency"
)

// column names (snake_case, as in the original service).
const (
	colUserID                = "user_id"
	colWrappedMK             = "wrapped_mk"
	colWrapIV                = "wrap_iv"
	colFormatVersion         = "format_version"
	colKEKID                 = "kek_id"
	colRecoveryWrappedMK     = "recovery_wrapped_mk"
	colRecoveryIV            = "recovery_iv"
	colRecoveryFormatVersion = "recovery_format_version"
	colRecoverySetAt         = "recovery_set_at"
	colZeroKnowledge         = "zero_knowledge"
	colCreatedAt             = "created_at"
	colRotatedAt             = "rotated_at"

	colAction    = "action"
	colIPAddress = "ip_address"
	colUserAgent = "user_agent"
	colContext   = "context"
	colStatus    = "status"
)

// logical field names.
const (
	fUserID                = "userId"
	fWrappedMK             = "wrappedMk"
	fWrapIV                = "wrapIv"
	fFormatVersion         = "formatVersion"
	fKEKID                 = "kekId"
	fRecoveryWrappedMK     = "recoveryWrappedMk"
	fRecoveryIV            = "recoveryIv"
	fRecoveryFormatVersion = "recoveryFormatVersion"
	fRecoverySetAt         = "recoverySetAt"
	fZeroKnowledge         = "zeroKnowledge"
	fCreatedAt             = "createdAt"
	fRotatedAt             = "rotatedAt"

	fAction    = "action"
	fIPAddress = "ipAddress"
	fUserAgent = "userAgent"
	fContext   = "context"
	fStatus    = "status"
)

// Checks returns the three CHECK constraints of encryption_vaults, with
// SQL for PostgreSQL and SQLite and the same rules in Go for adapters
// without SQL:
//
//   - encryption_vaults_has_wrap: some wrap exists (KEK or recovery), so
//     the user can never be locked out by a bug.
//   - encryption_vaults_wrap_iv_pair: each wrap has its IV and vice versa.
//   - encryption_vaults_zk_consistency: in zero-knowledge mode there is no
//     KEK wrap and there is a recovery wrap.
func Checks() []storage.Check {
	isNull := func(r storage.Record, f string) bool { return r[f] == nil }
	return []storage.Check{
		{
			Name: CheckHasWrap,
			Expr: `"wrapped_mk" IS NOT NULL OR "recovery_wrapped_mk" IS NOT NULL`,
			Func: func(r storage.Record) bool { return !isNull(r, fWrappedMK) || !isNull(r, fRecoveryWrappedMK) },
		},
		{
			Name: CheckWrapIVPair,
			Expr: `("wrapped_mk" IS NULL) = ("wrap_iv" IS NULL) AND ("recovery_wrapped_mk" IS NULL) = ("recovery_iv" IS NULL)`,
			Func: func(r storage.Record) bool {
				return isNull(r, fWrappedMK) == isNull(r, fWrapIV) &&
					isNull(r, fRecoveryWrappedMK) == isNull(r, fRecoveryIV)
			},
		},
		{
			Name: CheckZKConsistency,
			Expr: `"zero_knowledge" = false OR ("zero_knowledge" = true AND "wrapped_mk" IS NULL AND "recovery_wrapped_mk" IS NOT NULL)`,
			Func: func(r storage.Record) bool {
				return !r.Bool(fZeroKnowledge) || (isNull(r, fWrappedMK) && !isNull(r, fRecoveryWrappedMK))
			},
		},
	}
}

// Schema returns the vault's tables: encryption_vaults (one row per user;
// its id equals user_id) and encryption_vault_audit, with the columns of
// the original service (snake_case), foreign keys to the user table (ON
// DELETE CASCADE), the CHECK constraints of Checks and row-level security
// by user (storage.RowSecurity: PostgresUserSetting, and
// PostgresMaintenanceSetting for reading every vault row). Integers are
// bigint (the original used smallint for the format versions).
func Schema() storage.Schema {
	S, B, I, D := storage.String, storage.Bool, storage.Int, storage.Date
	userRef := func() *storage.Reference {
		return &storage.Reference{Table: plugin.TableUser, Field: "id", OnDelete: storage.Cascade}
	}
	return storage.Schema{Tables: []storage.Table{
		{
			Name: TableVaults,
			Fields: []storage.Field{
				{Name: fUserID, Column: colUserID, Type: S, Required: true, Unique: true, References: userRef()},
				{Name: fWrappedMK, Column: colWrappedMK, Type: S},
				{Name: fWrapIV, Column: colWrapIV, Type: S},
				{Name: fFormatVersion, Column: colFormatVersion, Type: I, Required: true},
				{Name: fKEKID, Column: colKEKID, Type: S, Required: true},
				{Name: fRecoveryWrappedMK, Column: colRecoveryWrappedMK, Type: S},
				{Name: fRecoveryIV, Column: colRecoveryIV, Type: S},
				{Name: fRecoveryFormatVersion, Column: colRecoveryFormatVersion, Type: I, Required: true},
				{Name: fRecoverySetAt, Column: colRecoverySetAt, Type: D},
				{Name: fZeroKnowledge, Column: colZeroKnowledge, Type: B, Required: true},
				{Name: fCreatedAt, Column: colCreatedAt, Type: D, Required: true},
				{Name: fRotatedAt, Column: colRotatedAt, Type: D},
			},
			Checks: Checks(),
			RowSecurity: &storage.RowSecurity{Field: fUserID, Setting: PostgresUserSetting,
				ReadAllSetting: PostgresMaintenanceSetting},
		},
		{
			Name: TableAudit,
			Fields: []storage.Field{
				{Name: fUserID, Column: colUserID, Type: S, Required: true, Index: true, References: userRef()},
				{Name: fAction, Column: colAction, Type: S, Required: true},
				{Name: fIPAddress, Column: colIPAddress, Type: S},
				{Name: fUserAgent, Column: colUserAgent, Type: S},
				{Name: fContext, Column: colContext, Type: S},
				{Name: fStatus, Column: colStatus, Type: I, Required: true},
				{Name: fCreatedAt, Column: colCreatedAt, Type: D, Required: true, Index: true},
			},
			RowSecurity: &storage.RowSecurity{Field: fUserID, Setting: PostgresUserSetting},
		},
	}}
}

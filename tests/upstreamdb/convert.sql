-- One-off conversions of the upstream mana-auth database (schema auth) for
-- MANA_SCHEMA=upstream: what upstream stores in a form this server cannot
-- read or write as is. docs/MIGRATING.md ("The upstream mana-auth
-- database") quotes this file; run it once, in a transaction, before
-- `mana-auth migrate` (which then only adds columns, tables and indexes).
BEGIN;

-- security_events.id is a uuid with a default, login_attempts.id a serial:
-- the server writes its own text ids.
ALTER TABLE auth.security_events ALTER COLUMN id DROP DEFAULT, ALTER COLUMN id TYPE text USING id::text;
ALTER TABLE auth.login_attempts ALTER COLUMN id DROP DEFAULT, ALTER COLUMN id TYPE text USING id::text;
DROP SEQUENCE IF EXISTS auth.login_attempts_id_seq;

-- jsonb metadata is read and written as text (a JSON string).
ALTER TABLE auth.security_events ALTER COLUMN metadata TYPE text USING metadata::text;
ALTER TABLE auth.organizations ALTER COLUMN metadata TYPE text USING metadata::text;

-- two_factor_auth and encryption_vaults are keyed by user_id alone; every
-- table here has an id: give each row its user's id. A two-factor row
-- upstream enabled is a verified one.
ALTER TABLE auth.two_factor_auth ADD COLUMN id text;
UPDATE auth.two_factor_auth SET id = user_id;
ALTER TABLE auth.two_factor_auth ALTER COLUMN id SET NOT NULL, ADD CONSTRAINT two_factor_auth_id_key UNIQUE (id);
ALTER TABLE auth.two_factor_auth ADD COLUMN verified boolean;
UPDATE auth.two_factor_auth SET verified = enabled;

ALTER TABLE auth.encryption_vaults ADD COLUMN id text;
UPDATE auth.encryption_vaults SET id = user_id;
ALTER TABLE auth.encryption_vaults ALTER COLUMN id SET NOT NULL, ADD CONSTRAINT encryption_vaults_id_key UNIQUE (id);

-- api_keys serves the api-key plugin: its key is the SHA-256 of the key
-- in unpadded base64url (upstream: hex), its scopes are the permissions
-- {"scopes": [...]}, a revoked key is a disabled one (its updated_at the
-- time of revocation), and upstream's keys have no use limit of the
-- plugin's (the speech services apply upstream's 60 per minute). The
-- plugin's other columns are added by the migration; upstream's scopes,
-- rate_limit_requests, rate_limit_window and revoked_at are left alone.
ALTER TABLE auth.api_keys ADD COLUMN config_id text, ADD COLUMN prefix text, ADD COLUMN enabled boolean,
	ADD COLUMN rate_limit_enabled boolean, ADD COLUMN permissions text, ADD COLUMN updated_at timestamptz;
UPDATE auth.api_keys SET config_id = 'default', prefix = 'sk_live_', enabled = revoked_at IS NULL,
	rate_limit_enabled = false, permissions = json_build_object('scopes', scopes)::text,
	updated_at = coalesce(revoked_at, created_at),
	key_hash = rtrim(translate(encode(decode(key_hash, 'hex'), 'base64'), '+/', '-_'), '=');
ALTER TABLE auth.api_keys ALTER COLUMN config_id SET NOT NULL, ALTER COLUMN updated_at SET NOT NULL;

COMMIT;

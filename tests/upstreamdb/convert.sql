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

COMMIT;

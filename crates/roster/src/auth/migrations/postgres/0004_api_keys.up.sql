CREATE TABLE api_keys (
    tenant_id    UUID        NOT NULL REFERENCES tenants (id),
    id           UUID        NOT NULL,
    name         TEXT        NOT NULL,
    role         TEXT        NOT NULL CHECK (role IN ('sysadmin', 'admin', 'user')),
    -- SHA-256 of the key; the key itself is shown once and never stored
    key_hash     BYTEA       NOT NULL,
    prefix       TEXT        NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id)
);
-- Looked up before the tenant is known, so not tenant-first.
CREATE UNIQUE INDEX api_keys_hash_key ON api_keys (key_hash);

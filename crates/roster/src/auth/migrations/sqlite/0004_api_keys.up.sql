CREATE TABLE api_keys (
    tenant_id    BLOB    NOT NULL REFERENCES tenants (id),
    id           BLOB    NOT NULL,
    name         TEXT    NOT NULL,
    role         TEXT    NOT NULL CHECK (role IN ('sysadmin', 'admin', 'user')),
    -- SHA-256 of the key; the key itself is shown once and never stored
    key_hash     BLOB    NOT NULL,
    prefix       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    PRIMARY KEY (tenant_id, id)
);
-- Looked up before the tenant is known, so not tenant-first.
CREATE UNIQUE INDEX api_keys_hash_key ON api_keys (key_hash);

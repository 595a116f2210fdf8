-- Append-only, hash-chained per tenant: each entry's hash covers its content and the previous entry's hash.
CREATE TABLE audit_log (
    tenant_id        BLOB    NOT NULL REFERENCES tenants (id),
    seq              INTEGER NOT NULL,
    id               BLOB    NOT NULL,
    occurred_at      INTEGER NOT NULL,
    actor_kind       TEXT    NOT NULL CHECK (actor_kind IN ('user', 'api_key', 'system', 'cli')),
    actor_user_id    BLOB,
    actor_api_key_id BLOB,
    action           TEXT    NOT NULL,
    resource_type    TEXT    NOT NULL,
    resource_id      TEXT    NOT NULL,
    old_values       TEXT,
    new_values       TEXT,
    ip_address       TEXT,
    user_agent       TEXT,
    session_id       TEXT,
    request_id       TEXT,
    prev_hash        BLOB    NOT NULL,
    hash             BLOB    NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX audit_log_resource ON audit_log (tenant_id, resource_type, resource_id);
CREATE INDEX audit_log_occurred ON audit_log (tenant_id, occurred_at);
CREATE INDEX audit_log_actor ON audit_log (tenant_id, actor_user_id);

-- The newest entry of each tenant's chain; writers take it with UPDATE … RETURNING, which serialises them per tenant.
CREATE TABLE audit_heads (
    tenant_id BLOB    NOT NULL PRIMARY KEY REFERENCES tenants (id),
    seq       INTEGER NOT NULL,
    hash      BLOB    NOT NULL
);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

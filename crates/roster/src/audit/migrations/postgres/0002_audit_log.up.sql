-- Append-only, hash-chained per tenant: each entry's hash covers its content and the previous entry's hash.
CREATE TABLE audit_log (
    tenant_id        UUID        NOT NULL REFERENCES tenants (id),
    seq              BIGINT      NOT NULL,
    id               UUID        NOT NULL,
    occurred_at      TIMESTAMPTZ NOT NULL,
    actor_kind       TEXT        NOT NULL CHECK (actor_kind IN ('user', 'api_key', 'system', 'cli')),
    actor_user_id    UUID,
    actor_api_key_id UUID,
    action           TEXT        NOT NULL,
    resource_type    TEXT        NOT NULL,
    resource_id      TEXT        NOT NULL,
    old_values       JSONB,
    new_values       JSONB,
    ip_address       TEXT,
    user_agent       TEXT,
    session_id       TEXT,
    request_id       TEXT,
    prev_hash        BYTEA       NOT NULL,
    hash             BYTEA       NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX audit_log_resource ON audit_log (tenant_id, resource_type, resource_id);
CREATE INDEX audit_log_occurred ON audit_log (tenant_id, occurred_at);
CREATE INDEX audit_log_actor ON audit_log (tenant_id, actor_user_id);

-- The newest entry of each tenant's chain; writers take it with UPDATE … RETURNING, which serialises them per tenant.
CREATE TABLE audit_heads (
    tenant_id UUID   NOT NULL PRIMARY KEY REFERENCES tenants (id),
    seq       BIGINT NOT NULL,
    hash      BYTEA  NOT NULL
);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

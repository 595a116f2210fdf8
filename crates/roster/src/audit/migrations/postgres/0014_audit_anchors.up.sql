-- Where a tenant's chain continues after entries were archived (moved to a file by `roster audit archive`): the
-- last archived entry's seal, sealed itself under the chain key so that nobody without the key can make one.
CREATE TABLE audit_anchors (
    tenant_id   UUID        NOT NULL REFERENCES tenants (id),
    -- the last archived entry
    seq         BIGINT      NOT NULL,
    hash        BYTEA       NOT NULL,
    mac_kind    BIGINT      NOT NULL CHECK (mac_kind IN (0, 1)),
    archived_at TIMESTAMPTZ NOT NULL,
    -- SHA-256 (hex) of the archive file
    file_sha256 TEXT        NOT NULL,
    -- HMAC-SHA256 under the chain key over the anchor; NULL when it was made without a key
    anchor_mac  BYTEA,
    PRIMARY KEY (tenant_id, seq)
);
CREATE FUNCTION audit_anchors_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_anchors is append-only';
END
$$;
CREATE TRIGGER audit_anchors_no_change BEFORE UPDATE OR DELETE ON audit_anchors
    FOR EACH ROW EXECUTE FUNCTION audit_anchors_append_only();
CREATE TRIGGER audit_anchors_no_truncate BEFORE TRUNCATE ON audit_anchors
    FOR EACH STATEMENT EXECUTE FUNCTION audit_anchors_append_only();

-- Entries leave the log only when an anchor covers them: archiving, never a plain DELETE.
CREATE FUNCTION audit_log_archived_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM audit_anchors a WHERE a.tenant_id = OLD.tenant_id AND a.seq >= OLD.seq) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only';
END
$$;
DROP TRIGGER audit_log_no_change ON audit_log;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_archived_only();

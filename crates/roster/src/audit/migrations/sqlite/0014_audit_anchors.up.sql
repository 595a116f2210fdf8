-- Where a tenant's chain continues after entries were archived (moved to a file by `roster audit archive`): the
-- last archived entry's seal, sealed itself under the chain key so that nobody without the key can make one.
CREATE TABLE audit_anchors (
    tenant_id   BLOB    NOT NULL REFERENCES tenants (id),
    -- the last archived entry
    seq         INTEGER NOT NULL,
    hash        BLOB    NOT NULL,
    mac_kind    INTEGER NOT NULL CHECK (mac_kind IN (0, 1)),
    archived_at INTEGER NOT NULL,
    -- SHA-256 (hex) of the archive file
    file_sha256 TEXT    NOT NULL,
    -- HMAC-SHA256 under the chain key over the anchor; NULL when it was made without a key
    anchor_mac  BLOB,
    PRIMARY KEY (tenant_id, seq)
);
CREATE TRIGGER audit_anchors_no_update BEFORE UPDATE ON audit_anchors
BEGIN
    SELECT RAISE(ABORT, 'audit_anchors is append-only');
END;
CREATE TRIGGER audit_anchors_no_delete BEFORE DELETE ON audit_anchors
BEGIN
    SELECT RAISE(ABORT, 'audit_anchors is append-only');
END;

-- Entries leave the log only when an anchor covers them: archiving, never a plain DELETE.
DROP TRIGGER IF EXISTS audit_log_no_delete;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN NOT EXISTS (SELECT 1 FROM audit_anchors a WHERE a.tenant_id = OLD.tenant_id AND a.seq >= OLD.seq)
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

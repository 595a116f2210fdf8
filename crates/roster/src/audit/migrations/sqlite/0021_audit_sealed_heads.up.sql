-- Each chain says, sealed under the chain key, where it ends and where its unkeyed prefix ends, so that nobody without
-- the key can move its head back over a cut tail, wipe it, or reseal it as unkeyed. `unkeyed_through` is the last
-- entry that may be sealed without the key (0: none may be); `head_mac` is the HMAC-SHA256 of the head under the chain
-- key, NULL only while the database has never had a key.
ALTER TABLE audit_heads ADD COLUMN unkeyed_through INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit_heads ADD COLUMN head_mac BLOB;
UPDATE audit_heads SET unkeyed_through = MAX(
    COALESCE((SELECT MAX(l.seq) FROM audit_log l WHERE l.tenant_id = audit_heads.tenant_id AND l.mac_kind = 0), 0),
    COALESCE((SELECT MAX(a.seq) FROM audit_anchors a WHERE a.tenant_id = audit_heads.tenant_id AND a.mac_kind = 0), 0),
    CASE WHEN audit_heads.mac_kind = 0 THEN audit_heads.seq ELSE 0 END);

-- The secret key this database is sealed under, as a fingerprint (an HMAC of a fixed label under the chain key, never
-- the key): a process with another key refuses to start instead of sealing new entries it could never verify.
CREATE TABLE secret_key_fingerprint (
    id          INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    fingerprint BLOB    NOT NULL,
    recorded_at INTEGER NOT NULL
);

-- How each entry is sealed: 0, a SHA-256 chain (entries written before this migration, or by a server without a
-- secret key); 1, an HMAC-SHA256 chain under a key derived from the server's secret key, which is never stored here.
-- Unkeyed entries are trusted only as the start of a chain: verification refuses one that follows a keyed entry.
ALTER TABLE audit_log ADD COLUMN mac_kind BIGINT NOT NULL DEFAULT 0 CHECK (mac_kind IN (0, 1));
ALTER TABLE audit_heads ADD COLUMN mac_kind BIGINT NOT NULL DEFAULT 0 CHECK (mac_kind IN (0, 1));

-- Readers filter by resource, actor or action and page newest first: each index ends with seq.
DROP INDEX audit_log_resource;
DROP INDEX audit_log_actor;
CREATE INDEX audit_log_resource ON audit_log (tenant_id, resource_type, resource_id, seq);
CREATE INDEX audit_log_actor ON audit_log (tenant_id, actor_user_id, seq);
CREATE INDEX audit_log_api_key ON audit_log (tenant_id, actor_api_key_id, seq) WHERE actor_api_key_id IS NOT NULL;
CREATE INDEX audit_log_action ON audit_log (tenant_id, action, seq);

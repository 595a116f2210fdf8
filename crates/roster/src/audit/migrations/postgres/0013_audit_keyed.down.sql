-- An older binary would read keyed entries as altered ones: refuse while there are any.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM audit_log WHERE mac_kind = 1) THEN
        RAISE EXCEPTION 'the audit log holds keyed entries, which a binary older than migration 13 would report as altered: stay at migration 13';
    END IF;
END
$$;

DROP INDEX audit_log_action;
DROP INDEX audit_log_api_key;
DROP INDEX audit_log_actor;
DROP INDEX audit_log_resource;
CREATE INDEX audit_log_resource ON audit_log (tenant_id, resource_type, resource_id);
CREATE INDEX audit_log_actor ON audit_log (tenant_id, actor_user_id);
ALTER TABLE audit_heads DROP COLUMN mac_kind;
ALTER TABLE audit_log DROP COLUMN mac_kind;

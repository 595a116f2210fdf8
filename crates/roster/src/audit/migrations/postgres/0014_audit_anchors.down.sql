-- An older binary cannot follow a chain that starts after archived entries: refuse while there are any.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM audit_anchors) THEN
        RAISE EXCEPTION 'entries of the audit log were archived, which a binary older than migration 14 would report as missing: stay at migration 14';
    END IF;
END
$$;

DROP TRIGGER audit_log_no_delete ON audit_log;
DROP TRIGGER audit_log_no_update ON audit_log;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
DROP FUNCTION audit_log_archived_only();
DROP TABLE audit_anchors;
DROP FUNCTION audit_anchors_append_only();

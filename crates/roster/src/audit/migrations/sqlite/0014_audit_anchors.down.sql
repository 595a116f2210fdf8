-- An older binary cannot follow a chain that starts after archived entries: refuse while there are any.
CREATE TEMP TABLE audit_anchors_guard (anchors INTEGER);
CREATE TEMP TRIGGER audit_anchors_guard_check BEFORE INSERT ON audit_anchors_guard WHEN NEW.anchors > 0
BEGIN
    SELECT RAISE(ABORT, 'entries of the audit log were archived, which a binary older than migration 14 would report as missing: stay at migration 14');
END;
INSERT INTO audit_anchors_guard SELECT COUNT(*) FROM audit_anchors;
DROP TABLE audit_anchors_guard;

DROP TRIGGER IF EXISTS audit_log_no_delete;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
DROP TABLE audit_anchors;

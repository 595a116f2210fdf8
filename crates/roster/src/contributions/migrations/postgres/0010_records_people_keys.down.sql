-- The foreign keys from records to their people's users, back as migration 8 made them.
ALTER TABLE bugs ADD FOREIGN KEY (tenant_id, reported_by_user_id) REFERENCES users (tenant_id, id);
ALTER TABLE tests ADD FOREIGN KEY (tenant_id, created_by_user_id) REFERENCES users (tenant_id, id),
    ADD FOREIGN KEY (tenant_id, submitted_by_user_id) REFERENCES users (tenant_id, id);
DROP INDEX bugs_reporter, tests_creator, tests_submitter;
CREATE INDEX bugs_reporter ON bugs (tenant_id, reported_by_user_id, record_at) WHERE reported_by_user_id IS NOT NULL;
CREATE INDEX tests_creator ON tests (tenant_id, created_by_user_id, record_at) WHERE created_by_user_id IS NOT NULL;
CREATE INDEX tests_submitter ON tests (tenant_id, submitted_by_user_id, record_at)
    WHERE submitted_by_user_id IS NOT NULL;

-- The foreign keys from records to their people's users, back as migration 8 made them.
ALTER TABLE bugs ADD FOREIGN KEY (tenant_id, reported_by_user_id) REFERENCES users (tenant_id, id);
ALTER TABLE tests ADD FOREIGN KEY (tenant_id, created_by_user_id) REFERENCES users (tenant_id, id),
    ADD FOREIGN KEY (tenant_id, submitted_by_user_id) REFERENCES users (tenant_id, id);

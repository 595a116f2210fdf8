DROP INDEX users_experience_level;
DROP INDEX users_target_role;
CREATE INDEX users_target_role ON users (tenant_id, target_role) WHERE target_role IS NOT NULL;

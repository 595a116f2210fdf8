-- `GET …/users?target_role=&experience_level=`: the users of one target role or level, in keyset (id) order
DROP INDEX users_target_role;
CREATE INDEX users_target_role ON users (tenant_id, target_role, id) WHERE target_role IS NOT NULL;
CREATE INDEX users_experience_level ON users (tenant_id, experience_level, id) WHERE experience_level IS NOT NULL;

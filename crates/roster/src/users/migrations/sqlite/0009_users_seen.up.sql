-- active users: people seen within a window, newest first
CREATE INDEX users_last_seen ON users (tenant_id, last_seen) WHERE deleted_at IS NULL AND last_seen IS NOT NULL;

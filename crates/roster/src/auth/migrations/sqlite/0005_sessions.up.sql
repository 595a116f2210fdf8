CREATE TABLE sessions (
    tenant_id   BLOB    NOT NULL,
    id          BLOB    NOT NULL,
    user_id     BLOB    NOT NULL,
    -- SHA-256 of the session token; the token itself is returned once at sign-in
    token_hash  BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    -- the last activity mark, and the active time counted so far (gaps of at most activity_gap_minutes)
    last_active_at INTEGER NOT NULL,
    usage_seconds  INTEGER   NOT NULL DEFAULT 0,
    revoked_at  INTEGER,
    ip_address  TEXT,
    user_agent  TEXT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);
CREATE UNIQUE INDEX sessions_token_key ON sessions (token_hash);
CREATE INDEX sessions_user ON sessions (tenant_id, user_id);

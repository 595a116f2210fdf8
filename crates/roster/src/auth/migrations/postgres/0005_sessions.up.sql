CREATE TABLE sessions (
    tenant_id   UUID        NOT NULL,
    id          UUID        NOT NULL,
    user_id     UUID        NOT NULL,
    -- SHA-256 of the session token; the token itself is returned once at sign-in
    token_hash  BYTEA       NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    -- the last activity mark, and the active time counted so far (gaps of at most activity_gap_minutes)
    last_active_at TIMESTAMPTZ NOT NULL,
    usage_seconds  BIGINT   NOT NULL DEFAULT 0,
    revoked_at  TIMESTAMPTZ,
    ip_address  TEXT,
    user_agent  TEXT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);
CREATE UNIQUE INDEX sessions_token_key ON sessions (token_hash);
CREATE INDEX sessions_user ON sessions (tenant_id, user_id);

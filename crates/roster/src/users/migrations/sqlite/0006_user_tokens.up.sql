-- Single-use tokens that prove control of an address or an invitation: stored as SHA-256, expiring.
CREATE TABLE user_tokens (
    tenant_id  BLOB NOT NULL,
    id         BLOB NOT NULL,
    user_id    BLOB NOT NULL,
    purpose    TEXT NOT NULL CHECK (purpose IN ('verify_email', 'invitation', 'password_reset')),
    token_hash BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);
CREATE UNIQUE INDEX user_tokens_hash_key ON user_tokens (token_hash);
CREATE INDEX user_tokens_user ON user_tokens (tenant_id, user_id);

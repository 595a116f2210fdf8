-- The newest TOTP time step used to sign in: a code of that step or an earlier one is refused (each code works once).
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;

-- Single-use recovery codes for a lost authenticator, stored as SHA-256.
CREATE TABLE totp_recovery_codes (
    tenant_id  UUID NOT NULL,
    user_id    UUID NOT NULL,
    code_hash  BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, user_id, code_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);

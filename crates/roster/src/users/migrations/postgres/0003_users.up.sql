CREATE TABLE users (
    tenant_id             UUID        NOT NULL REFERENCES tenants (id),
    id                    UUID        NOT NULL,
    email                 TEXT,
    -- email folded to lower case: the key of case-insensitive uniqueness and lookup
    email_key             TEXT,
    username              TEXT,
    display_name          TEXT        NOT NULL,
    first_name            TEXT,
    last_name             TEXT,
    user_type             TEXT        NOT NULL DEFAULT 'member' CHECK (user_type IN ('member', 'tester', 'customer')),
    role                  TEXT        NOT NULL DEFAULT 'user' CHECK (role IN ('sysadmin', 'admin', 'user')),
    status                TEXT        NOT NULL DEFAULT 'active'
        CHECK (status IN ('pending_verification', 'invited', 'active', 'suspended', 'locked')),
    password_hash         TEXT,
    identity_provider     TEXT,
    identity_provider_id  TEXT,
    totp_secret           BYTEA,
    totp_enabled_at       TIMESTAMPTZ,
    email_verified_at     TIMESTAMPTZ,
    failed_login_attempts BIGINT      NOT NULL DEFAULT 0,
    locked_until          TIMESTAMPTZ,
    last_login_at         TIMESTAMPTZ,
    login_count           BIGINT      NOT NULL DEFAULT 0,
    last_session_start    TIMESTAMPTZ,
    last_active_at        TIMESTAMPTZ,
    total_usage_minutes   BIGINT      NOT NULL DEFAULT 0,
    target_role           TEXT,
    experience_level      TEXT CHECK (experience_level IN ('entry', 'junior', 'mid', 'senior', 'lead', 'principal')),
    timezone              TEXT        NOT NULL DEFAULT 'UTC',
    preferences           JSONB       NOT NULL DEFAULT '{}',
    metadata              JSONB       NOT NULL DEFAULT '{}',
    level                 BIGINT      NOT NULL DEFAULT 1,
    xp                    BIGINT      NOT NULL DEFAULT 0,
    raw_data              JSONB,
    first_seen            TIMESTAMPTZ,
    last_seen             TIMESTAMPTZ,
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL,
    deleted_at            TIMESTAMPTZ,
    version               BIGINT      NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    CHECK (email IS NOT NULL OR username IS NOT NULL),
    CHECK ((identity_provider IS NULL) = (identity_provider_id IS NULL))
);
CREATE UNIQUE INDEX users_email_key ON users (tenant_id, email_key) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX users_username_key ON users (tenant_id, username) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX users_identity_key ON users (identity_provider, identity_provider_id)
    WHERE identity_provider IS NOT NULL;
CREATE INDEX users_target_role ON users (tenant_id, target_role) WHERE target_role IS NOT NULL;

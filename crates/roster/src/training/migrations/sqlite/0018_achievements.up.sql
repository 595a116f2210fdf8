-- A tenant's catalogue of achievements, and who earned which (once each).
CREATE TABLE achievements (
    tenant_id   BLOB    NOT NULL REFERENCES tenants (id),
    id          BLOB    NOT NULL,
    code        TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    tier        TEXT    NOT NULL CHECK (tier IN ('bronze', 'silver', 'gold', 'platinum')),
    -- {"kind": …} with the kind's parameters, checked on write
    criteria    TEXT    NOT NULL,
    xp_bonus    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code)
) WITHOUT ROWID;

CREATE TABLE user_achievements (
    tenant_id      BLOB    NOT NULL,
    user_id        BLOB    NOT NULL,
    achievement_id BLOB    NOT NULL,
    earned_at      INTEGER NOT NULL,
    -- the session whose resolution earned it
    session_id     BLOB,
    PRIMARY KEY (tenant_id, user_id, achievement_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, achievement_id) REFERENCES achievements (tenant_id, id)
) WITHOUT ROWID;

-- the training leaderboard: a tenant's live users with XP, most first
CREATE INDEX users_training_xp ON users (tenant_id, xp DESC, id) WHERE deleted_at IS NULL AND xp > 0;

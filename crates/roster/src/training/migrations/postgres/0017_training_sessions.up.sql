-- Practice sessions of a scenario, their chat transcripts, and the scored metric of each resolved one.
CREATE TABLE training_sessions (
    tenant_id           UUID        NOT NULL REFERENCES tenants (id),
    id                  UUID        NOT NULL,
    user_id             UUID        NOT NULL,
    scenario_id         UUID        NOT NULL,
    status              TEXT        NOT NULL CHECK (status IN ('active', 'completed', 'abandoned')),
    started_at          TIMESTAMPTZ NOT NULL,
    completed_at        TIMESTAMPTZ,
    abandoned_at        TIMESTAMPTZ,
    performance_data    JSONB,
    verification_status TEXT,
    resolution_data     JSONB,
    message_count       BIGINT      NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, scenario_id) REFERENCES scenarios (tenant_id, id)
);
-- at most one active session per user and scenario, whatever races
CREATE UNIQUE INDEX training_sessions_one_active ON training_sessions (tenant_id, user_id, scenario_id)
    WHERE status = 'active';
-- a user's sessions by status and scenario: prerequisites completed, `?completion=`, the active and abandoned counted
CREATE INDEX training_sessions_user ON training_sessions (tenant_id, user_id, status, scenario_id);

CREATE TABLE chat_messages (
    tenant_id    UUID        NOT NULL,
    session_id   UUID        NOT NULL,
    -- the message's place in its session's transcript, from 1
    seq          BIGINT      NOT NULL,
    id           UUID        NOT NULL,
    sender_type  TEXT        NOT NULL CHECK (sender_type IN ('user', 'customer', 'system')),
    message_type TEXT        NOT NULL CHECK (message_type IN ('text', 'note', 'action')),
    content      TEXT        NOT NULL,
    metadata     JSONB       NOT NULL DEFAULT '{}',
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, session_id, seq),
    FOREIGN KEY (tenant_id, session_id) REFERENCES training_sessions (tenant_id, id)
);

CREATE TABLE performance_metrics (
    tenant_id           UUID             NOT NULL,
    id                  UUID             NOT NULL,
    user_id             UUID             NOT NULL,
    session_id          UUID             NOT NULL,
    scenario_id         UUID             NOT NULL,
    -- the scenario's difficulty when the session was resolved
    difficulty          TEXT             NOT NULL CHECK (difficulty IN ('starter', 'intermediate', 'advanced')),
    verification_score  BIGINT           NOT NULL CHECK (verification_score BETWEEN 0 AND 100),
    communication_score BIGINT           NOT NULL CHECK (communication_score BETWEEN 0 AND 100),
    technical_score     BIGINT           NOT NULL CHECK (technical_score BETWEEN 0 AND 100),
    documentation_score BIGINT           NOT NULL CHECK (documentation_score BETWEEN 0 AND 100),
    response_time_score BIGINT           NOT NULL CHECK (response_time_score BETWEEN 0 AND 100),
    -- two decimals
    overall_score       DOUBLE PRECISION NOT NULL CHECK (overall_score BETWEEN 0 AND 100),
    xp_earned           BIGINT           NOT NULL,
    created_at          TIMESTAMPTZ      NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, session_id),
    FOREIGN KEY (tenant_id, session_id) REFERENCES training_sessions (tenant_id, id)
);
-- a user's metrics, newest first (recent sessions) and by score (best session)
CREATE INDEX performance_metrics_user ON performance_metrics (tenant_id, user_id, created_at, id);
CREATE INDEX performance_metrics_user_score ON performance_metrics (tenant_id, user_id, overall_score DESC, id);

-- Running totals of each user's resolved sessions per difficulty, kept by every resolution in its transaction: the
-- performance view reads three rows, however long the history.
CREATE TABLE training_totals (
    tenant_id     UUID    NOT NULL,
    user_id       UUID    NOT NULL,
    difficulty    TEXT    NOT NULL CHECK (difficulty IN ('starter', 'intermediate', 'advanced')),
    sessions      BIGINT  NOT NULL,
    verification  BIGINT  NOT NULL,
    communication BIGINT  NOT NULL,
    technical     BIGINT  NOT NULL,
    documentation BIGINT  NOT NULL,
    response_time BIGINT  NOT NULL,
    -- hundredths of a point
    overall       BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, user_id, difficulty),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);

-- Practice sessions of a scenario, their chat transcripts, and the scored metric of each resolved one.
CREATE TABLE training_sessions (
    tenant_id           BLOB    NOT NULL REFERENCES tenants (id),
    id                  BLOB    NOT NULL,
    user_id             BLOB    NOT NULL,
    scenario_id         BLOB    NOT NULL,
    status              TEXT    NOT NULL CHECK (status IN ('active', 'completed', 'abandoned')),
    started_at          INTEGER NOT NULL,
    completed_at        INTEGER,
    abandoned_at        INTEGER,
    performance_data    TEXT,
    verification_status TEXT,
    resolution_data     TEXT,
    message_count       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, scenario_id) REFERENCES scenarios (tenant_id, id)
) WITHOUT ROWID;
-- at most one active session per user and scenario, whatever races
CREATE UNIQUE INDEX training_sessions_one_active ON training_sessions (tenant_id, user_id, scenario_id)
    WHERE status = 'active';
-- a user's sessions by status and scenario: prerequisites completed, `?completion=`, the active and abandoned counted
CREATE INDEX training_sessions_user ON training_sessions (tenant_id, user_id, status, scenario_id);

CREATE TABLE chat_messages (
    tenant_id    BLOB    NOT NULL,
    session_id   BLOB    NOT NULL,
    -- the message's place in its session's transcript, from 1
    seq          INTEGER NOT NULL,
    id           BLOB    NOT NULL,
    sender_type  TEXT    NOT NULL CHECK (sender_type IN ('user', 'customer', 'system')),
    message_type TEXT    NOT NULL CHECK (message_type IN ('text', 'note', 'action')),
    content      TEXT    NOT NULL,
    metadata     TEXT    NOT NULL DEFAULT '{}',
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, session_id, seq),
    FOREIGN KEY (tenant_id, session_id) REFERENCES training_sessions (tenant_id, id)
) WITHOUT ROWID;

CREATE TABLE performance_metrics (
    tenant_id           BLOB    NOT NULL,
    id                  BLOB    NOT NULL,
    user_id             BLOB    NOT NULL,
    session_id          BLOB    NOT NULL,
    scenario_id         BLOB    NOT NULL,
    -- the scenario's difficulty when the session was resolved
    difficulty          TEXT    NOT NULL CHECK (difficulty IN ('starter', 'intermediate', 'advanced')),
    verification_score  INTEGER NOT NULL CHECK (verification_score BETWEEN 0 AND 100),
    communication_score INTEGER NOT NULL CHECK (communication_score BETWEEN 0 AND 100),
    technical_score     INTEGER NOT NULL CHECK (technical_score BETWEEN 0 AND 100),
    documentation_score INTEGER NOT NULL CHECK (documentation_score BETWEEN 0 AND 100),
    response_time_score INTEGER NOT NULL CHECK (response_time_score BETWEEN 0 AND 100),
    -- two decimals
    overall_score       REAL    NOT NULL CHECK (overall_score BETWEEN 0 AND 100),
    xp_earned           INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, session_id),
    FOREIGN KEY (tenant_id, session_id) REFERENCES training_sessions (tenant_id, id)
) WITHOUT ROWID;
-- a user's metrics, newest first (recent sessions) and by score (best session)
CREATE INDEX performance_metrics_user ON performance_metrics (tenant_id, user_id, created_at, id);
CREATE INDEX performance_metrics_user_score ON performance_metrics (tenant_id, user_id, overall_score DESC, id);

-- Running totals of each user's resolved sessions per difficulty, kept by every resolution in its transaction: the
-- performance view reads three rows, however long the history.
CREATE TABLE training_totals (
    tenant_id     BLOB    NOT NULL,
    user_id       BLOB    NOT NULL,
    difficulty    TEXT    NOT NULL CHECK (difficulty IN ('starter', 'intermediate', 'advanced')),
    sessions      INTEGER NOT NULL,
    verification  INTEGER NOT NULL,
    communication INTEGER NOT NULL,
    technical     INTEGER NOT NULL,
    documentation INTEGER NOT NULL,
    response_time INTEGER NOT NULL,
    -- hundredths of a point
    overall       INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id, difficulty),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
) WITHOUT ROWID;

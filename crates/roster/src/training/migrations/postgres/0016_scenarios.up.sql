-- A tenant's practice scenarios. Scenarios are never deleted (a retired one has is_active false), so the ids in
-- `prerequisites` always name a scenario of the tenant.
CREATE TABLE scenarios (
    tenant_id              UUID        NOT NULL REFERENCES tenants (id),
    id                     UUID        NOT NULL,
    title                  TEXT        NOT NULL,
    description            TEXT        NOT NULL DEFAULT '',
    difficulty             TEXT        NOT NULL CHECK (difficulty IN ('starter', 'intermediate', 'advanced')),
    -- minutes
    estimated_time         BIGINT      NOT NULL,
    xp_reward              BIGINT      NOT NULL,
    ticket_template        JSONB       NOT NULL DEFAULT '{}',
    customer_persona       JSONB       NOT NULL DEFAULT '{}',
    knowledge_base_entries JSONB       NOT NULL DEFAULT '[]',
    assessment_criteria    JSONB       NOT NULL DEFAULT '{}',
    -- a JSON array of scenario ids of the tenant, checked on write to form no cycle
    prerequisites          JSONB       NOT NULL DEFAULT '[]',
    is_active              BOOLEAN     NOT NULL DEFAULT TRUE,
    created_at             TIMESTAMPTZ NOT NULL,
    updated_at             TIMESTAMPTZ NOT NULL,
    version                BIGINT      NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX scenarios_difficulty ON scenarios (tenant_id, difficulty, id);

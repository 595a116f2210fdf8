-- A tenant's practice scenarios. Scenarios are never deleted (a retired one has is_active = 0), so the ids in
-- `prerequisites` always name a scenario of the tenant.
CREATE TABLE scenarios (
    tenant_id              BLOB    NOT NULL REFERENCES tenants (id),
    id                     BLOB    NOT NULL,
    title                  TEXT    NOT NULL,
    description            TEXT    NOT NULL DEFAULT '',
    difficulty             TEXT    NOT NULL CHECK (difficulty IN ('starter', 'intermediate', 'advanced')),
    -- minutes
    estimated_time         INTEGER NOT NULL,
    xp_reward              INTEGER NOT NULL,
    ticket_template        TEXT    NOT NULL DEFAULT '{}',
    customer_persona       TEXT    NOT NULL DEFAULT '{}',
    knowledge_base_entries TEXT    NOT NULL DEFAULT '[]',
    assessment_criteria    TEXT    NOT NULL DEFAULT '{}',
    -- a JSON array of scenario ids of the tenant, checked on write to form no cycle
    prerequisites          TEXT    NOT NULL DEFAULT '[]',
    is_active              INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL,
    version                INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
CREATE INDEX scenarios_difficulty ON scenarios (tenant_id, difficulty, id);

-- Each tenant's agent catalogue. A retired agent keeps its row (and its grants) but is no longer in the catalogue.
CREATE TABLE agents (
    tenant_id   BLOB    NOT NULL REFERENCES tenants (id),
    name        TEXT    NOT NULL,
    description TEXT,
    created_at  INTEGER NOT NULL,
    retired_at  INTEGER,
    PRIMARY KEY (tenant_id, name)
) WITHOUT ROWID;

INSERT INTO agents (tenant_id, name, description, created_at)
SELECT t.id, a.name, a.description, CAST(strftime('%s', 'now') AS INTEGER) * 1000000
FROM tenants t,
     (SELECT 'client_management' AS name, 'Client registry' AS description
      UNION ALL SELECT 'pdf_processing', 'PDF processing'
      UNION ALL SELECT 'reports_analysis', 'Reports and analysis'
      UNION ALL SELECT 'audio_recording', 'Audio recording') a;

-- A user's grant on an agent. Revoking keeps the row (flags cleared, revoked_at set), so a check can say "revoked".
-- WITHOUT ROWID: the check reads it by its whole key, one b-tree search.
CREATE TABLE agent_permissions (
    tenant_id  BLOB    NOT NULL,
    user_id    BLOB    NOT NULL,
    agent_name TEXT    NOT NULL,
    can_create INTEGER NOT NULL,
    can_read   INTEGER NOT NULL,
    can_update INTEGER NOT NULL,
    can_delete INTEGER NOT NULL,
    -- the user who granted it; NULL when an API key, the command line or roster itself did
    granted_by BLOB,
    expires_at INTEGER,
    revoked_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id, agent_name),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, agent_name) REFERENCES agents (tenant_id, name)
) WITHOUT ROWID;
CREATE INDEX agent_permissions_agent ON agent_permissions (tenant_id, agent_name);

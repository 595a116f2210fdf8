-- Each tenant's agent catalogue. A retired agent keeps its row (and its grants) but is no longer in the catalogue.
CREATE TABLE agents (
    tenant_id   UUID        NOT NULL REFERENCES tenants (id),
    name        TEXT        NOT NULL,
    description TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    retired_at  TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, name)
);

INSERT INTO agents (tenant_id, name, description, created_at)
SELECT t.id, a.name, a.description, date_trunc('second', now())
FROM tenants t,
     (VALUES ('client_management', 'Client registry'),
             ('pdf_processing', 'PDF processing'),
             ('reports_analysis', 'Reports and analysis'),
             ('audio_recording', 'Audio recording')) AS a (name, description);

-- A user's grant on an agent. Revoking keeps the row (flags cleared, revoked_at set), so a check can say "revoked".
CREATE TABLE agent_permissions (
    tenant_id  UUID        NOT NULL,
    user_id    UUID        NOT NULL,
    agent_name TEXT        NOT NULL,
    can_create BOOLEAN     NOT NULL,
    can_read   BOOLEAN     NOT NULL,
    can_update BOOLEAN     NOT NULL,
    can_delete BOOLEAN     NOT NULL,
    -- the user who granted it; NULL when an API key, the command line or roster itself did
    granted_by UUID,
    expires_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    version    BIGINT      NOT NULL,
    PRIMARY KEY (tenant_id, user_id, agent_name),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, agent_name) REFERENCES agents (tenant_id, name)
);
CREATE INDEX agent_permissions_agent ON agent_permissions (tenant_id, agent_name);

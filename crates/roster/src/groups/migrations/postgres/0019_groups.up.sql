-- A tenant's groups of users (SCIM Groups, and later the holders of roles and agent grants). A group's display name is
-- unique in its tenant whatever its case. Deleting a group removes it and its memberships (the audit log keeps both).
CREATE TABLE user_groups (
    tenant_id    UUID        NOT NULL REFERENCES tenants (id),
    id           UUID        NOT NULL,
    display_name TEXT        NOT NULL,
    -- the display name in lower case: what uniqueness and lookups by name compare
    name_key     TEXT        COLLATE "C" NOT NULL,
    -- the group's id in the identity provider that provisions it
    external_id  TEXT        COLLATE "C",
    -- attributes roster keeps for the provider without using them
    metadata     JSONB       NOT NULL DEFAULT '{}',
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    version      BIGINT      NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX user_groups_name_key ON user_groups (tenant_id, name_key);
CREATE INDEX user_groups_external_id ON user_groups (tenant_id, external_id) WHERE external_id IS NOT NULL;

CREATE TABLE group_members (
    tenant_id UUID        NOT NULL,
    group_id  UUID        NOT NULL,
    user_id   UUID        NOT NULL,
    added_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, group_id, user_id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES user_groups (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);
-- the groups of a user
CREATE INDEX group_members_user ON group_members (tenant_id, user_id, group_id);

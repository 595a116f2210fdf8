-- A tenant's groups of users (SCIM Groups, and later the holders of roles and agent grants). A group's display name is
-- unique in its tenant whatever its case. Deleting a group removes it and its memberships (the audit log keeps both).
CREATE TABLE user_groups (
    tenant_id    BLOB    NOT NULL REFERENCES tenants (id),
    id           BLOB    NOT NULL,
    display_name TEXT    NOT NULL,
    -- the display name in lower case: what uniqueness and lookups by name compare
    name_key     TEXT    NOT NULL,
    -- the group's id in the identity provider that provisions it
    external_id  TEXT,
    -- attributes roster keeps for the provider without using them
    metadata     TEXT    NOT NULL DEFAULT '{}',
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    version      INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX user_groups_name_key ON user_groups (tenant_id, name_key);
CREATE INDEX user_groups_external_id ON user_groups (tenant_id, external_id) WHERE external_id IS NOT NULL;

CREATE TABLE group_members (
    tenant_id BLOB    NOT NULL,
    group_id  BLOB    NOT NULL,
    user_id   BLOB    NOT NULL,
    added_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, group_id, user_id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES user_groups (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
) WITHOUT ROWID;
-- the groups of a user
CREATE INDEX group_members_user ON group_members (tenant_id, user_id, group_id);

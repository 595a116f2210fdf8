CREATE TABLE tenants (
    id          UUID        NOT NULL PRIMARY KEY,
    slug        TEXT        NOT NULL,
    name        TEXT        NOT NULL,
    external_id TEXT,
    status      TEXT        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    deleted_at  TIMESTAMPTZ,
    version     BIGINT      NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX tenants_slug_key ON tenants (slug);

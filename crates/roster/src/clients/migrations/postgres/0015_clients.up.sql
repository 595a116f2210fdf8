-- A tenant's client registry. Deactivating a client (a soft delete) keeps its row with is_active false and frees its
-- CPF for another active client.
CREATE TABLE clients (
    tenant_id  UUID        NOT NULL REFERENCES tenants (id),
    id         UUID        NOT NULL,
    name       TEXT        NOT NULL,
    -- the name without accents, in lower case, one space between words: what searches match, and the list's order
    -- (byte order, as on SQLite, whatever the database's collation)
    name_key   TEXT        COLLATE "C" NOT NULL,
    -- 11 digits, check digits already verified
    cpf        TEXT        NOT NULL CHECK (cpf ~ '^[0-9]{11}$'),
    birth_date DATE        NOT NULL,
    -- the user who registered the client; NULL when an API key or the command line did
    created_by UUID,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    is_active  BOOLEAN     NOT NULL DEFAULT TRUE,
    version    BIGINT      NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id)
);
-- one active client per CPF and tenant
CREATE UNIQUE INDEX clients_cpf_key ON clients (tenant_id, cpf) WHERE is_active = TRUE;
-- lookups that include deactivated clients, in the list's order (so SQLite takes it even before ANALYZE)
CREATE INDEX clients_cpf ON clients (tenant_id, cpf, name_key, id);
CREATE INDEX clients_name ON clients (tenant_id, name_key, id);

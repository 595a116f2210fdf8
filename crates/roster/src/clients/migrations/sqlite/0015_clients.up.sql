-- A tenant's client registry. Deactivating a client (a soft delete) keeps its row with is_active = 0 and frees its
-- CPF for another active client.
CREATE TABLE clients (
    tenant_id  BLOB    NOT NULL REFERENCES tenants (id),
    id         BLOB    NOT NULL,
    name       TEXT    NOT NULL,
    -- the name without accents, in lower case, one space between words: what searches match, and the list's order
    name_key   TEXT    NOT NULL,
    -- 11 digits, check digits already verified
    cpf        TEXT    NOT NULL CHECK (length(cpf) = 11 AND cpf NOT GLOB '*[^0-9]*'),
    -- YYYY-MM-DD
    birth_date TEXT    NOT NULL CHECK (birth_date GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]'),
    -- the user who registered the client; NULL when an API key or the command line did
    created_by BLOB,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    is_active  INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    version    INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
-- one active client per CPF and tenant; queries say `is_active = TRUE` in these words so SQLite uses it
CREATE UNIQUE INDEX clients_cpf_key ON clients (tenant_id, cpf) WHERE is_active = TRUE;
-- lookups that include deactivated clients, in the list's order (so SQLite takes it even before ANALYZE)
CREATE INDEX clients_cpf ON clients (tenant_id, cpf, name_key, id);
CREATE INDEX clients_name ON clients (tenant_id, name_key, id);

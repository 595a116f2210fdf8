-- Bug reports and test cycles from the crowd-testing platform, keyed by the platform's integer ids.
-- `record_at` places a record in time: reported_at for a bug, end_at else start_at for a test, else when it was first
-- ingested. `version` counts changes, so an upsert's RETURNING tells an insert (1) from an update.
CREATE TABLE bugs (
    tenant_id           UUID        NOT NULL REFERENCES tenants (id),
    id                  BIGINT      NOT NULL,
    -- bugs may arrive before their test cycle: a plain column, not a foreign key
    test_id             BIGINT,
    title               TEXT,
    severity            TEXT,
    status              TEXT,
    reported_at         TIMESTAMPTZ,
    known               BOOLEAN,
    raw_data            JSONB       NOT NULL,
    reported_by_user_id UUID,
    record_at           TIMESTAMPTZ NOT NULL,
    synced_at           TIMESTAMPTZ NOT NULL,
    version             BIGINT      NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, reported_by_user_id) REFERENCES users (tenant_id, id)
);
-- top contributors, a reporter's bugs and activity: covering, in record order per reporter
CREATE INDEX bugs_reporter ON bugs (tenant_id, reported_by_user_id, record_at) WHERE reported_by_user_id IS NOT NULL;

CREATE TABLE tests (
    tenant_id            UUID        NOT NULL REFERENCES tenants (id),
    id                   BIGINT      NOT NULL,
    product_id           BIGINT,
    title                TEXT,
    status               TEXT,
    testing_type         TEXT,
    start_at             TIMESTAMPTZ,
    end_at               TIMESTAMPTZ,
    created_by           TEXT,
    submitted_by         TEXT,
    created_by_user_id   UUID,
    submitted_by_user_id UUID,
    raw_data             JSONB       NOT NULL,
    record_at            TIMESTAMPTZ NOT NULL,
    synced_at            TIMESTAMPTZ NOT NULL,
    version              BIGINT      NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, created_by_user_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, submitted_by_user_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX tests_creator ON tests (tenant_id, created_by_user_id, record_at) WHERE created_by_user_id IS NOT NULL;
CREATE INDEX tests_submitter ON tests (tenant_id, submitted_by_user_id, record_at)
    WHERE submitted_by_user_id IS NOT NULL;

-- Records per person and UTC day (days since 1970-01-01), and per person in all: what rankings read, so top
-- contributors over a million records sum a few thousand rows instead of counting a million. The ingest keeps them in
-- the transaction that writes the records.
CREATE TABLE contribution_days (
    tenant_id UUID    NOT NULL REFERENCES tenants (id),
    kind      TEXT    NOT NULL CHECK (kind IN ('reported', 'created')),
    day       BIGINT  NOT NULL,
    user_id   UUID    NOT NULL,
    records   BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, kind, day, user_id)
);
CREATE TABLE contribution_totals (
    tenant_id UUID    NOT NULL REFERENCES tenants (id),
    kind      TEXT    NOT NULL CHECK (kind IN ('reported', 'created')),
    user_id   UUID    NOT NULL,
    records   BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, kind, user_id)
);
CREATE INDEX contribution_totals_rank ON contribution_totals (tenant_id, kind, records);

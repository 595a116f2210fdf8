-- The foreign keys from records to their people's users, back as migration 8 made them.
DROP INDEX bugs_reporter;
ALTER TABLE bugs RENAME TO bugs_rebuilt;
CREATE TABLE bugs (
    tenant_id           BLOB    NOT NULL REFERENCES tenants (id),
    id                  INTEGER NOT NULL,
    -- bugs may arrive before their test cycle: a plain column, not a foreign key
    test_id             INTEGER,
    title               TEXT,
    severity            TEXT,
    status              TEXT,
    reported_at         INTEGER,
    known               INTEGER,
    raw_data            TEXT    NOT NULL,
    reported_by_user_id BLOB,
    record_at           INTEGER NOT NULL,
    synced_at           INTEGER NOT NULL,
    version             INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, reported_by_user_id) REFERENCES users (tenant_id, id)
);
INSERT INTO bugs (tenant_id, id, test_id, title, severity, status, reported_at, known, raw_data, reported_by_user_id,
    record_at, synced_at, version)
SELECT tenant_id, id, test_id, title, severity, status, reported_at, known, raw_data, reported_by_user_id, record_at,
    synced_at, version FROM bugs_rebuilt;
DROP TABLE bugs_rebuilt;
CREATE INDEX bugs_reporter ON bugs (tenant_id, reported_by_user_id, record_at) WHERE reported_by_user_id IS NOT NULL;

DROP INDEX tests_creator;
DROP INDEX tests_submitter;
ALTER TABLE tests RENAME TO tests_rebuilt;
CREATE TABLE tests (
    tenant_id            BLOB    NOT NULL REFERENCES tenants (id),
    id                   INTEGER NOT NULL,
    product_id           INTEGER,
    title                TEXT,
    status               TEXT,
    testing_type         TEXT,
    start_at             INTEGER,
    end_at               INTEGER,
    created_by           TEXT,
    submitted_by         TEXT,
    created_by_user_id   BLOB,
    submitted_by_user_id BLOB,
    raw_data             TEXT    NOT NULL,
    record_at            INTEGER NOT NULL,
    synced_at            INTEGER NOT NULL,
    version              INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, created_by_user_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, submitted_by_user_id) REFERENCES users (tenant_id, id)
);
INSERT INTO tests (tenant_id, id, product_id, title, status, testing_type, start_at, end_at, created_by, submitted_by,
    created_by_user_id, submitted_by_user_id, raw_data, record_at, synced_at, version)
SELECT tenant_id, id, product_id, title, status, testing_type, start_at, end_at, created_by, submitted_by,
    created_by_user_id, submitted_by_user_id, raw_data, record_at, synced_at, version FROM tests_rebuilt;
DROP TABLE tests_rebuilt;
CREATE INDEX tests_creator ON tests (tenant_id, created_by_user_id, record_at) WHERE created_by_user_id IS NOT NULL;
CREATE INDEX tests_submitter ON tests (tenant_id, submitted_by_user_id, record_at)
    WHERE submitted_by_user_id IS NOT NULL;

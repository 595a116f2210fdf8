-- Records keep their people's user ids without foreign keys to users. The ingest is the only writer of those columns
-- and takes the ids from users it upserts in the same transaction, and users are never hard-deleted (a soft-deleted
-- user keeps their row); checking every record against users cost about 3 s per million bugs on SQLite and 7.6 s on
-- PostgreSQL. Each record still references its tenant. The indexes by person leave out tenant_id: user ids do not repeat
-- across tenants (UUIDs; every query still names the tenant), and shorter entries are cheaper to place.
ALTER TABLE bugs DROP CONSTRAINT bugs_tenant_id_reported_by_user_id_fkey;
ALTER TABLE tests DROP CONSTRAINT tests_tenant_id_created_by_user_id_fkey,
    DROP CONSTRAINT tests_tenant_id_submitted_by_user_id_fkey;
DROP INDEX bugs_reporter, tests_creator, tests_submitter;
CREATE INDEX bugs_reporter ON bugs (reported_by_user_id, record_at) WHERE reported_by_user_id IS NOT NULL;
CREATE INDEX tests_creator ON tests (created_by_user_id, record_at) WHERE created_by_user_id IS NOT NULL;
CREATE INDEX tests_submitter ON tests (submitted_by_user_id, record_at) WHERE submitted_by_user_id IS NOT NULL;

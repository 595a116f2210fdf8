//! SQL of bugs and test cycles. Every function takes the tenant it works in.

use time::OffsetDateTime;
use uuid::Uuid;

use super::model::{Bug, TestCycle};
use crate::principal::TenantId;
use crate::store::{FromRow, Row, Store, StoreError, Tx, Value};

/// A bug ready to write: the record, its reporter's user id and the time that places it.
#[derive(Clone, Copy)]
pub(super) struct BugRow<'a> {
    pub bug: &'a Bug,
    pub reporter: Option<Uuid>,
    pub record_at: OffsetDateTime,
}

/// A test cycle ready to write, with its people's user ids.
pub(super) struct TestRow<'a> {
    pub test: &'a TestCycle,
    pub creator: Option<Uuid>,
    pub submitter: Option<Uuid>,
    pub record_at: OffsetDateTime,
}

/// The columns a bug is written with: 12 of them, in [`bug_values`]'s order.
const BUG_INSERT: &str = "INSERT INTO bugs (tenant_id, id, test_id, title, severity, status, reported_at, known, \
     raw_data, reported_by_user_id, record_at, synced_at)";

/// What makes an insert of bugs an upsert: a stored bug is rewritten only when it changed, and every bug written is
/// returned as `(id, version)`.
const BUG_UPSERT: &str = "ON CONFLICT (tenant_id, id) DO UPDATE SET test_id = excluded.test_id, \
     title = excluded.title, severity = excluded.severity, status = excluded.status, \
     reported_at = excluded.reported_at, known = excluded.known, raw_data = excluded.raw_data, \
     reported_by_user_id = excluded.reported_by_user_id, record_at = COALESCE(excluded.reported_at, bugs.record_at), \
     synced_at = excluded.synced_at, version = bugs.version + 1 \
     WHERE bugs.raw_data IS DISTINCT FROM excluded.raw_data \
     OR bugs.reported_by_user_id IS DISTINCT FROM excluded.reported_by_user_id \
     RETURNING id, version";

/// A bug's values for [`BUG_INSERT`].
fn bug_values(tenant_id: TenantId, row: &BugRow<'_>, now: OffsetDateTime) -> [Value; 12] {
    let b = row.bug;
    [
        tenant_id.into(),
        b.id.into(),
        b.test_id.into(),
        b.title.clone().into(),
        b.severity.clone().into(),
        b.status.clone().into(),
        b.reported_at.into(),
        b.known.into(),
        Value::JsonText(b.raw.clone()),
        row.reporter.into(),
        row.record_at.into(),
        now.into(),
    ]
}

/// Bugs as PostgreSQL arrays: one statement writes them all (`$1` the tenant, `$2` the sync time, `$3`… one array
/// per column, in [`BUG_INSERT`]'s order). Against one statement per 500 rows of 12 parameters each, a 1M-bug ingest
/// wrote its bugs in 42.0 s instead of 48.3 s.
fn bug_arrays(tenant_id: TenantId, rows: &[BugRow<'_>], now: OffsetDateTime) -> (&'static str, Vec<Value>) {
    const SELECT: &str = "SELECT $1, b.id, b.test_id, b.title, b.severity, b.status, b.reported_at, b.known, \
         b.raw_data::jsonb, b.reporter, b.record_at, $2 \
         FROM unnest($3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::timestamptz[], \
         $9::bool[], $10::text[], $11::uuid[], $12::timestamptz[]) WITH ORDINALITY \
         AS b (id, test_id, title, severity, status, reported_at, known, raw_data, reporter, record_at, n) \
         ORDER BY b.n";
    let mut columns: Vec<Vec<Value>> = (0..10).map(|_| Vec::with_capacity(rows.len())).collect();
    for row in rows {
        let [_, id, test_id, title, severity, status, reported_at, known, raw, reporter, record_at, _] =
            bug_values(tenant_id, row, now);
        let raw = match raw {
            // the array is of text, cast to jsonb in the statement
            Value::JsonText(text) => Value::Text(text),
            other => other,
        };
        for (column, value) in
            columns.iter_mut().zip([id, test_id, title, severity, status, reported_at, known, raw, reporter, record_at])
        {
            column.push(value);
        }
    }
    let mut params = vec![tenant_id.into(), now.into()];
    params.extend(columns.into_iter().map(Value::Array));
    (SELECT, params)
}

/// Insert bugs that are not stored: the caller read them within its transaction, and an ingest, the only writer of
/// bugs, holds the tenant's ingest lock. On SQLite the statements are queued without waiting for them (a failure
/// fails the commit), so the next rows are prepared while these are written.
pub(super) async fn insert_bugs(
    tx: &mut Tx,
    tenant_id: TenantId,
    rows: &[BugRow<'_>],
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    if tx.backend() == crate::store::Backend::Postgres {
        let (select, params) = bug_arrays(tenant_id, rows, now);
        tx.execute(format!("{BUG_INSERT} {select}"), params).await?;
        return Ok(());
    }
    for chunk in crate::store::statement_chunks(rows) {
        let sql = crate::store::statement_text("insert_bugs", chunk.len(), || {
            format!("{BUG_INSERT} VALUES {}", crate::store::placeholder_rows(chunk.len(), 12))
        });
        let params: Vec<Value> = chunk.iter().flat_map(|row| bug_values(tenant_id, row, now)).collect();
        tx.execute_deferred(sql, params).await?;
    }
    Ok(())
}

/// Insert new bugs and rewrite changed ones; an identical bug is not written. The rows must not repeat an id.
/// Returns `(id, version)` of each row written: version 1 is a new bug.
pub(super) async fn upsert_bugs(
    tx: &mut Tx,
    tenant_id: TenantId,
    rows: &[BugRow<'_>],
    now: OffsetDateTime,
) -> Result<Vec<(i64, i64)>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    if tx.backend() == crate::store::Backend::Postgres {
        let (select, params) = bug_arrays(tenant_id, rows, now);
        return tx.query(format!("{BUG_INSERT} {select} {BUG_UPSERT}"), params).await;
    }
    let mut out = Vec::new();
    for chunk in crate::store::statement_chunks(rows) {
        let sql = crate::store::statement_text("upsert_bugs", chunk.len(), || {
            format!("{BUG_INSERT} VALUES {} {BUG_UPSERT}", crate::store::placeholder_rows(chunk.len(), 12))
        });
        let params: Vec<Value> = chunk.iter().flat_map(|row| bug_values(tenant_id, row, now)).collect();
        out.extend(tx.query::<(i64, i64)>(sql, params).await?);
    }
    Ok(out)
}

/// Insert new test cycles and rewrite changed ones, as [`upsert_bugs`].
pub(super) async fn upsert_tests(
    tx: &mut Tx,
    tenant_id: TenantId,
    rows: &[TestRow<'_>],
    now: OffsetDateTime,
) -> Result<Vec<(i64, i64)>, StoreError> {
    let mut out = Vec::new();
    for chunk in crate::store::statement_chunks(rows) {
        let sql = crate::store::statement_text("upsert_tests", chunk.len(), || {
            format!(
            "INSERT INTO tests (tenant_id, id, product_id, title, status, testing_type, start_at, end_at, created_by, \
             submitted_by, created_by_user_id, submitted_by_user_id, raw_data, record_at, synced_at) VALUES {} \
             ON CONFLICT (tenant_id, id) DO UPDATE SET product_id = excluded.product_id, title = excluded.title, \
             status = excluded.status, testing_type = excluded.testing_type, start_at = excluded.start_at, \
             end_at = excluded.end_at, created_by = excluded.created_by, submitted_by = excluded.submitted_by, \
             created_by_user_id = excluded.created_by_user_id, submitted_by_user_id = excluded.submitted_by_user_id, \
             raw_data = excluded.raw_data, \
             record_at = COALESCE(excluded.end_at, excluded.start_at, tests.record_at), \
             synced_at = excluded.synced_at, version = tests.version + 1 \
             WHERE tests.raw_data IS DISTINCT FROM excluded.raw_data \
             OR tests.created_by_user_id IS DISTINCT FROM excluded.created_by_user_id \
             OR tests.submitted_by_user_id IS DISTINCT FROM excluded.submitted_by_user_id \
             RETURNING id, version",
            crate::store::placeholder_rows(chunk.len(), 15)
        )
        });
        let mut params: Vec<Value> = Vec::with_capacity(chunk.len() * 15);
        for row in chunk {
            let t = row.test;
            params.extend([
                tenant_id.into(),
                t.id.into(),
                t.product_id.into(),
                t.title.clone().into(),
                t.status.clone().into(),
                t.testing_type.clone().into(),
                t.start_at.into(),
                t.end_at.into(),
                t.created_by.clone().into(),
                t.submitted_by.clone().into(),
                row.creator.into(),
                row.submitter.into(),
                Value::JsonText(t.raw.clone()),
                row.record_at.into(),
                now.into(),
            ]);
        }
        out.extend(tx.query::<(i64, i64)>(sql, params).await?);
    }
    Ok(out)
}

/// Whose records a count or list is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// Bugs by their reporter.
    Reported,
    /// Test cycles by who created them.
    Created,
    /// Test cycles by who submitted them.
    Submitted,
}

impl Role {
    fn table_and_column(self) -> (&'static str, &'static str) {
        match self {
            Role::Reported => ("bugs", "reported_by_user_id"),
            Role::Created => ("tests", "created_by_user_id"),
            Role::Submitted => ("tests", "submitted_by_user_id"),
        }
    }
}

/// The rankings' kinds of contribution: bugs reported (testers) and test cycles created (customers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Ranked {
    Reported,
    Created,
}

impl Ranked {
    fn as_str(self) -> &'static str {
        match self {
            Ranked::Reported => "reported",
            Ranked::Created => "created",
        }
    }
}

/// Serialise a tenant's ingests on PostgreSQL for the rest of the transaction, so the records each one reads before
/// writing are still there when it writes (the rankings' counts depend on them). SQLite has one writer already.
pub(super) async fn lock_ingest(tx: &mut Tx, tenant_id: TenantId) -> Result<(), StoreError> {
    if tx.backend() == crate::store::Backend::Postgres {
        let (high, _) = tenant_id.uuid().as_u64_pair();
        // a key of its own: the migrator's lock uses another constant
        let key = (high ^ 0x696e_6765_7374_0000) as i64;
        tx.execute("SELECT pg_advisory_xact_lock($1)", vec![key.into()]).await?;
    }
    Ok(())
}

/// Refresh PostgreSQL's statistics of the tables an ingest writes. Without them (a new table, or autovacuum off) the
/// planner looks a batch's records up by scanning the tenant's whole table, and an ingest slows down as it goes
/// (measured: 24,000 records/s fell below 700/s by the 225,000th record). Only the columns the ingest's reads filter
/// on are sampled (the tables' sizes are refreshed whatever the columns): with 100,000 bugs stored, a refresh of every
/// column took 247–273 ms and one of these columns 88–90 ms (`psql \timing`, three each).
pub(super) async fn refresh_statistics(tx: &mut Tx) -> Result<(), StoreError> {
    if tx.backend() == crate::store::Backend::Postgres {
        tx.execute_batch(
            "ANALYZE bugs (tenant_id, id), tests (tenant_id, id), users (tenant_id, username, deleted_at), \
             contribution_days, contribution_totals",
        )
        .await?;
    }
    Ok(())
}

/// The stored person and record time of those of `ids` that exist: `(id, person, record_at)`.
pub(super) async fn existing(
    tx: &mut Tx,
    tenant_id: TenantId,
    ranked: Ranked,
    ids: &[i64],
) -> Result<Vec<(i64, Option<Uuid>, OffsetDateTime)>, StoreError> {
    let (table, column) = match ranked {
        Ranked::Reported => ("bugs", "reported_by_user_id"),
        Ranked::Created => ("tests", "created_by_user_id"),
    };
    if tx.backend() == crate::store::Backend::Postgres {
        let ids = Value::Array(ids.iter().map(|&id| id.into()).collect());
        return tx
            .query(
                format!("SELECT id, {column}, record_at FROM {table} WHERE tenant_id = $1 AND id = ANY($2::bigint[])"),
                vec![tenant_id.into(), ids],
            )
            .await;
    }
    let mut out = Vec::new();
    for chunk in crate::store::statement_chunks(ids) {
        let name = if table == "bugs" { "existing_bugs" } else { "existing_tests" };
        let sql = crate::store::statement_text(name, chunk.len(), || {
            let list = crate::store::placeholder_list(2, chunk.len());
            format!("SELECT id, {column}, record_at FROM {table} WHERE tenant_id = $1 AND id IN ({list})")
        });
        let mut params: Vec<Value> = vec![tenant_id.into()];
        params.extend(chunk.iter().map(|&id| Value::from(id)));
        out.extend(tx.query::<(i64, Option<Uuid>, OffsetDateTime)>(sql, params).await?);
    }
    Ok(out)
}

/// Add `(day, user, change)` to the per-day and all-time counts. Rows are written in key order, so concurrent writers
/// cannot deadlock on them.
pub(super) async fn add_contributions(
    tx: &mut Tx,
    tenant_id: TenantId,
    ranked: Ranked,
    changes: &[(i64, Uuid, i64)],
) -> Result<(), StoreError> {
    let mut per_user: std::collections::BTreeMap<Uuid, i64> = std::collections::BTreeMap::new();
    for (_, user, change) in changes {
        *per_user.entry(*user).or_default() += change;
    }
    let totals: Vec<(Uuid, i64)> = per_user.into_iter().filter(|(_, n)| *n != 0).collect();
    if tx.backend() == crate::store::Backend::Postgres {
        return add_contributions_unnested(tx, tenant_id, ranked, changes, &totals).await;
    }
    for chunk in crate::store::statement_chunks(changes) {
        let sql = crate::store::statement_text("add_contribution_days", chunk.len(), || {
            format!(
                "INSERT INTO contribution_days (tenant_id, kind, day, user_id, records) VALUES {} \
                 ON CONFLICT (tenant_id, kind, day, user_id) \
                 DO UPDATE SET records = contribution_days.records + excluded.records",
                crate::store::placeholder_rows(chunk.len(), 5)
            )
        });
        let mut params: Vec<Value> = Vec::with_capacity(chunk.len() * 5);
        for (day, user, change) in chunk {
            params.extend([tenant_id.into(), ranked.as_str().into(), (*day).into(), (*user).into(), (*change).into()]);
        }
        tx.execute(sql, params).await?;
    }
    for chunk in crate::store::statement_chunks(&totals) {
        let sql = crate::store::statement_text("add_contribution_totals", chunk.len(), || {
            format!(
                "INSERT INTO contribution_totals (tenant_id, kind, user_id, records) VALUES {} \
                 ON CONFLICT (tenant_id, kind, user_id) \
                 DO UPDATE SET records = contribution_totals.records + excluded.records",
                crate::store::placeholder_rows(chunk.len(), 4)
            )
        });
        let mut params: Vec<Value> = Vec::with_capacity(chunk.len() * 4);
        for (user, change) in chunk {
            params.extend([tenant_id.into(), ranked.as_str().into(), (*user).into(), (*change).into()]);
        }
        tx.execute(sql, params).await?;
    }
    Ok(())
}

/// [`add_contributions`] on PostgreSQL: each table's rows travel as arrays in one statement instead of one statement
/// per 500 rows (1M bugs: the counts took 18.4 s instead of 20.8 s).
async fn add_contributions_unnested(
    tx: &mut Tx,
    tenant_id: TenantId,
    ranked: Ranked,
    changes: &[(i64, Uuid, i64)],
    totals: &[(Uuid, i64)],
) -> Result<(), StoreError> {
    if !changes.is_empty() {
        let days = Value::Array(changes.iter().map(|(day, _, _)| (*day).into()).collect());
        let users = Value::Array(changes.iter().map(|(_, user, _)| (*user).into()).collect());
        let counts = Value::Array(changes.iter().map(|(_, _, n)| (*n).into()).collect());
        tx.execute(
            "INSERT INTO contribution_days (tenant_id, kind, day, user_id, records) \
             SELECT $1, $2, c.day, c.user_id, c.records \
             FROM unnest($3::bigint[], $4::uuid[], $5::bigint[]) WITH ORDINALITY AS c (day, user_id, records, n) \
             ORDER BY c.n \
             ON CONFLICT (tenant_id, kind, day, user_id) \
             DO UPDATE SET records = contribution_days.records + excluded.records",
            vec![tenant_id.into(), ranked.as_str().into(), days, users, counts],
        )
        .await?;
    }
    if !totals.is_empty() {
        let users = Value::Array(totals.iter().map(|(user, _)| (*user).into()).collect());
        let counts = Value::Array(totals.iter().map(|(_, n)| (*n).into()).collect());
        tx.execute(
            "INSERT INTO contribution_totals (tenant_id, kind, user_id, records) \
             SELECT $1, $2, c.user_id, c.records \
             FROM unnest($3::uuid[], $4::bigint[]) WITH ORDINALITY AS c (user_id, records, n) \
             ORDER BY c.n \
             ON CONFLICT (tenant_id, kind, user_id) \
             DO UPDATE SET records = contribution_totals.records + excluded.records",
            vec![tenant_id.into(), ranked.as_str().into(), users, counts],
        )
        .await?;
    }
    Ok(())
}

/// The people with the most records of all time, most first, at most `limit` of them.
pub(super) async fn top_totals(
    store: &Store,
    tenant_id: TenantId,
    ranked: Ranked,
    limit: i64,
) -> Result<Vec<(Uuid, i64)>, StoreError> {
    store
        .query(
            "SELECT user_id, records FROM contribution_totals WHERE tenant_id = $1 AND kind = $2 AND records > 0 \
             ORDER BY records DESC LIMIT $3",
            vec![tenant_id.into(), ranked.as_str().into(), limit.into()],
        )
        .await
}

/// Records per person from `since_day` (days since the epoch, UTC) on.
pub(super) async fn window_counts(
    store: &Store,
    tenant_id: TenantId,
    ranked: Ranked,
    since_day: i64,
) -> Result<Vec<(Uuid, i64)>, StoreError> {
    store
        .query(
            "SELECT user_id, CAST(SUM(records) AS BIGINT) FROM contribution_days \
             WHERE tenant_id = $1 AND kind = $2 AND day >= $3 GROUP BY user_id HAVING SUM(records) > 0",
            vec![tenant_id.into(), ranked.as_str().into(), since_day.into()],
        )
        .await
}

/// The times of a person's records since `since`.
pub(super) async fn record_times(
    store: &Store,
    tenant_id: TenantId,
    role: Role,
    user_id: Uuid,
    since: OffsetDateTime,
) -> Result<Vec<OffsetDateTime>, StoreError> {
    let (table, column) = role.table_and_column();
    let rows: Vec<(OffsetDateTime,)> = store
        .query(
            format!("SELECT record_at FROM {table} WHERE tenant_id = $1 AND {column} = $2 AND record_at >= $3"),
            vec![tenant_id.into(), user_id.into(), since.into()],
        )
        .await?;
    Ok(rows.into_iter().map(|(t,)| t).collect())
}

/// A stored bug report.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct StoredBug {
    pub id: i64,
    pub test_id: Option<i64>,
    pub title: Option<String>,
    pub severity: Option<String>,
    pub status: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub reported_at: Option<OffsetDateTime>,
    pub known: Option<bool>,
    pub reported_by_user_id: Option<Uuid>,
    #[schema(value_type = Object)]
    pub raw_data: serde_json::Value,
    /// When the record happened: reported_at, else when it was first ingested.
    #[serde(with = "time::serde::rfc3339")]
    pub record_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub synced_at: OffsetDateTime,
    pub version: i64,
}

const BUG_COLUMNS: &str =
    "id, test_id, title, severity, status, reported_at, known, reported_by_user_id, raw_data, record_at, synced_at, \
     version";

impl FromRow for StoredBug {
    fn from_row(row: &Row<'_, '_>) -> Result<Self, StoreError> {
        Ok(StoredBug {
            id: row.get(0)?,
            test_id: row.get(1)?,
            title: row.get(2)?,
            severity: row.get(3)?,
            status: row.get(4)?,
            reported_at: row.get(5)?,
            known: row.get(6)?,
            reported_by_user_id: row.get(7)?,
            raw_data: row.get(8)?,
            record_at: row.get(9)?,
            synced_at: row.get(10)?,
            version: row.get(11)?,
        })
    }
}

/// A stored test cycle.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct StoredTest {
    pub id: i64,
    pub product_id: Option<i64>,
    pub title: Option<String>,
    pub status: Option<String>,
    pub testing_type: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub start_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub end_at: Option<OffsetDateTime>,
    pub created_by: Option<String>,
    pub submitted_by: Option<String>,
    pub created_by_user_id: Option<Uuid>,
    pub submitted_by_user_id: Option<Uuid>,
    #[schema(value_type = Object)]
    pub raw_data: serde_json::Value,
    /// When the cycle happened: end_at, else start_at, else when it was first ingested.
    #[serde(with = "time::serde::rfc3339")]
    pub record_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub synced_at: OffsetDateTime,
    pub version: i64,
}

const TEST_COLUMNS: &str = "id, product_id, title, status, testing_type, start_at, end_at, created_by, submitted_by, \
     created_by_user_id, submitted_by_user_id, raw_data, record_at, synced_at, version";

impl FromRow for StoredTest {
    fn from_row(row: &Row<'_, '_>) -> Result<Self, StoreError> {
        Ok(StoredTest {
            id: row.get(0)?,
            product_id: row.get(1)?,
            title: row.get(2)?,
            status: row.get(3)?,
            testing_type: row.get(4)?,
            start_at: row.get(5)?,
            end_at: row.get(6)?,
            created_by: row.get(7)?,
            submitted_by: row.get(8)?,
            created_by_user_id: row.get(9)?,
            submitted_by_user_id: row.get(10)?,
            raw_data: row.get(11)?,
            record_at: row.get(12)?,
            synced_at: row.get(13)?,
            version: row.get(14)?,
        })
    }
}

/// The keyset `WHERE` of a newest-first list after `(record_at, id)`, and its parameters.
fn newest_first_after(after: Option<(OffsetDateTime, i64)>, params: &mut Vec<Value>) -> String {
    match after {
        Some((at, id)) => {
            params.extend([at.into(), id.into()]);
            " AND (record_at < $3 OR (record_at = $3 AND id < $4))".into()
        }
        None => String::new(),
    }
}

/// A person's records of `role`, newest first, after the keyset `(record_at, id)`.
pub(super) async fn bugs_of(
    store: &Store,
    tenant_id: TenantId,
    user_id: Uuid,
    after: Option<(OffsetDateTime, i64)>,
    limit: i64,
) -> Result<Vec<StoredBug>, StoreError> {
    let mut params: Vec<Value> = vec![tenant_id.into(), user_id.into()];
    let keyset = newest_first_after(after, &mut params);
    params.push((limit + 1).into());
    store
        .query(
            format!(
                "SELECT {BUG_COLUMNS} FROM bugs WHERE tenant_id = $1 AND reported_by_user_id = $2{keyset} \
                 ORDER BY record_at DESC, id DESC LIMIT ${}",
                params.len()
            ),
            params,
        )
        .await
}

/// Test cycles a person created or submitted, newest first, after the keyset `(record_at, id)`.
pub(super) async fn tests_of(
    store: &Store,
    tenant_id: TenantId,
    role: Role,
    user_id: Uuid,
    after: Option<(OffsetDateTime, i64)>,
    limit: i64,
) -> Result<Vec<StoredTest>, StoreError> {
    let (_, column) = role.table_and_column();
    let mut params: Vec<Value> = vec![tenant_id.into(), user_id.into()];
    let keyset = newest_first_after(after, &mut params);
    params.push((limit + 1).into());
    store
        .query(
            format!(
                "SELECT {TEST_COLUMNS} FROM tests WHERE tenant_id = $1 AND {column} = $2{keyset} \
                 ORDER BY record_at DESC, id DESC LIMIT ${}",
                params.len()
            ),
            params,
        )
        .await
}

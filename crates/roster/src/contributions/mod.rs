//! contributions: people extracted from crowd-testing records (bug reports and test cycles), and who contributed what.
//!
//! `reader` frames every export shape, `model` checks records, `ingest` writes them in batches with their people
//! (through `users::upsert_seen`), `repo` holds the SQL, `routes` the HTTP face.

mod error;
pub mod ingest;
pub mod model;
pub mod reader;
mod repo;
pub mod routes;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime};
use uuid::Uuid;

pub use error::ContributionsError;
pub use ingest::{IngestError, IngestFailure, IngestOptions, IngestReport, Rejected};
pub use model::Kind;
pub use repo::{StoredBug, StoredTest};

use crate::http::pagination::{self, Page};
use crate::migrate::Migration;
use crate::principal::AdminScope;
use crate::store::Store;
use crate::users::{self, User, UserType};

pub const MIGRATIONS: &[Migration] = &[
    crate::migration!(8, "0008_contributions", "contributions"),
    crate::migration!(10, "0010_records_people_keys", "records_people_keys"),
];

pub const DEFAULT_TOP: i64 = 10;
pub const MAX_TOP: i64 = 500;

/// `?user_type=&days=&limit=` of top contributors.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TopFilter {
    /// `tester`: ranked by bugs reported; `customer`: by test cycles created; absent: everyone, by both.
    pub user_type: Option<UserType>,
    /// Only records of the last N days: today (UTC) and the N - 1 days before, by record time; all time when
    /// absent.
    #[param(minimum = 1, maximum = 36500)]
    pub days: Option<i64>,
    /// How many to return, 1 to 500 (default 10).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// A person and how many records they contributed.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Contributor {
    pub user: User,
    pub count: i64,
}

/// The top contributors of the scope's tenant, most records first, ties by username. Only live users count.
pub async fn top_contributors(
    store: &Store,
    scope: AdminScope<'_>,
    now: OffsetDateTime,
    filter: &TopFilter,
) -> Result<Vec<Contributor>, ContributionsError> {
    let limit = match filter.limit {
        None => DEFAULT_TOP,
        Some(n) if (1..=MAX_TOP).contains(&n) => n,
        Some(_) => return Err(ContributionsError::invalid("limit", format!("must be between 1 and {MAX_TOP}"))),
    } as usize;
    let roles: &[repo::Ranked] = match filter.user_type {
        Some(UserType::Tester) => &[repo::Ranked::Reported],
        Some(UserType::Customer) => &[repo::Ranked::Created],
        Some(UserType::Member) | None => &[repo::Ranked::Reported, repo::Ranked::Created],
    };
    let tenant_id = scope.tenant_id();
    let mut fetch = limit as i64 + 16;
    loop {
        // all time: the first `fetch` of each kind's totals; a window: every person's sum over its days
        let mut totals: HashMap<Uuid, i64> = HashMap::new();
        let mut complete = true;
        for role in roles {
            let rows = match filter.days {
                None => {
                    let rows = repo::top_totals(store, tenant_id, *role, fetch).await?;
                    complete &= (rows.len() as i64) < fetch;
                    rows
                }
                Some(days) => {
                    let days = users::window_days(Some(days), 30)?;
                    repo::window_counts(store, tenant_id, *role, first_day(now, days)).await?
                }
            };
            for (user_id, n) in rows {
                *totals.entry(user_id).or_default() += n;
            }
        }
        let mut ranked: Vec<(Uuid, i64)> = totals.into_iter().collect();
        ranked.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
        // Of a partial list (the first `fetch` of each kind) only counts above the smallest one fetched are known
        // whole; with two kinds summed, nothing short of the whole list is.
        let smallest = ranked.last().map_or(0, |(_, n)| *n);
        let known = |n: i64| complete || (roles.len() == 1 && n > smallest);
        if let Some(top) = rank(store, scope, filter.user_type, &ranked, limit, known).await? {
            return Ok(top);
        }
        fetch = if roles.len() == 1 { fetch * 4 } else { i64::MAX };
    }
}

/// The first UTC day of a window of `days` days ending today: days since the epoch.
fn first_day(now: OffsetDateTime, days: i64) -> i64 {
    ingest::day_of(now) - (days - 1)
}

/// Walk a ranking one count at a time: every tie of a count is fetched so it can be ordered by username, and users of
/// another type (or deleted) drop out. `None` when the ranking runs past the counts known whole before `limit` are
/// found.
async fn rank(
    store: &Store,
    scope: AdminScope<'_>,
    user_type: Option<UserType>,
    ranked: &[(Uuid, i64)],
    limit: usize,
    known: impl Fn(i64) -> bool,
) -> Result<Option<Vec<Contributor>>, ContributionsError> {
    let mut top = Vec::with_capacity(limit);
    let mut rest = ranked;
    while top.len() < limit && !rest.is_empty() {
        let count = rest[0].1;
        if !known(count) {
            return Ok(None);
        }
        let tied = rest.iter().take_while(|(_, n)| *n == count).count();
        let ids: Vec<Uuid> = rest[..tied].iter().map(|(id, _)| *id).collect();
        rest = &rest[tied..];
        let mut found = users::live_by_ids(store, scope, &ids).await?;
        found.retain(|u| user_type.is_none_or(|t| u.user_type == t));
        found.sort_by(|a, b| (a.username.is_none(), &a.username, a.id).cmp(&(b.username.is_none(), &b.username, b.id)));
        top.extend(found.into_iter().take(limit - top.len()).map(|user| Contributor { user, count }));
    }
    if top.len() < limit && ranked.last().is_some_and(|(_, n)| !known(*n)) {
        return Ok(None);
    }
    Ok(Some(top))
}

/// Live users seen within the window: see [`users::active`].
pub async fn active_users(
    store: &Store,
    scope: AdminScope<'_>,
    now: OffsetDateTime,
    filter: &users::ActiveFilter,
) -> Result<Page<User>, ContributionsError> {
    Ok(users::active(store, scope, now, filter).await?)
}

/// `?limit=&cursor=` of a person's records; `role` for test cycles.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RecordsParams {
    /// For test cycles: `created` (default) or `submitted`.
    pub role: Option<TestRole>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// A person's part in a test cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TestRole {
    Created,
    Submitted,
}

/// The bugs a user reported, newest first.
pub async fn bugs_of(
    store: &Store,
    scope: AdminScope<'_>,
    user_id: Uuid,
    params: &RecordsParams,
) -> Result<Page<StoredBug>, ContributionsError> {
    if params.role.is_some() {
        return Err(ContributionsError::invalid("role", "applies to test cycles only"));
    }
    let limit = pagination::limit(params.limit)?;
    let after = pagination::decode_timed_cursor(params.cursor.as_deref())?;
    users::get(store, &scope, user_id, true).await?;
    let rows = repo::bugs_of(store, scope.tenant_id(), user_id, after, limit).await?;
    Ok(pagination::timed_page(rows, limit, |b| Some((b.record_at, b.id))))
}

/// The test cycles a user created (or submitted), newest first.
pub async fn tests_of(
    store: &Store,
    scope: AdminScope<'_>,
    user_id: Uuid,
    params: &RecordsParams,
) -> Result<Page<StoredTest>, ContributionsError> {
    let limit = pagination::limit(params.limit)?;
    let after = pagination::decode_timed_cursor(params.cursor.as_deref())?;
    users::get(store, &scope, user_id, true).await?;
    let role = match params.role.unwrap_or(TestRole::Created) {
        TestRole::Created => repo::Role::Created,
        TestRole::Submitted => repo::Role::Submitted,
    };
    let rows = repo::tests_of(store, scope.tenant_id(), role, user_id, after, limit).await?;
    Ok(pagination::timed_page(rows, limit, |t| Some((t.record_at, t.id))))
}

/// `?bucket=day|week&days=` of a user's activity.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ActivityParams {
    pub bucket: Option<Bucket>,
    /// The window, 1 to 3660 days (default 30).
    #[param(minimum = 1, maximum = 3660)]
    pub days: Option<i64>,
}

/// The width of an activity bucket; weeks start on Monday (ISO 8601).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    #[default]
    Day,
    Week,
}

time::serde::format_description!(iso_date, Date, "[year]-[month]-[day]");

/// A user's records in one bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ActivityBucket {
    /// The first day of the bucket (UTC), as the OpenAPI document says: `2026-11-30`.
    #[schema(value_type = String, format = Date)]
    #[serde(with = "iso_date")]
    pub start: Date,
    pub bugs: u64,
    pub tests_created: u64,
    pub tests_submitted: u64,
}

/// A user's activity: every bucket of the window, oldest first, empty ones included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Activity {
    pub bucket: Bucket,
    pub days: i64,
    pub items: Vec<ActivityBucket>,
}

fn bucket_start(bucket: Bucket, day: Date) -> Date {
    match bucket {
        Bucket::Day => day,
        Bucket::Week => day - Duration::days(day.weekday().number_days_from_monday().into()),
    }
}

/// Bugs reported and test cycles created and submitted by a user, per day or week of the window.
pub async fn activity(
    store: &Store,
    scope: AdminScope<'_>,
    now: OffsetDateTime,
    user_id: Uuid,
    params: &ActivityParams,
) -> Result<Activity, ContributionsError> {
    let days = match params.days {
        None => 30,
        Some(d) if (1..=3660).contains(&d) => d,
        Some(_) => return Err(ContributionsError::invalid("days", "must be between 1 and 3660")),
    };
    let bucket = params.bucket.unwrap_or_default();
    users::get(store, &scope, user_id, true).await?;
    let now = now.to_offset(time::UtcOffset::UTC);
    let since = (now - Duration::days(days - 1)).date().midnight().assume_utc();
    let mut items: Vec<ActivityBucket> = Vec::new();
    let mut start = bucket_start(bucket, since.date());
    let step = if bucket == Bucket::Day { 1 } else { 7 };
    while start <= now.date() {
        items.push(ActivityBucket { start, bugs: 0, tests_created: 0, tests_submitted: 0 });
        start += Duration::days(step);
    }
    let index: HashMap<Date, usize> = items.iter().enumerate().map(|(i, b)| (b.start, i)).collect();
    for role in [repo::Role::Reported, repo::Role::Created, repo::Role::Submitted] {
        for at in repo::record_times(store, scope.tenant_id(), role, user_id, since).await? {
            let day = at.to_offset(time::UtcOffset::UTC).date();
            let Some(&i) = index.get(&bucket_start(bucket, day)) else { continue };
            let item = &mut items[i];
            match role {
                repo::Role::Reported => item.bugs += 1,
                repo::Role::Created => item.tests_created += 1,
                repo::Role::Submitted => item.tests_submitted += 1,
            }
        }
    }
    Ok(Activity { bucket, days, items })
}

#[cfg(test)]
mod tests;

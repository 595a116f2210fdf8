//! How a user is doing: sessions completed and abandoned, average scores overall and per difficulty, XP and level,
//! best and most recent sessions; and the tenant's leaderboard.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::model::{Difficulty, Metric, SessionStatus};
use super::repo::{self, DifficultyTotals};
use super::{scoring, TrainingError};
use crate::http::FieldError;
use crate::principal::{AdminScope, TenantId};
use crate::store::Store;

/// How many recent sessions a performance view lists.
pub const RECENT_SESSIONS: i64 = 10;

/// The average of each score (two decimals); null where nothing was scored yet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, ToSchema)]
pub struct Averages {
    pub verification: Option<f64>,
    pub communication: Option<f64>,
    pub technical: Option<f64>,
    pub documentation: Option<f64>,
    pub response_time: Option<f64>,
    pub overall: Option<f64>,
}

/// The completed sessions of one difficulty.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, ToSchema)]
pub struct DifficultyPerformance {
    pub sessions_completed: i64,
    pub average_scores: Averages,
}

/// `GET /v1/me/performance`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Performance {
    pub user_id: Uuid,
    pub sessions_completed: i64,
    pub sessions_abandoned: i64,
    pub sessions_active: i64,
    pub average_scores: Averages,
    /// `starter`, `intermediate` and `advanced`, each always present.
    pub by_difficulty: BTreeMap<Difficulty, DifficultyPerformance>,
    pub xp: i64,
    pub level: i64,
    pub xp_to_next_level: i64,
    /// The highest overall score (the earliest of equals).
    pub best_session: Option<Metric>,
    /// The newest first.
    pub recent_sessions: Vec<Metric>,
}

fn two_decimals(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The performance of `user_id`, whose XP is `xp`. The caller decided who may see it.
pub async fn of_user(store: &Store, tenant_id: TenantId, user_id: Uuid, xp: i64) -> Result<Performance, TrainingError> {
    let counts = repo::open_and_abandoned(store, tenant_id, user_id).await?;
    let count = |status| counts.iter().find(|(s, _)| *s == status).map_or(0, |(_, n)| *n);
    let rows = repo::totals(store, tenant_id, user_id).await?;
    let (best_session, recent_sessions) = repo::best_and_recent(store, tenant_id, user_id, RECENT_SESSIONS).await?;
    let mut by_difficulty: BTreeMap<Difficulty, DifficultyPerformance> =
        [Difficulty::Starter, Difficulty::Intermediate, Difficulty::Advanced]
            .into_iter()
            .map(|d| (d, DifficultyPerformance::default()))
            .collect();
    // sums of whole scores (the overall one in hundredths): averages from them are exact before rounding
    let mut sums = [0i64; 6];
    let mut total = 0i64;
    for row in &rows {
        let (difficulty, n, row_sums) = split(row)?;
        for (sum, s) in sums.iter_mut().zip(row_sums) {
            *sum += s;
        }
        total += n;
        by_difficulty
            .insert(difficulty, DifficultyPerformance { sessions_completed: n, average_scores: averages(row_sums, n) });
    }
    let average_scores = averages(sums, total);
    Ok(Performance {
        user_id,
        sessions_completed: total,
        sessions_abandoned: count(SessionStatus::Abandoned),
        sessions_active: count(SessionStatus::Active),
        average_scores,
        by_difficulty,
        xp,
        level: scoring::level_for(xp),
        xp_to_next_level: scoring::xp_to_next_level(xp),
        best_session,
        recent_sessions,
    })
}

fn split(row: &DifficultyTotals) -> Result<(Difficulty, i64, [i64; 6]), TrainingError> {
    let (difficulty, n, a, b, c, d, e, f) = row;
    let difficulty = Difficulty::parse(difficulty)
        .ok_or_else(|| crate::store::StoreError::Decode(format!("training_totals.difficulty: {difficulty}")))?;
    Ok((difficulty, *n, [*a, *b, *c, *d, *e, *f]))
}

/// The averages of `n` sessions whose scores add up to `sums` (the overall one in hundredths); none for no session.
fn averages(sums: [i64; 6], n: i64) -> Averages {
    if n == 0 {
        return Averages::default();
    }
    let [verification, communication, technical, documentation, response_time, overall] =
        [sums[0] * 100, sums[1] * 100, sums[2] * 100, sums[3] * 100, sums[4] * 100, sums[5]]
            .map(|hundredths| Some(two_decimals(hundredths as f64 / 100.0 / n as f64)));
    Averages { verification, communication, technical, documentation, response_time, overall }
}

/// A row of the training leaderboard.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Leader {
    pub rank: usize,
    pub user_id: Uuid,
    pub username: Option<String>,
    pub display_name: String,
    pub level: i64,
    pub xp: i64,
    pub sessions_completed: i64,
    pub average_overall: Option<f64>,
}

/// How many rows `GET …/training/leaderboard` answers unless asked, and at most.
pub const DEFAULT_LEADERS: i64 = 10;
pub const MAX_LEADERS: i64 = 500;

/// `?limit=` of the training leaderboard.
#[derive(Debug, Default, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LeaderboardFilter {
    /// How many to return, 1 to 500 (default 10).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

impl LeaderboardFilter {
    pub fn limit(&self) -> Result<i64, TrainingError> {
        match self.limit {
            None => Ok(DEFAULT_LEADERS),
            Some(n) if (1..=MAX_LEADERS).contains(&n) => Ok(n),
            Some(_) => Err(FieldError::new("limit", format!("must be between 1 and {MAX_LEADERS}")).into()),
        }
    }
}

/// The tenant's `limit` live users with the most XP (admin).
pub async fn leaderboard(store: &Store, scope: AdminScope<'_>, limit: i64) -> Result<Vec<Leader>, TrainingError> {
    let rows = repo::leaderboard(store, scope, limit.clamp(1, 10_000)).await?;
    Ok(rows
        .into_iter()
        .enumerate()
        .map(|(i, (user_id, username, display_name, level, xp, sessions, overall))| {
            let sessions_completed = sessions.unwrap_or(0);
            Leader {
                rank: i + 1,
                user_id,
                username,
                display_name,
                level,
                xp,
                sessions_completed,
                average_overall: (sessions_completed > 0)
                    .then(|| two_decimals(overall.unwrap_or(0) as f64 / 100.0 / sessions_completed as f64)),
            }
        })
        .collect())
}

//! How a user is doing: sessions completed and abandoned, average scores overall and per difficulty, XP and level,
//! best and most recent sessions; and the tenant's leaderboard.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::model::{Difficulty, Metric, SessionStatus};
use super::repo::{self, DifficultyAverages};
use super::{scoring, TrainingError};
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
    let counts = repo::session_counts(store, tenant_id, user_id).await?;
    let count = |status| counts.iter().find(|(s, _)| *s == status).map_or(0, |(_, n)| *n);
    let rows = repo::averages(store, tenant_id, user_id).await?;
    let (best_session, recent_sessions) = repo::best_and_recent(store, tenant_id, user_id, RECENT_SESSIONS).await?;
    let mut by_difficulty: BTreeMap<Difficulty, DifficultyPerformance> =
        [Difficulty::Starter, Difficulty::Intermediate, Difficulty::Advanced]
            .into_iter()
            .map(|d| (d, DifficultyPerformance::default()))
            .collect();
    // the overall averages weigh each difficulty's by its sessions
    let mut sums = [0.0f64; 6];
    let mut total = 0i64;
    for row in &rows {
        let (difficulty, n, averages) = split(row)?;
        for (sum, average) in sums.iter_mut().zip(averages) {
            *sum += average * n as f64;
        }
        total += n;
        by_difficulty
            .insert(difficulty, DifficultyPerformance { sessions_completed: n, average_scores: rounded(averages) });
    }
    let average_scores = if total == 0 { Averages::default() } else { rounded(sums.map(|s| s / total as f64)) };
    Ok(Performance {
        user_id,
        sessions_completed: count(SessionStatus::Completed),
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

fn split(row: &DifficultyAverages) -> Result<(Difficulty, i64, [f64; 6]), TrainingError> {
    let (difficulty, n, a, b, c, d, e, f) = row;
    let difficulty = Difficulty::parse(difficulty)
        .ok_or_else(|| crate::store::StoreError::Decode(format!("performance_metrics.difficulty: {difficulty}")))?;
    Ok((difficulty, *n, [*a, *b, *c, *d, *e, *f]))
}

fn rounded(averages: [f64; 6]) -> Averages {
    let [verification, communication, technical, documentation, response_time, overall] =
        averages.map(|a| Some(two_decimals(a)));
    Averages { verification, communication, technical, documentation, response_time, overall }
}

/// A row of the training leaderboard.
#[derive(Debug, Clone, PartialEq, Serialize)]
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

/// The tenant's `limit` live users with the most XP (admin).
pub async fn leaderboard(store: &Store, scope: AdminScope<'_>, limit: i64) -> Result<Vec<Leader>, TrainingError> {
    let rows = repo::leaderboard(store, scope, limit.clamp(1, 10_000)).await?;
    Ok(rows
        .into_iter()
        .enumerate()
        .map(|(i, (user_id, username, display_name, level, xp, sessions_completed, average))| Leader {
            rank: i + 1,
            user_id,
            username,
            display_name,
            level,
            xp,
            sessions_completed,
            average_overall: average.map(two_decimals),
        })
        .collect())
}

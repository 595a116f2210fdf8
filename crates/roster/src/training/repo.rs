//! SQL of scenarios, sessions, transcripts, metrics and achievements.

use time::OffsetDateTime;
use uuid::Uuid;

use super::model::{
    Achievement, ChatMessage, Completion, Difficulty, Earned, Metric, Scenario, ScenarioFilter, Session, SessionStatus,
    ACHIEVEMENT_COLUMNS, MESSAGE_COLUMNS, METRIC_COLUMNS, SCENARIO_COLUMNS, SESSION_COLUMNS,
};
use super::scoring::Record;
use crate::principal::{AdminScope, TenantId};
use crate::store::{Backend, Params, Query, Store, StoreError, Tx, Value};

fn prerequisites_json(s: &Scenario) -> Value {
    Value::Json(serde_json::to_value(&s.prerequisites).unwrap_or_default())
}

pub(super) async fn insert(tx: &mut Tx, scope: AdminScope<'_>, s: &Scenario) -> Result<(), StoreError> {
    tx.execute(
        format!(
            "INSERT INTO scenarios ({SCENARIO_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        ),
        vec![
            s.id.into(),
            scope.tenant_id().into(),
            s.title.clone().into(),
            s.description.clone().into(),
            s.difficulty.into(),
            s.estimated_time.into(),
            s.xp_reward.into(),
            s.ticket_template.clone().into(),
            s.customer_persona.clone().into(),
            s.knowledge_base_entries.clone().into(),
            s.assessment_criteria.clone().into(),
            prerequisites_json(s),
            s.is_active.into(),
            s.created_at.into(),
            s.updated_at.into(),
            s.version.into(),
        ],
    )
    .await
    .map(drop)
}

/// Write `next` over the scenario if it is still at `version`; false when someone else wrote first.
pub(super) async fn update(
    tx: &mut Tx,
    scope: AdminScope<'_>,
    next: &Scenario,
    version: i64,
) -> Result<bool, StoreError> {
    let n = tx
        .execute(
            "UPDATE scenarios SET title = $3, description = $4, difficulty = $5, estimated_time = $6, xp_reward = $7, \
             ticket_template = $8, customer_persona = $9, knowledge_base_entries = $10, assessment_criteria = $11, \
             prerequisites = $12, is_active = $13, updated_at = $14, version = version + 1 \
             WHERE tenant_id = $1 AND id = $2 AND version = $15",
            vec![
                scope.tenant_id().into(),
                next.id.into(),
                next.title.clone().into(),
                next.description.clone().into(),
                next.difficulty.into(),
                next.estimated_time.into(),
                next.xp_reward.into(),
                next.ticket_template.clone().into(),
                next.customer_persona.clone().into(),
                next.knowledge_base_entries.clone().into(),
                next.assessment_criteria.clone().into(),
                prerequisites_json(next),
                next.is_active.into(),
                next.updated_at.into(),
                version.into(),
            ],
        )
        .await?;
    Ok(n == 1)
}

/// A scenario of the tenant; in a transaction it is read to be changed.
pub(super) async fn get(mut db: impl Query, tenant_id: TenantId, id: Uuid) -> Result<Option<Scenario>, StoreError> {
    let lock = db.row_lock();
    db.query_opt(
        format!("SELECT {SCENARIO_COLUMNS} FROM scenarios WHERE tenant_id = $1 AND id = $2{lock}"),
        vec![tenant_id.into(), id.into()],
    )
    .await
}

/// A scenario of the tenant read inside a transaction without locking it: sessions start and resolve on a scenario
/// without waiting for each other.
pub(super) async fn get_unlocked(tx: &mut Tx, tenant_id: TenantId, id: Uuid) -> Result<Option<Scenario>, StoreError> {
    tx.query_opt(
        format!("SELECT {SCENARIO_COLUMNS} FROM scenarios WHERE tenant_id = $1 AND id = $2"),
        vec![tenant_id.into(), id.into()],
    )
    .await
}

/// Every scenario of the tenant with its prerequisites: the graph a change of prerequisites is checked against.
pub(super) async fn prerequisite_graph(tx: &mut Tx, tenant_id: TenantId) -> Result<Vec<(Uuid, Vec<Uuid>)>, StoreError> {
    let rows: Vec<(Uuid, serde_json::Value)> =
        tx.query("SELECT id, prerequisites FROM scenarios WHERE tenant_id = $1", vec![tenant_id.into()]).await?;
    rows.into_iter()
        .map(|(id, list)| {
            serde_json::from_value(list)
                .map(|list| (id, list))
                .map_err(|e| StoreError::Decode(format!("scenarios.prerequisites: {e}")))
        })
        .collect()
}

/// Changes of a tenant's prerequisites take turns on PostgreSQL until their transaction ends, so two of them cannot
/// each pass the cycle check and together make a cycle. SQLite has one writer already.
pub(super) async fn lock_prerequisites(tx: &mut Tx, tenant_id: TenantId) -> Result<(), StoreError> {
    if tx.backend() == Backend::Postgres {
        let (high, _) = tenant_id.uuid().as_u64_pair();
        // a key of its own: the migrator's and the ingests' locks use other constants
        let key = (high ^ 0x7363_656e_6172_696f) as i64;
        tx.execute("SELECT pg_advisory_xact_lock($1)", vec![key.into()]).await?;
    }
    Ok(())
}

/// A page of the tenant's scenarios by id, filtered (active ones only when `only_active`; `completion` relative to
/// `user`). `limit + 1` rows, so the caller can tell there is more.
pub(super) async fn list(
    store: &Store,
    tenant_id: TenantId,
    filter: &ScenarioFilter,
    completion: Option<(Completion, Uuid)>,
    only_active: bool,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Scenario>, StoreError> {
    let mut sql = format!("SELECT {SCENARIO_COLUMNS} FROM scenarios s WHERE tenant_id = $1 AND id > $2");
    let mut params = Params::new(vec![tenant_id.into(), after.unwrap_or(Uuid::nil()).into()]);
    let mut bind = |value: Value| params.bind(value);
    if let Some((completion, user)) = completion {
        let not = if completion == Completion::Completed { "" } else { "NOT " };
        sql += &format!(
            " AND {not}EXISTS (SELECT 1 FROM training_sessions t WHERE t.tenant_id = s.tenant_id AND t.user_id = {} \
             AND t.scenario_id = s.id AND t.status = 'completed')",
            bind(user.into())
        );
    }
    if let Some(difficulty) = filter.difficulty {
        sql += &format!(" AND difficulty = {}", bind(difficulty.into()));
    }
    if let Some(active) = filter.active {
        sql += &format!(" AND is_active = {}", bind(active.into()));
    }
    if only_active {
        sql += " AND is_active = TRUE";
    }
    let limit = bind((limit + 1).into());
    sql += &format!(" ORDER BY id LIMIT {limit}");
    store.query(sql, params.into_values()).await
}

pub(super) async fn insert_session(tx: &mut Tx, tenant_id: TenantId, s: &Session) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO training_sessions (tenant_id, id, user_id, scenario_id, status, started_at, message_count) \
         VALUES ($1, $2, $3, $4, $5, $6, 0)",
        vec![
            tenant_id.into(),
            s.id.into(),
            s.user_id.into(),
            s.scenario_id.into(),
            s.status.into(),
            s.started_at.into(),
        ],
    )
    .await
    .map(drop)
}

/// A session of the tenant; in a transaction it is read to be changed (locked on PostgreSQL until the end).
pub(super) async fn session(mut db: impl Query, tenant_id: TenantId, id: Uuid) -> Result<Option<Session>, StoreError> {
    let lock = db.row_lock();
    db.query_opt(
        format!("SELECT {SESSION_COLUMNS} FROM training_sessions WHERE tenant_id = $1 AND id = $2{lock}"),
        vec![tenant_id.into(), id.into()],
    )
    .await
}

/// The user's active session of the scenario, if any.
pub(super) async fn active_session(
    tx: &mut Tx,
    tenant_id: TenantId,
    user_id: Uuid,
    scenario_id: Uuid,
) -> Result<Option<Uuid>, StoreError> {
    let row: Option<(Uuid,)> = tx
        .query_opt(
            "SELECT id FROM training_sessions WHERE tenant_id = $1 AND user_id = $2 AND scenario_id = $3 \
             AND status = 'active'",
            vec![tenant_id.into(), user_id.into(), scenario_id.into()],
        )
        .await?;
    Ok(row.map(|(id,)| id))
}

pub(super) const COMPLETED_SCENARIOS: &str = "SELECT DISTINCT scenario_id FROM training_sessions \
    WHERE tenant_id = $1 AND user_id = $2 AND status = 'completed'";

/// The scenarios the user has completed a session of.
pub(super) async fn completed_scenarios(
    tx: &mut Tx,
    tenant_id: TenantId,
    user_id: Uuid,
) -> Result<Vec<Uuid>, StoreError> {
    let rows: Vec<(Uuid,)> = tx.query(COMPLETED_SCENARIOS, vec![tenant_id.into(), user_id.into()]).await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Write the session's end (status, times, what the application recorded) over its row.
pub(super) async fn end_session(tx: &mut Tx, tenant_id: TenantId, s: &Session) -> Result<bool, StoreError> {
    let n = tx
        .execute(
            "UPDATE training_sessions SET status = $3, completed_at = $4, abandoned_at = $5, performance_data = $6, \
             verification_status = $7, resolution_data = $8 WHERE tenant_id = $1 AND id = $2 AND status = 'active'",
            vec![
                tenant_id.into(),
                s.id.into(),
                s.status.into(),
                s.completed_at.into(),
                s.abandoned_at.into(),
                s.performance_data.clone().map_or(Value::Null, Value::Json),
                s.verification_status.clone().into(),
                s.resolution_data.clone().map_or(Value::Null, Value::Json),
            ],
        )
        .await?;
    Ok(n == 1)
}

/// Append a message to an active session's transcript, as its `message_count + 1`th.
pub(super) async fn insert_message(tx: &mut Tx, tenant_id: TenantId, m: &ChatMessage) -> Result<(), StoreError> {
    let n = tx
        .execute(
            "UPDATE training_sessions SET message_count = $3 WHERE tenant_id = $1 AND id = $2 AND status = 'active' \
             AND message_count = $4",
            vec![tenant_id.into(), m.session_id.into(), m.seq.into(), (m.seq - 1).into()],
        )
        .await?;
    if n != 1 {
        return Err(StoreError::Refused("the session changed while its message was written".into()));
    }
    tx.execute(
        format!("INSERT INTO chat_messages (tenant_id, {MESSAGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"),
        vec![
            tenant_id.into(),
            m.id.into(),
            m.session_id.into(),
            m.seq.into(),
            m.sender_type.into(),
            m.message_type.into(),
            m.content.clone().into(),
            m.metadata.clone().into(),
            m.created_at.into(),
        ],
    )
    .await
    .map(drop)
}

/// Messages of a session after `after`, in order; `limit + 1` of them.
pub(super) async fn messages(
    store: &Store,
    tenant_id: TenantId,
    session_id: Uuid,
    after: i64,
    limit: i64,
) -> Result<Vec<ChatMessage>, StoreError> {
    store
        .query(
            format!(
                "SELECT {MESSAGE_COLUMNS} FROM chat_messages WHERE tenant_id = $1 AND session_id = $2 AND seq > $3 \
                 ORDER BY seq LIMIT $4"
            ),
            vec![tenant_id.into(), session_id.into(), after.into(), (limit + 1).into()],
        )
        .await
}

pub(super) async fn insert_metric(tx: &mut Tx, tenant_id: TenantId, m: &Metric) -> Result<(), StoreError> {
    tx.execute(
        format!(
            "INSERT INTO performance_metrics ({METRIC_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ),
        vec![
            m.id.into(),
            tenant_id.into(),
            m.user_id.into(),
            m.session_id.into(),
            m.scenario_id.into(),
            m.difficulty.into(),
            m.verification_score.into(),
            m.communication_score.into(),
            m.technical_score.into(),
            m.documentation_score.into(),
            m.response_time_score.into(),
            m.overall_score.into(),
            m.xp_earned.into(),
            m.created_at.into(),
        ],
    )
    .await
    .map(drop)
}

/// The user's record as the achievements look at it (all but its level): completed sessions and the difficulties
/// done from its totals, and, for each of `thresholds`, how many sessions scored at least it overall (a range of the
/// user's score index, not its whole history).
pub(super) async fn record(
    tx: &mut Tx,
    tenant_id: TenantId,
    user_id: Uuid,
    thresholds: &[i64],
) -> Result<Record, StoreError> {
    let totals: Vec<(String, i64)> = tx
        .query(
            "SELECT difficulty, sessions FROM training_totals WHERE tenant_id = $1 AND user_id = $2",
            vec![tenant_id.into(), user_id.into()],
        )
        .await?;
    let mut record = Record::default();
    for (difficulty, n) in totals {
        record.completed += n;
        let difficulty = Difficulty::parse(&difficulty)
            .ok_or_else(|| StoreError::Decode(format!("training_totals.difficulty: {difficulty}")))?;
        if n > 0 {
            record.difficulties.insert(difficulty);
        }
    }
    for threshold in thresholds {
        let params = vec![tenant_id.into(), user_id.into(), Value::F64(*threshold as f64)];
        let (n,): (i64,) = tx.query_one(AT_LEAST, params).await?;
        record.at_least.insert(*threshold, n);
    }
    Ok(record)
}

pub(super) const AT_LEAST: &str =
    "SELECT COUNT(*) FROM performance_metrics WHERE tenant_id = $1 AND user_id = $2 AND overall_score >= $3";

pub(super) async fn insert_achievement(tx: &mut Tx, scope: AdminScope<'_>, a: &Achievement) -> Result<(), StoreError> {
    tx.execute(
        format!("INSERT INTO achievements ({ACHIEVEMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"),
        vec![
            a.id.into(),
            scope.tenant_id().into(),
            a.code.clone().into(),
            a.name.clone().into(),
            a.description.clone().into(),
            a.tier.into(),
            Value::Json(serde_json::to_value(&a.criteria).unwrap_or_default()),
            a.xp_bonus.into(),
            a.created_at.into(),
        ],
    )
    .await
    .map(drop)
}

/// How many achievements the tenant's catalogue holds.
pub(super) async fn achievement_count(tx: &mut Tx, tenant_id: TenantId) -> Result<i64, StoreError> {
    let (n,): (i64,) =
        tx.query_one("SELECT COUNT(*) FROM achievements WHERE tenant_id = $1", vec![tenant_id.into()]).await?;
    Ok(n)
}

/// The tenant's achievements by id, after `after`; `limit + 1` of them.
pub(super) async fn achievements(
    mut db: impl Query,
    tenant_id: TenantId,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Achievement>, StoreError> {
    db.query(
        format!("SELECT {ACHIEVEMENT_COLUMNS} FROM achievements WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3")
            .into(),
        vec![tenant_id.into(), after.unwrap_or(Uuid::nil()).into(), (limit + 1).into()],
    )
    .await
}

/// The achievements of the tenant the user has not earned yet.
pub(super) async fn unearned(tx: &mut Tx, tenant_id: TenantId, user_id: Uuid) -> Result<Vec<Achievement>, StoreError> {
    tx.query(
        format!(
            "SELECT {ACHIEVEMENT_COLUMNS} FROM achievements a WHERE tenant_id = $1 AND NOT EXISTS \
             (SELECT 1 FROM user_achievements e WHERE e.tenant_id = a.tenant_id AND e.user_id = $2 \
             AND e.achievement_id = a.id) ORDER BY id"
        ),
        vec![tenant_id.into(), user_id.into()],
    )
    .await
}

pub(super) async fn award(
    tx: &mut Tx,
    tenant_id: TenantId,
    user_id: Uuid,
    achievement_id: Uuid,
    session_id: Uuid,
    at: OffsetDateTime,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO user_achievements (tenant_id, user_id, achievement_id, earned_at, session_id) \
         VALUES ($1, $2, $3, $4, $5)",
        vec![tenant_id.into(), user_id.into(), achievement_id.into(), at.into(), session_id.into()],
    )
    .await
    .map(drop)
}

/// The achievements the user earned, in the order earned.
pub(super) async fn earned(store: &Store, tenant_id: TenantId, user_id: Uuid) -> Result<Vec<Earned>, StoreError> {
    store
        .query(
            "SELECT a.code, a.name, a.description, a.tier, a.xp_bonus, e.earned_at, e.session_id \
             FROM user_achievements e JOIN achievements a ON a.tenant_id = e.tenant_id AND a.id = e.achievement_id \
             WHERE e.tenant_id = $1 AND e.user_id = $2 ORDER BY e.earned_at, a.code",
            vec![tenant_id.into(), user_id.into()],
        )
        .await
}

pub(super) const OPEN_AND_ABANDONED: &str = "SELECT status, COUNT(*) FROM training_sessions \
    WHERE tenant_id = $1 AND user_id = $2 AND status IN ('active', 'abandoned') GROUP BY status";
pub(super) const TOTALS: &str = "SELECT difficulty, sessions, verification, communication, technical, documentation, \
    response_time, overall FROM training_totals WHERE tenant_id = $1 AND user_id = $2";

pub(super) fn best_sql() -> String {
    format!(
        "SELECT {METRIC_COLUMNS} FROM performance_metrics WHERE tenant_id = $1 AND user_id = $2 \
         ORDER BY overall_score DESC, id LIMIT 1"
    )
}

/// The newest by the time they were resolved: an order only the user's index has, so SQLite without statistics does
/// not walk the tenant's metrics by id instead.
pub(super) fn recent_sql() -> String {
    format!(
        "SELECT {METRIC_COLUMNS} FROM performance_metrics WHERE tenant_id = $1 AND user_id = $2 \
         ORDER BY created_at DESC, id DESC LIMIT $3"
    )
}

/// How many of the user's sessions are active and how many abandoned (the completed ones are counted in its totals).
pub(super) async fn open_and_abandoned(
    store: &Store,
    tenant_id: TenantId,
    user_id: Uuid,
) -> Result<Vec<(SessionStatus, i64)>, StoreError> {
    let rows: Vec<(String, i64)> = store.query(OPEN_AND_ABANDONED, vec![tenant_id.into(), user_id.into()]).await?;
    rows.into_iter()
        .map(|(status, n)| {
            SessionStatus::parse(&status)
                .map(|s| (s, n))
                .ok_or_else(|| StoreError::Decode(format!("training_sessions.status: {status}")))
        })
        .collect()
}

/// Per difficulty: completed sessions and the sum of each score, overall (in hundredths) last.
pub(super) type DifficultyTotals = (String, i64, i64, i64, i64, i64, i64, i64);

/// Add a resolved session's scores to its user's running totals for its difficulty.
pub(super) async fn add_to_totals(
    tx: &mut Tx,
    tenant_id: TenantId,
    m: &Metric,
    overall_hundredths: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO training_totals (tenant_id, user_id, difficulty, sessions, verification, communication, \
         technical, documentation, response_time, overall) VALUES ($1, $2, $3, 1, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (tenant_id, user_id, difficulty) DO UPDATE SET sessions = training_totals.sessions + 1, \
         verification = training_totals.verification + excluded.verification, \
         communication = training_totals.communication + excluded.communication, \
         technical = training_totals.technical + excluded.technical, \
         documentation = training_totals.documentation + excluded.documentation, \
         response_time = training_totals.response_time + excluded.response_time, \
         overall = training_totals.overall + excluded.overall",
        vec![
            tenant_id.into(),
            m.user_id.into(),
            m.difficulty.into(),
            m.verification_score.into(),
            m.communication_score.into(),
            m.technical_score.into(),
            m.documentation_score.into(),
            m.response_time_score.into(),
            overall_hundredths.into(),
        ],
    )
    .await
    .map(drop)
}

/// The user's running totals, one row per difficulty it has completed a session of.
pub(super) async fn totals(
    store: &Store,
    tenant_id: TenantId,
    user_id: Uuid,
) -> Result<Vec<DifficultyTotals>, StoreError> {
    store.query(TOTALS, vec![tenant_id.into(), user_id.into()]).await
}

/// The user's best-scored metric (the earliest of equals), and its `recent` newest.
pub(super) async fn best_and_recent(
    store: &Store,
    tenant_id: TenantId,
    user_id: Uuid,
    recent: i64,
) -> Result<(Option<Metric>, Vec<Metric>), StoreError> {
    let best = store.query_opt(best_sql(), vec![tenant_id.into(), user_id.into()]).await?;
    let recent = store.query(recent_sql(), vec![tenant_id.into(), user_id.into(), recent.into()]).await?;
    Ok((best, recent))
}

/// A row of the training leaderboard: the user, its level and XP, its completed sessions and the sum of their
/// overall scores in hundredths.
pub(super) type LeaderRow = (Uuid, Option<String>, String, i64, i64, Option<i64>, Option<i64>);

/// The tenant's live users with XP, most first, with their totals.
pub(super) async fn leaderboard(
    store: &Store,
    scope: AdminScope<'_>,
    limit: i64,
) -> Result<Vec<LeaderRow>, StoreError> {
    store
        .query(
            "SELECT u.id, u.username, u.display_name, u.level, u.xp, \
             (SELECT CAST(SUM(t.sessions) AS BIGINT) FROM training_totals t \
              WHERE t.tenant_id = u.tenant_id AND t.user_id = u.id), \
             (SELECT CAST(SUM(t.overall) AS BIGINT) FROM training_totals t \
              WHERE t.tenant_id = u.tenant_id AND t.user_id = u.id) \
             FROM users u WHERE u.tenant_id = $1 AND u.deleted_at IS NULL AND u.xp > 0 \
             ORDER BY u.xp DESC, u.id LIMIT $2",
            vec![scope.tenant_id().into(), limit.into()],
        )
        .await
}

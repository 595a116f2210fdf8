//! Practice sessions: starting one, its transcript, giving it up, and resolving it with its scores.
//!
//! Who may do what to a session is decided here, in [`standing`], and nowhere else:
//! - the **trainee** (the session's user, signed in) reads it and its transcript, writes its own (`user`) messages
//!   and abandons it;
//! - a **coach** (an admin or sysadmin of the tenant, signed in or by API key: the training application) does all
//!   that, writes the simulated customer's and the system's messages, and resolves it with the scores;
//! - anyone else, a user-role API key included, does not find it (404), and a session of another tenant does not
//!   exist for anyone.

use time::OffsetDateTime;
use uuid::Uuid;

use super::model::{
    self, ChatMessage, Earned, MessagePage, Metric, NewMessage, Resolution, SenderType, Session, SessionStatus,
    StartSession,
};
use super::{repo, scoring, TrainingError};
use crate::audit::{self, Action, Change};
use crate::http::pagination::{self, Page};
use crate::principal::{Role, TenantScope};
use crate::store::Store;
use crate::users::{self, Deleted, Intent};

/// How the caller stands to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Trainee,
    Coach,
}

/// The one decision of who may act on a session (the module's doc says the rules).
pub fn standing(scope: &TenantScope, session: &Session) -> Result<Standing, TrainingError> {
    if scope.tenant_id() != session.tenant_id {
        return Err(TrainingError::SessionNotFound);
    }
    if scope.role() >= Role::Admin {
        Ok(Standing::Coach)
    } else if scope.user_id() == Some(session.user_id) {
        Ok(Standing::Trainee)
    } else {
        Err(TrainingError::SessionNotFound)
    }
}

/// Start a session of an active scenario for the caller (or, for a coach, the user it names), once the user has
/// completed the scenario's prerequisites; 409 if the user has an active session of it already. Concurrent starts
/// of one user and scenario make exactly one session: the database keeps one active session per pair.
pub async fn start(
    store: &Store,
    scope: &TenantScope,
    now: OffsetDateTime,
    scenario_id: Uuid,
    input: StartSession,
) -> Result<Session, TrainingError> {
    let mut tx = store.begin().await?;
    let scenario = super::visible(scope, repo::get_unlocked(&mut tx, scope.tenant_id(), scenario_id).await?)?;
    let user_id = input
        .user_id
        .or(scope.user_id())
        .ok_or_else(|| crate::http::FieldError::new("user_id", "an API key names the user the session is for"))?;
    // the users gate: one's own account, or — for a coach — a user it may administer (never one above its role);
    // anyone else's user is not found. On PostgreSQL the user stays locked, so starts and resolutions of one user
    // take turns.
    let intent = match input.user_id {
        Some(named) if scope.user_id() != Some(named) && scope.role() >= Role::Admin => Intent::Administer,
        Some(named) if scope.user_id() != Some(named) => Intent::Read,
        _ => Intent::OwnAccount,
    };
    let user = match users::authorize(&mut tx, scope, user_id, intent, Deleted::Excluded).await {
        // a sysadmin in another tenant than its own has no account there to practise with
        Err(users::UserError::NotFound) if input.user_id.is_none() => {
            return Err(crate::http::FieldError::new(
                "user_id",
                "the signed-in user is not a user of this tenant; name the user the session is for",
            )
            .into())
        }
        other => other?,
    };
    if !scenario.is_active {
        return Err(TrainingError::ScenarioRetired);
    }
    if !scenario.prerequisites.is_empty() {
        let completed = repo::completed_scenarios(&mut tx, scope.tenant_id(), user.id()).await?;
        let missing: Vec<Uuid> = scenario.prerequisites.iter().filter(|p| !completed.contains(p)).copied().collect();
        if !missing.is_empty() {
            return Err(TrainingError::PrerequisitesIncomplete(missing));
        }
    }
    if let Some(existing) = repo::active_session(&mut tx, scope.tenant_id(), user.id(), scenario.id).await? {
        return Err(TrainingError::SessionActive(Some(existing)));
    }
    let session = Session {
        id: Uuid::now_v7(),
        tenant_id: scope.tenant_id().uuid(),
        user_id: user.id(),
        scenario_id: scenario.id,
        status: SessionStatus::Active,
        started_at: now,
        completed_at: None,
        abandoned_at: None,
        performance_data: None,
        verification_status: None,
        resolution_data: None,
        message_count: 0,
    };
    repo::insert_session(&mut tx, scope.tenant_id(), &session).await?;
    let change = Change::new(Action::Create, "training_session", session.id).values(None, Some(session.audited()));
    audit::record(&mut tx, scope, now, change).await?;
    tx.commit().await?;
    Ok(session)
}

/// A session the caller may see.
pub async fn get(store: &Store, scope: &TenantScope, id: Uuid) -> Result<Session, TrainingError> {
    let session = repo::session(store, scope.tenant_id(), id).await?.ok_or(TrainingError::SessionNotFound)?;
    standing(scope, &session)?;
    Ok(session)
}

/// Append a message to an active session's transcript. The trainee writes only its own words (`user`); the
/// customer's and the system's come from a coach.
pub async fn post_message(
    store: &Store,
    scope: &TenantScope,
    now: OffsetDateTime,
    session_id: Uuid,
    input: NewMessage,
) -> Result<ChatMessage, TrainingError> {
    let mut checks = super::Checks::default();
    let content = checks.take(model::content(&input.content));
    let metadata = input.metadata.unwrap_or_else(|| serde_json::json!({}));
    let metadata = checks.take(model::json_within("metadata", metadata, false, model::METADATA_MAX_BYTES));
    checks.finish()?;
    let mut tx = store.begin().await?;
    let session = repo::session(&mut tx, scope.tenant_id(), session_id).await?.ok_or(TrainingError::SessionNotFound)?;
    let standing = standing(scope, &session)?;
    if standing == Standing::Trainee && input.sender_type != SenderType::User {
        return Err(TrainingError::Forbidden(
            "customer and system messages come from the training application (an admin or admin API key)",
        ));
    }
    if session.status != SessionStatus::Active {
        return Err(TrainingError::SessionEnded(session.status));
    }
    if session.message_count >= model::MAX_MESSAGES {
        return Err(TrainingError::TranscriptFull(model::MAX_MESSAGES));
    }
    let message = ChatMessage {
        id: Uuid::now_v7(),
        session_id,
        seq: session.message_count + 1,
        sender_type: input.sender_type,
        message_type: input.message_type.unwrap_or(model::MessageType::Text),
        content: content.unwrap_or_default(),
        metadata: metadata.unwrap_or_default(),
        created_at: now,
    };
    repo::insert_message(&mut tx, scope.tenant_id(), &message).await?;
    // the transcript's words stay in the transcript; the audit log keeps that a message was written, and by whom
    let audited = serde_json::json!({
        "session_id": session_id,
        "seq": message.seq,
        "sender_type": message.sender_type,
        "message_type": message.message_type,
        "content_length": message.content.chars().count(),
    });
    let change = Change::new(Action::Create, "chat_message", message.id).values(None, Some(audited));
    audit::record(&mut tx, scope, now, change).await?;
    tx.commit().await?;
    Ok(message)
}

/// A page of a session's transcript, in order.
pub async fn messages(
    store: &Store,
    scope: &TenantScope,
    session_id: Uuid,
    page: &MessagePage,
) -> Result<Page<ChatMessage>, TrainingError> {
    let limit = pagination::limit(page.limit)?;
    let after = pagination::decode_key_cursor::<i64>(page.cursor.as_deref())?.unwrap_or(0);
    get(store, scope, session_id).await?;
    let mut rows = repo::messages(store, scope.tenant_id(), session_id, after, limit).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more { rows.last().map(|m| pagination::encode_key_cursor(&m.seq)) } else { None };
    Ok(Page { items: rows, next_cursor })
}

/// Give up an active session (the trainee or a coach).
pub async fn abandon(
    store: &Store,
    scope: &TenantScope,
    now: OffsetDateTime,
    session_id: Uuid,
) -> Result<Session, TrainingError> {
    let mut tx = store.begin().await?;
    let current = repo::session(&mut tx, scope.tenant_id(), session_id).await?.ok_or(TrainingError::SessionNotFound)?;
    standing(scope, &current)?;
    if current.status != SessionStatus::Active {
        return Err(TrainingError::SessionEnded(current.status));
    }
    let next = Session { status: SessionStatus::Abandoned, abandoned_at: Some(now), ..current.clone() };
    if !repo::end_session(&mut tx, scope.tenant_id(), &next).await? {
        return Err(TrainingError::SessionEnded(SessionStatus::Completed));
    }
    let (old, new) = audit::diff(&current.audited(), &next.audited());
    let change = Change::new(Action::StatusChange, "training_session", session_id).values(Some(old), Some(new));
    audit::record(&mut tx, scope, now, change).await?;
    tx.commit().await?;
    Ok(next)
}

/// What resolving a session made: its metric, the user's progress after it, and the achievements it earned.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Resolved {
    pub metric: Metric,
    pub user: Progress,
    pub achievements_awarded: Vec<Earned>,
    pub session: Session,
}

/// A user's training progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Progress {
    pub id: Uuid,
    pub xp: i64,
    pub level: i64,
    pub xp_to_next_level: i64,
}

impl Progress {
    fn of(id: Uuid, xp: i64) -> Progress {
        Progress { id, xp, level: scoring::level_for(xp), xp_to_next_level: scoring::xp_to_next_level(xp) }
    }
}

/// Resolve an active session with its five scores (a coach only): the metric with its weighted overall score and
/// XP, the user's XP and level, and every achievement now earned with its XP bonus, all in one transaction; 409
/// for a session already resolved or abandoned.
pub async fn resolve(
    store: &Store,
    scope: &TenantScope,
    now: OffsetDateTime,
    session_id: Uuid,
    input: Resolution,
) -> Result<Resolved, TrainingError> {
    let mut checks = super::Checks::default();
    let scores = input.scores().map_err(|errors| checks.0.extend(errors)).ok();
    let object = || serde_json::json!({});
    let resolution_data =
        checks.take(model::json("resolution_data", input.resolution_data.unwrap_or_else(object), false));
    let performance_data =
        checks.take(model::json("performance_data", input.performance_data.unwrap_or_else(object), false));
    let verification_status = match input.verification_status.as_deref() {
        Some(v) => checks.take(model::verification_status(v)),
        None => None,
    };
    checks.finish()?;
    let scores = scores.unwrap_or_default();

    let mut tx = store.begin().await?;
    let tenant_id = scope.tenant_id();
    let current = repo::session(&mut tx, tenant_id, session_id).await?.ok_or(TrainingError::SessionNotFound)?;
    if standing(scope, &current)? != Standing::Coach {
        return Err(TrainingError::Forbidden("scoring a session is for an admin or the training application"));
    }
    if scope.user_id() == Some(current.user_id) {
        return Err(TrainingError::Forbidden(
            "a coach does not score its own session: another admin, or the training application, does",
        ));
    }
    // the users gate decides whose progress a coach may change: never that of a user above its role
    users::authorize(&mut tx, scope, current.user_id, Intent::Administer, Deleted::Excluded).await?;
    if current.status != SessionStatus::Active {
        return Err(TrainingError::SessionEnded(current.status));
    }
    // the user first: resolutions of one user take turns, so each sees the others' metrics when it counts
    let (xp_before, level_before) = users::progress(&mut tx, tenant_id, current.user_id)
        .await?
        .ok_or(TrainingError::User(users::UserError::NotFound))?;
    let scenario =
        repo::get_unlocked(&mut tx, tenant_id, current.scenario_id).await?.ok_or(TrainingError::ScenarioNotFound)?;

    let overall = scoring::overall_hundredths(&scores, &scoring::weights(&scenario.assessment_criteria));
    let xp_earned = scoring::xp_earned(scenario.xp_reward, overall);
    let [verification_score, communication_score, technical_score, documentation_score, response_time_score] = scores;
    let metric = Metric {
        id: Uuid::now_v7(),
        tenant_id: tenant_id.uuid(),
        user_id: current.user_id,
        session_id,
        scenario_id: scenario.id,
        difficulty: scenario.difficulty,
        verification_score,
        communication_score,
        technical_score,
        documentation_score,
        response_time_score,
        overall_score: overall as f64 / 100.0,
        xp_earned,
        created_at: now,
    };
    let session = Session {
        status: SessionStatus::Completed,
        completed_at: Some(now),
        performance_data,
        verification_status,
        resolution_data,
        ..current.clone()
    };
    if !repo::end_session(&mut tx, tenant_id, &session).await? {
        return Err(TrainingError::SessionEnded(SessionStatus::Completed));
    }
    repo::insert_metric(&mut tx, tenant_id, &metric).await?;
    repo::add_to_totals(&mut tx, tenant_id, &metric, overall).await?;

    // achievements: the record counts this session; a bonus may raise the level, which may earn another
    let mut xp = xp_before + xp_earned;
    let mut unearned = repo::unearned(&mut tx, tenant_id, current.user_id).await?;
    let mut awarded = Vec::new();
    if !unearned.is_empty() {
        let mut thresholds: Vec<i64> = unearned.iter().filter_map(|a| a.criteria.score_threshold()).collect();
        thresholds.sort_unstable();
        thresholds.dedup();
        let mut record = repo::record(&mut tx, tenant_id, current.user_id, &thresholds).await?;
        loop {
            record.level = scoring::level_for(xp);
            let (met, rest): (Vec<_>, Vec<_>) = unearned.into_iter().partition(|a| a.criteria.met_by(&record));
            unearned = rest;
            if met.is_empty() {
                break;
            }
            for achievement in met {
                xp += achievement.xp_bonus;
                awarded.push(achievement);
            }
        }
    }
    let progress = Progress::of(current.user_id, xp);
    if (progress.xp, progress.level) != (xp_before, level_before) {
        users::set_progress(&mut tx, tenant_id, current.user_id, progress.xp, progress.level).await?;
    }

    let mut changes = Vec::with_capacity(3 + awarded.len());
    let (old, new) = audit::diff(&current.audited(), &session.audited());
    changes.push(Change::new(Action::StatusChange, "training_session", session_id).values(Some(old), Some(new)));
    changes.push(Change::new(Action::Create, "performance_metric", metric.id).values(None, Some(metric.audited())));
    if (progress.xp, progress.level) != (xp_before, level_before) {
        let (old, new) = audit::diff(
            &serde_json::json!({"xp": xp_before, "level": level_before}),
            &serde_json::json!({"xp": progress.xp, "level": progress.level}),
        );
        changes.push(Change::new(Action::Update, "user", current.user_id).values(Some(old), Some(new)));
    }
    let mut earned = Vec::with_capacity(awarded.len());
    for achievement in &awarded {
        repo::award(&mut tx, tenant_id, current.user_id, achievement.id, session_id, now).await?;
        let entry = serde_json::json!({
            "user_id": current.user_id,
            "achievement_id": achievement.id,
            "code": achievement.code,
            "session_id": session_id,
        });
        changes.push(
            Change::new(Action::Create, "user_achievement", format!("{}:{}", current.user_id, achievement.id))
                .values(None, Some(entry)),
        );
        earned.push(Earned {
            code: achievement.code.clone(),
            name: achievement.name.clone(),
            description: achievement.description.clone(),
            tier: achievement.tier,
            xp_bonus: achievement.xp_bonus,
            earned_at: now,
            session_id: Some(session_id),
        });
    }
    audit::record_in(&mut tx, tenant_id, scope.actor(), now, changes).await?;
    tx.commit().await?;
    Ok(Resolved { metric, user: progress, achievements_awarded: earned, session })
}

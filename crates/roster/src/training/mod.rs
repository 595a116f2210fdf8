//! Training: scenarios a tenant's people practise on, practice sessions with their transcripts, scored results,
//! XP, levels and achievements.
//!
//! Admins (and sysadmins) write scenarios and the achievement catalogue — the [`AdminScope`] the functions take is
//! the gate; everyone of the tenant reads the active scenarios and the catalogue, and admins the retired scenarios
//! too. A scenario's prerequisites must be scenarios of the tenant and must not form a cycle; changes of a tenant's
//! prerequisites take turns, so two concurrent ones cannot make a cycle together. Who may act on a session is decided
//! by [`sessions::standing`]. Every change writes its audit entry in its transaction.

pub mod achievements;
pub mod demo;
mod error;
pub mod model;
pub mod performance;
mod repo;
pub mod routes;
pub mod scoring;
pub mod sessions;

use std::collections::HashMap;

use time::OffsetDateTime;
use uuid::Uuid;

pub use error::TrainingError;
pub use model::{
    Achievement, ChatMessage, Completion, Criteria, Difficulty, Earned, MessageType, Metric, NewAchievement,
    NewMessage, NewScenario, Resolution, Scenario, ScenarioFilter, ScenarioPatch, SenderType, Session, SessionStatus,
    StartSession, Tier,
};
pub use performance::Performance;
pub use sessions::{Progress, Resolved};

use crate::audit::{self, Action, Change};
use crate::http::pagination::{self, Page};
use crate::http::FieldError;
use crate::migrate::Migration;
use crate::principal::{AdminScope, Role, TenantScope};
use crate::store::{Store, Tx};

pub const MIGRATIONS: &[Migration] = &[
    crate::migration!(16, "0016_scenarios", "scenarios"),
    crate::migration!(17, "0017_training_sessions", "training_sessions"),
    crate::migration!(18, "0018_achievements", "achievements"),
];

/// Collects field errors so a request hears about all of them at once.
#[derive(Default)]
struct Checks(Vec<FieldError>);

impl Checks {
    fn take<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        result.map_err(|e| self.0.push(e)).ok()
    }

    fn finish(self) -> Result<(), TrainingError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(TrainingError::Invalid(self.0))
        }
    }
}

/// Create a scenario (admin), with its `create` audit entry.
pub async fn create_scenario(
    store: &Store,
    scope: AdminScope<'_>,
    now: OffsetDateTime,
    input: NewScenario,
) -> Result<Scenario, TrainingError> {
    let id = Uuid::now_v7();
    let mut checks = Checks::default();
    let title = checks.take(model::title(&input.title));
    let description = checks.take(model::description(input.description.as_deref().unwrap_or_default()));
    let estimated_time = checks.take(model::estimated_time(input.estimated_time.unwrap_or(15)));
    let xp_reward = checks.take(model::xp_reward(input.xp_reward.unwrap_or(100)));
    let object = || serde_json::json!({});
    let ticket_template =
        checks.take(model::json("ticket_template", input.ticket_template.unwrap_or_else(object), false));
    let customer_persona =
        checks.take(model::json("customer_persona", input.customer_persona.unwrap_or_else(object), false));
    let knowledge_base_entries = checks.take(model::json(
        "knowledge_base_entries",
        input.knowledge_base_entries.unwrap_or_else(|| serde_json::json!([])),
        true,
    ));
    let assessment_criteria = checks.take(model::assessment_criteria(input.assessment_criteria.unwrap_or_else(object)));
    let prerequisites = checks.take(model::prerequisites(input.prerequisites.unwrap_or_default(), id));
    checks.finish()?;
    let scenario = Scenario {
        id,
        tenant_id: scope.tenant_id().uuid(),
        title: title.unwrap_or_default(),
        description: description.unwrap_or_default(),
        difficulty: input.difficulty,
        estimated_time: estimated_time.unwrap_or_default(),
        xp_reward: xp_reward.unwrap_or_default(),
        ticket_template: ticket_template.unwrap_or_default(),
        customer_persona: customer_persona.unwrap_or_default(),
        knowledge_base_entries: knowledge_base_entries.unwrap_or_default(),
        assessment_criteria: assessment_criteria.unwrap_or_default(),
        prerequisites: prerequisites.unwrap_or_default(),
        is_active: input.is_active.unwrap_or(true),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let mut tx = store.begin().await?;
    if !scenario.prerequisites.is_empty() {
        // a new scenario is nobody's prerequisite yet, so it closes no cycle; its prerequisites must exist
        repo::lock_prerequisites(&mut tx, scope.tenant_id()).await?;
        check_prerequisites(&mut tx, &scope, &scenario).await?;
    }
    repo::insert(&mut tx, scope, &scenario).await?;
    let change = Change::new(Action::Create, "scenario", id).values(None, Some(scenario.audited()));
    audit::record(&mut tx, &scope, now, change).await?;
    tx.commit().await?;
    Ok(scenario)
}

/// The scenario's prerequisites all exist in the tenant, and none leads back to it: 422 naming the missing one or the
/// cycle.
async fn check_prerequisites(tx: &mut Tx, scope: &AdminScope<'_>, scenario: &Scenario) -> Result<(), TrainingError> {
    let mut graph: HashMap<Uuid, Vec<Uuid>> =
        repo::prerequisite_graph(tx, scope.tenant_id()).await?.into_iter().collect();
    if let Some(missing) = scenario.prerequisites.iter().find(|id| !graph.contains_key(id)) {
        return Err(FieldError::new("prerequisites", format!("{missing} is not a scenario of this tenant")).into());
    }
    graph.insert(scenario.id, scenario.prerequisites.clone());
    if let Some(cycle) = model::cycle_through(scenario.id, &graph) {
        let path = cycle.iter().map(Uuid::to_string).collect::<Vec<_>>().join(" → ");
        return Err(FieldError::new("prerequisites", format!("would form a cycle: {path}")).into());
    }
    Ok(())
}

/// A scenario the caller may see: active ones for everyone of the tenant, retired ones for admins.
pub async fn scenario(store: &Store, scope: &TenantScope, id: Uuid) -> Result<Scenario, TrainingError> {
    visible(scope, repo::get(store, scope.tenant_id(), id).await?)
}

/// The scenario, if the caller may see it.
fn visible(scope: &TenantScope, scenario: Option<Scenario>) -> Result<Scenario, TrainingError> {
    match scenario {
        Some(s) if s.is_active || scope.role() >= Role::Admin => Ok(s),
        _ => Err(TrainingError::ScenarioNotFound),
    }
}

/// A page of the tenant's scenarios by id (active ones only for callers who are not admins); `completion` is
/// relative to the signed-in caller.
pub async fn scenarios(
    store: &Store,
    scope: &TenantScope,
    filter: &ScenarioFilter,
) -> Result<Page<Scenario>, TrainingError> {
    let limit = pagination::limit(filter.limit)?;
    let after = pagination::decode_cursor(filter.cursor.as_deref())?;
    let completion = match (filter.completion, scope.user_id()) {
        (None, _) => None,
        (Some(completion), Some(user)) => Some((completion, user)),
        (Some(_), None) => {
            return Err(FieldError::new("completion", "is relative to a signed-in user; an API key has none").into())
        }
    };
    let only_active = scope.role() < Role::Admin;
    let rows = repo::list(store, scope.tenant_id(), filter, completion, only_active, after, limit).await?;
    Ok(pagination::page(rows, limit, |s| s.id))
}

/// Change a scenario (admin); honours `If-Match`. A change of prerequisites is checked for existence and cycles.
pub async fn update_scenario(
    store: &Store,
    scope: AdminScope<'_>,
    now: OffsetDateTime,
    id: Uuid,
    if_match: Option<i64>,
    patch: ScenarioPatch,
) -> Result<Scenario, TrainingError> {
    let mut tx = store.begin().await?;
    if patch.prerequisites.is_some() {
        repo::lock_prerequisites(&mut tx, scope.tenant_id()).await?;
    }
    let current = repo::get(&mut tx, scope.tenant_id(), id).await?.ok_or(TrainingError::ScenarioNotFound)?;
    if let Some(expected) = if_match.filter(|v| *v != current.version) {
        return Err(TrainingError::VersionMismatch { current: current.version, expected });
    }
    let mut next = current.clone();
    let mut checks = Checks::default();
    if let Some(v) = patch.title.as_deref().and_then(|v| checks.take(model::title(v))) {
        next.title = v;
    }
    if let Some(v) = patch.description.as_deref().and_then(|v| checks.take(model::description(v))) {
        next.description = v;
    }
    if let Some(v) = patch.difficulty {
        next.difficulty = v;
    }
    if let Some(v) = patch.estimated_time.and_then(|v| checks.take(model::estimated_time(v))) {
        next.estimated_time = v;
    }
    if let Some(v) = patch.xp_reward.and_then(|v| checks.take(model::xp_reward(v))) {
        next.xp_reward = v;
    }
    for (field, value, slot, array) in [
        ("ticket_template", patch.ticket_template, &mut next.ticket_template, false),
        ("customer_persona", patch.customer_persona, &mut next.customer_persona, false),
        ("knowledge_base_entries", patch.knowledge_base_entries, &mut next.knowledge_base_entries, true),
    ] {
        if let Some(v) = value.and_then(|v| checks.take(model::json(field, v, array))) {
            *slot = v;
        }
    }
    if let Some(v) = patch.assessment_criteria.and_then(|v| checks.take(model::assessment_criteria(v))) {
        next.assessment_criteria = v;
    }
    if let Some(v) = patch.prerequisites.and_then(|v| checks.take(model::prerequisites(v, id))) {
        next.prerequisites = v;
    }
    if let Some(v) = patch.is_active {
        next.is_active = v;
    }
    checks.finish()?;
    if next == current {
        return Ok(current);
    }
    if next.prerequisites != current.prerequisites {
        check_prerequisites(&mut tx, &scope, &next).await?;
    }
    next.updated_at = now;
    if !repo::update(&mut tx, scope, &next, current.version).await? {
        return Err(TrainingError::Stale);
    }
    next.version = current.version + 1;
    let (old, new) = audit::diff(&current.audited(), &next.audited());
    audit::record(&mut tx, &scope, now, Change::new(Action::Update, "scenario", id).values(Some(old), Some(new)))
        .await?;
    tx.commit().await?;
    Ok(next)
}

#[cfg(test)]
mod tests;

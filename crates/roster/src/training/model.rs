//! What a scenario is, and the rules its fields follow.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use unicode_normalization::UnicodeNormalization;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub use super::scoring::Criteria;
use crate::http::FieldError;
use crate::store::{FromRow, Row, StoreError};

crate::text_enum!(
    /// How hard a scenario is.
    Difficulty { Starter = "starter", Intermediate = "intermediate", Advanced = "advanced" }
);

/// The five scored dimensions of a resolved session; `assessment_criteria.weights` may weigh them.
pub const DIMENSIONS: [&str; 5] = ["verification", "communication", "technical", "documentation", "response_time"];

/// Prerequisites a scenario may name at most.
pub const MAX_PREREQUISITES: usize = 50;

/// A practice scenario of a tenant.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Scenario {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub title: String,
    pub description: String,
    pub difficulty: Difficulty,
    /// Minutes.
    pub estimated_time: i64,
    pub xp_reward: i64,
    #[schema(value_type = Object)]
    pub ticket_template: serde_json::Value,
    #[schema(value_type = Object)]
    pub customer_persona: serde_json::Value,
    #[schema(value_type = Vec<Object>)]
    pub knowledge_base_entries: serde_json::Value,
    /// An object; its `weights` (if any) weigh the five scores.
    #[schema(value_type = Object)]
    pub assessment_criteria: serde_json::Value,
    /// Scenarios of the tenant to complete first.
    pub prerequisites: Vec<Uuid>,
    pub is_active: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub version: i64,
}

pub(super) const SCENARIO_COLUMNS: &str = "id, tenant_id, title, description, difficulty, estimated_time, xp_reward, \
    ticket_template, customer_persona, knowledge_base_entries, assessment_criteria, prerequisites, is_active, \
    created_at, updated_at, version";

impl FromRow for Scenario {
    fn from_row(row: &Row<'_, '_>) -> Result<Self, StoreError> {
        let prerequisites: serde_json::Value = row.get(11)?;
        Ok(Scenario {
            id: row.get(0)?,
            tenant_id: row.get(1)?,
            title: row.get(2)?,
            description: row.get(3)?,
            difficulty: row.get_enum(4)?,
            estimated_time: row.get(5)?,
            xp_reward: row.get(6)?,
            ticket_template: row.get(7)?,
            customer_persona: row.get(8)?,
            knowledge_base_entries: row.get(9)?,
            assessment_criteria: row.get(10)?,
            prerequisites: serde_json::from_value(prerequisites)
                .map_err(|e| StoreError::Decode(format!("scenarios.prerequisites: {e}")))?,
            is_active: row.get(12)?,
            created_at: row.get(13)?,
            updated_at: row.get(14)?,
            version: row.get(15)?,
        })
    }
}

impl Scenario {
    /// The scenario as the audit log keeps it.
    pub fn audited(&self) -> serde_json::Value {
        audited_without(self, &["tenant_id"])
    }
}

/// A record as the audit log keeps it: its answer without `fields` (the tenant the entry already names, an id that is
/// the entry's resource id).
fn audited_without(record: &impl Serialize, fields: &[&str]) -> serde_json::Value {
    let mut view = serde_json::to_value(record).unwrap_or_default();
    if let Some(map) = view.as_object_mut() {
        for field in fields {
            map.remove(*field);
        }
    }
    view
}

/// `POST …/scenarios`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewScenario {
    /// 1 to 200 characters.
    pub title: String,
    /// At most 10,000 characters.
    pub description: Option<String>,
    pub difficulty: Difficulty,
    /// Minutes, 1 to 1,440 (default 15).
    pub estimated_time: Option<i64>,
    /// 0 to 100,000 (default 100).
    pub xp_reward: Option<i64>,
    /// An object (default `{}`).
    #[schema(value_type = Option<Object>)]
    pub ticket_template: Option<serde_json::Value>,
    /// An object (default `{}`).
    #[schema(value_type = Option<Object>)]
    pub customer_persona: Option<serde_json::Value>,
    /// An array (default `[]`).
    #[schema(value_type = Option<Vec<Object>>)]
    pub knowledge_base_entries: Option<serde_json::Value>,
    /// An object (default `{}`); `weights`, if given, maps some of verification, communication, technical,
    /// documentation and response_time to numbers from 0 to 1,000 (a dimension not named weighs 1; not all zero).
    #[schema(value_type = Option<Object>)]
    pub assessment_criteria: Option<serde_json::Value>,
    /// Ids of scenarios of the tenant (at most 50).
    pub prerequisites: Option<Vec<Uuid>>,
    pub is_active: Option<bool>,
}

impl NewScenario {
    /// A scenario with this title and difficulty and every other field at its default.
    pub fn titled(title: &str, difficulty: Difficulty) -> NewScenario {
        NewScenario {
            title: title.into(),
            description: None,
            difficulty,
            estimated_time: None,
            xp_reward: None,
            ticket_template: None,
            customer_persona: None,
            knowledge_base_entries: None,
            assessment_criteria: None,
            prerequisites: None,
            is_active: None,
        }
    }
}

/// `PATCH …/scenarios/{id}`: the fields to change.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub difficulty: Option<Difficulty>,
    pub estimated_time: Option<i64>,
    pub xp_reward: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub ticket_template: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub customer_persona: Option<serde_json::Value>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub knowledge_base_entries: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub assessment_criteria: Option<serde_json::Value>,
    pub prerequisites: Option<Vec<Uuid>>,
    pub is_active: Option<bool>,
}

crate::text_enum!(
    /// Whether the caller has completed a session of a scenario.
    Completion { Completed = "completed", NotCompleted = "not_completed" }
);

/// Filters of `GET …/scenarios`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFilter {
    pub difficulty: Option<Difficulty>,
    /// Scenarios the signed-in caller has (`completed`) or has not (`not_completed`) completed a session of.
    pub completion: Option<Completion>,
    /// Only active (true) or only retired (false) scenarios.
    pub active: Option<bool>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

fn text(field: &str, value: &str, min: usize, max: usize) -> Result<String, FieldError> {
    let value: String = value.trim().nfc().collect();
    let length = value.chars().count();
    if length < min {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if length > max {
        return Err(FieldError::new(field, format!("must be at most {max} characters")));
    }
    let allowed = |c: char| !c.is_control() || (field == "description" && matches!(c, '\n' | '\t'));
    if !value.chars().all(allowed) {
        return Err(FieldError::new(field, "must not contain control characters"));
    }
    Ok(value)
}

pub fn title(value: &str) -> Result<String, FieldError> {
    text("title", value, 1, 200)
}

pub fn description(value: &str) -> Result<String, FieldError> {
    text("description", value, 0, 10_000)
}

pub fn estimated_time(value: i64) -> Result<i64, FieldError> {
    if (1..=1440).contains(&value) {
        Ok(value)
    } else {
        Err(FieldError::new("estimated_time", "must be 1 to 1440 minutes"))
    }
}

pub fn xp_reward(value: i64) -> Result<i64, FieldError> {
    if (0..=100_000).contains(&value) {
        Ok(value)
    } else {
        Err(FieldError::new("xp_reward", "must be 0 to 100000"))
    }
}

/// The most a JSON field may take, serialised.
pub const JSON_MAX_BYTES: usize = 64 * 1024;

/// A JSON field of the right kind (`object` or `array`) and size.
pub fn json(field: &str, value: serde_json::Value, array: bool) -> Result<serde_json::Value, FieldError> {
    json_within(field, value, array, JSON_MAX_BYTES)
}

/// A JSON field of the right kind and at most `max` bytes serialised.
pub fn json_within(
    field: &str,
    value: serde_json::Value,
    array: bool,
    max: usize,
) -> Result<serde_json::Value, FieldError> {
    if array && !value.is_array() {
        return Err(FieldError::new(field, "must be a JSON array"));
    }
    if !array && !value.is_object() {
        return Err(FieldError::new(field, "must be a JSON object"));
    }
    let size = value.to_string().len();
    if size > max {
        return Err(FieldError::new(field, format!("must be at most {max} bytes serialised, is {size}")));
    }
    Ok(value)
}

/// The largest weight a dimension may have.
pub const MAX_WEIGHT: f64 = 1_000.0;

/// `assessment_criteria`: an object whose `weights`, if any, weigh the five dimensions (one not named weighs 1; at
/// least one must weigh more than 0).
pub fn assessment_criteria(value: serde_json::Value) -> Result<serde_json::Value, FieldError> {
    let value = json("assessment_criteria", value, false)?;
    if let Some(weights) = value.get("weights") {
        let invalid = |message: String| FieldError::new("assessment_criteria.weights", message);
        let weights = weights.as_object().ok_or_else(|| invalid("must be an object of dimension: weight".into()))?;
        for (dimension, weight) in weights {
            if !DIMENSIONS.contains(&dimension.as_str()) {
                return Err(invalid(format!("{dimension:?} is not one of {}", DIMENSIONS.join(", "))));
            }
            match weight.as_f64() {
                Some(w) if (0.0..=MAX_WEIGHT).contains(&w) => {}
                _ => return Err(invalid(format!("{dimension}: must be a number from 0 to {MAX_WEIGHT}"))),
            }
        }
        if super::scoring::weights(&value).iter().all(|w| *w == 0.0) {
            return Err(invalid("must not weigh all five dimensions zero".into()));
        }
    }
    Ok(value)
}

/// `prerequisites`: at most [`MAX_PREREQUISITES`], no repeats, not the scenario itself (existence and cycles are
/// checked against the tenant's scenarios).
pub fn prerequisites(ids: Vec<Uuid>, own: Uuid) -> Result<Vec<Uuid>, FieldError> {
    let invalid = |message: String| FieldError::new("prerequisites", message);
    if ids.len() > MAX_PREREQUISITES {
        return Err(invalid(format!("must name at most {MAX_PREREQUISITES} scenarios")));
    }
    if ids.contains(&own) {
        return Err(invalid("a scenario cannot be its own prerequisite".into()));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(repeated) = ids.iter().find(|id| !seen.insert(**id)) {
        return Err(invalid(format!("names {repeated} twice")));
    }
    Ok(ids)
}

/// The cycle that giving `scenario` the prerequisites `of_scenario[scenario]` makes, if any: the path from it back to
/// itself. `of_scenario` maps each scenario of the tenant to its prerequisites.
pub fn cycle_through(scenario: Uuid, of_scenario: &std::collections::HashMap<Uuid, Vec<Uuid>>) -> Option<Vec<Uuid>> {
    // depth first from the scenario along prerequisites, with the path so far; each scenario is expanded once
    let mut expanded = std::collections::HashSet::new();
    let mut stack: Vec<(Uuid, usize)> = vec![(scenario, 0)];
    let mut path: Vec<Uuid> = Vec::new();
    while let Some((node, depth)) = stack.pop() {
        path.truncate(depth);
        path.push(node);
        for next in of_scenario.get(&node).into_iter().flatten() {
            if *next == scenario {
                let mut cycle = path.clone();
                cycle.push(scenario);
                return Some(cycle);
            }
            if expanded.insert(*next) {
                stack.push((*next, depth + 1));
            }
        }
    }
    None
}

crate::text_enum!(
    /// Where a practice session is: under way, resolved with its scores, or given up.
    SessionStatus { Active = "active", Completed = "completed", Abandoned = "abandoned" }
);

crate::text_enum!(
    /// Who speaks in a transcript: the trainee, the simulated customer, or the training application.
    SenderType { User = "user", Customer = "customer", System = "system" }
);

crate::text_enum!(
    /// What a message is: words said, a note on the side, or an action taken.
    MessageType { Text = "text", Note = "note", Action = "action" }
);

crate::text_enum!(
    /// How rare an achievement is.
    Tier { Bronze = "bronze", Silver = "silver", Gold = "gold", Platinum = "platinum" }
);

/// A user's practice session of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Session {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub scenario_id: Uuid,
    pub status: SessionStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub completed_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub abandoned_at: Option<OffsetDateTime>,
    /// What the application recorded of the performance when it resolved the session (an object).
    #[schema(value_type = Option<Object>)]
    pub performance_data: Option<serde_json::Value>,
    pub verification_status: Option<String>,
    /// The resolution the application recorded (an object).
    #[schema(value_type = Option<Object>)]
    pub resolution_data: Option<serde_json::Value>,
    pub message_count: i64,
}

pub(super) const SESSION_COLUMNS: &str = "id, tenant_id, user_id, scenario_id, status, started_at, completed_at, \
    abandoned_at, performance_data, verification_status, resolution_data, message_count";

impl FromRow for Session {
    fn from_row(row: &Row<'_, '_>) -> Result<Self, StoreError> {
        Ok(Session {
            id: row.get(0)?,
            tenant_id: row.get(1)?,
            user_id: row.get(2)?,
            scenario_id: row.get(3)?,
            status: row.get_enum(4)?,
            started_at: row.get(5)?,
            completed_at: row.get(6)?,
            abandoned_at: row.get(7)?,
            performance_data: row.get(8)?,
            verification_status: row.get(9)?,
            resolution_data: row.get(10)?,
            message_count: row.get(11)?,
        })
    }
}

impl Session {
    /// The session as the audit log keeps it.
    pub fn audited(&self) -> serde_json::Value {
        serde_json::json!({
            "user_id": self.user_id,
            "scenario_id": self.scenario_id,
            "status": self.status,
            "started_at": crate::audit::timestamp(self.started_at),
            "completed_at": self.completed_at.map(crate::audit::timestamp),
            "abandoned_at": self.abandoned_at.map(crate::audit::timestamp),
            "verification_status": self.verification_status,
        })
    }
}

/// `POST …/scenarios/{id}/start`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartSession {
    /// The user who practises: the signed-in caller by default; an admin or an admin API key names one.
    pub user_id: Option<Uuid>,
}

/// A message of a session's transcript.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ChatMessage {
    pub id: Uuid,
    pub session_id: Uuid,
    /// Its place in the transcript, from 1.
    pub seq: i64,
    pub sender_type: SenderType,
    pub message_type: MessageType,
    pub content: String,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

pub(super) const MESSAGE_COLUMNS: &str =
    "id, session_id, seq, sender_type, message_type, content, metadata, created_at";

impl FromRow for ChatMessage {
    fn from_row(row: &Row<'_, '_>) -> Result<Self, StoreError> {
        Ok(ChatMessage {
            id: row.get(0)?,
            session_id: row.get(1)?,
            seq: row.get(2)?,
            sender_type: row.get_enum(3)?,
            message_type: row.get_enum(4)?,
            content: row.get(5)?,
            metadata: row.get(6)?,
            created_at: row.get(7)?,
        })
    }
}

/// `POST /v1/sessions/{id}/messages`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    /// `user` (the trainee's words), or `customer` / `system` (the application's; an admin or admin API key only).
    pub sender_type: SenderType,
    /// Default `text`.
    pub message_type: Option<MessageType>,
    /// 1 to 10,000 characters.
    pub content: String,
    /// An object (default `{}`), at most 16 KiB serialised.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

/// The characters a message may hold at most.
pub const MESSAGE_MAX_CHARS: usize = 10_000;
/// The most a message's metadata may take, serialised.
pub const METADATA_MAX_BYTES: usize = 16 * 1024;
/// The messages a session may hold at most.
pub const MAX_MESSAGES: i64 = 2_000;

/// A message's content: not blank, at most [`MESSAGE_MAX_CHARS`], no control characters but line breaks and tabs.
pub fn content(value: &str) -> Result<String, FieldError> {
    if value.trim().is_empty() {
        return Err(FieldError::new("content", "must not be empty"));
    }
    if value.chars().count() > MESSAGE_MAX_CHARS {
        return Err(FieldError::new("content", format!("must be at most {MESSAGE_MAX_CHARS} characters")));
    }
    if value.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(FieldError::new("content", "must not contain control characters"));
    }
    Ok(value.nfc().collect())
}

/// Pages of `GET /v1/sessions/{id}/messages`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MessagePage {
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// `POST /v1/sessions/{id}/resolve`: the five scores (whole numbers, 0 to 100) and what the application recorded.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolution {
    pub verification_score: i64,
    pub communication_score: i64,
    pub technical_score: i64,
    pub documentation_score: i64,
    pub response_time_score: i64,
    /// An object (default `{}`).
    #[schema(value_type = Option<Object>)]
    pub resolution_data: Option<serde_json::Value>,
    /// An object (default `{}`).
    #[schema(value_type = Option<Object>)]
    pub performance_data: Option<serde_json::Value>,
    /// 1 to 50 of `a-z`, `0-9` and `_` (e.g. `verified`).
    pub verification_status: Option<String>,
}

impl Resolution {
    /// Every score the same: for tests and the demo.
    pub fn uniform(score: i64) -> Resolution {
        Resolution::scored([score; 5])
    }

    /// The five scores in the order of [`DIMENSIONS`].
    pub fn scored(scores: [i64; 5]) -> Resolution {
        let [verification_score, communication_score, technical_score, documentation_score, response_time_score] =
            scores;
        Resolution {
            verification_score,
            communication_score,
            technical_score,
            documentation_score,
            response_time_score,
            resolution_data: None,
            performance_data: None,
            verification_status: None,
        }
    }

    /// The scores, checked, in the order of [`DIMENSIONS`].
    pub fn scores(&self) -> Result<[i64; 5], Vec<FieldError>> {
        let scores = [
            self.verification_score,
            self.communication_score,
            self.technical_score,
            self.documentation_score,
            self.response_time_score,
        ];
        let errors: Vec<FieldError> = scores
            .iter()
            .zip(DIMENSIONS)
            .filter(|(score, _)| !(0..=100).contains(*score))
            .map(|(_, dimension)| FieldError::new(format!("{dimension}_score"), "must be a whole number from 0 to 100"))
            .collect();
        if errors.is_empty() {
            Ok(scores)
        } else {
            Err(errors)
        }
    }
}

/// `verification_status`: a short word of the application's.
pub fn verification_status(value: &str) -> Result<String, FieldError> {
    let ok = (1..=50).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(value.to_owned())
    } else {
        Err(FieldError::new("verification_status", "must be 1 to 50 of a-z, 0-9 and _"))
    }
}

/// The scored result of a resolved session.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Metric {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub scenario_id: Uuid,
    /// The scenario's difficulty when the session was resolved.
    pub difficulty: Difficulty,
    pub verification_score: i64,
    pub communication_score: i64,
    pub technical_score: i64,
    pub documentation_score: i64,
    pub response_time_score: i64,
    /// The weighted mean of the five, two decimals.
    pub overall_score: f64,
    pub xp_earned: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

pub(super) const METRIC_COLUMNS: &str = "id, tenant_id, user_id, session_id, scenario_id, difficulty, \
    verification_score, communication_score, technical_score, documentation_score, response_time_score, \
    overall_score, xp_earned, created_at";

impl FromRow for Metric {
    fn from_row(row: &Row<'_, '_>) -> Result<Self, StoreError> {
        Ok(Metric {
            id: row.get(0)?,
            tenant_id: row.get(1)?,
            user_id: row.get(2)?,
            session_id: row.get(3)?,
            scenario_id: row.get(4)?,
            difficulty: row.get_enum(5)?,
            verification_score: row.get(6)?,
            communication_score: row.get(7)?,
            technical_score: row.get(8)?,
            documentation_score: row.get(9)?,
            response_time_score: row.get(10)?,
            overall_score: row.get(11)?,
            xp_earned: row.get(12)?,
            created_at: row.get(13)?,
        })
    }
}

impl Metric {
    /// The metric as the audit log keeps it.
    pub fn audited(&self) -> serde_json::Value {
        audited_without(self, &["tenant_id", "id"])
    }
}

/// An achievement of a tenant's catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Achievement {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub code: String,
    pub name: String,
    pub description: String,
    pub tier: Tier,
    pub criteria: Criteria,
    /// XP added to the user's when it is earned.
    pub xp_bonus: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

pub(super) const ACHIEVEMENT_COLUMNS: &str =
    "id, tenant_id, code, name, description, tier, criteria, xp_bonus, created_at";

impl FromRow for Achievement {
    fn from_row(row: &Row<'_, '_>) -> Result<Self, StoreError> {
        let criteria: serde_json::Value = row.get(6)?;
        Ok(Achievement {
            id: row.get(0)?,
            tenant_id: row.get(1)?,
            code: row.get(2)?,
            name: row.get(3)?,
            description: row.get(4)?,
            tier: row.get_enum(5)?,
            criteria: serde_json::from_value(criteria)
                .map_err(|e| StoreError::Decode(format!("achievements.criteria: {e}")))?,
            xp_bonus: row.get(7)?,
            created_at: row.get(8)?,
        })
    }
}

impl Achievement {
    /// The achievement as the audit log keeps it.
    pub fn audited(&self) -> serde_json::Value {
        audited_without(self, &["tenant_id"])
    }
}

/// `POST …/achievements`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAchievement {
    /// 2 to 63 of `a-z`, `0-9`, `_` and `-`; unique in the tenant.
    pub code: String,
    /// 1 to 200 characters.
    pub name: String,
    pub description: Option<String>,
    pub tier: Tier,
    /// One of `{"kind": "sessions_completed", "count": n}`, `{"kind": "score_at_least", "score": s, "sessions": n}`,
    /// `{"kind": "difficulty_completed", "difficulty": d}`, `{"kind": "level_reached", "level": n}`.
    #[schema(value_type = Object)]
    pub criteria: serde_json::Value,
    /// 0 to 100,000 (default 0).
    pub xp_bonus: Option<i64>,
}

/// An achievement a user earned.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Earned {
    pub code: String,
    pub name: String,
    pub description: String,
    pub tier: Tier,
    pub xp_bonus: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub earned_at: OffsetDateTime,
    /// The session whose resolution earned it.
    pub session_id: Option<Uuid>,
}

impl FromRow for Earned {
    fn from_row(row: &Row<'_, '_>) -> Result<Self, StoreError> {
        Ok(Earned {
            code: row.get(0)?,
            name: row.get(1)?,
            description: row.get(2)?,
            tier: row.get_enum(3)?,
            xp_bonus: row.get(4)?,
            earned_at: row.get(5)?,
            session_id: row.get(6)?,
        })
    }
}

/// An achievement's code.
pub fn code(value: &str) -> Result<String, FieldError> {
    let ok = (2..=63).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(value.to_owned())
    } else {
        Err(FieldError::new("code", "must be 2 to 63 of a-z, 0-9, _ and -"))
    }
}

pub fn name(value: &str) -> Result<String, FieldError> {
    text("name", value, 1, 200)
}

pub fn xp_bonus(value: i64) -> Result<i64, FieldError> {
    if (0..=100_000).contains(&value) {
        Ok(value)
    } else {
        Err(FieldError::new("xp_bonus", "must be 0 to 100000"))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn a_cycle_is_found_with_its_path_and_a_diamond_is_not_one() {
        let [a, b, c, d] = [Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7()];
        // a needs b and c, both need d: a diamond, no cycle
        let mut graph = HashMap::from([(a, vec![b, c]), (b, vec![d]), (c, vec![d]), (d, vec![])]);
        for scenario in [a, b, c, d] {
            assert_eq!(cycle_through(scenario, &graph), None);
        }
        // d needs a: d → a → c → d (or through b)
        graph.insert(d, vec![a]);
        let cycle = cycle_through(d, &graph).unwrap();
        assert_eq!((cycle.first(), cycle.last(), cycle.len()), (Some(&d), Some(&d), 4), "{cycle:?}");
        assert_eq!(cycle[1], a);
        // a cycle elsewhere that does not pass through the scenario is not its doing
        let mut elsewhere = HashMap::from([(a, vec![b]), (b, vec![c]), (c, vec![b])]);
        assert_eq!(cycle_through(a, &elsewhere), None);
        elsewhere.insert(c, vec![a]);
        assert_eq!(cycle_through(a, &elsewhere), Some(vec![a, b, c, a]));
    }

    #[test]
    fn weights_name_dimensions_with_non_negative_numbers() {
        assert!(assessment_criteria(serde_json::json!({})).is_ok());
        assert!(assessment_criteria(serde_json::json!({"weights": {"technical": 2, "communication": 0.5}})).is_ok());
        // the others weigh 1
        assert!(assessment_criteria(serde_json::json!({"weights": {"technical": 0}})).is_ok());
        for bad in [
            serde_json::json!({"weights": {"charm": 1}}),
            serde_json::json!({"weights": {"technical": -1}}),
            serde_json::json!({"weights": {"technical": "2"}}),
            serde_json::json!({"weights": {"technical": 1001}}),
            serde_json::json!({"weights": {"verification": 0, "communication": 0, "technical": 0,
                "documentation": 0, "response_time": 0}}),
            serde_json::json!({"weights": [1, 2]}),
            serde_json::json!([]),
        ] {
            assert!(assessment_criteria(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn prerequisites_are_few_distinct_and_not_oneself() {
        let own = Uuid::now_v7();
        let other = Uuid::now_v7();
        assert_eq!(prerequisites(vec![other], own).unwrap(), [other]);
        assert!(prerequisites(vec![own], own).is_err());
        assert!(prerequisites(vec![other, other], own).is_err());
        assert!(prerequisites((0..51).map(|_| Uuid::now_v7()).collect(), own).is_err());
    }
}

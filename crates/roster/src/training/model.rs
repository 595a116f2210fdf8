//! What a scenario is, and the rules its fields follow.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use unicode_normalization::UnicodeNormalization;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

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
        let mut view = serde_json::to_value(self).unwrap_or_default();
        if let Some(fields) = view.as_object_mut() {
            fields.remove("tenant_id");
        }
        view
    }
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
    /// documentation and response_time to non-negative numbers, not all zero.
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

/// Filters of `GET …/scenarios`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFilter {
    pub difficulty: Option<Difficulty>,
    /// Only active (true) or only retired (false) scenarios.
    pub active: Option<bool>,
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
    if array && !value.is_array() {
        return Err(FieldError::new(field, "must be a JSON array"));
    }
    if !array && !value.is_object() {
        return Err(FieldError::new(field, "must be a JSON object"));
    }
    let size = value.to_string().len();
    if size > JSON_MAX_BYTES {
        return Err(FieldError::new(field, format!("must be at most {JSON_MAX_BYTES} bytes serialised, is {size}")));
    }
    Ok(value)
}

/// `assessment_criteria`: an object whose `weights`, if any, weigh the five dimensions.
pub fn assessment_criteria(value: serde_json::Value) -> Result<serde_json::Value, FieldError> {
    let value = json("assessment_criteria", value, false)?;
    if let Some(weights) = value.get("weights") {
        let invalid = |message: String| FieldError::new("assessment_criteria.weights", message);
        let weights = weights.as_object().ok_or_else(|| invalid("must be an object of dimension: weight".into()))?;
        let mut total = 0.0;
        for (dimension, weight) in weights {
            if !DIMENSIONS.contains(&dimension.as_str()) {
                return Err(invalid(format!("{dimension:?} is not one of {}", DIMENSIONS.join(", "))));
            }
            match weight.as_f64() {
                Some(w) if w.is_finite() && w >= 0.0 => total += w,
                _ => return Err(invalid(format!("{dimension}: must be a number of at least 0"))),
            }
        }
        if total <= 0.0 {
            return Err(invalid("must not all be zero".into()));
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
        for bad in [
            serde_json::json!({"weights": {"charm": 1}}),
            serde_json::json!({"weights": {"technical": -1}}),
            serde_json::json!({"weights": {"technical": "2"}}),
            serde_json::json!({"weights": {"technical": 0}}),
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

//! The arithmetic of a resolved session: its weighted overall score, the XP it earns, the level XP makes, and
//! whether a user's record meets an achievement's criteria. No storage here: the rules alone, tested at their edges.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::{Difficulty, DIMENSIONS};
use crate::http::FieldError;

/// The five scores of a resolved session, each 0 to 100, in the order of [`DIMENSIONS`].
pub type Scores = [i64; 5];

/// The weight of each dimension, in the order of [`DIMENSIONS`], from a scenario's `assessment_criteria.weights`: a
/// dimension it does not name weighs 1, so no weights at all weigh the five equally. (The weights were checked when
/// the scenario was written: numbers of at least 0, not all zero.)
pub fn weights(assessment_criteria: &serde_json::Value) -> [f64; 5] {
    let named = assessment_criteria.get("weights");
    DIMENSIONS.map(|dimension| named.and_then(|w| w.get(dimension)).and_then(serde_json::Value::as_f64).unwrap_or(1.0))
}

/// The overall score in hundredths (8,735 is 87.35): the weighted mean of the scores, rounded to two decimals, halves
/// away from zero.
pub fn overall_hundredths(scores: &Scores, weights: &[f64; 5]) -> i64 {
    let total: f64 = weights.iter().sum();
    if total <= 0.0 {
        return 0;
    }
    let weighted: f64 = scores.iter().zip(weights).map(|(s, w)| *s as f64 * w).sum();
    let hundredths = weighted * 100.0 / total;
    // snap away the last bits of binary noise first, so that 87.345 computed as 87.34499999… still rounds up
    let snapped = (hundredths * 1e6).round() / 1e6;
    (snapped.round() as i64).clamp(0, 10_000)
}

/// The XP a session earns: `round(xp_reward × overall / 100)`, halves up, with the overall score as it is shown
/// (two decimals).
pub fn xp_earned(xp_reward: i64, overall_hundredths: i64) -> i64 {
    (xp_reward * overall_hundredths + 5_000) / 10_000
}

/// The XP level `level` needs: 100·n·(n−1)/2, so level 1 needs 0, level 2 100, level 3 300, level 4 600.
pub fn xp_for_level(level: i64) -> i64 {
    let n = level.max(1);
    n.saturating_mul(n - 1).saturating_mul(50)
}

/// The level `xp` reaches: the highest n whose [`xp_for_level`] is at most `xp`.
pub fn level_for(xp: i64) -> i64 {
    let xp = xp.max(0);
    // n·(n−1) ≤ xp/50 first estimated with a square root, then corrected either way
    let mut level = ((xp as f64 / 50.0).sqrt() as i64).max(1);
    while level > 1 && xp_for_level(level) > xp {
        level -= 1;
    }
    while xp_for_level(level + 1) <= xp {
        level += 1;
    }
    level
}

/// The XP still needed to reach the next level.
pub fn xp_to_next_level(xp: i64) -> i64 {
    xp_for_level(level_for(xp) + 1) - xp.max(0)
}

/// What earns an achievement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Criteria {
    /// At least `count` completed sessions.
    SessionsCompleted { count: i64 },
    /// An overall score of at least `score` in at least `sessions` completed sessions.
    ScoreAtLeast { score: i64, sessions: i64 },
    /// A completed session of a scenario of this difficulty.
    DifficultyCompleted { difficulty: Difficulty },
    /// Level `level` or above.
    LevelReached { level: i64 },
}

impl Criteria {
    /// Parse and check `criteria`: one of the kinds, with its parameters in range.
    pub fn parse(value: serde_json::Value) -> Result<Criteria, FieldError> {
        let invalid = |message: String| FieldError::new("criteria", message);
        let criteria: Criteria = serde_json::from_value(value).map_err(|e| {
            invalid(format!(
                "{e}; expected {{\"kind\": \"sessions_completed\", \"count\": n}}, {{\"kind\": \"score_at_least\", \
                 \"score\": s, \"sessions\": n}}, {{\"kind\": \"difficulty_completed\", \"difficulty\": d}} or \
                 {{\"kind\": \"level_reached\", \"level\": n}}"
            ))
        })?;
        let in_range = |name: &str, value: i64, low: i64, high: i64| {
            if (low..=high).contains(&value) {
                Ok(())
            } else {
                Err(invalid(format!("{name} must be {low} to {high}")))
            }
        };
        match &criteria {
            Criteria::SessionsCompleted { count } => in_range("count", *count, 1, 1_000_000)?,
            Criteria::ScoreAtLeast { score, sessions } => {
                in_range("score", *score, 0, 100)?;
                in_range("sessions", *sessions, 1, 1_000_000)?;
            }
            Criteria::DifficultyCompleted { .. } => {}
            Criteria::LevelReached { level } => in_range("level", *level, 2, 10_000)?,
        }
        Ok(criteria)
    }

    /// Whether `record` meets the criteria.
    pub fn met_by(&self, record: &Record) -> bool {
        match self {
            Criteria::SessionsCompleted { count } => record.completed >= *count,
            Criteria::ScoreAtLeast { score, sessions } => {
                record.at_least.get(score).copied().unwrap_or_default() >= *sessions
            }
            Criteria::DifficultyCompleted { difficulty } => record.difficulties.contains(difficulty),
            Criteria::LevelReached { level } => record.level >= *level,
        }
    }

    /// The overall score this criteria counts sessions at or above, if it is of that kind.
    pub fn score_threshold(&self) -> Option<i64> {
        match self {
            Criteria::ScoreAtLeast { score, .. } => Some(*score),
            _ => None,
        }
    }
}

/// A user's training record, as far as achievements look at it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record {
    pub completed: i64,
    /// For each score threshold asked about: how many completed sessions scored at least it overall.
    pub at_least: BTreeMap<i64, i64>,
    pub difficulties: BTreeSet<Difficulty>,
    pub level: i64,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    #[test]
    fn the_overall_score_is_the_weighted_mean_to_two_decimals() {
        let equal = weights(&json!({}));
        assert_eq!(equal, [1.0; 5]);
        assert_eq!(overall_hundredths(&[0; 5], &equal), 0);
        assert_eq!(overall_hundredths(&[100; 5], &equal), 10_000);
        assert_eq!(overall_hundredths(&[100, 90, 80, 70, 61], &equal), 8_020);
        // thirds: 200/3 = 66.666… → 66.67, 100/3 = 33.333… → 33.33
        let thirds = weights(&json!({"weights": {"technical": 0, "documentation": 0}}));
        assert_eq!(thirds, [1.0, 1.0, 0.0, 0.0, 1.0]);
        assert_eq!(overall_hundredths(&[100, 100, 0, 0, 0], &thirds), 6_667);
        assert_eq!(overall_hundredths(&[100, 0, 55, 55, 0], &thirds), 3_333);
        // a named weight counts beside the default of the others: technical twice, over a total of 6
        let technical = weights(&json!({"weights": {"technical": 2}}));
        assert_eq!(overall_hundredths(&[0, 0, 100, 0, 0], &technical), 3_333);
        assert_eq!(overall_hundredths(&[50, 50, 80, 50, 50], &technical), 6_000);
        // a half rounds away from zero: (1 + 0.5·2) / … exercised as 0.125 → 0.13 with weights 1 and 7
        let eighths = weights(&json!({"weights": {"communication": 7, "technical": 0, "documentation": 0,
            "response_time": 0}}));
        assert_eq!(overall_hundredths(&[1, 0, 0, 0, 0], &eighths), 13);
        // weights that are not whole numbers, whose sum is not exact in binary
        let tenths = weights(&json!({"weights": {"verification": 0.1, "communication": 0.2, "technical": 0.7,
            "documentation": 0, "response_time": 0}}));
        assert_eq!(overall_hundredths(&[10, 10, 10, 0, 0], &tenths), 1_000);
    }

    #[test]
    fn xp_is_the_reward_scaled_by_the_overall_score_rounded_half_up() {
        assert_eq!(xp_earned(100, 0), 0);
        assert_eq!(xp_earned(100, 10_000), 100);
        assert_eq!(xp_earned(0, 10_000), 0);
        assert_eq!(xp_earned(150, 8_735), 131); // 131.025
        assert_eq!(xp_earned(10, 8_500), 9); // 8.5 → 9
        assert_eq!(xp_earned(10, 8_499), 8); // 8.499
        assert_eq!(xp_earned(100_000, 10_000), 100_000);
    }

    #[test]
    fn levels_start_at_the_triangular_thresholds() {
        for (xp, level) in [(0, 1), (99, 1), (100, 2), (299, 2), (300, 3), (599, 3), (600, 4), (999, 4), (1_000, 5)] {
            assert_eq!(level_for(xp), level, "{xp} XP");
        }
        assert_eq!(level_for(-5), 1);
        assert_eq!(xp_to_next_level(0), 100);
        assert_eq!(xp_to_next_level(100), 200);
        assert_eq!(xp_to_next_level(599), 1);
        // the largest XP still has a level, whose threshold it reaches and the next one's it does not
        let huge = i64::MAX / 2;
        let level = level_for(huge);
        assert!(xp_for_level(level) <= huge && xp_for_level(level + 1) > huge, "{level}");
    }

    proptest! {
        #[test]
        fn a_level_is_reached_exactly_at_its_threshold(level in 1i64..100_000) {
            let at = xp_for_level(level);
            prop_assert_eq!(level_for(at), level);
            prop_assert_eq!(level_for(at - 1), (level - 1).max(1));
            prop_assert_eq!(level_for(xp_for_level(level + 1) - 1), level);
        }

        #[test]
        fn the_overall_score_lies_between_the_lowest_and_highest_weighted_score(
            scores in prop::array::uniform5(0i64..=100),
            weights in prop::array::uniform5(0.0f64..10.0),
        ) {
            prop_assume!(weights.iter().sum::<f64>() > 0.0);
            let overall = overall_hundredths(&scores, &weights);
            let counted = scores.iter().zip(weights).filter(|(_, w)| *w > 0.0).map(|(s, _)| *s);
            let (low, high) = counted.fold((100, 0), |(l, h), s| (l.min(s), h.max(s)));
            prop_assert!(overall >= low * 100 && overall <= high * 100, "{overall} outside {low}..{high}");
        }
    }

    #[test]
    fn criteria_are_one_of_the_kinds_with_parameters_in_range() {
        let parse = |v: serde_json::Value| Criteria::parse(v);
        assert_eq!(
            parse(json!({"kind": "sessions_completed", "count": 5})).unwrap(),
            Criteria::SessionsCompleted { count: 5 }
        );
        assert_eq!(
            parse(json!({"kind": "difficulty_completed", "difficulty": "advanced"})).unwrap(),
            Criteria::DifficultyCompleted { difficulty: Difficulty::Advanced }
        );
        for bad in [
            json!({"kind": "sessions_completed"}),
            json!({"kind": "sessions_completed", "count": 0}),
            json!({"kind": "sessions_completed", "count": 3, "extra": 1}),
            json!({"kind": "score_at_least", "score": 101, "sessions": 1}),
            json!({"kind": "level_reached", "level": 1}),
            json!({"kind": "difficulty_completed", "difficulty": "heroic"}),
            json!({"kind": "charm"}),
            json!([1]),
        ] {
            let error = parse(bad.clone()).unwrap_err();
            assert_eq!(error.field, "criteria", "{bad}");
        }
    }

    #[test]
    fn each_kind_of_criteria_is_met_at_its_edge_and_not_below() {
        let mut record = Record { completed: 4, level: 3, ..Record::default() };
        record.at_least.insert(90, 2);
        record.difficulties.insert(Difficulty::Intermediate);
        for (criteria, met) in [
            (Criteria::SessionsCompleted { count: 4 }, true),
            (Criteria::SessionsCompleted { count: 5 }, false),
            (Criteria::ScoreAtLeast { score: 90, sessions: 2 }, true),
            (Criteria::ScoreAtLeast { score: 90, sessions: 3 }, false),
            (Criteria::ScoreAtLeast { score: 95, sessions: 1 }, false),
            (Criteria::DifficultyCompleted { difficulty: Difficulty::Intermediate }, true),
            (Criteria::DifficultyCompleted { difficulty: Difficulty::Advanced }, false),
            (Criteria::LevelReached { level: 3 }, true),
            (Criteria::LevelReached { level: 4 }, false),
        ] {
            assert_eq!(criteria.met_by(&record), met, "{criteria:?}");
        }
    }
}

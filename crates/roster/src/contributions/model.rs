//! Bug reports and test cycles as the testing platform exports them, checked field by field: a record that is not an
//! object, lacks an integer `id`, or has a field of the wrong type is rejected with the reason.

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::users::model::normalize_username;

/// A bug report.
#[derive(Debug, Clone, PartialEq)]
pub struct Bug {
    pub id: i64,
    pub test_id: Option<i64>,
    pub title: Option<String>,
    pub severity: Option<String>,
    pub status: Option<String>,
    pub reported_at: Option<OffsetDateTime>,
    pub known: Option<bool>,
    /// The reporter's name, trimmed and NFC-normalised; `None` when missing or empty.
    pub reporter: Option<String>,
    /// The author object as sent, kept on the reporter.
    pub author: Option<Value>,
    /// The whole record as compact JSON.
    pub raw: String,
}

/// A test cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct TestCycle {
    pub id: i64,
    pub product_id: Option<i64>,
    pub title: Option<String>,
    pub status: Option<String>,
    pub testing_type: Option<String>,
    pub start_at: Option<OffsetDateTime>,
    pub end_at: Option<OffsetDateTime>,
    /// The people named by the cycle, trimmed and NFC-normalised.
    pub created_by: Option<String>,
    pub submitted_by: Option<String>,
    /// The whole record as compact JSON.
    pub raw: String,
}

/// Which records an ingest reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Bugs,
    Tests,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Bugs => "bugs",
            Kind::Tests => "tests",
        }
    }
}

/// A checked record of either kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Bug(Bug),
    Test(TestCycle),
}

/// Check a record of the given kind.
pub fn parse(kind: Kind, value: Value) -> Result<Record, String> {
    match kind {
        Kind::Bugs => parse_bug(value).map(Record::Bug),
        Kind::Tests => parse_test(value).map(Record::Test),
    }
}

impl Bug {
    /// The time that places the record for its reporter: when it was reported.
    pub fn record_time(&self) -> Option<OffsetDateTime> {
        self.reported_at
    }
}

impl TestCycle {
    /// The time that places the record for its people: its end, else its start.
    pub fn record_time(&self) -> Option<OffsetDateTime> {
        self.end_at.or(self.start_at)
    }
}

fn object(value: &Value) -> Result<&Map<String, Value>, String> {
    let record = value.as_object().ok_or_else(|| format!("a record must be a JSON object, not {}", kind(value)))?;
    // PostgreSQL cannot store U+0000 in text or jsonb; no real record needs it.
    if let Some(path) = crate::http::extract::nul_path(value) {
        return Err(format!("{path} must not contain the NUL character (\\u0000)"));
    }
    Ok(record)
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn id(record: &Map<String, Value>) -> Result<i64, String> {
    match record.get("id") {
        None | Some(Value::Null) => Err("id is missing".into()),
        Some(Value::Number(n)) => n.as_i64().ok_or_else(|| format!("id must be an integer, not {n}")),
        Some(other) => Err(format!("id must be an integer, not {}", kind(other))),
    }
}

fn optional<'a>(record: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    record.get(field).filter(|v| !v.is_null())
}

fn text(record: &Map<String, Value>, field: &str) -> Result<Option<String>, String> {
    match optional(record, field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!("{field} must be a string, not {}", kind(other))),
    }
}

fn integer(record: &Map<String, Value>, field: &str) -> Result<Option<i64>, String> {
    match optional(record, field) {
        None => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| format!("{field} must be an integer, not {n}")),
        Some(other) => Err(format!("{field} must be an integer, not {}", kind(other))),
    }
}

fn boolean(record: &Map<String, Value>, field: &str) -> Result<Option<bool>, String> {
    match optional(record, field) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(format!("{field} must be true or false, not {}", kind(other))),
    }
}

fn timestamp(record: &Map<String, Value>, field: &str) -> Result<Option<OffsetDateTime>, String> {
    match text(record, field)? {
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) => OffsetDateTime::parse(s.trim(), &Rfc3339)
            .map(|t| Some(crate::clock::truncate(t)))
            .map_err(|_| format!("{field} must be an RFC 3339 time, not {s:?}")),
    }
}

/// A person's name as records carry it: trimmed and NFC-normalised; empty means nobody. It becomes a username, so it
/// is held to a username's length and may not contain control characters.
fn person(field: &str, name: Option<String>) -> Result<Option<String>, String> {
    let Some(name) = name.map(|n| normalize_username(&n)).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if name.chars().count() > 100 {
        return Err(format!("{field} must be at most 100 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(format!("{field} must not contain control characters"));
    }
    Ok(Some(name))
}

/// Check a bug record.
pub fn parse_bug(value: Value) -> Result<Bug, String> {
    let record = object(&value)?;
    let test_id = match optional(record, "test") {
        None => None,
        Some(Value::Object(test)) => integer(test, "id").map_err(|e| format!("test.{e}"))?,
        Some(other) => return Err(format!("test must be an object, not {}", kind(other))),
    };
    let (reporter, author) = match optional(record, "author") {
        None => (None, None),
        Some(Value::Object(author)) => {
            let name = text(author, "name").map_err(|e| format!("author.{e}"))?;
            (person("author.name", name)?, Some(Value::Object(author.clone())))
        }
        Some(other) => return Err(format!("author must be an object, not {}", kind(other))),
    };
    let bug = Bug {
        id: id(record)?,
        test_id,
        title: text(record, "title")?,
        severity: text(record, "severity")?,
        status: text(record, "status")?,
        reported_at: timestamp(record, "reported_at")?,
        known: boolean(record, "known")?,
        reporter,
        author,
        raw: value.to_string(),
    };
    identified(record, Kind::Bugs)?;
    Ok(bug)
}

/// The fields that say a record is a bug report: it names its author or its test. Title, severity, status and times
/// are the platform's optional fields (a record without them is still a bug, and its reporter still a person).
const BUG_FIELDS: [&str; 2] = ["author", "test"];
/// The fields that say a record is a test cycle: its creator, its kind of testing or its start.
const TEST_FIELDS: [&str; 3] = ["created_by", "testing_type", "start_at"];
/// Fields only the other kind has, which give away a record sent as the wrong kind.
const BUG_ONLY: [&str; 5] = ["author", "test", "severity", "reported_at", "known"];
const TEST_ONLY: [&str; 6] = ["created_by", "submitted_by", "testing_type", "start_at", "end_at", "product_id"];

/// Whether a record (its id already read) is of `kind`: it carries one of the fields that identify that kind. One
/// that carries none of them but fields of the other kind is refused as that kind; one that carries neither is
/// refused naming what it lacks. Nothing else is required: real exports leave the rest out.
fn identified(record: &Map<String, Value>, kind: Kind) -> Result<(), String> {
    let (own, other_only, what, other_what, other_route): (&[&str], &[&str], _, _, _) = match kind {
        Kind::Bugs => (&BUG_FIELDS, &TEST_ONLY, "a bug report", "a test cycle", "tests"),
        Kind::Tests => (&TEST_FIELDS, &BUG_ONLY, "a test cycle", "a bug report", "bugs"),
    };
    if own.iter().any(|field| optional(record, field).is_some()) {
        return Ok(());
    }
    let given_away: Vec<&str> = other_only.iter().copied().filter(|field| optional(record, field).is_some()).collect();
    if !given_away.is_empty() {
        return Err(format!(
            "this is {other_what}, not {what} (it has {}): ingest it as {other_route}",
            given_away.join(", ")
        ));
    }
    Err(format!("{} are missing: {what} names at least one of them", own.join(" and ")))
}

/// Check a test cycle record.
pub fn parse_test(value: Value) -> Result<TestCycle, String> {
    let record = object(&value)?;
    let test = TestCycle {
        id: id(record)?,
        product_id: integer(record, "product_id")?,
        title: text(record, "title")?,
        status: text(record, "status")?,
        testing_type: text(record, "testing_type")?,
        start_at: timestamp(record, "start_at")?,
        end_at: timestamp(record, "end_at")?,
        created_by: person("created_by", text(record, "created_by")?)?,
        submitted_by: person("submitted_by", text(record, "submitted_by")?)?,
        raw: value.to_string(),
    };
    identified(record, Kind::Tests)?;
    Ok(test)
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::datetime;

    use super::*;

    #[test]
    fn a_bug_reads_every_field_and_its_reporter() {
        let bug = parse_bug(json!({
            "id": 5000000, "title": "Search: error 500", "severity": "low", "status": "rejected",
            "reported_at": "2026-07-20T23:30:00.000Z", "known": false,
            "author": {"name": "  Ju\u{301}lia S. "}, "test": {"id": 100023}
        }))
        .unwrap();
        assert_eq!((bug.id, bug.test_id), (5000000, Some(100023)));
        assert_eq!(bug.reporter.as_deref(), Some("J\u{fa}lia S."), "trimmed and NFC");
        assert_eq!(bug.reported_at, Some(datetime!(2026-07-20 23:30 UTC)));
        assert_eq!(bug.record_time(), bug.reported_at);
        assert_eq!(bug.author, Some(json!({"name": "  Ju\u{301}lia S. "})), "the author object as sent");
        assert_eq!(serde_json::from_str::<Value>(&bug.raw).unwrap()["severity"], "low");
    }

    #[test]
    fn a_bug_without_a_name_links_to_nobody() {
        for author in [json!({}), json!({"name": ""}), json!({"name": "   "})] {
            let bug = parse_bug(json!({"id": 1, "title": "t", "severity": "low", "author": author})).unwrap();
            assert_eq!(bug.reporter, None);
        }
        let bug = parse_bug(json!({"id": 1, "author": null, "test": {"id": 7}})).unwrap();
        assert_eq!((bug.reporter, bug.test_id), (None, Some(7)));
    }

    #[test]
    fn a_test_cycle_names_its_people_and_is_placed_by_its_end() {
        let test = parse_test(json!({
            "id": 100000, "title": "Search test #0", "status": "running", "testing_type": "coverage",
            "start_at": "2026-09-23T17:00:00.000Z", "end_at": "2026-09-24T21:00:00.000Z",
            "created_by": "Priya S.", "submitted_by": null
        }))
        .unwrap();
        assert_eq!((test.created_by.as_deref(), test.submitted_by.as_deref()), (Some("Priya S."), None));
        assert_eq!(test.record_time(), Some(datetime!(2026-09-24 21:00 UTC)));
        let started_only =
            parse_test(json!({"id": 1, "title": "t", "testing_type": "rapid", "start_at": "2026-09-23T17:00:00Z"}))
                .unwrap();
        assert_eq!(started_only.record_time(), Some(datetime!(2026-09-23 17:00 UTC)));
    }

    #[test]
    fn every_malformed_kind_is_named() {
        let cases = [
            (json!(42), "must be a JSON object"),
            (json!([1]), "must be a JSON object"),
            (json!({"title": "x"}), "id is missing"),
            (json!({"id": null}), "id is missing"),
            (json!({"id": "5"}), "id must be an integer"),
            (json!({"id": 1.5}), "id must be an integer"),
            (json!({"id": 1, "title": 7}), "title must be a string"),
            (json!({"id": 1, "known": "no"}), "known must be true or false"),
            (json!({"id": 1, "reported_at": "yesterday"}), "reported_at must be an RFC 3339 time"),
            (json!({"id": 1, "author": "Ana"}), "author must be an object"),
            (json!({"id": 1, "author": {"name": 3}}), "author.name must be a string"),
            (json!({"id": 1, "test": {"id": "x"}}), "test.id must be an integer"),
            (json!({"id": 1, "author": {"name": "x".repeat(101)}}), "author.name must be at most 100 characters"),
            (json!({"id": 1, "author": {"name": "Ana\u{7}"}}), "author.name must not contain control characters"),
            (json!({"id": 1, "steps": ["a\u{0}"]}), "must not contain the NUL character"),
        ];
        for (record, reason) in cases {
            let err = parse_bug(record.clone()).unwrap_err();
            assert!(err.contains(reason), "{record}: {err}");
        }
        assert!(parse_test(json!({"id": 1, "created_by": ["Ana"]}))
            .unwrap_err()
            .contains("created_by must be a string"));
        assert!(parse_test(json!({"id": 1, "end_at": 1700000000})).unwrap_err().contains("end_at must be a string"));
    }

    #[test]
    fn only_what_identifies_a_record_is_required() {
        // the seed system stores severity, title and testing_type as optional: such records keep their people
        let bug = parse_bug(json!({"id": 7, "author": {"name": "Chen S."}})).unwrap();
        assert_eq!((bug.reporter.as_deref(), bug.severity, bug.title), (Some("Chen S."), None, None));
        let test = parse_test(json!({"id": 8, "created_by": "Priya S.", "title": null})).unwrap();
        assert_eq!((test.created_by.as_deref(), test.testing_type), (Some("Priya S."), None));
        assert!(parse_test(json!({"id": 9, "start_at": "2026-09-23T17:00:00Z"})).is_ok());
        assert!(parse_test(json!({"id": 10, "testing_type": "rapid"})).is_ok());
        assert_eq!(
            parse_bug(json!({"id": 1, "title": "t", "severity": "low"})).unwrap_err(),
            "author and test are missing: a bug report names at least one of them"
        );
        assert_eq!(
            parse_test(json!({"id": 1, "title": "t"})).unwrap_err(),
            "created_by and testing_type and start_at are missing: a test cycle names at least one of them"
        );
    }

    #[test]
    fn a_record_of_the_other_kind_is_refused_as_that_kind() {
        let bug = json!({"id": 5000000, "title": "Search: error 500", "severity": "low", "status": "new",
                         "reported_at": "2026-07-20T23:30:00.000Z", "author": {"name": "Chen S."}, "test": {"id": 1}});
        let test = json!({"id": 100000, "title": "Search test #0", "status": "running", "testing_type": "coverage",
                          "start_at": "2026-09-23T17:00:00.000Z", "created_by": "Priya S."});
        assert!(parse_bug(bug.clone()).is_ok() && parse_test(test.clone()).is_ok());
        assert_eq!(
            parse_test(bug).unwrap_err(),
            "this is a bug report, not a test cycle (it has author, test, severity, reported_at): ingest it as bugs"
        );
        assert_eq!(
            parse_bug(test).unwrap_err(),
            "this is a test cycle, not a bug report (it has created_by, testing_type, start_at): ingest it as tests"
        );
    }

    #[test]
    fn every_sample_record_parses() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/sample");
        if !dir.exists() {
            eprintln!("SKIPPED: no sample exports at {}", dir.display());
            return;
        }
        let records = |file: &str| {
            let input = std::io::BufReader::new(std::fs::File::open(dir.join(file)).unwrap());
            super::super::reader::RecordReader::new(input).map(|r| r.unwrap().1).collect::<Vec<_>>()
        };
        let bugs: Vec<Bug> = records("bugs.json").into_iter().map(|v| parse_bug(v).unwrap()).collect();
        assert_eq!(bugs.len(), 300);
        // the generator leaves about 2 % of bugs without an author name
        let nameless = bugs.iter().filter(|b| b.reporter.is_none()).count();
        assert!(nameless < 30, "{nameless}");
        let tests: Vec<TestCycle> = records("tests.json").into_iter().map(|v| parse_test(v).unwrap()).collect();
        assert!(tests.iter().all(|t| t.created_by.is_some() && t.record_time().is_some()));
    }
}

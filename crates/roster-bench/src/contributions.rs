//! The contributions benchmark: generate crowd-testing exports shaped like `shared/data/generate.py`'s (bug reports
//! from a heavy-tailed set of testers, test cycles from customers), ingest them with the real `roster ingest`, and
//! time the reports over HTTP.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const FIRST: [&str; 25] = [
    "Ana", "Bruno", "Chen", "Dmitri", "Eva", "Fatima", "Gustavo", "Hana", "Ivan", "Júlia", "Kofi", "Lena", "Mateus",
    "Nora", "Oskar", "Priya", "Quentin", "Rosa", "Sven", "Tomás", "Uma", "Vikram", "Wen", "Yara", "Zoë",
];
const LAST: [&str; 20] = [
    "Almeida", "Bauer", "Costa", "Dubois", "Eriksson", "Fischer", "García", "Hoffmann", "Ito", "Jansen", "Kowalski",
    "López", "Müller", "Nakamura", "Oliveira", "Petrov", "Rossi", "Santos", "Tanaka", "Weber",
];
const AREAS: [&str; 9] =
    ["Checkout", "Login", "Search", "Profile Page", "Cart", "Payment Form", "Settings", "Onboarding", "Dashboard"];
const PROBLEMS: [&str; 8] = [
    "button does nothing",
    "layout overlaps on small screens",
    "error 500 after submit",
    "typo in label",
    "wrong total price",
    "spinner never stops",
    "crash on rotate",
    "link opens blank page",
];
const SEVERITY: [&str; 5] = ["low", "high", "critical", "visual", "content"];
const BUG_STATUS: [&str; 5] = ["accepted", "rejected", "forwarded", "auto_accepted", "fixed"];
const TEST_STATUS: [&str; 5] = ["initialized", "running", "locked", "archived", "cancelled"];
const TYPES: [&str; 4] = ["coverage", "usability", "rapid", "focused"];

/// Distinct names as generate.py makes them: "First L.", then "prefixN_Last" once those run out.
fn people(rng: &mut StdRng, n: usize, prefix: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut names = Vec::with_capacity(n);
    while names.len() < n {
        let mut name = format!("{} {}.", FIRST[rng.random_range(0..25)], &LAST[rng.random_range(0..20)][..1]);
        if seen.contains(&name) {
            name = format!("{prefix}{}_{}", names.len(), LAST[rng.random_range(0..20)]);
        }
        seen.insert(name.clone());
        names.push(name);
    }
    names
}

fn iso(unix: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.000Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Write `{"exploratory_tests": [...]}` and `{"bugs": [...]}` files into `dir`; returns their paths.
pub fn generate(
    dir: &Path,
    bugs: usize,
    tests: usize,
    testers: usize,
    customers: usize,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    let mut rng = StdRng::seed_from_u64(7);
    let now = 1_793_491_200; // 2026-11-01T00:00:00Z
    let tester_names = people(&mut rng, testers, "tester");
    let customer_names = people(&mut rng, customers, "customer");
    // a few testers report most bugs: weight 1/(i+1), sampled by binary search over the cumulative weights
    let mut cumulative = Vec::with_capacity(testers);
    let mut total = 0.0;
    for i in 0..testers {
        total += 1.0 / (i as f64 + 1.0);
        cumulative.push(total);
    }

    let tests_path = dir.join("tests.json");
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&tests_path)?);
    let mut starts = Vec::with_capacity(tests);
    out.write_all(b"{\"exploratory_tests\": [\n")?;
    for i in 0..tests {
        let start = now - rng.random_range(0..=120) * 86_400 - rng.random_range(0..=23) * 3_600;
        starts.push(start);
        let hours = [2, 24, 28][rng.random_range(0..3)];
        let submitted = if rng.random_range(0..=customers) == customers {
            serde_json::Value::Null
        } else {
            customer_names[rng.random_range(0..customers)].clone().into()
        };
        let record = serde_json::json!({
            "id": 100_000 + i, "title": format!("{} test #{i}", AREAS[rng.random_range(0..9)]),
            "status": TEST_STATUS[rng.random_range(0..5)], "testing_type": TYPES[rng.random_range(0..4)],
            "start_at": iso(start), "end_at": iso(start + hours * 3_600),
            "goal_text": "Find functional bugs", "instructions_text": "Focus on the main flow",
            "enable_low": true, "enable_high": true, "enable_critical": true,
            "created_by": customer_names[rng.random_range(0..customers)], "submitted_by": submitted,
        });
        if i > 0 {
            out.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut out, &record)?;
    }
    out.write_all(b"\n]}\n")?;
    out.flush()?;

    let bugs_path = dir.join("bugs.json");
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&bugs_path)?);
    out.write_all(b"{\"bugs\": [\n")?;
    for i in 0..bugs {
        let test = rng.random_range(0..tests.max(1));
        let reported = starts.get(test).copied().unwrap_or(now) + rng.random_range(5..=1500) * 60;
        let pick = rng.random_range(0.0..total);
        let tester = cumulative.partition_point(|&c| c < pick).min(testers - 1);
        let author = if rng.random_range(0..50) == 0 {
            serde_json::json!({})
        } else {
            serde_json::json!({"name": tester_names[tester]})
        };
        let record = serde_json::json!({
            "id": 5_000_000 + i, "title": format!("{}: {}", AREAS[rng.random_range(0..9)], PROBLEMS[rng.random_range(0..8)]),
            "severity": SEVERITY[rng.random_range(0..5)], "status": BUG_STATUS[rng.random_range(0..5)],
            "reported_at": iso(reported), "known": rng.random_range(0..20) == 0,
            "actual_result": "It fails", "expected_result": "It works",
            "steps": ["Open the page", "Do the thing", "Observe"],
            "author": author, "test": {"id": 100_000 + test},
        });
        if i > 0 {
            out.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut out, &record)?;
    }
    out.write_all(b"\n]}\n")?;
    out.flush()?;
    Ok((bugs_path, tests_path))
}

/// What one `roster ingest` run took.
pub struct IngestRun {
    pub records: u64,
    pub seconds: f64,
    pub peak_rss_kib: u64,
    /// Peak anonymous memory (heap, stacks): RSS less the database pages mapped from the file.
    pub peak_anon_kib: u64,
    pub report: serde_json::Value,
}

impl IngestRun {
    pub fn rate(&self) -> f64 {
        self.records as f64 / self.seconds
    }
}

/// `(VmHWM, RssAnon)` of a process in KiB.
fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        status.lines().find(|l| l.starts_with(name))?.split_whitespace().nth(1)?.parse().ok()
    };
    Some((field("VmHWM:")?, field("RssAnon:")?))
}

/// Run the real `roster ingest` on a file, sampling its peak RSS until it exits.
pub fn ingest(roster: &Path, url: &str, tenant: &str, what: &str, file: &Path) -> anyhow::Result<IngestRun> {
    let started = Instant::now();
    let mut child = Command::new(roster)
        .args(["ingest", what, &file.to_string_lossy(), "--tenant", tenant, "--database-url", url, "--format", "json"])
        .env("ROSTER_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {}", roster.display()))?;
    let (mut peak, mut peak_anon) = (0, 0);
    loop {
        if let Some((rss, anon)) = memory_kib(child.id()) {
            peak = peak.max(rss);
            peak_anon = peak_anon.max(anon);
        }
        if child.try_wait()?.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output()?;
    let seconds = started.elapsed().as_secs_f64();
    if !output.status.success() {
        bail!("roster ingest {what} failed: {}", output.status);
    }
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).context("the ingest summary")?;
    let records = report["records"].as_u64().unwrap_or(0);
    Ok(IngestRun { records, seconds, peak_rss_kib: peak, peak_anon_kib: peak_anon, report })
}

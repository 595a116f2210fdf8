//! `roster ingest bugs|tests FILE|- --tenant SLUG [--product-id ID] [--strict] [--batch-size N]`.

use std::io::{BufRead, BufReader, IsTerminal};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use roster::contributions::ingest::{self, IngestOptions, IngestReport};
use roster::contributions::{IngestError, Kind};

use crate::output::{self, Format};
use crate::{Context, Failure};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Records {
    /// Bug reports: `{"bugs": [...]}`, a bare array or NDJSON
    Bugs,
    /// Test cycles: `{"exploratory_tests": [...]}`, `{"exploratory_test": {...}}`, a bare array or NDJSON
    Tests,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(value_enum)]
    records: Records,
    /// The export to read, or - for standard input
    file: String,
    #[arg(long)]
    tenant: String,
    /// For test cycles: the product of cycles that do not name one
    #[arg(long)]
    product_id: Option<i64>,
    /// Write nothing if any record is rejected
    #[arg(long)]
    strict: bool,
    /// Records per transaction at most (an input that stalls commits what has arrived)
    #[arg(long, default_value_t = ingest::DEFAULT_BATCH_SIZE as u32,
        value_parser = clap::value_parser!(u32).range(1..=ingest::MAX_BATCH_SIZE as i64))]
    batch_size: u32,
}

pub async fn run(context: &Context, args: Args) -> Result<(), Failure> {
    let kind = match args.records {
        Records::Bugs => Kind::Bugs,
        Records::Tests => Kind::Tests,
    };
    if kind == Kind::Bugs && args.product_id.is_some() {
        return Err(Failure::Usage("--product-id: applies to test cycles only".into()));
    }
    let (input, size): (Box<dyn BufRead + Send>, Option<u64>) = if args.file == "-" {
        (Box::new(BufReader::with_capacity(256 * 1024, std::io::stdin())), None)
    } else {
        let file = std::fs::File::open(&args.file).map_err(|e| Failure::Usage(format!("{}: {e}", args.file)))?;
        let size = file.metadata().ok().map(|m| m.len()).filter(|&n| n > 0);
        (Box::new(BufReader::with_capacity(256 * 1024, file)), size)
    };
    let config = context.config(None)?;
    let store = super::open(&config).await?;
    let scope = super::scope(&store, &args.tenant).await?;
    let admin = scope.admin().map_err(|_| Failure::Runtime("the operator scope is an admin".into()))?;

    let batch_size = args.batch_size as usize;
    let (sender, receiver, chunk) = ingest::channel(batch_size);
    let product_id = args.product_id;
    let reading = std::thread::spawn(move || ingest::read_into(input, kind, chunk, product_id, sender));
    let mut progress = Progress::new(size, kind);
    let options = IngestOptions { kind, strict: args.strict, batch_size };
    let result = ingest::ingest(&store, admin, super::now(), options, receiver, |report| progress.show(report)).await;
    let _ = reading.join();
    progress.finish();

    match result {
        Ok(report) => {
            summary(context.format, &report);
            if report.rolled_back {
                return Err(Failure::Runtime(format!(
                    "--strict: nothing was written because {} record(s) were rejected",
                    report.rejected.len()
                )));
            }
            Ok(())
        }
        Err(failure) => {
            summary(context.format, &failure.report);
            let landed = if failure.report.rolled_back {
                "nothing was written".to_owned()
            } else {
                format!(
                    "{} records before it were written; fix the input and run the same ingest again to complete it",
                    failure.report.counts.total()
                )
            };
            Err(match failure.error {
                IngestError::Read(e) => Failure::Runtime(format!("{}: {e}; {landed}", args.file)),
                IngestError::Store(e) => Failure::Runtime(format!("{e}; {landed}")),
            })
        }
    }
}

fn summary(format: Format, report: &IngestReport) {
    match format {
        Format::Json => output::json(report),
        Format::Table => {
            let c = report.counts;
            let mut rows = vec![
                vec!["records".into(), report.records.to_string()],
                vec![
                    report.kind.as_str().into(),
                    format!("{} inserted, {} updated, {} unchanged", c.inserted, c.updated, c.unchanged),
                ],
                vec!["users".into(), format!("{} created, {} updated", report.users.created, report.users.updated)],
                vec!["rejected".into(), report.rejected.len().to_string()],
            ];
            if !report.users.linked_accounts.is_empty() {
                let accounts: Vec<String> =
                    report.users.linked_accounts.iter().map(|a| format!("{} ({})", a.username, a.role)).collect();
                rows.insert(3, vec!["linked, unchanged".into(), accounts.join(", ")]);
            }
            for rejected in &report.rejected {
                let at = match rejected.position {
                    roster::contributions::reader::Position::Index(i) => format!("index {i}"),
                    roster::contributions::reader::Position::Line(l) => format!("line {l}"),
                };
                rows.push(vec![format!("  {at}"), rejected.reason.clone()]);
            }
            output::table(&["", ""], &rows);
        }
    }
}

/// A bar on a terminal (bytes of a file of known size, with ETA), plain lines every few seconds otherwise.
struct Progress {
    bar: Option<ProgressBar>,
    size: Option<u64>,
    started: Instant,
    last_line: Instant,
}

impl Progress {
    fn new(size: Option<u64>, kind: Kind) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = match size {
                Some(size) => ProgressBar::new(size).with_style(
                    ProgressStyle::with_template(
                        "{spinner} {msg} [{wide_bar}] {bytes}/{total_bytes} ({bytes_per_sec}, ETA {eta})",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                ),
                None => ProgressBar::new_spinner().with_style(
                    ProgressStyle::with_template("{spinner} {msg} ({bytes}, {bytes_per_sec})")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                ),
            };
            bar.set_message(format!("ingesting {}", kind.as_str()));
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Self { bar, size, started: Instant::now(), last_line: Instant::now() }
    }

    fn show(&mut self, report: &IngestReport) {
        let elapsed = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = report.records as f64 / elapsed;
        match &self.bar {
            Some(bar) => {
                bar.set_position(report.bytes);
                bar.set_message(format!("{} {} ({rate:.0} records/s)", report.records, report.kind.as_str()));
            }
            None if self.last_line.elapsed() >= Duration::from_secs(5) => {
                self.last_line = Instant::now();
                let share = self
                    .size
                    .map(|size| format!(", {:.0}% of the input", report.bytes as f64 * 100.0 / size as f64))
                    .unwrap_or_default();
                eprintln!("ingested {} records ({rate:.0}/s{share})", report.records);
            }
            None => {}
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        let elapsed = self.started.elapsed().as_secs_f64();
        if self.bar.is_none() && elapsed >= 5.0 {
            eprintln!("done in {elapsed:.1} s");
        }
    }
}

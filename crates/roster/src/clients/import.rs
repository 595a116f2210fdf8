//! Bulk import of clients from CSV (a header row naming `name`, `cpf` and `birth_date`) or NDJSON (one object with
//! those fields per line), matched on CPF so that importing a file again changes nothing.
//!
//! Rows are read one line at a time, each at most [`MAX_ROW_BYTES`], so memory stays flat whatever the file holds. A
//! row with problems is rejected with its line, field and reason, and the rest is written in batches (one
//! transaction each); with `strict`, a first pass checks every row and nothing is written if any is rejected.

use std::io::BufRead;

use serde::Serialize;
use time::OffsetDateTime;

use super::{import_batch, validate, ClientError, ImportCounts, NewClient};
use crate::principal::TenantScope;
use crate::store::Store;

/// The longest row taken; a longer one is rejected (and skipped without being held in memory).
pub const MAX_ROW_BYTES: usize = 8 * 1024;
/// Rows per transaction.
pub const BATCH_ROWS: usize = 500;
/// Rejections described one by one in the report; beyond these they are counted.
pub const MAX_DESCRIBED_REJECTIONS: usize = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Ndjson,
}

impl Format {
    /// By the file's extension: `.csv`, or `.ndjson` / `.jsonl`.
    pub fn of_path(path: &str) -> Option<Format> {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".csv") {
            Some(Format::Csv)
        } else if lower.ends_with(".ndjson") || lower.ends_with(".jsonl") {
            Some(Format::Ndjson)
        } else {
            None
        }
    }
}

/// A row that was not imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejected {
    pub line: u64,
    /// The field at fault, when it is one field.
    pub field: Option<String>,
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    /// Rows read (header and blank lines not counted).
    pub rows: u64,
    pub clients: ImportCounts,
    pub rejected_count: u64,
    /// The first [`MAX_DESCRIBED_REJECTIONS`] rejections.
    pub rejected: Vec<Rejected>,
    /// False when `strict` found rejections and nothing was written.
    pub written: bool,
}

impl ImportReport {
    fn reject(&mut self, line: u64, field: Option<String>, reason: String) {
        self.rejected_count += 1;
        if self.rejected.len() < MAX_DESCRIBED_REJECTIONS {
            self.rejected.push(Rejected { line, field, reason });
        }
    }
}

/// Why an import stopped: the input could not be read, or a batch could not be written. The report says what was
/// written before.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Read(String),
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// The rows of an input, one at a time: its line, then the client it holds or why it holds none.
pub struct Rows<R> {
    input: R,
    format: Format,
    line: u64,
    columns: Option<[usize; 3]>,
    width: usize,
    buffer: Vec<u8>,
}

type Row = (u64, Result<NewClient, (Option<String>, String)>);

impl<R: BufRead> Rows<R> {
    pub fn new(input: R, format: Format) -> Self {
        Rows { input, format, line: 0, columns: None, width: 0, buffer: Vec::new() }
    }

    /// The next line, at most [`MAX_ROW_BYTES`] of it: `None` at the end, `Some(Err)` for a longer line (skipped).
    fn next_line(&mut self) -> Result<Option<Result<String, String>>, String> {
        self.buffer.clear();
        let mut too_long = false;
        loop {
            let available = self.input.fill_buf().map_err(|e| format!("line {}: {e}", self.line + 1))?;
            if available.is_empty() {
                if self.buffer.is_empty() && !too_long {
                    return Ok(None);
                }
                break;
            }
            let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (&available[..=i], true),
                None => (available, false),
            };
            let used = chunk.len();
            if !too_long && self.buffer.len() + used <= MAX_ROW_BYTES + 2 {
                self.buffer.extend_from_slice(chunk);
            } else {
                too_long = true;
                self.buffer.clear();
            }
            self.input.consume(used);
            if done {
                break;
            }
        }
        self.line += 1;
        if too_long {
            return Ok(Some(Err(format!("the row is longer than {MAX_ROW_BYTES} bytes"))));
        }
        while matches!(self.buffer.last(), Some(b'\n' | b'\r')) {
            self.buffer.pop();
        }
        Ok(Some(String::from_utf8(std::mem::take(&mut self.buffer)).map_err(|_| "the row is not UTF-8".to_owned())))
    }

    /// Find the columns in a CSV header row.
    fn header(&mut self, text: &str) -> Result<(), String> {
        let names = csv_fields(text).map_err(|e| format!("line {}: the header: {e}", self.line))?;
        let find = |wanted: &str| names.iter().position(|n| n.trim().eq_ignore_ascii_case(wanted));
        match (find("name"), find("cpf"), find("birth_date")) {
            (Some(name), Some(cpf), Some(birth_date)) => {
                let known =
                    |n: &&String| ["name", "cpf", "birth_date"].iter().any(|k| n.trim().eq_ignore_ascii_case(k));
                if let Some(other) = names.iter().find(|n| !known(n)) {
                    return Err(format!(
                        "line {}: unknown column {other:?}; the columns are name, cpf, birth_date",
                        self.line
                    ));
                }
                self.columns = Some([name, cpf, birth_date]);
                self.width = names.len();
                Ok(())
            }
            _ => Err(format!("line {}: the header must name the columns name, cpf and birth_date", self.line)),
        }
    }

    fn parse(&self, text: &str) -> Result<NewClient, (Option<String>, String)> {
        match self.format {
            Format::Ndjson => serde_json::from_str::<NewClient>(text).map_err(|e| {
                let reason = e.to_string();
                let field = ["name", "cpf", "birth_date"].iter().find(|f| reason.contains(&format!("`{f}`")));
                (field.map(|f| (*f).to_owned()), format!("not a client object: {reason}"))
            }),
            Format::Csv => {
                let fields = csv_fields(text).map_err(|e| (None, e))?;
                if fields.len() != self.width {
                    return Err((None, format!("{} columns, the header has {}", fields.len(), self.width)));
                }
                let [name, cpf, birth_date] = self.columns.expect("the header comes first");
                Ok(NewClient {
                    name: fields[name].clone(),
                    cpf: fields[cpf].clone(),
                    birth_date: fields[birth_date].clone(),
                })
            }
        }
    }

    /// The next row; an error only when the input itself cannot be read (or a CSV header is wrong).
    pub fn next_row(&mut self) -> Result<Option<Row>, String> {
        loop {
            let Some(text) = self.next_line()? else { return Ok(None) };
            let line = self.line;
            let text = match text {
                Ok(text) => text,
                Err(reason) if self.format == Format::Csv && self.columns.is_none() => {
                    return Err(format!("line {line}: the header: {reason}"))
                }
                Err(reason) => return Ok(Some((line, Err((None, reason))))),
            };
            if text.trim().is_empty() {
                continue;
            }
            if self.format == Format::Csv && self.columns.is_none() {
                self.header(text.trim_start_matches('\u{feff}'))?;
                continue;
            }
            return Ok(Some((line, self.parse(&text))));
        }
    }
}

/// The fields of one CSV line.
fn csv_fields(text: &str) -> Result<Vec<String>, String> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(text.as_bytes());
    match reader.records().next() {
        Some(Ok(record)) => Ok(record.iter().map(str::to_owned).collect()),
        Some(Err(e)) => Err(format!("not a CSV row: {e}")),
        None => Ok(Vec::new()),
    }
}

/// Import the rows `open` reads (called twice with `strict`: once to check, once to write). `progress` hears the
/// report after each batch.
pub async fn import<R: BufRead>(
    store: &Store,
    scope: &TenantScope,
    now: OffsetDateTime,
    open: impl Fn() -> Result<R, String>,
    format: Format,
    strict: bool,
    mut progress: impl FnMut(&ImportReport),
) -> Result<ImportReport, (ImportError, ImportReport)> {
    let today = now.date();
    let mut report = ImportReport::default();
    let fail = |e: ImportError, report: &ImportReport| (e, report.clone());
    if strict {
        let mut rows = Rows::new(open().map_err(|e| fail(ImportError::Read(e), &report))?, format);
        while let Some((line, row)) = rows.next_row().map_err(|e| fail(ImportError::Read(e), &report))? {
            report.rows += 1;
            check(&mut report, line, row, today);
        }
        if report.rejected_count > 0 {
            return Ok(report);
        }
        report = ImportReport::default();
    }
    let mut rows = Rows::new(open().map_err(|e| fail(ImportError::Read(e), &report))?, format);
    let mut batch = Vec::with_capacity(BATCH_ROWS);
    loop {
        let next = rows.next_row().map_err(|e| fail(ImportError::Read(e), &report))?;
        let end = next.is_none();
        if let Some((line, row)) = next {
            report.rows += 1;
            if let Some(valid) = check(&mut report, line, row, today) {
                batch.push(valid);
            }
        }
        if batch.len() >= BATCH_ROWS || (end && !batch.is_empty()) {
            let counts = import_batch(store, scope, now, std::mem::take(&mut batch))
                .await
                .map_err(|e| fail(ImportError::Client(e), &report))?;
            report.clients.created += counts.created;
            report.clients.updated += counts.updated;
            report.clients.unchanged += counts.unchanged;
            report.written = true;
            progress(&report);
        }
        if end {
            break;
        }
    }
    report.written = true;
    Ok(report)
}

/// The row's client, checked; its problems go to the report.
fn check(
    report: &mut ImportReport,
    line: u64,
    row: Result<NewClient, (Option<String>, String)>,
    today: time::Date,
) -> Option<super::ValidClient> {
    match row.map_err(|e| vec![e]).and_then(|input| {
        validate(&input, today).map_err(|errors| errors.into_iter().map(|e| (Some(e.field), e.message)).collect())
    }) {
        Ok(valid) => Some(valid),
        Err(problems) => {
            for (field, reason) in problems {
                report.reject(line, field, reason);
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str, format: Format) -> Vec<(u64, Result<String, String>)> {
        let mut rows = Rows::new(text.as_bytes(), format);
        let mut out = Vec::new();
        while let Some((line, row)) = rows.next_row().unwrap() {
            out.push((line, row.map(|c| format!("{}|{}|{}", c.name, c.cpf, c.birth_date)).map_err(|e| e.1)));
        }
        out
    }

    #[test]
    fn csv_rows_follow_their_header_and_keep_their_line_numbers() {
        let text = "\u{feff}cpf,Name,birth_date\r\n529.982.247-25,\"Souza, Ana\",1987-04-23\r\n\r\n111,Bia\n";
        let got = rows(text, Format::Csv);
        assert_eq!(got[0], (2, Ok("Souza, Ana|529.982.247-25|1987-04-23".to_owned())));
        assert_eq!(got[1].0, 4);
        assert!(got[1].1.as_ref().unwrap_err().contains("2 columns"), "{got:?}");
        let mut bad = Rows::new("name,cpf\n".as_bytes(), Format::Csv);
        assert!(bad.next_row().unwrap_err().contains("birth_date"));
        let mut extra = Rows::new("name,cpf,birth_date,notes\n".as_bytes(), Format::Csv);
        assert!(extra.next_row().unwrap_err().contains("notes"));
    }

    #[test]
    fn ndjson_rows_are_objects_with_the_three_fields() {
        let long = format!("{{\"name\": \"{}\"}}", "a".repeat(MAX_ROW_BYTES));
        let text = format!(
            "{{\"name\": \"Ana\", \"cpf\": \"52998224725\", \"birth_date\": \"1987-04-23\"}}\n\n[1]\n{long}\n\
             {{\"name\": \"Bia\", \"cpf\": \"1\", \"birth_date\": \"x\", \"extra\": 1}}\n\u{0}\u{ff}"
        );
        let got = rows(&text, Format::Ndjson);
        assert_eq!(got[0], (1, Ok("Ana|52998224725|1987-04-23".to_owned())));
        assert_eq!(got[1].0, 3);
        assert!(got[2].1.as_ref().unwrap_err().contains("longer than"), "{got:?}");
        assert_eq!(got[2].0, 4);
        assert!(got[3].1.as_ref().unwrap_err().contains("extra"), "{got:?}");
        assert_eq!(got.len(), 5, "the last, NUL and all, is a row that does not parse: {got:?}");
    }
}

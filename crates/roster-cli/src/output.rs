//! Aligned tables for people, JSON for machines.

use serde::Serialize;

/// How a command prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

/// `--format`: CSV is for reports only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    Table,
    Json,
    Csv,
}

/// Print rows as an aligned table with a header line.
pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        emit(padded.join("  ").trim_end());
    };
    if headers.iter().any(|h| !h.is_empty()) {
        line(headers.to_vec());
    }
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

pub fn json<T: Serialize>(value: &T) {
    emit(&serde_json::to_string_pretty(value).unwrap_or_default());
}

/// Print a line; a reader that went away (`| head`) is not an error worth a panic.
pub fn line(line: &str) {
    emit(line)
}

fn emit(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// An optional value for a table cell.
pub fn cell<T: ToString>(value: &Option<T>) -> String {
    value.as_ref().map_or_else(|| "-".to_owned(), ToString::to_string)
}

/// Print rows as CSV with a header record.
pub fn csv(headers: &[&str], rows: &[Vec<String>]) -> Result<(), csv::Error> {
    let mut writer = csv::Writer::from_writer(std::io::stdout().lock());
    writer.write_record(headers)?;
    for row in rows {
        writer.write_record(row)?;
    }
    writer.flush()?;
    Ok(())
}

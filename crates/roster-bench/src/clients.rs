//! The client registry: a CSV of clients imported with the real binary, then creates and lookups by CPF over HTTP.
//! A lookup that finds its client writes that client's `read` audit entry; a lookup of a valid CPF nobody has runs
//! the same query through the same route and writes nothing, so the two side by side in one run price the entry.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context as _};

/// The CPF of registered client `i`: nine digits from `i`, then their check digits. Registered clients take every
/// seventh base from 100,000,000; [`absent_cpf`] takes bases in between, so the two never meet.
pub fn registered_cpf(i: usize) -> String {
    cpf_of(100_000_000 + 7 * i as u32)
}

/// A valid CPF that no registered client has.
pub fn absent_cpf(i: usize) -> String {
    cpf_of(100_000_000 + 7 * i as u32 + 3)
}

/// A CPF made over HTTP by the create benchmark (bases past the registered ones).
pub fn created_cpf(i: usize) -> String {
    cpf_of(900_000_000 + i as u32)
}

fn cpf_of(base: u32) -> String {
    roster::clients::Cpf::from_number(base).map(|cpf| cpf.digits().to_owned()).expect("the bench's bases make CPFs")
}

/// Write `clients` rows (name, CPF, birth date) to a CSV file.
pub fn generate(path: &Path, clients: usize) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "name,cpf,birth_date")?;
    const FIRST: [&str; 8] = ["João", "Maria", "José", "Ana", "Antônio", "Francisca", "Luís", "Márcia"];
    const LAST: [&str; 8] = ["Silva", "Santos", "Oliveira", "Souza", "Pereira", "Lima", "Gonçalves", "Araújo"];
    for i in 0..clients {
        let name = format!("{} {} {i}", FIRST[i % 8], LAST[(i / 8) % 8]);
        let birth = format!("{}-{:02}-{:02}", 1940 + i % 65, 1 + i % 12, 1 + i % 28);
        writeln!(out, "{name},{},{birth}", registered_cpf(i))?;
    }
    out.flush()?;
    Ok(())
}

/// `roster client import` of the file: (rows, seconds, the summary).
pub fn import(roster: &Path, url: &str, tenant: &str, file: &Path) -> anyhow::Result<(u64, f64, serde_json::Value)> {
    let started = Instant::now();
    let output = Command::new(roster)
        .args(["client", "import", &file.to_string_lossy(), "--tenant", tenant, "--database-url", url])
        .args(["--format", "json"])
        .env("ROSTER_LOG", "warn")
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("starting {}", roster.display()))?;
    let seconds = started.elapsed().as_secs_f64();
    if !output.status.success() {
        bail!("roster client import failed: {}", output.status);
    }
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).context("the import summary")?;
    Ok((report["rows"].as_u64().unwrap_or(0), seconds, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bench_cpfs_are_valid_and_apart() {
        for i in [0, 1, 999_999] {
            for cpf in [registered_cpf(i), absent_cpf(i), created_cpf(i)] {
                assert!(roster::clients::Cpf::parse(&cpf).is_ok(), "{cpf}");
            }
            assert_ne!(registered_cpf(i), absent_cpf(i));
        }
    }
}

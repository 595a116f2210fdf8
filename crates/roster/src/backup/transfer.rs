//! Moving a database between the backends (`roster migrate-data`): SQLite → PostgreSQL when one machine is no longer
//! enough, and back for small installations and tests. Every table is copied in dependency order, in batches read by
//! primary key and written a transaction each, with every value as it was — ids, timestamps, password hashes, sealed
//! TOTP secrets, the audit chain — so the chain verifies on the target under the same secret key. At the end each
//! table's rows are counted and checksummed on both sides (an order-free sum of every row's SHA-256 over its values
//! as their kinds read them), and the target is checked as a restore is.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{check, holds_data, level_of, repo, BackupError, Check, TABLES};
use crate::migrate::Migrator;
use crate::principal::Sysadmin;
use crate::store::{Backend, Kind, Store, Value, Values};

/// Most parameters one INSERT binds: under SQLite's 32,766 and PostgreSQL's 65,535.
const MAX_PARAMETERS: usize = 30_000;

/// One table's move.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableMove {
    pub table: String,
    pub rows: u64,
    /// The order-free checksum of the rows, equal on both sides.
    pub checksum: String,
    pub seconds: f64,
}

/// What `roster migrate-data` reports.
#[derive(Debug, Clone, Serialize)]
pub struct MoveReport {
    pub from: &'static str,
    pub to: &'static str,
    pub level: i64,
    pub tables: Vec<TableMove>,
    pub check: Check,
    pub seconds: f64,
}

/// A table's shape: its columns with their kinds, and its primary key (the order it is read in).
struct Shape {
    columns: Vec<(String, Kind)>,
    key: Vec<usize>,
}

/// The kinds of every column, from whichever side is PostgreSQL.
async fn shapes(postgres: &Store, sqlite: &Store) -> Result<BTreeMap<String, Shape>, BackupError> {
    let columns = repo::postgres_columns(postgres).await?;
    let mut shapes = BTreeMap::new();
    for table in TABLES {
        let mut of_table = Vec::new();
        for (_, column, udt) in columns.iter().filter(|(t, _, _)| t == table) {
            let kind = Kind::of_postgres(udt).ok_or_else(|| {
                BackupError::Failed(format!("{table}.{column}: a column type ({udt}) roster does not move"))
            })?;
            of_table.push((column.clone(), kind));
        }
        // the SQLite side must have the same columns (the same migration level makes it so)
        let (mut on_sqlite, key) = repo::sqlite_columns(sqlite, table).await?;
        on_sqlite.sort();
        let mut on_postgres: Vec<String> = of_table.iter().map(|(c, _)| c.clone()).collect();
        on_postgres.sort();
        if on_sqlite != on_postgres {
            return Err(BackupError::Failed(format!(
                "{table}: the columns differ between the databases ({on_sqlite:?} and {on_postgres:?})"
            )));
        }
        let key = key
            .iter()
            .map(|k| of_table.iter().position(|(c, _)| c == k).expect("a key column is a column"))
            .collect::<Vec<_>>();
        if key.is_empty() {
            return Err(BackupError::Failed(format!("{table}: no primary key to read it in order by")));
        }
        shapes.insert((*table).to_owned(), Shape { columns: of_table, key });
    }
    Ok(shapes)
}

/// The bytes a value contributes to its row's checksum: the same for a value on either backend.
fn canonical(value: &Value, out: &mut Vec<u8>) -> Result<(), BackupError> {
    let mut tagged = |tag: u8, bytes: &[u8]| {
        out.push(tag);
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        out.extend_from_slice(bytes);
    };
    match value {
        Value::Null => tagged(0, &[]),
        Value::Bool(b) => tagged(1, &[u8::from(*b)]),
        Value::I64(i) => tagged(2, &i.to_le_bytes()),
        Value::F64(f) => tagged(3, &f.to_bits().to_le_bytes()),
        Value::Text(t) => tagged(4, t.as_bytes()),
        Value::Bytes(b) => tagged(5, b),
        Value::Uuid(u) => tagged(6, u.as_bytes()),
        Value::Timestamp(t) => tagged(7, &crate::store::to_micros(*t).to_le_bytes()),
        Value::Date(d) => tagged(8, d.to_string().as_bytes()),
        // JSON by its value, not its spelling: jsonb keeps neither key order nor spaces
        Value::Json(j) => tagged(9, j.to_string().as_bytes()),
        Value::JsonText(t) => {
            let parsed: serde_json::Value = serde_json::from_str(t)
                .map_err(|e| BackupError::Failed(format!("stored JSON that does not parse: {e}")))?;
            tagged(9, parsed.to_string().as_bytes())
        }
        Value::Array(_) => return Err(BackupError::Failed("an array column".into())),
    }
    Ok(())
}

/// An order-free sum of row hashes.
#[derive(Default)]
struct Checksum(u128);

impl Checksum {
    fn add(&mut self, row: &[Value]) -> Result<(), BackupError> {
        let mut bytes = Vec::with_capacity(256);
        for value in row {
            canonical(value, &mut bytes)?;
        }
        let digest = Sha256::digest(&bytes);
        self.0 = self.0.wrapping_add(u128::from_le_bytes(digest[..16].try_into().expect("16 bytes")));
        Ok(())
    }

    fn hex(&self) -> String {
        format!("{:032x}", self.0)
    }
}

/// Read a table in primary-key order, a batch at a time, each value as its kind: `visit` gets every batch.
async fn scan(
    store: &Store,
    table: &str,
    shape: &Shape,
    batch: usize,
    mut visit: impl AsyncFnMut(Vec<Vec<Value>>) -> Result<(), BackupError>,
) -> Result<(), BackupError> {
    let names: Vec<&str> = shape.columns.iter().map(|(c, _)| c.as_str()).collect();
    let key: Vec<&str> = shape.key.iter().map(|&i| names[i]).collect();
    let mut after: Option<Vec<Value>> = None;
    loop {
        let rows = repo::page(store, table, &names, &key, after.take(), batch).await?;
        let done = rows.len() < batch;
        let mut typed = Vec::with_capacity(rows.len());
        for Values(row) in rows {
            let row = row
                .into_iter()
                .zip(&shape.columns)
                .map(|(v, (column, kind))| {
                    v.into_kind(*kind).map_err(|e| BackupError::Failed(format!("{table}.{column}: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            typed.push(row);
        }
        if let Some(last) = typed.last() {
            after = Some(shape.key.iter().map(|&i| last[i].clone()).collect());
        }
        let empty = typed.is_empty();
        if !empty {
            visit(typed).await?;
        }
        if done || empty {
            return Ok(());
        }
    }
}

/// Write rows in one transaction, as few INSERTs as the parameter limit allows.
async fn write(target: &Store, table: &str, shape: &Shape, rows: Vec<Vec<Value>>) -> Result<(), BackupError> {
    let names: Vec<&str> = shape.columns.iter().map(|(c, _)| c.as_str()).collect();
    let per_statement = (MAX_PARAMETERS / names.len()).max(1);
    let mut tx = target.begin_large().await?;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Value>> = rows.by_ref().take(per_statement).collect();
        repo::insert(&mut tx, table, &names, chunk).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// How far a move has come, for a progress display.
pub struct Progress<'a> {
    pub table: &'a str,
    pub rows: u64,
    /// The table's rows when the move started.
    pub total: u64,
}

/// Copy every row of `from` into `to`: one SQLite and one PostgreSQL database, the source at this binary's
/// migration level, the target empty (it is migrated here). `report` hears of every batch written.
pub async fn transfer(
    from: &Store,
    to: &Store,
    batch: usize,
    mut report: impl FnMut(Progress<'_>),
) -> Result<MoveReport, BackupError> {
    let started = Instant::now();
    if from.backend() == to.backend() {
        return Err(BackupError::Refused(format!(
            "both databases are {}: migrate-data moves between SQLite and PostgreSQL (to copy one {0} database, use \
             roster backup and roster restore)",
            from.backend().name()
        )));
    }
    let (level, unknown) = level_of(from).await?;
    if !unknown.is_empty() {
        return Err(super::newer(level, &unknown));
    }
    if level != super::binary_level() {
        return Err(BackupError::Refused(format!(
            "--from: the database is at migration level {level}, this binary at {}: run `roster migrate up` on it first",
            super::binary_level()
        )));
    }
    let (target_level, unknown) = level_of(to).await?;
    if !unknown.is_empty() {
        return Err(super::newer(target_level, &unknown));
    }
    if let Some(problem) = crate::audit::key::key_match(from).await?.problem() {
        return Err(BackupError::Refused(format!("--from: {problem}")));
    }
    // migrated without the key: the target takes the source's record of it with the rows
    Migrator::new(&to.clone().with_chain_key(None), &crate::migrations()).up(None).await?;
    if holds_data(to).await? {
        return Err(BackupError::Refused(
            "--to: the database holds data; migrate-data writes only into an empty database".into(),
        ));
    }
    crate::audit::key::forget_key_of_empty(to, &Sysadmin::operator_unchecked(crate::principal::Actor::cli())).await?;
    // every change writes an audit entry in its transaction: heads that moved mean the source changed meanwhile
    let heads_before = repo::audit_heads(from).await?;
    let (postgres, sqlite) = if from.backend() == Backend::Postgres { (from, to) } else { (to, from) };
    let shapes = shapes(postgres, sqlite).await?;
    let counts = super::counts(from).await?;

    let mut tables = Vec::new();
    for table in TABLES {
        let table_started = Instant::now();
        let shape = &shapes[*table];
        let total = counts.get(*table).copied().unwrap_or(0) as u64;
        let mut copied = 0u64;
        let mut source_sum = Checksum::default();
        scan(from, table, shape, batch, async |rows: Vec<Vec<Value>>| {
            for row in &rows {
                source_sum.add(row)?;
            }
            copied += rows.len() as u64;
            write(to, table, shape, rows).await?;
            report(Progress { table, rows: copied, total });
            Ok(())
        })
        .await?;
        // read back from the target: the same rows, the same values
        let mut target_sum = Checksum::default();
        let mut written = 0u64;
        scan(to, table, shape, batch, async |rows: Vec<Vec<Value>>| {
            written += rows.len() as u64;
            for row in &rows {
                target_sum.add(row)?;
            }
            Ok(())
        })
        .await?;
        let now_in_source = repo::count(from, table).await?;
        if written != copied || target_sum.0 != source_sum.0 {
            return Err(BackupError::Failed(format!(
                "{table}: {copied} rows read, {written} on the target, checksums {} and {}: the copy differs",
                source_sum.hex(),
                target_sum.hex()
            )));
        }
        if now_in_source as u64 != copied {
            return Err(BackupError::Failed(format!(
                "{table}: the source has {now_in_source} rows now, {copied} were copied: it changed during the move \
                 (stop every roster serve using it, and move into an empty database again)"
            )));
        }
        tables.push(TableMove {
            table: (*table).to_owned(),
            rows: copied,
            checksum: source_sum.hex(),
            seconds: table_started.elapsed().as_secs_f64(),
        });
    }
    let heads_after = repo::audit_heads(from).await?;
    if heads_after != heads_before {
        return Err(BackupError::Failed(
            "the source's audit log moved during the move: something changed it (stop every roster serve using it, \
             and move into an empty database again)"
                .into(),
        ));
    }
    if to.backend() == Backend::Postgres {
        repo::analyze(to).await?;
    }
    let checked = check(to).await?;
    let problems = checked.problems();
    if !problems.is_empty() {
        return Err(BackupError::Failed(format!(
            "the moved database does not check out: {} (a chain sealed under another secret key does not verify: \
             move with the key of the server that wrote it, ROSTER_SECRET_KEY or the roster.key beside the SQLite \
             database)",
            problems.join("; ")
        )));
    }
    Ok(MoveReport {
        from: from.backend().name(),
        to: to.backend().name(),
        level,
        tables,
        check: checked,
        seconds: started.elapsed().as_secs_f64(),
    })
}

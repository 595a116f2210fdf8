//! The SQL of backups and moves. They work on the whole database, every tenant at once, as the migrator does: the
//! operator holds the database already, so no scope is asked for. (The copying itself — `VACUUM INTO`, `pg_dump`'s
//! exported snapshot — is the drivers' own machinery, in `sqlite.rs` and `postgres.rs`.)

use uuid::Uuid;

use crate::store::{Backend, Store, StoreError, Tx, Value, Values};

/// The tables of the database (its current schema on PostgreSQL), by name.
pub async fn tables(store: &Store) -> Result<Vec<String>, StoreError> {
    let sql = match store.backend() {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
        Backend::Postgres => {
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
        }
    };
    Ok(store.query::<(String,)>(sql, vec![]).await?.into_iter().map(|(t,)| t).collect())
}

/// Rows in one table (a name from `backup::TABLES`).
pub async fn count(store: &Store, table: &str) -> Result<i64, StoreError> {
    Ok(store.query_one::<(i64,)>(format!("SELECT COUNT(*) FROM {table}"), vec![]).await?.0)
}

/// SQLite's `PRAGMA integrity_check`, its lines joined ("ok" when whole).
pub async fn integrity(store: &Store) -> Result<String, StoreError> {
    let rows: Vec<(String,)> = store.query("PRAGMA integrity_check", vec![]).await?;
    Ok(rows.into_iter().map(|(r,)| r).collect::<Vec<_>>().join("; "))
}

/// Every tenant's audit head: any change moves one.
pub async fn audit_heads(store: &Store) -> Result<Vec<(Uuid, i64)>, StoreError> {
    store.query("SELECT tenant_id, seq FROM audit_heads ORDER BY tenant_id", vec![]).await
}

/// The functions of a PostgreSQL database's current schema, by name.
pub async fn functions(store: &Store) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String,)> = store
        .query(
            "SELECT p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
             WHERE n.nspname = current_schema()",
            vec![],
        )
        .await?;
    Ok(rows.into_iter().map(|(f,)| f).collect())
}

/// Drop tables and functions (PostgreSQL), in one transaction.
pub async fn drop_all(store: &Store, tables: &[String], functions: &[String]) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    for table in tables {
        tx.execute(format!("DROP TABLE IF EXISTS \"{table}\" CASCADE"), vec![]).await?;
    }
    for function in functions {
        tx.execute(format!("DROP FUNCTION IF EXISTS \"{function}\" CASCADE"), vec![]).await?;
    }
    tx.commit().await
}

/// (table, column, type name) of every column of a PostgreSQL database's current schema, in table order.
pub async fn postgres_columns(store: &Store) -> Result<Vec<(String, String, String)>, StoreError> {
    store
        .query(
            "SELECT table_name::text, column_name::text, udt_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
            vec![],
        )
        .await
}

/// A SQLite table's columns, and its primary key's columns in key order.
pub async fn sqlite_columns(store: &Store, table: &str) -> Result<(Vec<String>, Vec<String>), StoreError> {
    let rows: Vec<(String, i64)> =
        store.query(format!("SELECT name, pk FROM pragma_table_info('{table}') ORDER BY cid"), vec![]).await?;
    let mut key: Vec<(i64, String)> = rows.iter().filter(|(_, pk)| *pk > 0).map(|(c, pk)| (*pk, c.clone())).collect();
    key.sort();
    Ok((rows.into_iter().map(|(c, _)| c).collect(), key.into_iter().map(|(_, c)| c).collect()))
}

/// Up to `limit` rows of `table`'s `columns` in the order of its `key` columns, after the key `after`.
pub async fn page(
    store: &Store,
    table: &str,
    columns: &[&str],
    key: &[&str],
    after: Option<Vec<Value>>,
    limit: usize,
) -> Result<Vec<Values>, StoreError> {
    let (condition, params) = match after {
        None => (String::new(), Vec::new()),
        Some(last) => {
            let marks: Vec<String> = (1..=key.len()).map(|i| format!("${i}")).collect();
            (format!(" WHERE ({}) > ({})", key.join(", "), marks.join(", ")), last)
        }
    };
    let sql =
        format!("SELECT {} FROM {table}{condition} ORDER BY {} LIMIT {limit}", columns.join(", "), key.join(", "));
    store.query(sql, params).await
}

/// Insert rows into `table` in one statement (the caller keeps it under the parameter limits).
pub async fn insert(tx: &mut Tx, table: &str, columns: &[&str], rows: Vec<Vec<Value>>) -> Result<(), StoreError> {
    let mut tuples = Vec::with_capacity(rows.len());
    let mut params = Vec::with_capacity(rows.len() * columns.len());
    for row in rows {
        let first = params.len();
        let marks: Vec<String> = (1..=row.len()).map(|i| format!("${}", first + i)).collect();
        tuples.push(format!("({})", marks.join(", ")));
        params.extend(row);
    }
    let sql = format!("INSERT INTO {table} ({}) VALUES {}", columns.join(", "), tuples.join(", "));
    tx.execute(sql, params).await.map(|_| ())
}

/// Fresh planner statistics (after a bulk load).
pub async fn analyze(store: &Store) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    tx.execute_batch("ANALYZE").await?;
    tx.commit().await
}

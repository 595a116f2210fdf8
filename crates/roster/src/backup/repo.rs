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

/// Every object of the schema (tables with their columns and constraints, indexes, triggers, functions, views, rules,
/// sequences), one line each: its kind, name and definition as the database states it, with the schema's own name
/// taken out of the definitions (a reference schema of another name must read the same). Two databases made by the
/// same migrations give the same lines.
pub async fn schema_objects(store: &Store) -> Result<std::collections::BTreeSet<String>, StoreError> {
    let rows: Vec<(String, String, String)> = match store.backend() {
        Backend::Sqlite => {
            store
                .query(
                    "SELECT type, name, COALESCE(sql, '') FROM sqlite_master \
                     WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name",
                    vec![],
                )
                .await?
        }
        Backend::Postgres => {
            store
                .query(
                    "SELECT 'column', table_name || '.' || column_name, \
                            data_type || ' ' || is_nullable || ' ' || COALESCE(column_default, '') \
                     FROM information_schema.columns WHERE table_schema = current_schema() \
                     UNION ALL SELECT 'relation ' || c.relkind::text, c.relname::text, '' FROM pg_class c \
                     WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind NOT IN ('i', 't', 'c') \
                     UNION ALL SELECT 'index', indexname::text, indexdef FROM pg_indexes \
                     WHERE schemaname = current_schema() \
                     UNION ALL SELECT 'constraint', c.conrelid::regclass::text || '.' || c.conname, \
                            pg_get_constraintdef(c.oid) FROM pg_constraint c \
                     WHERE c.connamespace = current_schema()::regnamespace \
                     UNION ALL SELECT 'trigger', c.relname || '.' || t.tgname, pg_get_triggerdef(t.oid) \
                     FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
                     WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace \
                     UNION ALL SELECT 'function', p.proname::text, pg_get_functiondef(p.oid) FROM pg_proc p \
                     WHERE p.pronamespace = current_schema()::regnamespace \
                     UNION ALL SELECT 'rule', tablename || '.' || rulename, definition FROM pg_rules \
                     WHERE schemaname = current_schema() \
                     UNION ALL SELECT 'policy', tablename || '.' || policyname, COALESCE(qual, '') FROM pg_policies \
                     WHERE schemaname = current_schema() \
                     UNION ALL SELECT 'schema', current_schema(), '' \
                     ORDER BY 1, 2",
                    vec![],
                )
                .await?
        }
    };
    let schema = match store.backend() {
        Backend::Sqlite => None,
        Backend::Postgres => Some(store.query_one::<(String,)>("SELECT current_schema()::text", vec![]).await?.0),
    };
    Ok(rows
        .into_iter()
        .map(|(kind, name, definition)| {
            let mut definition = definition.split_whitespace().collect::<Vec<_>>().join(" ");
            let mut name = name;
            if let Some(schema) = &schema {
                for qualified in [format!("\"{schema}\"."), format!("{schema}.")] {
                    definition = definition.replace(&qualified, "");
                    name = name.replace(&qualified, "");
                }
                if kind == "schema" {
                    name = "(current)".into();
                }
            }
            format!("{kind} {name}: {definition}")
        })
        .collect())
}

/// Whether the connection's role could reach the operating system through what a restore runs (a superuser, or a
/// member of the roles that run programs and read or write the server's files): its name, when it could.
pub async fn role_reaching_the_system(store: &Store) -> Result<Option<String>, StoreError> {
    let (name, reaches): (String, bool) = store
        .query_one(
            "SELECT current_user::text, r.rolsuper \
                 OR pg_has_role(current_user, 'pg_execute_server_program', 'MEMBER') \
                 OR pg_has_role(current_user, 'pg_write_server_files', 'MEMBER') \
                 OR pg_has_role(current_user, 'pg_read_server_files', 'MEMBER') \
             FROM pg_roles r WHERE r.rolname = current_user",
            vec![],
        )
        .await?;
    Ok(reaches.then_some(name))
}

/// The scratch schemas a restore builds its reference in (`roster_reference_…`), left by a restore that was killed.
pub async fn reference_schemas(store: &Store) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String,)> = store
        .query("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'roster\\_reference\\_%'", vec![])
        .await?;
    Ok(rows.into_iter().map(|(name,)| name).collect())
}

/// Create (or, with `create` false, drop with everything in it) a scratch schema of a restore (PostgreSQL). The
/// name is one the restore made: `roster_reference_` and hex digits.
pub async fn scratch_schema(store: &Store, name: &str, create: bool) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    let sql = if create { format!("CREATE SCHEMA {name}") } else { format!("DROP SCHEMA IF EXISTS {name} CASCADE") };
    tx.execute_batch(sql).await?;
    tx.commit().await
}

//! The plan for distributing the schema by tenant on a distributed PostgreSQL (Citus), as docs/scaling.md describes
//! it, and the test that holds every migration to it: each table is a reference table named here, or is distributed
//! on `tenant_id` — its primary key starts with `tenant_id`, its unique indexes include it (or are a global lookup
//! named here), and its foreign keys to other distributed tables carry it (so joins stay on one node).

/// Copied whole to every node: small, read by every tenant's requests (the tenants; the one row naming the secret
/// key every chain is sealed under).
pub const REFERENCE_TABLES: &[&str] = &["tenants", "secret_key_fingerprint"];

/// The migrator's bookkeeping: on the coordinator only.
pub const LOCAL_TABLES: &[&str] = &["schema_migrations"];

/// Unique over every tenant, looked up by a secret's hash before the tenant is known (a bearer token, an API key, an
/// emailed link). Distributed, each becomes a lookup table keyed by the hash that names the tenant, written in the
/// same transaction as the row.
pub const GLOBAL_UNIQUE_INDEXES: &[&str] = &["api_keys_hash_key", "sessions_token_key", "user_tokens_hash_key"];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Backend, Store};

    /// (table, primary key columns in order)
    async fn primary_keys(store: &Store) -> Vec<(String, Vec<String>)> {
        let mut out = Vec::new();
        for table in crate::backup::tables_present(store).await.unwrap() {
            let columns: Vec<(String,)> = match store.backend() {
                Backend::Sqlite => {
                    store
                        .query(
                            format!("SELECT name FROM pragma_table_info('{table}') WHERE pk > 0 ORDER BY pk"),
                            vec![],
                        )
                        .await
                }
                Backend::Postgres => {
                    store
                        .query(
                            "SELECT a.attname::text FROM pg_index i \
                             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
                             WHERE i.indrelid = $1::text::regclass AND i.indisprimary \
                             ORDER BY array_position(i.indkey::int2[], a.attnum)",
                            vec![table.clone().into()],
                        )
                        .await
                }
            }
            .unwrap();
            out.push((table, columns.into_iter().map(|(c,)| c).collect()));
        }
        out
    }

    /// (table, index name, whether it covers `tenant_id`) of every unique index but the primary keys.
    async fn unique_indexes(store: &Store) -> Vec<(String, String, bool)> {
        match store.backend() {
            Backend::Sqlite => {
                let mut out = Vec::new();
                for table in crate::backup::tables_present(store).await.unwrap() {
                    let indexes: Vec<(String, String)> = store
                        .query(
                            format!("SELECT name, origin FROM pragma_index_list('{table}') WHERE \"unique\" = 1"),
                            vec![],
                        )
                        .await
                        .unwrap();
                    for (name, _) in indexes.into_iter().filter(|(_, origin)| origin != "pk") {
                        let columns: Vec<(Option<String>,)> =
                            store.query(format!("SELECT name FROM pragma_index_info('{name}')"), vec![]).await.unwrap();
                        let covers = columns.iter().any(|(c,)| c.as_deref() == Some("tenant_id"));
                        out.push((table.clone(), name, covers));
                    }
                }
                out
            }
            Backend::Postgres => store
                .query::<(String, String, String)>(
                    "SELECT t.relname::text, c.relname::text, pg_get_indexdef(i.indexrelid) FROM pg_index i \
                     JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid \
                     JOIN pg_namespace n ON n.oid = t.relnamespace \
                     WHERE n.nspname = current_schema() AND i.indisunique AND NOT i.indisprimary",
                    vec![],
                )
                .await
                .unwrap()
                .into_iter()
                .map(|(table, name, definition)| {
                    let columns = definition.split_once(" USING ").map_or("", |(_, rest)| rest);
                    (table, name, columns.contains("tenant_id"))
                })
                .collect(),
        }
    }

    /// (table, referenced table, the foreign key's columns) of every foreign key.
    async fn foreign_keys(store: &Store) -> Vec<(String, String, Vec<String>)> {
        match store.backend() {
            Backend::Sqlite => {
                let mut out = Vec::new();
                for table in crate::backup::tables_present(store).await.unwrap() {
                    let rows: Vec<(i64, String, String)> = store
                        .query(
                            format!("SELECT id, \"table\", \"from\" FROM pragma_foreign_key_list('{table}') ORDER BY id, seq"),
                            vec![],
                        )
                        .await
                        .unwrap();
                    let mut keys: Vec<(i64, String, Vec<String>)> = Vec::new();
                    for (id, parent, column) in rows {
                        match keys.last_mut() {
                            Some((last, _, columns)) if *last == id => columns.push(column),
                            _ => keys.push((id, parent, vec![column])),
                        }
                    }
                    out.extend(keys.into_iter().map(|(_, parent, columns)| (table.clone(), parent, columns)));
                }
                out
            }
            Backend::Postgres => store
                .query::<(String, String, String)>(
                    "SELECT t.relname::text, p.relname::text, \
                     (SELECT string_agg(a.attname, ',') FROM pg_attribute a \
                      WHERE a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)) \
                     FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class p ON p.oid = c.confrelid \
                     JOIN pg_namespace n ON n.oid = t.relnamespace \
                     WHERE c.contype = 'f' AND n.nspname = current_schema()",
                    vec![],
                )
                .await
                .unwrap()
                .into_iter()
                .map(|(table, parent, columns)| (table, parent, columns.split(',').map(str::to_owned).collect()))
                .collect(),
        }
    }

    crate::store_test!(every_table_follows_the_distribution_plan, |db| async move {
        let backend = db.store.backend().name();
        let mut problems = Vec::new();
        let keys = primary_keys(&db.store).await;
        assert!(keys.len() > 20, "{keys:?}");
        for (table, key) in &keys {
            let named = REFERENCE_TABLES.contains(&table.as_str()) || LOCAL_TABLES.contains(&table.as_str());
            if !named && key.first().map(String::as_str) != Some("tenant_id") {
                problems.push(format!("{table}: primary key {key:?} does not start with tenant_id"));
            }
        }
        for listed in REFERENCE_TABLES.iter().chain(LOCAL_TABLES) {
            assert!(keys.iter().any(|(t, _)| t == listed), "{listed} is named in the plan but not in the schema");
        }
        let distributed = |table: &str| !REFERENCE_TABLES.contains(&table) && !LOCAL_TABLES.contains(&table);
        let uniques = unique_indexes(&db.store).await;
        for (table, index, covers) in &uniques {
            if distributed(table) && !covers && !GLOBAL_UNIQUE_INDEXES.contains(&index.as_str()) {
                problems.push(format!("{table}: unique index {index} leaves out tenant_id and is no named lookup"));
            }
        }
        for global in GLOBAL_UNIQUE_INDEXES {
            assert!(uniques.iter().any(|(_, i, _)| i == global), "{global} is named in the plan but not in the schema");
        }
        for (table, parent, columns) in foreign_keys(&db.store).await {
            if distributed(&table) && distributed(&parent) && !columns.iter().any(|c| c == "tenant_id") {
                problems.push(format!("{table} → {parent}: the foreign key {columns:?} does not carry tenant_id"));
            }
        }
        assert!(problems.is_empty(), "{backend}: {problems:#?}");
    });
}

use super::*;

crate::store_test!(the_table_list_is_every_table_of_the_schema, |db| async move {
    let mut present = tables_present(&db.store).await.unwrap();
    present.retain(|t| t != "schema_migrations");
    let mut listed: Vec<String> = TABLES.iter().map(|t| (*t).to_owned()).collect();
    listed.sort();
    assert_eq!(present, listed, "a new table must join backup::TABLES (parents before the tables that refer to them)");
    let check = check(&db.store).await.unwrap();
    assert_eq!(check.level, binary_level());
    assert_eq!(check.counts.len(), TABLES.len());
    assert!(check.problems().is_empty(), "{check:?}");
});

#[tokio::test]
async fn parents_come_before_the_tables_that_refer_to_them() {
    let db = crate::testing::TestDb::sqlite().await;
    for (index, table) in TABLES.iter().enumerate() {
        let parents: Vec<(String,)> = db
            .store
            .query(format!("SELECT DISTINCT \"table\" FROM pragma_foreign_key_list('{table}')"), vec![])
            .await
            .unwrap();
        for (parent,) in parents.iter().filter(|(p,)| p != table) {
            let at = TABLES.iter().position(|t| t == parent).unwrap_or_else(|| panic!("{parent} is not listed"));
            assert!(at < index, "{table} refers to {parent}, which is listed after it");
        }
    }
}

#[test]
fn a_manifest_sits_beside_its_file_and_files_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nightly.db");
    assert_eq!(manifest_path(&file), dir.path().join("nightly.db.manifest.json"));
    std::fs::write(&file, b"SQLite format 3\0and more").unwrap();
    assert_eq!(file_kind(&file).unwrap(), FileKind::Sqlite);
    std::fs::write(&file, b"PGDMP\x01\x0e").unwrap();
    assert_eq!(file_kind(&file).unwrap(), FileKind::PgDump);
    std::fs::write(&file, b"<html>").unwrap();
    assert!(matches!(file_kind(&file), Err(BackupError::Refused(_))));
    std::fs::write(&file, b"").unwrap();
    assert!(matches!(file_kind(&file), Err(BackupError::Refused(_))));
}

#[test]
fn differences_name_the_table_and_both_counts() {
    let expected = BTreeMap::from([("users".to_owned(), 3), ("bugs".to_owned(), 2)]);
    let found = BTreeMap::from([("users".to_owned(), 2)]);
    assert_eq!(count_differences(&expected, &found), ["bugs: 2 → missing", "users: 3 → 2"]);
    assert!(count_differences(&expected, &expected).is_empty());
}

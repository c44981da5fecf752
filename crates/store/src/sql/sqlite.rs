//! Metadata in SQLite (WAL, `synchronous=FULL`): a committed write survives a crash.
//! The embedded default: one process owns the file, so there is nothing to announce and
//! nothing to lock against.

use crate::error::{StoreError, StoreResult};
use crate::meta::{Change, Held};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::path::Path;
use std::time::Duration;

/// Every migration, in order: version, name, SQL (embedded: the binary needs no files).
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("migrations/sqlite/0001_init.sql")),
    (
        2,
        "uploads",
        include_str!("migrations/sqlite/0002_uploads.sql"),
    ),
    (
        3,
        "day_counts",
        include_str!("migrations/sqlite/0003_day_counts.sql"),
    ),
    (
        4,
        "digest",
        include_str!("migrations/sqlite/0004_digest.sql"),
    ),
    (
        5,
        "finished_uploads",
        include_str!("migrations/sqlite/0005_finished_uploads.sql"),
    ),
    (
        6,
        "content_and_grants",
        include_str!("migrations/sqlite/0006_content_and_grants.sql"),
    ),
];

pub struct SqliteMeta {
    pool: SqlitePool,
}

impl SqliteMeta {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        super::migrator(MIGRATIONS)
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(Self { pool })
    }

    /// Nothing to announce: no other process opens the file.
    async fn announce(_: &mut sqlx::SqliteConnection, _: &[Change]) -> StoreResult<()> {
        Ok(())
    }

    fn subscribe(&self) -> Option<tokio::sync::broadcast::Receiver<Change>> {
        None
    }

    /// Always granted: one process owns the file.
    async fn try_hold(&self, _: &str) -> StoreResult<Option<Held>> {
        Ok(Some(Box::new(())))
    }
}

crate::sql::queries::sql_meta_store!(
    SqliteMeta,
    sqlx::Sqlite,
    sqlx::SqliteConnection,
    sqlx::sqlite::SqliteRow
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MetaStore;

    #[tokio::test]
    async fn a_database_from_before_the_digest_rename_keeps_its_media() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.db");
        let old_key = "ab".repeat(32);
        {
            // The schema as it was before migration 4, with one media in it.
            let options = SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true);
            let pool = SqlitePoolOptions::new()
                .connect_with(options)
                .await
                .unwrap();
            super::super::migrator(&MIGRATIONS[..3])
                .run(&pool)
                .await
                .unwrap();
            sqlx::query(
                "INSERT INTO media (file_token, document, parent_type, file_name, mime_type, \
                 size, sha256, deleted, created_at_ms, modified_at_ms) \
                 VALUES ('boxOld', 'doxOld', 'docx_image', 'a.png', 'image/png', 3, ?, 0, 1, 2)",
            )
            .bind(&old_key)
            .execute(&pool)
            .await
            .unwrap();
            pool.close().await;
        }
        let meta = SqliteMeta::open(&path).await.unwrap();
        let media = meta
            .media("boxOld")
            .await
            .unwrap()
            .expect("the media survives the migration");
        assert_eq!(media.digest, old_key);
        assert_eq!((media.size, media.modified_at_ms), (3, 2));
    }
}

//! Metadata in SQLite (WAL, `synchronous=FULL`): a committed write survives a crash.

use crate::error::{StoreError, StoreResult};
use crate::meta::{Batch, MetaStore, Page, PageRequest};
use crate::model::*;
use async_trait::async_trait;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, SqlSafeStr};
use std::path::Path;
use std::time::Duration;

/// The schema, embedded so the binary needs no files beside it.
fn migrator() -> Migrator {
    Migrator::with_migrations(migrations())
}

/// Every migration, in order: version, name, SQL.
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
];

fn migrations() -> Vec<Migration> {
    MIGRATIONS
        .iter()
        .map(|&(version, name, sql)| {
            Migration::new(
                version,
                name.into(),
                MigrationType::Simple,
                sql.into_sql_str(),
                false,
            )
        })
        .collect()
}

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
        migrator()
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(Self { pool })
    }

    /// Runs a one-parameter DELETE; whether a row went.
    /// Deletes an app or a user, its tokens, and its roles on every document, in one
    /// transaction.
    async fn delete_principal(
        &self,
        delete: &'static str,
        delete_tokens: &'static str,
        who: Principal,
    ) -> StoreResult<bool> {
        let id = match &who {
            Principal::App(id) | Principal::User(id) => id.clone(),
        };
        let mut tx = self.pool.begin().await?;
        let gone = sqlx::query(delete)
            .bind(&id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        sqlx::query(delete_tokens)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        let rows = sqlx::query("SELECT * FROM documents")
            .fetch_all(&mut *tx)
            .await?;
        for row in &rows {
            if let Some(d) = document_row(row)?.without(&who) {
                insert_document(&mut tx, &d).await?;
            }
        }
        tx.commit().await?;
        Ok(gone)
    }

    /// One page of a listing: `sql` takes (an optional `first` bind,) the key to start
    /// after and a limit, and is asked for one row more than the page, to tell whether
    /// more follow; `row` reads a row, `key` names an item's key.
    async fn page<T>(
        &self,
        sql: &'static str,
        first: Option<&str>,
        page: &PageRequest,
        row: fn(&SqliteRow) -> StoreResult<T>,
        key: fn(&T) -> &str,
    ) -> StoreResult<Page<T>> {
        let size = page.size.max(1);
        let mut q = sqlx::query(sql);
        if let Some(first) = first {
            q = q.bind(first);
        }
        let rows = q
            .bind(page.after.as_deref().unwrap_or(""))
            .bind(i64::try_from(size).unwrap_or(i64::MAX - 1) + 1)
            .fetch_all(&self.pool)
            .await?;
        let items = rows.iter().map(row).collect::<StoreResult<_>>()?;
        Ok(Page::of(items, size, key))
    }

    async fn delete_where(&self, sql: &'static str, id: &str) -> StoreResult<bool> {
        Ok(sqlx::query(sql)
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected()
            > 0)
    }
}

fn json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    Ok(serde_json::to_string(v)?)
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> StoreResult<T> {
    Ok(serde_json::from_str(s)?)
}

fn opt_json<T: serde::de::DeserializeOwned>(s: Option<String>) -> StoreResult<Option<T>> {
    s.map(|s| from_json(&s)).transpose()
}

fn principal(s: Option<String>) -> StoreResult<Option<Principal>> {
    s.map(|p| Principal::parse(&p).ok_or_else(|| StoreError::Corrupt(format!("principal {p:?}"))))
        .transpose()
}

fn u64_of(v: i64, what: &str) -> StoreResult<u64> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} {v}")))
}

fn i64_of(v: u64, what: &str) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::Backend(format!("{what} {v} too large")))
}

fn parent_type_of(s: String) -> StoreResult<ParentType> {
    ParentType::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("parent_type {s:?}")))
}

fn upload_row(r: &SqliteRow) -> StoreResult<UploadSession> {
    Ok(UploadSession {
        upload_id: r.try_get("upload_id")?,
        app_id: r.try_get("app_id")?,
        tenant_key: r.try_get("tenant_key")?,
        principal: principal(Some(r.try_get("principal")?))?.expect("Some in, Some out"),
        file_name: r.try_get("file_name")?,
        parent_type: parent_type_of(r.try_get("parent_type")?)?,
        parent_node: r.try_get("parent_node")?,
        document: r.try_get("document")?,
        size: u64_of(r.try_get("size")?, "size")?,
        block_num: u64_of(r.try_get("block_num")?, "block_num")?,
        created_at_ms: r.try_get("created_at_ms")?,
        expires_at_ms: r.try_get("expires_at_ms")?,
        file_token: r.try_get("file_token")?,
    })
}

async fn insert_document(conn: &mut sqlx::SqliteConnection, d: &Document) -> StoreResult<()> {
    sqlx::query(
        "INSERT OR REPLACE INTO documents
         (token, doc_type, tenant_key, owner, advanced_permission, members)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&d.token)
    .bind(d.doc_type.as_str())
    .bind(&d.tenant_key)
    .bind(d.owner.as_ref().map(|o| o.to_string()))
    .bind(d.advanced_permission)
    .bind(json(&d.members)?)
    .execute(conn)
    .await?;
    Ok(())
}

async fn insert_media(conn: &mut sqlx::SqliteConnection, m: &Media) -> StoreResult<()> {
    sqlx::query(
        "INSERT OR REPLACE INTO media
         (file_token, document, parent_type, parent_node, file_name, mime_type, size,
          digest, bitable, uploader, deleted, created_at_ms, modified_at_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&m.file_token)
    .bind(&m.document)
    .bind(m.parent_type.as_str())
    .bind(&m.parent_node)
    .bind(&m.file_name)
    .bind(&m.mime_type)
    .bind(i64_of(m.size, "size")?)
    .bind(&m.digest)
    .bind(m.bitable.as_ref().map(json).transpose()?)
    .bind(m.uploader.as_ref().map(|p| p.to_string()))
    .bind(m.deleted)
    .bind(m.created_at_ms)
    .bind(m.modified_at_ms)
    .execute(conn)
    .await?;
    Ok(())
}

fn app_row(r: &SqliteRow) -> StoreResult<App> {
    Ok(App {
        app_id: r.try_get("app_id")?,
        app_secret: r.try_get("app_secret")?,
        tenant_key: r.try_get("tenant_key")?,
        scopes: from_json(&r.try_get::<String, _>("scopes")?)?,
        rate_limit: opt_json(r.try_get("rate_limit")?)?,
    })
}

fn user_row(r: &SqliteRow) -> StoreResult<User> {
    Ok(User {
        user_id: r.try_get("user_id")?,
        tenant_key: r.try_get("tenant_key")?,
        name: r.try_get("name")?,
    })
}

fn token_row(r: &SqliteRow) -> StoreResult<AccessToken> {
    let kind: String = r.try_get("kind")?;
    Ok(AccessToken {
        hash: r.try_get("hash")?,
        kind: StoredTokenKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("token kind {kind:?}")))?,
        app_id: r.try_get("app_id")?,
        tenant_key: r.try_get("tenant_key")?,
        user_id: r.try_get("user_id")?,
        scopes: opt_json(r.try_get("scopes")?)?,
        issued_at_ms: r.try_get("issued_at_ms")?,
        expires_at_ms: r.try_get("expires_at_ms")?,
    })
}

fn document_row(r: &SqliteRow) -> StoreResult<Document> {
    let doc_type: String = r.try_get("doc_type")?;
    let owner: Option<String> = r.try_get("owner")?;
    Ok(Document {
        token: r.try_get("token")?,
        doc_type: DocType::parse(&doc_type)
            .ok_or_else(|| StoreError::Corrupt(format!("document type {doc_type:?}")))?,
        tenant_key: r.try_get("tenant_key")?,
        owner: owner
            .map(|o| {
                Principal::parse(&o).ok_or_else(|| StoreError::Corrupt(format!("owner {o:?}")))
            })
            .transpose()?,
        advanced_permission: r.try_get("advanced_permission")?,
        members: from_json(&r.try_get::<String, _>("members")?)?,
    })
}

fn media_row(r: &SqliteRow) -> StoreResult<Media> {
    Ok(Media {
        file_token: r.try_get("file_token")?,
        document: r.try_get("document")?,
        parent_type: parent_type_of(r.try_get("parent_type")?)?,
        parent_node: r.try_get("parent_node")?,
        file_name: r.try_get("file_name")?,
        mime_type: r.try_get("mime_type")?,
        size: u64_of(r.try_get("size")?, "size")?,
        digest: r.try_get("digest")?,
        bitable: opt_json(r.try_get("bitable")?)?,
        uploader: principal(r.try_get("uploader")?)?,
        deleted: r.try_get("deleted")?,
        created_at_ms: r.try_get("created_at_ms")?,
        modified_at_ms: r.try_get("modified_at_ms")?,
    })
}

#[async_trait]
impl MetaStore for SqliteMeta {
    async fn apply(&self, batch: &Batch) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        for a in &batch.apps {
            sqlx::query(
                "INSERT OR REPLACE INTO apps (app_id, app_secret, tenant_key, scopes, rate_limit)
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(&a.app_id)
            .bind(&a.app_secret)
            .bind(&a.tenant_key)
            .bind(json(&a.scopes)?)
            .bind(a.rate_limit.as_ref().map(json).transpose()?)
            .execute(&mut *tx)
            .await?;
        }
        for u in &batch.users {
            sqlx::query(
                "INSERT OR REPLACE INTO users (user_id, tenant_key, name) VALUES (?, ?, ?)",
            )
            .bind(&u.user_id)
            .bind(&u.tenant_key)
            .bind(&u.name)
            .execute(&mut *tx)
            .await?;
        }
        for k in &batch.tokens {
            sqlx::query(
                "INSERT OR REPLACE INTO tokens
                 (hash, kind, app_id, tenant_key, user_id, scopes, issued_at_ms, expires_at_ms)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&k.hash)
            .bind(k.kind.as_str())
            .bind(&k.app_id)
            .bind(&k.tenant_key)
            .bind(&k.user_id)
            .bind(k.scopes.as_ref().map(json).transpose()?)
            .bind(k.issued_at_ms)
            .bind(k.expires_at_ms)
            .execute(&mut *tx)
            .await?;
        }
        for d in &batch.documents {
            insert_document(&mut tx, d).await?;
        }
        for m in &batch.media {
            insert_media(&mut tx, m).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn app(&self, app_id: &str) -> StoreResult<Option<App>> {
        let row = sqlx::query("SELECT * FROM apps WHERE app_id = ?")
            .bind(app_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(app_row).transpose()
    }

    async fn user(&self, user_id: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query("SELECT * FROM users WHERE user_id = ?")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_row).transpose()
    }

    async fn token(&self, hash: &str) -> StoreResult<Option<AccessToken>> {
        let row = sqlx::query("SELECT * FROM tokens WHERE hash = ?")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(token_row).transpose()
    }

    async fn latest_token(
        &self,
        app_id: &str,
        kind: StoredTokenKind,
    ) -> StoreResult<Option<AccessToken>> {
        let row = sqlx::query(
            "SELECT * FROM tokens WHERE app_id = ? AND kind = ?
             ORDER BY issued_at_ms DESC, hash DESC LIMIT 1",
        )
        .bind(app_id)
        .bind(kind.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(token_row).transpose()
    }

    async fn document(&self, token: &str) -> StoreResult<Option<Document>> {
        let row = sqlx::query("SELECT * FROM documents WHERE token = ?")
            .bind(token)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(document_row).transpose()
    }

    async fn media(&self, file_token: &str) -> StoreResult<Option<Media>> {
        let row = sqlx::query("SELECT * FROM media WHERE file_token = ?")
            .bind(file_token)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(media_row).transpose()
    }

    async fn purge_expired_tokens(&self, before_ms: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM tokens WHERE expires_at_ms < ? AND kind != 'user'")
            .bind(before_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn page_media(&self, page: PageRequest) -> StoreResult<Page<Media>> {
        self.page(
            "SELECT * FROM media WHERE file_token > ? ORDER BY file_token LIMIT ?",
            None,
            &page,
            media_row,
            |m: &Media| &m.file_token,
        )
        .await
    }

    async fn put_upload(&self, u: &UploadSession) -> StoreResult<()> {
        sqlx::query(
            "INSERT OR REPLACE INTO uploads
             (upload_id, app_id, tenant_key, principal, file_name, parent_type, parent_node,
              document, size, block_num, created_at_ms, expires_at_ms, file_token)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&u.upload_id)
        .bind(&u.app_id)
        .bind(&u.tenant_key)
        .bind(u.principal.to_string())
        .bind(&u.file_name)
        .bind(u.parent_type.as_str())
        .bind(&u.parent_node)
        .bind(&u.document)
        .bind(i64_of(u.size, "size")?)
        .bind(i64_of(u.block_num, "block_num")?)
        .bind(u.created_at_ms)
        .bind(u.expires_at_ms)
        .bind(&u.file_token)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn upload(&self, upload_id: &str) -> StoreResult<Option<UploadSession>> {
        let row = sqlx::query("SELECT * FROM uploads WHERE upload_id = ?")
            .bind(upload_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(upload_row).transpose()
    }

    async fn finish_upload(&self, upload_id: &str, media: &Media) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let marked = sqlx::query(
            "UPDATE uploads SET file_token = ? WHERE upload_id = ? AND file_token IS NULL",
        )
        .bind(&media.file_token)
        .bind(upload_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if marked == 0 {
            return Ok(false);
        }
        insert_media(&mut tx, media).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn delete_upload(&self, upload_id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM uploads WHERE upload_id = ?")
            .bind(upload_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn expired_uploads(&self, before_ms: i64) -> StoreResult<Vec<String>> {
        let rows = sqlx::query("SELECT upload_id FROM uploads WHERE expires_at_ms < ?")
            .bind(before_ms)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get("upload_id")?)).collect()
    }

    async fn open_uploads(&self, app_id: &str, now_ms: i64) -> StoreResult<(u64, u64)> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS bytes FROM uploads
             WHERE app_id = ? AND file_token IS NULL AND expires_at_ms > ?",
        )
        .bind(app_id)
        .bind(now_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok((
            u64_of(row.try_get("n")?, "count")?,
            u64_of(row.try_get("bytes")?, "bytes")?,
        ))
    }

    async fn page_apps(&self, page: PageRequest) -> StoreResult<Page<App>> {
        self.page(
            "SELECT * FROM apps WHERE app_id > ? ORDER BY app_id LIMIT ?",
            None,
            &page,
            app_row,
            |a: &App| &a.app_id,
        )
        .await
    }

    async fn page_users(&self, page: PageRequest) -> StoreResult<Page<User>> {
        self.page(
            "SELECT * FROM users WHERE user_id > ? ORDER BY user_id LIMIT ?",
            None,
            &page,
            user_row,
            |u: &User| &u.user_id,
        )
        .await
    }

    async fn page_tokens(
        &self,
        kind: StoredTokenKind,
        page: PageRequest,
    ) -> StoreResult<Page<AccessToken>> {
        self.page(
            "SELECT * FROM tokens WHERE kind = ? AND hash > ? ORDER BY hash LIMIT ?",
            Some(kind.as_str()),
            &page,
            token_row,
            |t: &AccessToken| &t.hash,
        )
        .await
    }

    async fn page_documents(&self, page: PageRequest) -> StoreResult<Page<Document>> {
        self.page(
            "SELECT * FROM documents WHERE token > ? ORDER BY token LIMIT ?",
            None,
            &page,
            document_row,
            |d: &Document| &d.token,
        )
        .await
    }

    async fn delete_app(&self, app_id: &str) -> StoreResult<bool> {
        self.delete_principal(
            "DELETE FROM apps WHERE app_id = ?",
            "DELETE FROM tokens WHERE app_id = ?",
            Principal::App(app_id.to_owned()),
        )
        .await
    }

    async fn delete_user(&self, user_id: &str) -> StoreResult<bool> {
        self.delete_principal(
            "DELETE FROM users WHERE user_id = ?",
            "DELETE FROM tokens WHERE user_id = ?",
            Principal::User(user_id.to_owned()),
        )
        .await
    }

    async fn delete_token(&self, hash: &str) -> StoreResult<bool> {
        self.delete_where("DELETE FROM tokens WHERE hash = ?", hash)
            .await
    }

    async fn delete_document(&self, token: &str) -> StoreResult<bool> {
        self.delete_where("DELETE FROM documents WHERE token = ?", token)
            .await
    }

    async fn delete_media(&self, file_token: &str) -> StoreResult<bool> {
        self.delete_where("DELETE FROM media WHERE file_token = ?", file_token)
            .await
    }

    async fn wipe(&self) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        for table in [
            "apps",
            "users",
            "tokens",
            "documents",
            "media",
            "uploads",
            "day_counts",
        ] {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn day_count(&self, key: &str, day: i64) -> StoreResult<u64> {
        let row = sqlx::query("SELECT count FROM day_counts WHERE key = ? AND day = ?")
            .bind(key)
            .bind(day)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => u64_of(r.try_get("count")?, "count"),
            None => Ok(0),
        }
    }

    async fn save_day_counts(&self, counts: &[(String, i64, u64)]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        if let Some(oldest) = counts.iter().map(|c| c.1).min() {
            sqlx::query("DELETE FROM day_counts WHERE day < ?")
                .bind(oldest)
                .execute(&mut *tx)
                .await?;
        }
        for (key, day, count) in counts {
            sqlx::query("INSERT OR REPLACE INTO day_counts (key, day, count) VALUES (?, ?, ?)")
                .bind(key)
                .bind(day)
                .bind(i64_of(*count, "count")?)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            Migrator::with_migrations(migrations()[..3].to_vec())
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

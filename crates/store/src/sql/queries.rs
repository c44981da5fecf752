//! The [`MetaStore`](crate::MetaStore) implementation for SQL engines: one text of SQL,
//! expanded once per engine by [`sql_meta_store!`].
//!
//! The SQL is the subset SQLite (3.24+) and PostgreSQL share: `$N` parameters (sqlx's
//! SQLite driver numbers them as PostgreSQL does), `INSERT … ON CONFLICT … DO UPDATE`,
//! integers as `BIGINT`. A macro and not generics: sqlx's engine-generic bounds (an
//! executor per connection type, encode and decode per column type, `Send` futures)
//! would be longer than the code they abstract, and each expansion is checked against
//! its engine's concrete types.
//!
//! The engine's type supplies `pool` and an `announce(conn, changes)` method, called
//! inside each writing transaction: SQLite's does nothing (one process owns the file),
//! PostgreSQL's tells the other replicas what to drop from their caches.

/// Upserts, by primary key, written out once for both engines.
pub(crate) const UPSERT_APP: &str =
    "INSERT INTO apps (app_id, app_secret, tenant_key, scopes, rate_limit, redirect_uris)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (app_id) DO UPDATE SET app_secret = excluded.app_secret,
       tenant_key = excluded.tenant_key, scopes = excluded.scopes,
       rate_limit = excluded.rate_limit, redirect_uris = excluded.redirect_uris";

pub(crate) const UPSERT_USER: &str =
    "INSERT INTO users (user_id, tenant_key, name) VALUES ($1, $2, $3)
     ON CONFLICT (user_id) DO UPDATE SET tenant_key = excluded.tenant_key, name = excluded.name";

pub(crate) const UPSERT_TOKEN: &str = "INSERT INTO tokens
       (hash, kind, app_id, tenant_key, user_id, scopes, issued_at_ms, expires_at_ms)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (hash) DO UPDATE SET kind = excluded.kind, app_id = excluded.app_id,
       tenant_key = excluded.tenant_key, user_id = excluded.user_id,
       scopes = excluded.scopes, issued_at_ms = excluded.issued_at_ms,
       expires_at_ms = excluded.expires_at_ms";

pub(crate) const UPSERT_DOCUMENT: &str = "INSERT INTO documents
       (token, doc_type, tenant_key, owner, advanced_permission, members, content)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (token) DO UPDATE SET doc_type = excluded.doc_type,
       tenant_key = excluded.tenant_key, owner = excluded.owner,
       advanced_permission = excluded.advanced_permission, members = excluded.members,
       content = excluded.content";

pub(crate) const UPSERT_GRANT: &str = "INSERT INTO grants
       (hash, kind, app_id, tenant_key, user_id, scopes, redirect_uri, code_challenge,
        challenge_method, issued_at_ms, expires_at_ms, used_at_ms)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     ON CONFLICT (hash) DO UPDATE SET kind = excluded.kind, app_id = excluded.app_id,
       tenant_key = excluded.tenant_key, user_id = excluded.user_id,
       scopes = excluded.scopes, redirect_uri = excluded.redirect_uri,
       code_challenge = excluded.code_challenge,
       challenge_method = excluded.challenge_method,
       issued_at_ms = excluded.issued_at_ms, expires_at_ms = excluded.expires_at_ms,
       used_at_ms = excluded.used_at_ms";

pub(crate) const UPSERT_MEDIA: &str = "INSERT INTO media
       (file_token, document, parent_type, parent_node, file_name, mime_type, size,
        digest, bitable, uploader, deleted, created_at_ms, modified_at_ms)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
     ON CONFLICT (file_token) DO UPDATE SET document = excluded.document,
       parent_type = excluded.parent_type, parent_node = excluded.parent_node,
       file_name = excluded.file_name, mime_type = excluded.mime_type,
       size = excluded.size, digest = excluded.digest, bitable = excluded.bitable,
       uploader = excluded.uploader, deleted = excluded.deleted,
       created_at_ms = excluded.created_at_ms, modified_at_ms = excluded.modified_at_ms";

pub(crate) const UPSERT_UPLOAD: &str = "INSERT INTO uploads
       (upload_id, app_id, tenant_key, principal, file_name, parent_type, parent_node,
        document, size, block_num, created_at_ms, expires_at_ms, file_token)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
     ON CONFLICT (upload_id) DO UPDATE SET app_id = excluded.app_id,
       tenant_key = excluded.tenant_key, principal = excluded.principal,
       file_name = excluded.file_name, parent_type = excluded.parent_type,
       parent_node = excluded.parent_node, document = excluded.document,
       size = excluded.size, block_num = excluded.block_num,
       created_at_ms = excluded.created_at_ms, expires_at_ms = excluded.expires_at_ms,
       file_token = excluded.file_token";

/// A day's count only grows: replicas that count in process (no shared limits) each
/// save theirs, and the larger is kept rather than the last written.
pub(crate) const UPSERT_DAY_COUNT: &str =
    "INSERT INTO day_counts (key, day, count) VALUES ($1, $2, $3)
     ON CONFLICT (key, day) DO UPDATE SET count =
       CASE WHEN excluded.count > day_counts.count THEN excluded.count ELSE day_counts.count END";

/// How many keys one `IN (…)` read binds: far below either engine's parameter limit
/// (SQLite's is 32 766), and few enough that the statement stays small.
pub(crate) const MANY_MAX: usize = 500;

/// `$1, $2, …, $n`.
pub(crate) fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Expands to the engine's `MetaStore` impl and its helpers. `$store` has fields `pool:
/// sqlx::Pool<$db>` and an `async fn announce(conn: &mut $conn, changes: &[Change])`.
macro_rules! sql_meta_store {
    ($store:ty, $db:ty, $conn:ty, $row:ty) => {
        mod meta_store_impl {
        use super::*;
        use $crate::error::StoreResult;
        use $crate::meta::{Batch, Change, MetaStore, Page, PageRequest};
        use $crate::model::*;
        use $crate::sql::queries::*;
        use $crate::sql::rows::*;

        async fn insert_document(conn: &mut $conn, d: &Document) -> StoreResult<()> {
            sqlx::query(UPSERT_DOCUMENT)
                .bind(&d.token)
                .bind(d.doc_type.as_str())
                .bind(&d.tenant_key)
                .bind(d.owner.as_ref().map(|o| o.to_string()))
                .bind(d.advanced_permission)
                .bind(json(&d.members)?)
                .bind(json(&d.content)?)
                .execute(conn)
                .await?;
            Ok(())
        }

        async fn insert_media(conn: &mut $conn, m: &Media) -> StoreResult<()> {
            sqlx::query(UPSERT_MEDIA)
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

        impl $store {
            /// Deletes an app or a user, its tokens, and its roles on every document, in
            /// one transaction.
            async fn delete_principal(
                &self,
                delete: &'static str,
                delete_tokens: &'static str,
                delete_grants: &'static str,
                who: Principal,
                change: Change,
            ) -> StoreResult<bool> {
                let id = match &who {
                    Principal::App(id) | Principal::User(id) => id.clone(),
                };
                if !storable(&id) {
                    return Ok(false);
                }
                let mut tx = self.pool.begin().await?;
                let gone = sqlx::query(delete)
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    > 0;
                for sql in [delete_tokens, delete_grants] {
                    sqlx::query(sql).bind(&id).execute(&mut *tx).await?;
                }
                let rows = sqlx::query("SELECT * FROM documents")
                    .fetch_all(&mut *tx)
                    .await?;
                for row in &rows {
                    if let Some(d) = document_row(row)?.without(&who) {
                        insert_document(&mut tx, &d).await?;
                    }
                }
                Self::announce(&mut tx, &[change, Change::AllTokens, Change::AllDocuments])
                    .await?;
                tx.commit().await?;
                Ok(gone)
            }

            /// One page of a listing: `sql` takes (an optional `first` bind,) the key to
            /// start after and a limit, and is asked for one row more than the page, to
            /// tell whether more follow; `row` reads a row, `key` names an item's key.
            async fn page<T>(
                &self,
                sql: &'static str,
                first: Option<&str>,
                page: &PageRequest,
                row: fn(&$row) -> StoreResult<T>,
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

            /// Runs a one-parameter DELETE and announces `change`; whether a row went.
            async fn delete_where(
                &self,
                sql: &'static str,
                id: &str,
                change: Change,
            ) -> StoreResult<bool> {
                if !storable(id) {
                    return Ok(false);
                }
                let mut tx = self.pool.begin().await?;
                let gone = sqlx::query(sql)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    > 0;
                if gone {
                    Self::announce(&mut tx, &[change]).await?;
                }
                tx.commit().await?;
                Ok(gone)
            }
        }

        #[async_trait::async_trait]
        impl MetaStore for $store {
            async fn apply(&self, batch: &Batch) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                for a in &batch.apps {
                    sqlx::query(UPSERT_APP)
                        .bind(&a.app_id)
                        .bind(&a.app_secret)
                        .bind(&a.tenant_key)
                        .bind(json(&a.scopes)?)
                        .bind(a.rate_limit.as_ref().map(json).transpose()?)
                        .bind(json(&a.redirect_uris)?)
                        .execute(&mut *tx)
                        .await?;
                }
                for u in &batch.users {
                    sqlx::query(UPSERT_USER)
                        .bind(&u.user_id)
                        .bind(&u.tenant_key)
                        .bind(&u.name)
                        .execute(&mut *tx)
                        .await?;
                }
                for k in &batch.tokens {
                    sqlx::query(UPSERT_TOKEN)
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
                Self::announce(&mut tx, &Change::of_batch(batch)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn app(&self, app_id: &str) -> StoreResult<Option<App>> {
                if !storable(app_id) {
                    return Ok(None);
                }
                let row = sqlx::query("SELECT * FROM apps WHERE app_id = $1")
                    .bind(app_id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(app_row).transpose()
            }

            async fn user(&self, user_id: &str) -> StoreResult<Option<User>> {
                if !storable(user_id) {
                    return Ok(None);
                }
                let row = sqlx::query("SELECT * FROM users WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(user_row).transpose()
            }

            async fn token(&self, hash: &str) -> StoreResult<Option<AccessToken>> {
                if !storable(hash) {
                    return Ok(None);
                }
                let row = sqlx::query("SELECT * FROM tokens WHERE hash = $1")
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
                if !storable(app_id) {
                    return Ok(None);
                }
                let row = sqlx::query(
                    "SELECT * FROM tokens WHERE app_id = $1 AND kind = $2
                     ORDER BY issued_at_ms DESC, hash DESC LIMIT 1",
                )
                .bind(app_id)
                .bind(kind.as_str())
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(token_row).transpose()
            }

            async fn document(&self, token: &str) -> StoreResult<Option<Document>> {
                if !storable(token) {
                    return Ok(None);
                }
                let row = sqlx::query("SELECT * FROM documents WHERE token = $1")
                    .bind(token)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(document_row).transpose()
            }

            async fn media(&self, file_token: &str) -> StoreResult<Option<Media>> {
                if !storable(file_token) {
                    return Ok(None);
                }
                let row = sqlx::query("SELECT * FROM media WHERE file_token = $1")
                    .bind(file_token)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(media_row).transpose()
            }

            async fn media_many(
                &self,
                file_tokens: &[String],
            ) -> StoreResult<Vec<Option<Media>>> {
                let mut found = std::collections::HashMap::with_capacity(file_tokens.len());
                for chunk in file_tokens.chunks(MANY_MAX) {
                    let keys: Vec<&str> = chunk
                        .iter()
                        .map(String::as_str)
                        .filter(|t| storable(t))
                        .collect();
                    if keys.is_empty() {
                        continue;
                    }
                    let sql = format!(
                        "SELECT * FROM media WHERE file_token IN ({})",
                        placeholders(keys.len())
                    );
                    // Only placeholders are formatted in; the tokens are bound.
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for k in keys {
                        q = q.bind(k);
                    }
                    for row in q.fetch_all(&self.pool).await? {
                        let m = media_row(&row)?;
                        found.insert(m.file_token.clone(), m);
                    }
                }
                Ok(file_tokens.iter().map(|t| found.get(t).cloned()).collect())
            }

            async fn document_media(&self, document: &str) -> StoreResult<Vec<Media>> {
                if !storable(document) {
                    return Ok(Vec::new());
                }
                let rows = sqlx::query(
                    "SELECT * FROM media WHERE document = $1
                     ORDER BY created_at_ms, file_token",
                )
                .bind(document)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(media_row).collect()
            }

            async fn put_grant(&self, g: &Grant) -> StoreResult<()> {
                sqlx::query(UPSERT_GRANT)
                    .bind(&g.hash)
                    .bind(g.kind.as_str())
                    .bind(&g.app_id)
                    .bind(&g.tenant_key)
                    .bind(&g.user_id)
                    .bind(json(&g.scopes)?)
                    .bind(&g.redirect_uri)
                    .bind(&g.code_challenge)
                    .bind(&g.challenge_method)
                    .bind(g.issued_at_ms)
                    .bind(g.expires_at_ms)
                    .bind(g.used_at_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn spend_grant(&self, hash: &str, now_ms: i64) -> StoreResult<Option<Grant>> {
                if !storable(hash) {
                    return Ok(None);
                }
                // One statement marks it spent, so of two racing calls one wins; the
                // row it returns is the grant before (its used_at_ms was NULL).
                let spent = sqlx::query(
                    "UPDATE grants SET used_at_ms = $2
                     WHERE hash = $1 AND used_at_ms IS NULL RETURNING *",
                )
                .bind(hash)
                .bind(now_ms)
                .fetch_optional(&self.pool)
                .await?;
                if let Some(row) = spent {
                    let mut g = grant_row(&row)?;
                    g.used_at_ms = None;
                    return Ok(Some(g));
                }
                let row = sqlx::query("SELECT * FROM grants WHERE hash = $1")
                    .bind(hash)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(grant_row).transpose()
            }

            async fn purge_expired_tokens(&self, before_ms: i64) -> StoreResult<u64> {
                let mut tx = self.pool.begin().await?;
                let n = sqlx::query(
                    "DELETE FROM tokens WHERE expires_at_ms < $1 AND kind != 'user'",
                )
                .bind(before_ms)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                let grants = sqlx::query("DELETE FROM grants WHERE expires_at_ms < $1")
                    .bind(before_ms)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if n > 0 {
                    Self::announce(&mut tx, &[Change::AllTokens]).await?;
                }
                tx.commit().await?;
                Ok(n + grants)
            }

            async fn page_media(&self, page: PageRequest) -> StoreResult<Page<Media>> {
                self.page(
                    "SELECT * FROM media WHERE file_token > $1 ORDER BY file_token LIMIT $2",
                    None,
                    &page,
                    media_row,
                    |m: &Media| &m.file_token,
                )
                .await
            }

            async fn put_upload(&self, u: &UploadSession) -> StoreResult<()> {
                sqlx::query(UPSERT_UPLOAD)
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
                if !storable(upload_id) {
                    return Ok(None);
                }
                let row = sqlx::query("SELECT * FROM uploads WHERE upload_id = $1")
                    .bind(upload_id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(upload_row).transpose()
            }

            async fn finish_upload(&self, upload_id: &str, media: &Media) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await?;
                let marked = sqlx::query(
                    "UPDATE uploads SET file_token = $1 WHERE upload_id = $2 AND file_token IS NULL",
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
                Self::announce(&mut tx, &[Change::Media(media.file_token.clone())]).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn delete_upload(&self, upload_id: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM uploads WHERE upload_id = $1")
                    .bind(upload_id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn expired_uploads(&self, before_ms: i64) -> StoreResult<Vec<String>> {
                let rows = sqlx::query("SELECT upload_id FROM uploads WHERE expires_at_ms < $1")
                    .bind(before_ms)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(|r| r.text("upload_id")).collect()
            }

            async fn open_uploads(&self, app_id: &str, now_ms: i64) -> StoreResult<(u64, u64)> {
                // The cast: PostgreSQL sums BIGINTs as NUMERIC.
                let row = sqlx::query(
                    "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(size), 0) AS BIGINT) AS bytes
                     FROM uploads
                     WHERE app_id = $1 AND file_token IS NULL AND expires_at_ms > $2",
                )
                .bind(app_id)
                .bind(now_ms)
                .fetch_one(&self.pool)
                .await?;
                Ok((
                    u64_of(row.int("n")?, "count")?,
                    u64_of(row.int("bytes")?, "bytes")?,
                ))
            }

            async fn page_apps(&self, page: PageRequest) -> StoreResult<Page<App>> {
                self.page(
                    "SELECT * FROM apps WHERE app_id > $1 ORDER BY app_id LIMIT $2",
                    None,
                    &page,
                    app_row,
                    |a: &App| &a.app_id,
                )
                .await
            }

            async fn page_users(&self, page: PageRequest) -> StoreResult<Page<User>> {
                self.page(
                    "SELECT * FROM users WHERE user_id > $1 ORDER BY user_id LIMIT $2",
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
                    "SELECT * FROM tokens WHERE kind = $1 AND hash > $2 ORDER BY hash LIMIT $3",
                    Some(kind.as_str()),
                    &page,
                    token_row,
                    |t: &AccessToken| &t.hash,
                )
                .await
            }

            async fn page_uploads(&self, page: PageRequest) -> StoreResult<Page<UploadSession>> {
                self.page(
                    "SELECT * FROM uploads WHERE upload_id > $1 ORDER BY upload_id LIMIT $2",
                    None,
                    &page,
                    upload_row,
                    |u: &UploadSession| &u.upload_id,
                )
                .await
            }

            async fn page_documents(&self, page: PageRequest) -> StoreResult<Page<Document>> {
                self.page(
                    "SELECT * FROM documents WHERE token > $1 ORDER BY token LIMIT $2",
                    None,
                    &page,
                    document_row,
                    |d: &Document| &d.token,
                )
                .await
            }

            async fn delete_app(&self, app_id: &str) -> StoreResult<bool> {
                self.delete_principal(
                    "DELETE FROM apps WHERE app_id = $1",
                    "DELETE FROM tokens WHERE app_id = $1",
                    "DELETE FROM grants WHERE app_id = $1",
                    Principal::App(app_id.to_owned()),
                    Change::App(app_id.to_owned()),
                )
                .await
            }

            async fn delete_user(&self, user_id: &str) -> StoreResult<bool> {
                self.delete_principal(
                    "DELETE FROM users WHERE user_id = $1",
                    "DELETE FROM tokens WHERE user_id = $1",
                    "DELETE FROM grants WHERE user_id = $1",
                    Principal::User(user_id.to_owned()),
                    Change::User(user_id.to_owned()),
                )
                .await
            }

            async fn delete_token(&self, hash: &str) -> StoreResult<bool> {
                self.delete_where(
                    "DELETE FROM tokens WHERE hash = $1",
                    hash,
                    Change::Token(hash.to_owned()),
                )
                .await
            }

            async fn delete_document(&self, token: &str) -> StoreResult<bool> {
                self.delete_where(
                    "DELETE FROM documents WHERE token = $1",
                    token,
                    Change::Document(token.to_owned()),
                )
                .await
            }

            async fn delete_media(&self, file_token: &str) -> StoreResult<bool> {
                self.delete_where(
                    "DELETE FROM media WHERE file_token = $1",
                    file_token,
                    Change::Media(file_token.to_owned()),
                )
                .await
            }

            async fn wipe(&self) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                for sql in [
                    "DELETE FROM apps",
                    "DELETE FROM users",
                    "DELETE FROM tokens",
                    "DELETE FROM documents",
                    "DELETE FROM media",
                    "DELETE FROM uploads",
                    "DELETE FROM grants",
                    "DELETE FROM day_counts",
                ] {
                    sqlx::query(sql).execute(&mut *tx).await?;
                }
                Self::announce(&mut tx, &[Change::Everything]).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn day_count(&self, key: &str, day: i64) -> StoreResult<u64> {
                let row = sqlx::query("SELECT count FROM day_counts WHERE key = $1 AND day = $2")
                    .bind(key)
                    .bind(day)
                    .fetch_optional(&self.pool)
                    .await?;
                match row {
                    Some(r) => u64_of(r.int("count")?, "count"),
                    None => Ok(0),
                }
            }

            async fn save_day_counts(&self, counts: &[(String, i64, u64)]) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                if let Some(oldest) = counts.iter().map(|c| c.1).min() {
                    sqlx::query("DELETE FROM day_counts WHERE day < $1")
                        .bind(oldest)
                        .execute(&mut *tx)
                        .await?;
                }
                for (key, day, count) in counts {
                    sqlx::query(UPSERT_DAY_COUNT)
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

            fn changes(&self) -> Option<tokio::sync::broadcast::Receiver<Change>> {
                self.subscribe()
            }

            async fn exclusive(&self, name: &str) -> StoreResult<Option<$crate::meta::Held>> {
                self.try_hold(name).await
            }
        }
        }
    };
}

pub(crate) use sql_meta_store;

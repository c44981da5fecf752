//! A read-through cache in front of any [`MetaStore`], for the download path's keyed
//! reads (token, app, document, media), which otherwise cost a database round trip each.
//!
//! Correct while every write goes through this wrapper, which holds for one process
//! on the embedded store: each write first drops what it may change. Replicas sharing
//! a database would each need invalidation from the others (not done yet).

use crate::error::StoreResult;
use crate::meta::{Batch, MetaStore, Page, PageRequest};
use crate::model::{AccessToken, App, Document, Media, StoredTokenKind, UploadSession, User};
use async_trait::async_trait;

/// Entries kept per kind; past it the least used go first (quick_cache's CLOCK-Pro).
const MAX_ENTRIES: usize = 100_000;

/// One kind's entries, by key.
struct Map<V>(quick_cache::sync::Cache<String, V>);

impl<V: Clone> Map<V> {
    fn new() -> Self {
        Self(quick_cache::sync::Cache::new(MAX_ENTRIES))
    }

    fn get(&self, k: &str) -> Option<V> {
        self.0.get(k)
    }

    fn put(&self, k: &str, v: V) {
        self.0.insert(k.to_owned(), v);
    }

    fn drop_key(&self, k: &str) {
        self.0.remove(k);
    }

    fn clear(&self) {
        self.0.clear();
    }
}

pub struct CachedMeta<M> {
    inner: M,
    apps: Map<App>,
    users: Map<User>,
    tokens: Map<AccessToken>,
    documents: Map<Document>,
    media: Map<Media>,
}

impl<M: MetaStore> CachedMeta<M> {
    pub fn new(inner: M) -> Self {
        Self {
            inner,
            apps: Map::new(),
            users: Map::new(),
            tokens: Map::new(),
            documents: Map::new(),
            media: Map::new(),
        }
    }

    /// Drops what an app's or user's deletion may change besides itself.
    fn forget_principal(&self) {
        self.tokens.clear();
        self.documents.clear();
    }

    fn forget_batch(&self, b: &Batch) {
        b.apps
            .iter()
            .for_each(|a| self.apps.drop_key(a.app_id.as_str()));
        b.users
            .iter()
            .for_each(|u| self.users.drop_key(u.user_id.as_str()));
        b.tokens
            .iter()
            .for_each(|t| self.tokens.drop_key(t.hash.as_str()));
        b.documents
            .iter()
            .for_each(|d| self.documents.drop_key(d.token.as_str()));
        b.media
            .iter()
            .for_each(|m| self.media.drop_key(m.file_token.as_str()));
    }
}

/// Reads through `$cache`: a hit answers, a miss asks the store and keeps a found value.
macro_rules! read_through {
    ($self:ident, $cache:ident, $key:expr, $load:expr) => {{
        if let Some(v) = $self.$cache.get($key) {
            return Ok(Some(v));
        }
        let v = $load.await?;
        if let Some(v) = &v {
            $self.$cache.put($key, v.clone());
        }
        Ok(v)
    }};
}

#[async_trait]
impl<M: MetaStore> MetaStore for CachedMeta<M> {
    async fn apply(&self, batch: &Batch) -> StoreResult<()> {
        self.forget_batch(batch);
        let r = self.inner.apply(batch).await;
        // Dropped again after the write: a read between the two drops may have cached
        // the old value.
        self.forget_batch(batch);
        r
    }

    async fn app(&self, app_id: &str) -> StoreResult<Option<App>> {
        read_through!(self, apps, app_id, self.inner.app(app_id))
    }

    async fn user(&self, user_id: &str) -> StoreResult<Option<User>> {
        read_through!(self, users, user_id, self.inner.user(user_id))
    }

    async fn token(&self, hash: &str) -> StoreResult<Option<AccessToken>> {
        read_through!(self, tokens, hash, self.inner.token(hash))
    }

    async fn latest_token(
        &self,
        app_id: &str,
        kind: StoredTokenKind,
    ) -> StoreResult<Option<AccessToken>> {
        self.inner.latest_token(app_id, kind).await
    }

    async fn document(&self, token: &str) -> StoreResult<Option<Document>> {
        read_through!(self, documents, token, self.inner.document(token))
    }

    async fn media(&self, file_token: &str) -> StoreResult<Option<Media>> {
        read_through!(self, media, file_token, self.inner.media(file_token))
    }

    async fn purge_expired_tokens(&self, before_ms: i64) -> StoreResult<u64> {
        let n = self.inner.purge_expired_tokens(before_ms).await?;
        if n > 0 {
            self.tokens.clear();
        }
        Ok(n)
    }

    async fn page_media(&self, page: PageRequest) -> StoreResult<Page<Media>> {
        self.inner.page_media(page).await
    }

    async fn put_upload(&self, s: &UploadSession) -> StoreResult<()> {
        self.inner.put_upload(s).await
    }

    async fn upload(&self, id: &str) -> StoreResult<Option<UploadSession>> {
        self.inner.upload(id).await
    }

    async fn finish_upload(&self, id: &str, media: &Media) -> StoreResult<bool> {
        self.media.drop_key(media.file_token.as_str());
        let r = self.inner.finish_upload(id, media).await;
        self.media.drop_key(media.file_token.as_str());
        r
    }

    async fn delete_upload(&self, id: &str) -> StoreResult<()> {
        self.inner.delete_upload(id).await
    }

    async fn expired_uploads(&self, before_ms: i64) -> StoreResult<Vec<String>> {
        self.inner.expired_uploads(before_ms).await
    }

    async fn open_uploads(&self, app_id: &str, now_ms: i64) -> StoreResult<(u64, u64)> {
        self.inner.open_uploads(app_id, now_ms).await
    }

    async fn page_apps(&self, page: PageRequest) -> StoreResult<Page<App>> {
        self.inner.page_apps(page).await
    }

    async fn page_users(&self, page: PageRequest) -> StoreResult<Page<User>> {
        self.inner.page_users(page).await
    }

    async fn page_tokens(
        &self,
        kind: StoredTokenKind,
        page: PageRequest,
    ) -> StoreResult<Page<AccessToken>> {
        self.inner.page_tokens(kind, page).await
    }

    async fn page_documents(&self, page: PageRequest) -> StoreResult<Page<Document>> {
        self.inner.page_documents(page).await
    }

    /// Its tokens and roles go too, so cached tokens and documents are all dropped.
    async fn delete_app(&self, app_id: &str) -> StoreResult<bool> {
        self.apps.drop_key(app_id);
        self.forget_principal();
        let r = self.inner.delete_app(app_id).await;
        self.forget_principal();
        r
    }

    async fn delete_user(&self, user_id: &str) -> StoreResult<bool> {
        self.users.drop_key(user_id);
        self.forget_principal();
        let r = self.inner.delete_user(user_id).await;
        self.forget_principal();
        r
    }

    async fn delete_token(&self, hash: &str) -> StoreResult<bool> {
        self.tokens.drop_key(hash);
        self.inner.delete_token(hash).await
    }

    async fn delete_document(&self, token: &str) -> StoreResult<bool> {
        self.documents.drop_key(token);
        self.inner.delete_document(token).await
    }

    async fn delete_media(&self, file_token: &str) -> StoreResult<bool> {
        self.media.drop_key(file_token);
        self.inner.delete_media(file_token).await
    }

    async fn wipe(&self) -> StoreResult<()> {
        let r = self.inner.wipe().await;
        self.apps.clear();
        self.users.clear();
        self.tokens.clear();
        self.documents.clear();
        self.media.clear();
        r
    }

    async fn day_count(&self, key: &str, day: i64) -> StoreResult<u64> {
        self.inner.day_count(key, day).await
    }

    async fn save_day_counts(&self, counts: &[(String, i64, u64)]) -> StoreResult<()> {
        self.inner.save_day_counts(counts).await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }
}

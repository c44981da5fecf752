//! A read-through cache in front of any [`MetaStore`], for the download path's keyed
//! reads (token, app, document, media), which otherwise cost a database round trip each.
//!
//! Each write through this wrapper drops what it may change, before and after. Writes
//! by other processes (replicas sharing PostgreSQL) arrive as the store's
//! [`changes`](MetaStore::changes) and drop the same way, within milliseconds of their
//! commit. Only found values are kept, so a new object is seen at once everywhere.
//!
//! A read that started before a drop does not keep its (possibly older) value: each kind
//! has a generation, bumped on every drop, and a value is kept only if the generation
//! is unchanged since its read began.

use crate::error::StoreResult;
use crate::meta::{Batch, Change, MetaStore, Page, PageRequest};
use crate::model::{
    AccessToken, App, Document, Grant, Media, StoredTokenKind, UploadSession, User,
};
use crate::near::Near;
use async_trait::async_trait;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The memory each kind's entries may take, by [`Weigh`]'s estimate; past it the least
/// used go first (quick_cache's CLOCK-Pro). Media get the most: a catalogue is mostly
/// media, and a media miss is a database round trip on the download path (drawn from
/// 100 000 media, bench B100k, a cache of 100 000 entries per kind still missed on most
/// requests: CLOCK-Pro keeps part of its capacity for new entries).
const MEDIA_BUDGET: u64 = 96 * 1024 * 1024;
const OTHER_BUDGET: u64 = 32 * 1024 * 1024;

/// A rough size of a cached value in memory, in bytes: what the budgets count.
trait Weigh {
    fn weight(&self) -> u64;
}

/// The struct, its key, and the cache's own bookkeeping.
const ENTRY_OVERHEAD: u64 = 256;

impl Weigh for Media {
    fn weight(&self) -> u64 {
        let strings = self.file_token.len()
            + self.document.len()
            + self.parent_node.as_ref().map_or(0, String::len)
            + self.file_name.len()
            + self.mime_type.len()
            + self.digest.len();
        ENTRY_OVERHEAD + strings as u64 + if self.bitable.is_some() { 128 } else { 0 }
    }
}

impl Weigh for Document {
    fn weight(&self) -> u64 {
        // Content can be large (a sheet's cells): counted as its JSON, only on a miss.
        let content = if self.content.is_empty() {
            0
        } else {
            serde_json::to_vec(&self.content).map_or(0, |j| j.len() as u64)
        };
        ENTRY_OVERHEAD + 96 * self.members.len() as u64 + content
    }
}

macro_rules! small_weight {
    ($($t:ty),*) => {$(
        impl Weigh for $t {
            fn weight(&self) -> u64 {
                2 * ENTRY_OVERHEAD
            }
        }
    )*};
}
small_weight!(App, User, AccessToken);

#[derive(Clone)]
struct ByWeight;

impl<V: Weigh> quick_cache::Weighter<String, Arc<V>> for ByWeight {
    fn weight(&self, key: &String, v: &Arc<V>) -> u64 {
        key.len() as u64 + v.weight()
    }
}

/// One kind's entries, by key, each shared: a hit hands out the entry itself (see
/// [`MetaStore::media_shared`]).
struct Map<V> {
    entries: quick_cache::sync::Cache<String, Arc<V>, ByWeight>,
    /// Bumped by every drop (see the module's comment).
    generation: AtomicU64,
    /// Which map a thread's [`Near`] slot was filled from (several caches live in one
    /// process: every server of a test binary has its own).
    id: u64,
    /// Whether reads go through the threads' slots: for the kinds a download reads the
    /// same few rows of (token, app, document), not media, which a catalogue reads all
    /// over (bench B1k: 1 000 media through 64 slots made every read a replacement, and
    /// B1k 5% slower).
    near: bool,
}

impl<V: Weigh + Near> Map<V> {
    fn new(budget: u64, near: bool) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        // The item estimate only sizes quick_cache's tables.
        let items = (budget / (2 * ENTRY_OVERHEAD)) as usize;
        Self {
            entries: quick_cache::sync::Cache::with_weighter(items, budget, ByWeight),
            generation: AtomicU64::new(0),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            near,
        }
    }

    /// This thread's slot first (it touches no line another core writes), then the
    /// shared entries.
    fn get(&self, k: &str) -> Option<Arc<V>> {
        if !self.near {
            return self.entries.get(k);
        }
        let generation = self.generation();
        if let Some(v) = V::near(self.id, generation, k) {
            return Some(v);
        }
        let v = self.entries.get(k)?;
        V::keep(self.id, generation, &v);
        Some(v)
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Keeps `v` unless something was dropped since `generation` was read.
    fn put(&self, k: &str, v: Arc<V>, generation: u64) {
        if self.generation() == generation {
            self.entries.insert(k.to_owned(), v);
            // A drop that raced the insert: undo it rather than keep a stale value.
            if self.generation() != generation {
                self.entries.remove(k);
            }
        }
    }

    /// Bumps the generation before the removal (a read-through that began before it
    /// keeps nothing) and after it (a thread that read the old value between the bump
    /// and the removal does not keep it in its slot past the drop).
    fn drop_key(&self, k: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.remove(k);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.clear();
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

/// The cached entries of every kind; shared with the task that applies other
/// processes' changes.
struct Maps {
    apps: Map<App>,
    users: Map<User>,
    tokens: Map<AccessToken>,
    documents: Map<Document>,
    media: Map<Media>,
}

impl Maps {
    fn forget(&self, change: &Change) {
        match change {
            Change::App(k) => self.apps.drop_key(k),
            Change::User(k) => self.users.drop_key(k),
            Change::Token(k) => self.tokens.drop_key(k),
            Change::Document(k) => self.documents.drop_key(k),
            Change::Media(k) => self.media.drop_key(k),
            Change::AllTokens => self.tokens.clear(),
            Change::AllDocuments => self.documents.clear(),
            Change::Everything => {
                self.apps.clear();
                self.users.clear();
                self.tokens.clear();
                self.documents.clear();
                self.media.clear();
            }
        }
    }
}

pub struct CachedMeta<M> {
    inner: M,
    maps: Arc<Maps>,
    /// Applies other processes' changes; stopped with the cache.
    follower: Option<tokio::task::JoinHandle<()>>,
}

impl<M> Drop for CachedMeta<M> {
    fn drop(&mut self) {
        if let Some(f) = &self.follower {
            f.abort();
        }
    }
}

impl<M: MetaStore> CachedMeta<M> {
    /// The cache, following `inner`'s changes from other processes if it has any (then
    /// it must be called inside a Tokio runtime).
    pub fn new(inner: M) -> Self {
        let maps = Arc::new(Maps {
            apps: Map::new(OTHER_BUDGET, true),
            users: Map::new(OTHER_BUDGET, true),
            tokens: Map::new(OTHER_BUDGET, true),
            documents: Map::new(OTHER_BUDGET, true),
            media: Map::new(MEDIA_BUDGET, false),
        });
        let follower = inner.changes().map(|mut rx| {
            let maps = maps.clone();
            tokio::spawn(async move {
                use tokio::sync::broadcast::error::RecvError;
                loop {
                    match rx.recv().await {
                        Ok(change) => maps.forget(&change),
                        // Changes were missed: any entry may be stale.
                        Err(RecvError::Lagged(_)) => maps.forget(&Change::Everything),
                        Err(RecvError::Closed) => return,
                    }
                }
            })
        });
        Self {
            inner,
            maps,
            follower,
        }
    }

    fn forget_all(&self, changes: &[Change]) {
        changes.iter().for_each(|c| self.maps.forget(c));
    }
}

/// Reads through `$cache`: a hit answers, a miss asks the store and keeps a found value.
/// The answer is shared (the cache's own entry).
macro_rules! read_through {
    ($self:ident, $cache:ident, $key:expr, $load:expr) => {{
        let map = &$self.maps.$cache;
        if let Some(v) = map.get($key) {
            return Ok(Some(v));
        }
        let generation = map.generation();
        let v = $load.await?.map(Arc::new);
        if let Some(v) = &v {
            map.put($key, v.clone(), generation);
        }
        Ok(v)
    }};
}

impl<M: MetaStore> CachedMeta<M> {
    async fn user_shared(&self, user_id: &str) -> StoreResult<Option<Arc<User>>> {
        read_through!(self, users, user_id, self.inner.user(user_id))
    }
}

#[async_trait]
impl<M: MetaStore> MetaStore for CachedMeta<M> {
    async fn apply(&self, batch: &Batch) -> StoreResult<()> {
        let changes = Change::of_batch(batch);
        self.forget_all(&changes);
        let r = self.inner.apply(batch).await;
        // Dropped again after the write: a read between the two drops may have cached
        // the old value.
        self.forget_all(&changes);
        r
    }

    async fn app(&self, app_id: &str) -> StoreResult<Option<App>> {
        Ok(self.app_shared(app_id).await?.map(Arc::unwrap_or_clone))
    }

    async fn app_shared(&self, app_id: &str) -> StoreResult<Option<Arc<App>>> {
        read_through!(self, apps, app_id, self.inner.app(app_id))
    }

    async fn user(&self, user_id: &str) -> StoreResult<Option<User>> {
        Ok(self.user_shared(user_id).await?.map(Arc::unwrap_or_clone))
    }

    async fn token(&self, hash: &str) -> StoreResult<Option<AccessToken>> {
        Ok(self.token_shared(hash).await?.map(Arc::unwrap_or_clone))
    }

    async fn token_shared(&self, hash: &str) -> StoreResult<Option<Arc<AccessToken>>> {
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
        Ok(self.document_shared(token).await?.map(Arc::unwrap_or_clone))
    }

    async fn document_shared(&self, token: &str) -> StoreResult<Option<Arc<Document>>> {
        read_through!(self, documents, token, self.inner.document(token))
    }

    async fn media(&self, file_token: &str) -> StoreResult<Option<Media>> {
        Ok(self
            .media_shared(file_token)
            .await?
            .map(Arc::unwrap_or_clone))
    }

    async fn media_shared(&self, file_token: &str) -> StoreResult<Option<Arc<Media>>> {
        read_through!(self, media, file_token, self.inner.media(file_token))
    }

    fn app_in_memory(&self, app_id: &str) -> Option<Arc<App>> {
        self.maps.apps.get(app_id)
    }

    fn token_in_memory(&self, hash: &str) -> Option<Arc<AccessToken>> {
        self.maps.tokens.get(hash)
    }

    fn document_in_memory(&self, token: &str) -> Option<Arc<Document>> {
        self.maps.documents.get(token)
    }

    fn media_in_memory(&self, file_token: &str) -> Option<Arc<Media>> {
        self.maps.media.get(file_token)
    }

    /// Hits answer; the misses are asked together, and what is found is kept.
    async fn media_many(&self, file_tokens: &[String]) -> StoreResult<Vec<Option<Media>>> {
        let map = &self.maps.media;
        let mut found: Vec<Option<Media>> = file_tokens
            .iter()
            .map(|t| map.get(t).map(Arc::unwrap_or_clone))
            .collect();
        let missed: Vec<String> = file_tokens
            .iter()
            .zip(&found)
            .filter(|(_, hit)| hit.is_none())
            .map(|(t, _)| t.clone())
            .collect();
        if missed.is_empty() {
            return Ok(found);
        }
        let generation = map.generation();
        let mut loaded = self.inner.media_many(&missed).await?.into_iter();
        for (t, slot) in file_tokens.iter().zip(found.iter_mut()) {
            if slot.is_none() {
                *slot = loaded.next().flatten();
                if let Some(m) = slot {
                    map.put(t, Arc::new(m.clone()), generation);
                }
            }
        }
        Ok(found)
    }

    async fn document_media(&self, document: &str) -> StoreResult<Vec<Media>> {
        self.inner.document_media(document).await
    }

    async fn put_grant(&self, grant: &Grant) -> StoreResult<()> {
        self.inner.put_grant(grant).await
    }

    async fn spend_grant(&self, hash: &str, now_ms: i64) -> StoreResult<Option<Grant>> {
        self.inner.spend_grant(hash, now_ms).await
    }

    async fn purge_expired_tokens(&self, before_ms: i64) -> StoreResult<u64> {
        let n = self.inner.purge_expired_tokens(before_ms).await?;
        if n > 0 {
            self.maps.forget(&Change::AllTokens);
        }
        Ok(n)
    }

    /// A page keeps what it read, as a single read does: the start-up sweep lists every
    /// media, so a restarted server answers its first downloads from memory (bench
    /// B100k's first seconds after a restart were database round trips otherwise).
    async fn page_media(&self, page: PageRequest) -> StoreResult<Page<Media>> {
        let generation = self.maps.media.generation();
        let page = self.inner.page_media(page).await?;
        for m in &page.items {
            self.maps
                .media
                .put(&m.file_token, Arc::new(m.clone()), generation);
        }
        Ok(page)
    }

    async fn page_uploads(&self, page: PageRequest) -> StoreResult<Page<UploadSession>> {
        self.inner.page_uploads(page).await
    }

    async fn put_upload(&self, s: &UploadSession) -> StoreResult<()> {
        self.inner.put_upload(s).await
    }

    async fn upload(&self, id: &str) -> StoreResult<Option<UploadSession>> {
        self.inner.upload(id).await
    }

    async fn finish_upload(&self, id: &str, media: &Media) -> StoreResult<bool> {
        let change = [Change::Media(media.file_token.clone())];
        self.forget_all(&change);
        let r = self.inner.finish_upload(id, media).await;
        self.forget_all(&change);
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
        let changes = [
            Change::App(app_id.to_owned()),
            Change::AllTokens,
            Change::AllDocuments,
        ];
        self.forget_all(&changes);
        let r = self.inner.delete_app(app_id).await;
        self.forget_all(&changes);
        r
    }

    async fn delete_user(&self, user_id: &str) -> StoreResult<bool> {
        let changes = [
            Change::User(user_id.to_owned()),
            Change::AllTokens,
            Change::AllDocuments,
        ];
        self.forget_all(&changes);
        let r = self.inner.delete_user(user_id).await;
        self.forget_all(&changes);
        r
    }

    async fn delete_token(&self, hash: &str) -> StoreResult<bool> {
        self.maps.forget(&Change::Token(hash.to_owned()));
        self.inner.delete_token(hash).await
    }

    async fn delete_document(&self, token: &str) -> StoreResult<bool> {
        self.maps.forget(&Change::Document(token.to_owned()));
        self.inner.delete_document(token).await
    }

    async fn delete_media(&self, file_token: &str) -> StoreResult<bool> {
        self.maps.forget(&Change::Media(file_token.to_owned()));
        self.inner.delete_media(file_token).await
    }

    async fn wipe(&self) -> StoreResult<()> {
        let r = self.inner.wipe().await;
        self.maps.forget(&Change::Everything);
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

    async fn exclusive(&self, name: &str) -> StoreResult<Option<crate::meta::Held>> {
        self.inner.exclusive(name).await
    }
}

#[cfg(test)]
mod tests {
    use super::Map;
    use crate::model::App;
    use std::sync::Arc;

    fn app(secret: &str) -> Arc<App> {
        Arc::new(App {
            app_id: "cli_a".into(),
            app_secret: secret.into(),
            tenant_key: "t".into(),
            scopes: vec![],
            rate_limit: None,
            redirect_uris: vec![],
        })
    }

    /// A thread's slot (its own copy, after a second read) does not outlive a drop
    /// made on another thread: its next read is the new row.
    #[test]
    fn a_thread_s_copy_of_a_row_ends_with_a_drop_anywhere() {
        let map: Arc<Map<App>> = Arc::new(Map::new(1 << 20, true));
        map.put("cli_a", app("old"), map.generation());
        let (dropped_tx, dropped) = std::sync::mpsc::channel::<()>();
        let (copied, copied_rx) = std::sync::mpsc::channel::<()>();
        let reader = {
            let map = map.clone();
            std::thread::spawn(move || {
                let first = map.get("cli_a").unwrap();
                let second = map.get("cli_a").unwrap();
                assert_eq!(second.app_secret, "old");
                assert!(
                    !Arc::ptr_eq(&first, &second),
                    "a second read copies the row"
                );
                assert!(
                    Arc::ptr_eq(&second, &map.get("cli_a").unwrap()),
                    "then keeps it"
                );
                copied.send(()).unwrap();
                dropped.recv().unwrap();
                map.get("cli_a").unwrap().app_secret.clone()
            })
        };
        copied_rx.recv().unwrap();
        // As a write (or another process's change) does: drop, then the new row read in.
        map.drop_key("cli_a");
        map.put("cli_a", app("new"), map.generation());
        dropped_tx.send(()).unwrap();
        assert_eq!(reader.join().unwrap(), "new");
        // A kind without slots answers from the shared entries alone.
        let media_like: Map<App> = Map::new(1 << 20, false);
        media_like.put("cli_a", app("x"), media_like.generation());
        let a = media_like.get("cli_a").unwrap();
        assert!(Arc::ptr_eq(&a, &media_like.get("cli_a").unwrap()));
    }
}

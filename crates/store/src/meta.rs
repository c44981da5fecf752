//! The metadata trait.

use crate::error::StoreResult;
use crate::model::{
    AccessToken, App, Document, Grant, Media, StoredTokenKind, UploadSession, User,
};
use async_trait::async_trait;
use std::sync::Arc;

/// Objects to write together: all of them or none (a manifest is applied as one batch).
/// An object whose key exists is replaced.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub apps: Vec<App>,
    pub users: Vec<User>,
    pub tokens: Vec<AccessToken>,
    pub documents: Vec<Document>,
    pub media: Vec<Media>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.apps.is_empty()
            && self.users.is_empty()
            && self.tokens.is_empty()
            && self.documents.is_empty()
            && self.media.is_empty()
    }
}

/// A write that caches of the same data may hold a stale copy of: replicas sharing one
/// database announce their writes to each other (see [`MetaStore::changes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    App(String),
    User(String),
    /// A token, by hash.
    Token(String),
    Document(String),
    Media(String),
    /// Any token (an app or user deleted with its tokens, expired tokens purged).
    AllTokens,
    /// Any document (an app or user deleted with its roles).
    AllDocuments,
    /// Anything (a wipe, a large batch, or announcements that may have been missed).
    Everything,
}

/// Past this many objects a batch is announced as [`Change::Everything`]: one message
/// instead of thousands (a seed), after which caches refill as they are read.
const BATCH_CHANGES_MAX: usize = 64;

impl Change {
    /// What writing `batch` may change.
    pub fn of_batch(batch: &Batch) -> Vec<Change> {
        let n = batch.apps.len()
            + batch.users.len()
            + batch.tokens.len()
            + batch.documents.len()
            + batch.media.len();
        if n > BATCH_CHANGES_MAX {
            return vec![Change::Everything];
        }
        let apps = batch.apps.iter().map(|a| Change::App(a.app_id.clone()));
        let users = batch.users.iter().map(|u| Change::User(u.user_id.clone()));
        let tokens = batch.tokens.iter().map(|t| Change::Token(t.hash.clone()));
        let docs = batch
            .documents
            .iter()
            .map(|d| Change::Document(d.token.clone()));
        let media = batch
            .media
            .iter()
            .map(|m| Change::Media(m.file_token.clone()));
        apps.chain(users)
            .chain(tokens)
            .chain(docs)
            .chain(media)
            .collect()
    }

    /// One line of text (a PostgreSQL notification's payload holds several).
    pub fn encode(&self) -> String {
        match self {
            Change::App(k) => format!("a:{k}"),
            Change::User(k) => format!("u:{k}"),
            Change::Token(k) => format!("t:{k}"),
            Change::Document(k) => format!("d:{k}"),
            Change::Media(k) => format!("m:{k}"),
            Change::AllTokens => "T".into(),
            Change::AllDocuments => "D".into(),
            Change::Everything => "*".into(),
        }
    }

    /// The change `encode` wrote; anything unreadable is taken as [`Change::Everything`],
    /// which is always safe.
    pub fn decode(line: &str) -> Change {
        let key = |k: &str| k.to_owned();
        match line.split_once(':') {
            Some(("a", k)) => Change::App(key(k)),
            Some(("u", k)) => Change::User(key(k)),
            Some(("t", k)) => Change::Token(key(k)),
            Some(("d", k)) => Change::Document(key(k)),
            Some(("m", k)) => Change::Media(key(k)),
            _ if line == "T" => Change::AllTokens,
            _ if line == "D" => Change::AllDocuments,
            _ => Change::Everything,
        }
    }
}

/// Held while something only one process may do at a time runs (see
/// [`MetaStore::exclusive`]); dropping it lets the next one in.
pub type Held = Box<dyn Send>;

/// Where a listing starts and how long a page is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// The key the previous page ended with (`None`: from the first).
    pub after: Option<String>,
    /// At most this many items (at least one).
    pub size: usize,
}

impl PageRequest {
    pub fn first(size: usize) -> Self {
        Self { after: None, size }
    }
}

/// One page of a listing, ordered by key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The key of the last item when more follow (ask again `after` it); `None` on the
    /// last page.
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// The page of `size` from `rows` (up to `size + 1`, ordered), whose keys `key` gives.
    pub fn of(mut rows: Vec<T>, size: usize, key: impl Fn(&T) -> &str) -> Self {
        let more = rows.len() > size;
        rows.truncate(size);
        let next = more
            .then(|| rows.last().map(|r| key(r).to_owned()))
            .flatten();
        Self { items: rows, next }
    }
}

/// Every page of a listing, one after the other (sweeps and tests; the admin API pages).
async fn all<T, F, Fut>(mut page: F) -> StoreResult<Vec<T>>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = StoreResult<Page<T>>>,
{
    let mut out = Vec::new();
    let mut req = PageRequest::first(1000);
    loop {
        let p = page(req.clone()).await?;
        out.extend(p.items);
        match p.next {
            Some(after) => req.after = Some(after),
            None => return Ok(out),
        }
    }
}

/// Metadata: small, keyed reads on the hot path, atomic batched writes.
#[async_trait]
pub trait MetaStore: Send + Sync + 'static {
    /// Writes every object of the batch in one transaction.
    async fn apply(&self, batch: &Batch) -> StoreResult<()>;

    async fn app(&self, app_id: &str) -> StoreResult<Option<App>>;
    async fn user(&self, user_id: &str) -> StoreResult<Option<User>>;
    /// A token by the hash of its text.
    async fn token(&self, hash: &str) -> StoreResult<Option<AccessToken>>;
    /// The most recently issued token of `kind` for `app_id` (used to hand out the same
    /// tenant token again while it has time left).
    async fn latest_token(
        &self,
        app_id: &str,
        kind: StoredTokenKind,
    ) -> StoreResult<Option<AccessToken>>;
    async fn document(&self, token: &str) -> StoreResult<Option<Document>>;
    async fn media(&self, file_token: &str) -> StoreResult<Option<Media>>;

    // The download path's four reads, as shared rows: the cache ([`crate::CachedMeta`])
    // hands out its entry instead of a copy of every string in it (a dozen allocations
    // per request, bench B). Other stores read as usual.
    async fn app_shared(&self, app_id: &str) -> StoreResult<Option<Arc<App>>> {
        Ok(self.app(app_id).await?.map(Arc::new))
    }
    async fn token_shared(&self, hash: &str) -> StoreResult<Option<Arc<AccessToken>>> {
        Ok(self.token(hash).await?.map(Arc::new))
    }
    async fn document_shared(&self, token: &str) -> StoreResult<Option<Arc<Document>>> {
        Ok(self.document(token).await?.map(Arc::new))
    }
    async fn media_shared(&self, file_token: &str) -> StoreResult<Option<Arc<Media>>> {
        Ok(self.media(file_token).await?.map(Arc::new))
    }
    /// The same four rows when they are in memory, answered without a future: through
    /// `async_trait` each read boxes one, four of a cached download's ~35 allocations
    /// (bench B, callgrind). `None`: not in memory (or a store that keeps nothing), so
    /// ask the `_shared` read.
    fn app_in_memory(&self, _app_id: &str) -> Option<Arc<App>> {
        None
    }
    fn token_in_memory(&self, _hash: &str) -> Option<Arc<AccessToken>> {
        None
    }
    fn document_in_memory(&self, _token: &str) -> Option<Arc<Document>> {
        None
    }
    fn media_in_memory(&self, _file_token: &str) -> Option<Arc<Media>> {
        None
    }
    /// The media of each of `file_tokens`, in their order (`None`: no such media). SQL
    /// stores answer a few hundred tokens per round trip: a seed compares a whole
    /// catalogue with what is stored (100 000 single reads took most of an unchanged
    /// re-seed, bench S).
    async fn media_many(&self, file_tokens: &[String]) -> StoreResult<Vec<Option<Media>>> {
        let mut found = Vec::with_capacity(file_tokens.len());
        for t in file_tokens {
            found.push(self.media(t).await?);
        }
        Ok(found)
    }

    /// The media of a document (deleted ones included), oldest first: what its content
    /// lists besides what it declares.
    async fn document_media(&self, document: &str) -> StoreResult<Vec<Media>>;

    /// Drops issued (tenant and app) tokens and OAuth grants that expired before
    /// `before_ms`; returns how many. User tokens stay: they come from manifests (or
    /// OAuth), and an expired one must keep answering "token expire" rather than
    /// "invalid".
    async fn purge_expired_tokens(&self, before_ms: i64) -> StoreResult<u64>;

    /// Keeps an OAuth grant (a code or a refresh token). Not cached: each is read once.
    async fn put_grant(&self, grant: &Grant) -> StoreResult<()>;
    /// Spends the grant `hash` at `now_ms`, atomically: the grant as it was before, so a
    /// `used_at_ms` already set says it was spent (by this call's rival, maybe) and this
    /// call changed nothing. `None`: no such grant.
    async fn spend_grant(&self, hash: &str, now_ms: i64) -> StoreResult<Option<Grant>>;

    /// Media by token, deleted ones included.
    async fn page_media(&self, page: PageRequest) -> StoreResult<Page<Media>>;

    /// Every media, page by page.
    async fn list_media(&self) -> StoreResult<Vec<Media>> {
        all(|p| self.page_media(p)).await
    }

    /// Creates or replaces a chunked-upload session.
    async fn put_upload(&self, session: &UploadSession) -> StoreResult<()>;
    async fn upload(&self, upload_id: &str) -> StoreResult<Option<UploadSession>>;
    /// Marks a session finished with `media`'s token and creates the media, in one
    /// transaction: a session is finished exactly when its media exists. `false` when
    /// the session is gone or already finished (by a concurrent call, say): then nothing
    /// is written.
    async fn finish_upload(&self, upload_id: &str, media: &Media) -> StoreResult<bool>;
    /// Drops a session; absent is fine.
    async fn delete_upload(&self, upload_id: &str) -> StoreResult<()>;
    /// Ids of sessions that expired before `before_ms`.
    async fn expired_uploads(&self, before_ms: i64) -> StoreResult<Vec<String>>;
    /// How many sessions of `app_id` are open at `now_ms` (unfinished and unexpired), and
    /// the bytes they announce in all (the per-app caps of `upload_prepare`).
    async fn open_uploads(&self, app_id: &str, now_ms: i64) -> StoreResult<(u64, u64)>;

    /// Chunked-upload sessions by id, finished and expired ones included (until swept).
    async fn page_uploads(&self, page: PageRequest) -> StoreResult<Page<UploadSession>>;

    /// Apps by id.
    async fn page_apps(&self, page: PageRequest) -> StoreResult<Page<App>>;
    /// Users by id.
    async fn page_users(&self, page: PageRequest) -> StoreResult<Page<User>>;
    /// Tokens of one kind by hash (the admin API lists user tokens).
    async fn page_tokens(
        &self,
        kind: StoredTokenKind,
        page: PageRequest,
    ) -> StoreResult<Page<AccessToken>>;
    /// Documents by token.
    async fn page_documents(&self, page: PageRequest) -> StoreResult<Page<Document>>;

    async fn list_apps(&self) -> StoreResult<Vec<App>> {
        all(|p| self.page_apps(p)).await
    }
    async fn list_users(&self) -> StoreResult<Vec<User>> {
        all(|p| self.page_users(p)).await
    }
    async fn list_tokens(&self, kind: StoredTokenKind) -> StoreResult<Vec<AccessToken>> {
        all(|p| self.page_tokens(kind, p)).await
    }
    async fn list_documents(&self) -> StoreResult<Vec<Document>> {
        all(|p| self.page_documents(p)).await
    }

    /// Hard deletes; each answers whether something was there. Deleting an app or a user
    /// also deletes its tokens (an app's: every token issued for it, user tokens too) and
    /// its OAuth grants, and takes its roles on every document away, in one transaction:
    /// a re-created id starts with nothing.
    async fn delete_app(&self, app_id: &str) -> StoreResult<bool>;
    async fn delete_user(&self, user_id: &str) -> StoreResult<bool>;
    async fn delete_token(&self, hash: &str) -> StoreResult<bool>;
    async fn delete_document(&self, token: &str) -> StoreResult<bool>;
    async fn delete_media(&self, file_token: &str) -> StoreResult<bool>;

    /// Removes every object of every kind (the admin API's reset).
    async fn wipe(&self) -> StoreResult<()>;

    /// The persisted request count of rate-limit key `key` on day `day` (0 when none).
    async fn day_count(&self, key: &str, day: i64) -> StoreResult<u64>;
    /// Persists request counts `(key, day, count)`, replacing what is stored; days before
    /// the oldest given are dropped.
    async fn save_day_counts(&self, counts: &[(String, i64, u64)]) -> StoreResult<()>;

    /// Answers when the backend can serve (readiness).
    async fn ping(&self) -> StoreResult<()>;

    /// Writes made by other processes sharing this store, as they commit, for caches to
    /// drop what they changed. `None`: no other process writes here (embedded stores).
    fn changes(&self) -> Option<tokio::sync::broadcast::Receiver<Change>> {
        None
    }

    /// The right to do `name` alone among the processes sharing this store (a sweep):
    /// `Some` while held, `None` when another process holds it now.
    async fn exclusive(&self, name: &str) -> StoreResult<Option<Held>> {
        let _ = name;
        Ok(Some(Box::new(())))
    }
}

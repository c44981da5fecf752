//! The metadata trait.

use crate::error::StoreResult;
use crate::model::{AccessToken, App, Document, Media, StoredTokenKind, UploadSession, User};
use async_trait::async_trait;

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

    /// Drops issued (tenant and app) tokens that expired before `before_ms`; returns how
    /// many. User tokens stay: they come from manifests, and an expired one must keep
    /// answering "token expire" rather than "invalid".
    async fn purge_expired_tokens(&self, before_ms: i64) -> StoreResult<u64>;

    /// Every media, deleted ones included (sweeps, tests; the admin API will page it).
    async fn list_media(&self) -> StoreResult<Vec<Media>>;

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

    async fn list_apps(&self) -> StoreResult<Vec<App>>;
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    /// Tokens of one kind (the admin API lists user tokens).
    async fn list_tokens(&self, kind: StoredTokenKind) -> StoreResult<Vec<AccessToken>>;
    async fn list_documents(&self) -> StoreResult<Vec<Document>>;

    /// Hard deletes; each answers whether something was there. Deleting an app or a user
    /// also deletes its tokens (an app's: every token issued for it, user tokens too) and
    /// takes its roles on every document away, in one transaction: a re-created id starts
    /// with nothing.
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
}

//! Both traits in memory: nothing touches the disk (`serve --memory`, tests).

use crate::blob::{
    BlobInfo, BlobStore, ByteStream, Intake, KeyStream, PartStore, Payload, StagedBlob, StagedPart,
};
use crate::error::{StoreError, StoreResult};
use crate::meta::{Batch, MetaStore, Page, PageRequest};
use crate::model::{
    AccessToken, App, Document, Grant, Media, Principal, StoredTokenKind, UploadSession, User,
};
use async_trait::async_trait;
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use tokio::io::AsyncRead;

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Backend("lock poisoned".into())
}

#[derive(Default)]
struct Tables {
    apps: HashMap<String, App>,
    users: HashMap<String, User>,
    tokens: HashMap<String, AccessToken>,
    documents: HashMap<String, Document>,
    media: HashMap<String, Media>,
    uploads: HashMap<String, UploadSession>,
    grants: HashMap<String, Grant>,
    day_counts: HashMap<(String, i64), u64>,
}

/// Metadata in a few hash maps behind one lock (a batch is applied under it, so it is atomic).
#[derive(Default)]
pub struct MemoryMeta {
    tables: RwLock<Tables>,
}

impl MemoryMeta {
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> StoreResult<RwLockReadGuard<'_, Tables>> {
        self.tables.read().map_err(poisoned)
    }

    fn write(&self) -> StoreResult<RwLockWriteGuard<'_, Tables>> {
        self.tables.write().map_err(poisoned)
    }
}

#[async_trait]
impl MetaStore for MemoryMeta {
    async fn apply(&self, batch: &Batch) -> StoreResult<()> {
        let mut t = self.write()?;
        for a in &batch.apps {
            t.apps.insert(a.app_id.clone(), a.clone());
        }
        for u in &batch.users {
            t.users.insert(u.user_id.clone(), u.clone());
        }
        for k in &batch.tokens {
            t.tokens.insert(k.hash.clone(), k.clone());
        }
        for d in &batch.documents {
            t.documents.insert(d.token.clone(), d.clone());
        }
        for m in &batch.media {
            t.media.insert(m.file_token.clone(), m.clone());
        }
        Ok(())
    }

    async fn app(&self, app_id: &str) -> StoreResult<Option<App>> {
        Ok(self.read()?.apps.get(app_id).cloned())
    }

    async fn user(&self, user_id: &str) -> StoreResult<Option<User>> {
        Ok(self.read()?.users.get(user_id).cloned())
    }

    async fn token(&self, hash: &str) -> StoreResult<Option<AccessToken>> {
        Ok(self.read()?.tokens.get(hash).cloned())
    }

    async fn latest_token(
        &self,
        app_id: &str,
        kind: StoredTokenKind,
    ) -> StoreResult<Option<AccessToken>> {
        Ok(self
            .read()?
            .tokens
            .values()
            .filter(|k| k.app_id == app_id && k.kind == kind)
            .max_by_key(|k| (k.issued_at_ms, k.hash.clone()))
            .cloned())
    }

    async fn document(&self, token: &str) -> StoreResult<Option<Document>> {
        Ok(self.read()?.documents.get(token).cloned())
    }

    async fn media(&self, file_token: &str) -> StoreResult<Option<Media>> {
        Ok(self.read()?.media.get(file_token).cloned())
    }

    async fn document_media(&self, document: &str) -> StoreResult<Vec<Media>> {
        let mut media: Vec<Media> = self
            .read()?
            .media
            .values()
            .filter(|m| m.document == document)
            .cloned()
            .collect();
        media.sort_by(|a, b| {
            (a.created_at_ms, &a.file_token).cmp(&(b.created_at_ms, &b.file_token))
        });
        Ok(media)
    }

    async fn purge_expired_tokens(&self, before_ms: i64) -> StoreResult<u64> {
        let mut t = self.write()?;
        let n = t.tokens.len() + t.grants.len();
        t.tokens
            .retain(|_, k| k.kind == StoredTokenKind::User || k.expires_at_ms >= before_ms);
        t.grants.retain(|_, g| g.expires_at_ms >= before_ms);
        Ok((n - t.tokens.len() - t.grants.len()) as u64)
    }

    async fn put_grant(&self, grant: &Grant) -> StoreResult<()> {
        self.write()?
            .grants
            .insert(grant.hash.clone(), grant.clone());
        Ok(())
    }

    async fn spend_grant(&self, hash: &str, now_ms: i64) -> StoreResult<Option<Grant>> {
        let mut t = self.write()?;
        let Some(g) = t.grants.get_mut(hash) else {
            return Ok(None);
        };
        let before = g.clone();
        g.used_at_ms.get_or_insert(now_ms);
        Ok(Some(before))
    }

    async fn page_media(&self, page: PageRequest) -> StoreResult<Page<Media>> {
        let items = self.read()?.media.values().cloned().collect();
        Ok(page_of(items, &page, |m: &Media| &m.file_token))
    }

    async fn put_upload(&self, session: &UploadSession) -> StoreResult<()> {
        self.write()?
            .uploads
            .insert(session.upload_id.clone(), session.clone());
        Ok(())
    }

    async fn upload(&self, upload_id: &str) -> StoreResult<Option<UploadSession>> {
        Ok(self.read()?.uploads.get(upload_id).cloned())
    }

    async fn finish_upload(&self, upload_id: &str, media: &Media) -> StoreResult<bool> {
        let mut t = self.write()?;
        match t.uploads.get_mut(upload_id) {
            Some(session) if session.file_token.is_none() => {
                session.file_token = Some(media.file_token.clone());
            }
            _ => return Ok(false),
        }
        t.media.insert(media.file_token.clone(), media.clone());
        Ok(true)
    }

    async fn delete_upload(&self, upload_id: &str) -> StoreResult<()> {
        self.write()?.uploads.remove(upload_id);
        Ok(())
    }

    async fn expired_uploads(&self, before_ms: i64) -> StoreResult<Vec<String>> {
        Ok(self
            .read()?
            .uploads
            .values()
            .filter(|u| u.expires_at_ms < before_ms)
            .map(|u| u.upload_id.clone())
            .collect())
    }

    async fn open_uploads(&self, app_id: &str, now_ms: i64) -> StoreResult<(u64, u64)> {
        Ok(self
            .read()?
            .uploads
            .values()
            .filter(|u| u.app_id == app_id && u.file_token.is_none() && u.expires_at_ms > now_ms)
            .fold((0, 0), |(n, bytes), u| (n + 1, bytes + u.size)))
    }

    async fn page_apps(&self, page: PageRequest) -> StoreResult<Page<App>> {
        let items = self.read()?.apps.values().cloned().collect();
        Ok(page_of(items, &page, |a: &App| &a.app_id))
    }

    async fn page_users(&self, page: PageRequest) -> StoreResult<Page<User>> {
        let items = self.read()?.users.values().cloned().collect();
        Ok(page_of(items, &page, |u: &User| &u.user_id))
    }

    async fn page_tokens(
        &self,
        kind: StoredTokenKind,
        page: PageRequest,
    ) -> StoreResult<Page<AccessToken>> {
        let items = self
            .read()?
            .tokens
            .values()
            .filter(|t| t.kind == kind)
            .cloned()
            .collect();
        Ok(page_of(items, &page, |t: &AccessToken| &t.hash))
    }

    async fn page_uploads(&self, page: PageRequest) -> StoreResult<Page<UploadSession>> {
        let items = self.read()?.uploads.values().cloned().collect();
        Ok(page_of(items, &page, |u: &UploadSession| &u.upload_id))
    }

    async fn page_documents(&self, page: PageRequest) -> StoreResult<Page<Document>> {
        let items = self.read()?.documents.values().cloned().collect();
        Ok(page_of(items, &page, |d: &Document| &d.token))
    }

    async fn delete_app(&self, app_id: &str) -> StoreResult<bool> {
        let mut w = self.write()?;
        w.tokens.retain(|_, t| t.app_id != app_id);
        w.grants.retain(|_, g| g.app_id != app_id);
        forget_roles(&mut w.documents, &Principal::App(app_id.to_owned()));
        Ok(w.apps.remove(app_id).is_some())
    }

    async fn delete_user(&self, user_id: &str) -> StoreResult<bool> {
        let mut w = self.write()?;
        w.tokens
            .retain(|_, t| t.user_id.as_deref() != Some(user_id));
        w.grants.retain(|_, g| g.user_id != user_id);
        forget_roles(&mut w.documents, &Principal::User(user_id.to_owned()));
        Ok(w.users.remove(user_id).is_some())
    }

    async fn delete_token(&self, hash: &str) -> StoreResult<bool> {
        Ok(self.write()?.tokens.remove(hash).is_some())
    }

    async fn delete_document(&self, token: &str) -> StoreResult<bool> {
        Ok(self.write()?.documents.remove(token).is_some())
    }

    async fn delete_media(&self, file_token: &str) -> StoreResult<bool> {
        Ok(self.write()?.media.remove(file_token).is_some())
    }

    async fn wipe(&self) -> StoreResult<()> {
        *self.write()? = Tables::default();
        Ok(())
    }

    async fn day_count(&self, key: &str, day: i64) -> StoreResult<u64> {
        Ok(self
            .read()?
            .day_counts
            .get(&(key.to_owned(), day))
            .copied()
            .unwrap_or(0))
    }

    async fn save_day_counts(&self, counts: &[(String, i64, u64)]) -> StoreResult<()> {
        let mut t = self.write()?;
        if let Some(oldest) = counts.iter().map(|c| c.1).min() {
            t.day_counts.retain(|(_, day), _| *day >= oldest);
        }
        for (key, day, count) in counts {
            t.day_counts.insert((key.clone(), *day), *count);
        }
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }
}

/// A listing in a stable order, as the SQL backends give it.
/// One page of `items` (in any order) by `key`.
fn page_of<T>(mut items: Vec<T>, page: &PageRequest, key: impl Fn(&T) -> &str) -> Page<T> {
    let after = page.after.as_deref().unwrap_or("");
    items.retain(|i| key(i) > after);
    items.sort_by(|a, b| key(a).cmp(key(b)));
    items.truncate(page.size.max(1) + 1);
    Page::of(items, page.size.max(1), key)
}

#[derive(Default)]
struct BlobTables {
    blobs: HashMap<String, Bytes>,
    parts: HashMap<String, BTreeMap<u64, Bytes>>,
    /// Uploads assembled: they take no more blocks.
    sealed: std::collections::HashSet<String>,
}

/// Blobs as shared byte buffers.
#[derive(Default, Clone)]
pub struct MemoryBlobs {
    inner: Arc<RwLock<BlobTables>>,
}

impl MemoryBlobs {
    pub fn new() -> Self {
        Self::default()
    }
}

/// Chunk size of the streams handed out, so readers see a stream and not one buffer.
const CHUNK: usize = 64 * 1024;

/// Takes `who`'s roles away on every document.
fn forget_roles(documents: &mut HashMap<String, Document>, who: &Principal) {
    for d in documents.values_mut() {
        if let Some(without) = d.without(who) {
            *d = without;
        }
    }
}

fn chunked(bytes: Bytes) -> ByteStream {
    let chunks: Vec<std::io::Result<Bytes>> = (0..bytes.len())
        .step_by(CHUNK)
        .map(|i| Ok(bytes.slice(i..(i + CHUNK).min(bytes.len()))))
        .collect();
    Box::pin(futures_util::stream::iter(chunks))
}

struct StagedBytes {
    info: BlobInfo,
    bytes: Bytes,
    store: MemoryBlobs,
}

#[async_trait]
impl StagedBlob for StagedBytes {
    fn info(&self) -> &BlobInfo {
        &self.info
    }

    async fn commit(self: Box<Self>) -> StoreResult<BlobInfo> {
        self.store
            .inner
            .write()
            .map_err(poisoned)?
            .blobs
            .insert(self.info.digest.clone(), self.bytes);
        Ok(self.info)
    }
}

#[async_trait]
impl StagedPart for StagedBytes {
    fn size(&self) -> u64 {
        self.bytes.len() as u64
    }

    async fn commit(self: Box<Self>, upload_id: &str, seq: u64, _: u64) -> StoreResult<()> {
        let mut t = self.store.inner.write().map_err(poisoned)?;
        if t.sealed.contains(upload_id) {
            return Err(StoreError::UploadClosed(upload_id.to_owned()));
        }
        t.parts
            .entry(upload_id.to_owned())
            .or_default()
            .insert(seq, self.bytes);
        Ok(())
    }
}

impl MemoryBlobs {
    async fn stage_bytes(
        &self,
        data: &mut (dyn AsyncRead + Send + Unpin),
        mut intake: Intake,
    ) -> StoreResult<StagedBytes> {
        let mut buf = Vec::new();
        loop {
            let chunk = intake.next(data).await?;
            if chunk.is_empty() {
                break;
            }
            buf.extend_from_slice(chunk);
        }
        Ok(StagedBytes {
            info: intake.finish(),
            bytes: Bytes::from(buf),
            store: self.clone(),
        })
    }
}

#[async_trait]
impl BlobStore for MemoryBlobs {
    async fn stage(
        &self,
        data: &mut (dyn AsyncRead + Send + Unpin),
        max: u64,
    ) -> StoreResult<Box<dyn StagedBlob>> {
        Ok(Box::new(self.stage_bytes(data, Intake::new(max)).await?))
    }

    async fn get(&self, digest: &str, start: u64, end: u64) -> StoreResult<Payload> {
        let bytes = self
            .inner
            .read()
            .map_err(poisoned)?
            .blobs
            .get(digest)
            .cloned()
            .ok_or_else(|| StoreError::BlobMissing(digest.into()))?;
        let end = (end as usize).min(bytes.len());
        let start = (start as usize).min(end);
        Ok(Payload::Stream(chunked(bytes.slice(start..end))))
    }

    async fn size(&self, digest: &str) -> StoreResult<Option<u64>> {
        Ok(self
            .inner
            .read()
            .map_err(poisoned)?
            .blobs
            .get(digest)
            .map(|b| b.len() as u64))
    }

    async fn delete(&self, digest: &str) -> StoreResult<()> {
        self.inner.write().map_err(poisoned)?.blobs.remove(digest);
        Ok(())
    }

    fn list(&self) -> KeyStream<'_> {
        let keys: StoreResult<Vec<String>> = self
            .inner
            .read()
            .map_err(poisoned)
            .map(|t| t.blobs.keys().cloned().collect());
        match keys {
            Ok(keys) => Box::pin(futures_util::stream::iter(keys.into_iter().map(Ok))),
            Err(e) => Box::pin(futures_util::stream::once(async { Err(e) })),
        }
    }
}

#[async_trait]
impl PartStore for MemoryBlobs {
    async fn stage_block(
        &self,
        data: &mut (dyn AsyncRead + Send + Unpin),
        max: u64,
    ) -> StoreResult<Box<dyn StagedPart>> {
        Ok(Box::new(
            self.stage_bytes(data, Intake::with_hash(max, false))
                .await?,
        ))
    }

    async fn part_sizes(&self, upload_id: &str) -> StoreResult<BTreeMap<u64, u64>> {
        Ok(self
            .inner
            .read()
            .map_err(poisoned)?
            .parts
            .get(upload_id)
            .map(|p| p.iter().map(|(seq, b)| (*seq, b.len() as u64)).collect())
            .unwrap_or_default())
    }

    async fn part(&self, upload_id: &str, seq: u64) -> StoreResult<ByteStream> {
        let bytes = self
            .inner
            .read()
            .map_err(poisoned)?
            .parts
            .get(upload_id)
            .and_then(|p| p.get(&seq))
            .cloned()
            .ok_or_else(|| StoreError::BlobMissing(format!("{upload_id}/{seq}")))?;
        Ok(chunked(bytes))
    }

    async fn discard_parts(&self, upload_id: &str) -> StoreResult<()> {
        let mut t = self.inner.write().map_err(poisoned)?;
        t.parts.remove(upload_id);
        t.sealed.remove(upload_id);
        Ok(())
    }

    async fn assemble(&self, upload_id: &str, block_num: u64) -> StoreResult<Box<dyn StagedBlob>> {
        let whole = {
            let mut t = self.inner.write().map_err(poisoned)?;
            let parts = t.parts.get(upload_id);
            let blocks: Option<Vec<Bytes>> = (0..block_num)
                .map(|seq| parts.and_then(|p| p.get(&seq)).cloned())
                .collect();
            let blocks =
                blocks.ok_or_else(|| StoreError::BlobMissing(format!("{upload_id}: a block")))?;
            t.sealed.insert(upload_id.to_owned());
            blocks.concat()
        };
        self.stage(&mut &whole[..], u64::MAX).await
    }

    async fn part_uploads(&self) -> StoreResult<Vec<String>> {
        Ok(self
            .inner
            .read()
            .map_err(poisoned)?
            .parts
            .keys()
            .cloned()
            .collect())
    }
}

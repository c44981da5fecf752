//! Both traits in memory: nothing touches the disk (`serve --memory`, tests).

use crate::blob::{BlobInfo, BlobStore, ByteStream};
use crate::error::{StoreError, StoreResult};
use crate::meta::{Batch, MetaStore};
use crate::model::{AccessToken, App, Document, Media, StoredTokenKind, User};
use async_trait::async_trait;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::RwLock;
use tokio::io::{AsyncRead, AsyncReadExt};

#[derive(Default)]
struct Tables {
    apps: HashMap<String, App>,
    users: HashMap<String, User>,
    tokens: HashMap<String, AccessToken>,
    documents: HashMap<String, Document>,
    media: HashMap<String, Media>,
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

    fn read<T>(&self, f: impl FnOnce(&Tables) -> T) -> StoreResult<T> {
        let guard = self
            .tables
            .read()
            .map_err(|_| StoreError::Backend("lock poisoned".into()))?;
        Ok(f(&guard))
    }
}

#[async_trait]
impl MetaStore for MemoryMeta {
    async fn apply(&self, batch: &Batch) -> StoreResult<()> {
        let mut t = self
            .tables
            .write()
            .map_err(|_| StoreError::Backend("lock poisoned".into()))?;
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
        self.read(|t| t.apps.get(app_id).cloned())
    }

    async fn user(&self, user_id: &str) -> StoreResult<Option<User>> {
        self.read(|t| t.users.get(user_id).cloned())
    }

    async fn token(&self, hash: &str) -> StoreResult<Option<AccessToken>> {
        self.read(|t| t.tokens.get(hash).cloned())
    }

    async fn latest_token(
        &self,
        app_id: &str,
        kind: StoredTokenKind,
    ) -> StoreResult<Option<AccessToken>> {
        self.read(|t| {
            t.tokens
                .values()
                .filter(|k| k.app_id == app_id && k.kind == kind)
                .max_by_key(|k| (k.issued_at_ms, k.hash.clone()))
                .cloned()
        })
    }

    async fn document(&self, token: &str) -> StoreResult<Option<Document>> {
        self.read(|t| t.documents.get(token).cloned())
    }

    async fn media(&self, file_token: &str) -> StoreResult<Option<Media>> {
        self.read(|t| t.media.get(file_token).cloned())
    }

    async fn purge_expired_tokens(&self, before_ms: i64) -> StoreResult<u64> {
        let mut t = self
            .tables
            .write()
            .map_err(|_| StoreError::Backend("lock poisoned".into()))?;
        let n = t.tokens.len();
        t.tokens
            .retain(|_, k| k.kind == StoredTokenKind::User || k.expires_at_ms >= before_ms);
        Ok((n - t.tokens.len()) as u64)
    }

    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }
}

/// Blobs as shared byte buffers.
#[derive(Default)]
pub struct MemoryBlobs {
    blobs: RwLock<HashMap<String, Bytes>>,
}

impl MemoryBlobs {
    pub fn new() -> Self {
        Self::default()
    }
}

/// Chunk size of the streams handed out, so readers see a stream and not one buffer.
const CHUNK: usize = 64 * 1024;

#[async_trait]
impl BlobStore for MemoryBlobs {
    async fn put(&self, data: &mut (dyn AsyncRead + Send + Unpin)) -> StoreResult<BlobInfo> {
        let mut buf = Vec::new();
        data.read_to_end(&mut buf).await?;
        let sha256 = hex::encode(Sha256::digest(&buf));
        let size = buf.len() as u64;
        self.blobs
            .write()
            .map_err(|_| StoreError::Backend("lock poisoned".into()))?
            .insert(sha256.clone(), Bytes::from(buf));
        Ok(BlobInfo { sha256, size })
    }

    async fn get(&self, sha256: &str, start: u64, end: u64) -> StoreResult<ByteStream> {
        let bytes = self
            .blobs
            .read()
            .map_err(|_| StoreError::Backend("lock poisoned".into()))?
            .get(sha256)
            .cloned()
            .ok_or_else(|| StoreError::BlobMissing(sha256.into()))?;
        let end = (end as usize).min(bytes.len());
        let start = (start as usize).min(end);
        let slice = bytes.slice(start..end);
        let chunks: Vec<std::io::Result<Bytes>> = (0..slice.len())
            .step_by(CHUNK)
            .map(|i| Ok(slice.slice(i..(i + CHUNK).min(slice.len()))))
            .collect();
        Ok(Box::pin(futures_util::stream::iter(chunks)))
    }

    async fn size(&self, sha256: &str) -> StoreResult<Option<u64>> {
        Ok(self
            .blobs
            .read()
            .map_err(|_| StoreError::Backend("lock poisoned".into()))?
            .get(sha256)
            .map(|b| b.len() as u64))
    }

    async fn delete(&self, sha256: &str) -> StoreResult<()> {
        self.blobs
            .write()
            .map_err(|_| StoreError::Backend("lock poisoned".into()))?
            .remove(sha256);
        Ok(())
    }
}

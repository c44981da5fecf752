//! The blob trait: content-addressed bytes, read back by range as a stream.

use crate::error::StoreResult;
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;
use std::pin::Pin;
use tokio::io::AsyncRead;

/// Bytes on their way out: never the whole blob in memory at once.
pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// What a write produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    /// SHA-256 of the bytes, hex; the key to read them back with.
    pub sha256: String,
    pub size: u64,
}

/// Blobs are immutable and keyed by their SHA-256, so a key never changes meaning and
/// the same bytes are stored once.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Stores everything `data` yields. Returns only once the bytes are durable.
    async fn put(&self, data: &mut (dyn AsyncRead + Send + Unpin)) -> StoreResult<BlobInfo>;

    /// The bytes `start..end` (end exclusive) of blob `sha256`.
    /// `BlobMissing` when there is no such blob.
    async fn get(&self, sha256: &str, start: u64, end: u64) -> StoreResult<ByteStream>;

    /// The size of blob `sha256`, if it exists.
    async fn size(&self, sha256: &str) -> StoreResult<Option<u64>>;

    /// Removes blob `sha256`; absent is fine.
    async fn delete(&self, sha256: &str) -> StoreResult<()>;
}

/// Whether `key` has the form of a key this store hands out (64 lowercase hex digits).
/// Backends check it before building a path or an object name from it.
pub fn is_valid_key(key: &str) -> bool {
    key.len() == 64 && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

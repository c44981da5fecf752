//! The blob traits: [`BlobStore`], content-addressed bytes, read back by range in the
//! form the backend holds them ([`Payload`]), written in two phases (stage, then commit)
//! so a caller can check what it received before anything becomes visible; and
//! [`PartStore`], the blocks of chunked uploads, staged as [`StagedPart`]s (not blobs)
//! and assembled into a blob at the end.

use crate::error::{StoreError, StoreResult};
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use tokio::io::AsyncRead;

/// Bytes on their way out: never the whole blob in memory at once.
pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// Some bytes of a blob, as the backend holds them, so that a server can choose the
/// cheapest way to send them (object_store's `GetResultPayload` has the same shape).
pub enum Payload {
    /// Already in memory.
    Bytes(Bytes),
    /// A range of an open local file: a server may hand it to `sendfile(2)`.
    File(FileRange),
    /// Anything else, as it arrives.
    Stream(ByteStream),
}

/// `len` bytes of `file` from `offset`.
#[derive(Debug, Clone)]
pub struct FileRange {
    pub file: Arc<std::fs::File>,
    pub offset: u64,
    pub len: u64,
}

/// Read size when a [`FileRange`] is streamed rather than sent by `sendfile(2)`.
const FILE_CHUNK: u64 = 128 * 1024;

impl FileRange {
    /// The next chunk from `offset`, read in the blocking pool (`pread`: the file's
    /// shared position is never moved, so ranges of one file can be read at once).
    pub async fn read_chunk(&self, offset: u64, max: u64) -> std::io::Result<Bytes> {
        let file = self.file.clone();
        let len = max.min(self.offset + self.len - offset) as usize;
        tokio::task::spawn_blocking(move || {
            use std::os::unix::fs::FileExt;
            let mut buf = vec![0; len];
            let mut filled = 0;
            while filled < len {
                let n = file.read_at(&mut buf[filled..], offset + filled as u64)?;
                if n == 0 {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the blob file is shorter than its range",
                    ));
                }
                filled += n;
            }
            Ok(Bytes::from(buf))
        })
        .await
        .map_err(std::io::Error::other)?
    }

    /// The range as a stream of chunks.
    pub fn into_stream(self) -> ByteStream {
        let end = self.offset + self.len;
        Box::pin(futures_util::stream::try_unfold(
            (self, None::<u64>),
            move |(range, at)| async move {
                let at = at.unwrap_or(range.offset);
                if at >= end {
                    return Ok(None);
                }
                let chunk = range.read_chunk(at, FILE_CHUNK).await?;
                let next = at + chunk.len() as u64;
                Ok(Some((chunk, (range, Some(next)))))
            },
        ))
    }
}

impl Payload {
    /// The bytes as a stream, whatever their form.
    pub fn into_stream(self) -> ByteStream {
        match self {
            Self::Bytes(b) => Box::pin(futures_util::stream::once(async move { Ok(b) })),
            Self::File(f) => f.into_stream(),
            Self::Stream(s) => s,
        }
    }
}

/// What a write produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    /// The bytes' digest ([`digest_of`]); the key to read them back with.
    pub digest: String,
    pub size: u64,
}

/// Bytes received and hashed but not yet visible. Dropping it discards them.
#[async_trait]
pub trait StagedBlob: Send {
    fn info(&self) -> &BlobInfo;
    /// Makes the bytes a blob, durably.
    async fn commit(self: Box<Self>) -> StoreResult<BlobInfo>;
}

/// A block of a chunked upload, received but not yet part of it. Dropping it discards
/// it. (Not a [`StagedBlob`]: a block never becomes a blob by itself, and is not hashed
/// as one.)
#[async_trait]
pub trait StagedPart: Send {
    /// How many bytes it holds.
    fn size(&self) -> u64;
    /// Makes the bytes block `seq` of chunked upload `upload_id`, durably, replacing an
    /// earlier block with that number. `offset` is where the block starts in the
    /// assembled file: every block but the last is as long as the upload's block size.
    /// `UploadClosed` once the upload has been assembled.
    async fn commit(self: Box<Self>, upload_id: &str, seq: u64, offset: u64) -> StoreResult<()>;
}

/// Blob keys as a listing finds them.
pub type KeyStream<'a> = Pin<Box<dyn Stream<Item = StoreResult<String>> + Send + 'a>>;

/// Blobs are immutable and keyed by their digest ([`digest_of`]), so a key never changes
/// meaning and the same bytes are stored once.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Receives everything `data` yields (at most `max` bytes, else `TooLarge`), hashing
    /// it on the way. A reader error is `Source`. Nothing is visible until the commit.
    async fn stage(
        &self,
        data: &mut (dyn AsyncRead + Send + Unpin),
        max: u64,
    ) -> StoreResult<Box<dyn StagedBlob>>;

    /// Stores everything `data` yields. Returns only once the bytes are durable.
    async fn put(&self, data: &mut (dyn AsyncRead + Send + Unpin)) -> StoreResult<BlobInfo> {
        self.stage(data, u64::MAX).await?.commit().await
    }

    /// The bytes `start..end` (end exclusive; cut at the blob's end) of blob `digest`,
    /// in the form this backend holds them. `BlobMissing` when there is no such blob.
    async fn get(&self, digest: &str, start: u64, end: u64) -> StoreResult<Payload>;

    /// [`Self::get`]'s answer when this backend holds the bytes in memory, without a
    /// future (`async_trait` boxes one per call). `None`: ask [`Self::get`].
    fn get_in_memory(&self, _digest: &str, _start: u64, _end: u64) -> Option<Payload> {
        None
    }

    /// The size of blob `digest`, if it exists.
    async fn size(&self, digest: &str) -> StoreResult<Option<u64>>;

    /// Removes blob `digest`; absent is fine.
    async fn delete(&self, digest: &str) -> StoreResult<()>;

    /// Every blob key, as the listing finds them (sweeps of blobs no media points at).
    fn list(&self) -> KeyStream<'_>;

    /// When blob `digest` was written (Unix ms), for stores that others write to as
    /// well: a sweep leaves young blobs alone, since another process may be about to
    /// write the media that points at one. `None`: not known (or no such blob).
    async fn written_ms(&self, digest: &str) -> StoreResult<Option<i64>> {
        let _ = digest;
        Ok(None)
    }

    /// Answers when the backend can serve (readiness).
    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }

    /// Removes staged data last written before `before_ms` (Unix milliseconds, from the
    /// caller's clock: the store reads no time itself) that no write is using any more;
    /// returns how many. Backends that keep nothing between calls have nothing to do.
    async fn sweep_staged(&self, _before_ms: i64) -> StoreResult<usize> {
        Ok(0)
    }
}

/// Every key of `store`, collected (tests, the admin API's reset).
pub async fn all_keys(store: &dyn BlobStore) -> StoreResult<Vec<String>> {
    futures_util::TryStreamExt::try_collect(store.list()).await
}

/// The blocks of chunked uploads, kept apart from blobs until an upload is assembled
/// into a blob of the same store.
#[async_trait]
pub trait PartStore: BlobStore {
    /// Receives a block whose place is not known yet (at most `max` bytes, else
    /// `TooLarge`; a reader error is `Source`). Blocks are not hashed as blobs are (the
    /// assembled file is, at the end).
    async fn stage_block(
        &self,
        data: &mut (dyn AsyncRead + Send + Unpin),
        max: u64,
    ) -> StoreResult<Box<dyn StagedPart>>;

    /// [`stage_block`](Self::stage_block) when the block's place is known before its
    /// bytes arrive: backends may then write the bytes straight where they belong (the
    /// filesystem store does, so a chunked upload writes each byte once). Commit it with
    /// the same `upload_id`, `seq` and `offset`; uncommitted, it is not part of the upload.
    async fn stage_part(
        &self,
        upload_id: &str,
        seq: u64,
        offset: u64,
        data: &mut (dyn AsyncRead + Send + Unpin),
        max: u64,
    ) -> StoreResult<Box<dyn StagedPart>> {
        let _ = (upload_id, seq, offset);
        self.stage_block(data, max).await
    }

    /// The blocks of upload `upload_id` received so far: `seq → size`.
    async fn part_sizes(&self, upload_id: &str) -> StoreResult<BTreeMap<u64, u64>>;

    /// Block `seq` of upload `upload_id`, whole.
    async fn part(&self, upload_id: &str, seq: u64) -> StoreResult<ByteStream>;

    /// Drops every block of upload `upload_id` (those its assembled blob still uses
    /// stay that blob's); absent is fine.
    async fn discard_parts(&self, upload_id: &str) -> StoreResult<()>;

    /// Upload ids that have blocks stored (to sweep those whose session is gone).
    async fn part_uploads(&self) -> StoreResult<Vec<String>>;

    /// Blocks `0..block_num` of an upload, in order, staged as one blob; the upload takes
    /// no more blocks after that. By default the blocks are streamed into
    /// [`BlobStore::stage`] (no block held in memory beyond the one being copied);
    /// backends do better where they can.
    async fn assemble(&self, upload_id: &str, block_num: u64) -> StoreResult<Box<dyn StagedBlob>> {
        let mut streams = Vec::with_capacity(block_num as usize);
        for seq in 0..block_num {
            streams.push(self.part(upload_id, seq).await?);
        }
        let joined = futures_util::stream::iter(streams).flatten();
        let mut reader = tokio_util::io::StreamReader::new(joined);
        self.stage(&mut reader, u64::MAX).await
    }
}

/// Whether `key` has the form of a key this store hands out (64 lowercase hex digits).
/// Backends check it before building a path or an object name from it.
pub fn is_valid_key(key: &str) -> bool {
    key.len() == 64 && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A blob's key: the BLAKE3 hash of its bytes, in hex (64 characters).
///
/// BLAKE3 and not SHA-256 (the key until 0.1): every uploaded byte is hashed, and on
/// this project's machines SHA-256 (with SHA-NI) takes 0.60 s per GiB where BLAKE3
/// takes 0.22 s; in a chunked upload of 1 GiB, SHA-256 was a third of the server's CPU
/// time. Blobs stored under SHA-256 keys stay readable: a key is only a name.
pub fn digest_of(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// Whether `id` may name an upload in a path or object name: 1 to 64 of `[A-Za-z0-9_-]`.
pub fn is_valid_upload_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The bookkeeping every backend does while staging: hash, count, enforce the limit,
/// and tell a failing source (the client's fault) from a failing disk.
pub(crate) struct Intake {
    /// `None` for blocks, which are not hashed.
    hasher: Option<blake3::Hasher>,
    size: u64,
    max: u64,
    buf: Vec<u8>,
}

/// Read size while staging.
const INTAKE_BUF: usize = 256 * 1024;

impl Intake {
    pub(crate) fn new(max: u64) -> Self {
        Self::with_hash(max, true)
    }

    pub(crate) fn with_hash(max: u64, hash: bool) -> Self {
        Self {
            hasher: hash.then(blake3::Hasher::new),
            size: 0,
            max,
            // Allocated on the first `next`: `read_into` callers bring their own.
            buf: Vec::new(),
        }
    }

    /// The next chunk of `data`, empty at the end.
    pub(crate) async fn next(
        &mut self,
        data: &mut (dyn AsyncRead + Send + Unpin),
    ) -> StoreResult<&[u8]> {
        let mut buf = std::mem::take(&mut self.buf);
        if buf.is_empty() {
            buf = vec![0; INTAKE_BUF];
        }
        let n = self.read_into(data, &mut buf).await;
        self.buf = buf;
        Ok(&self.buf[..n?])
    }

    /// Reads the next bytes of `data` into `buf`, with the same bookkeeping as
    /// [`Intake::next`]; 0 at the end. For callers that read into buffers of their own.
    pub(crate) async fn read_into(
        &mut self,
        data: &mut (dyn AsyncRead + Send + Unpin),
        buf: &mut [u8],
    ) -> StoreResult<usize> {
        use tokio::io::AsyncReadExt;
        let n = data
            .read(buf)
            .await
            .map_err(|e| StoreError::Source(e.to_string()))?;
        self.size += n as u64;
        if self.size > self.max {
            return Err(StoreError::TooLarge(self.max));
        }
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        Ok(n)
    }

    pub(crate) fn finish(self) -> BlobInfo {
        BlobInfo {
            digest: self
                .hasher
                .map(|h| h.finalize().to_hex().to_string())
                .unwrap_or_default(),
            size: self.size,
        }
    }
}

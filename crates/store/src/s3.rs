//! Blobs on an S3-compatible server (`--blobs s3://BUCKET?endpoint=…&region=…`), through
//! object_store: SigV4, path-style addressing when an endpoint is given, any server.
//!
//! # Objects
//!
//! - `blobs/<digest>`: a blob of at most one block (4 MiB), as one object.
//! - `parts/<upload>/<seq>/<tag>`: block `seq` of chunked upload `<upload>`, one object per
//!   block, written whole by one PUT (so a block is there entirely or not at all). The
//!   tag is the block's BLAKE3 chaining value when the block sits where the BLAKE3 tree
//!   has a subtree, else random. (Names stay under 150 bytes: s3s-fs, the test server,
//!   keeps an object's metadata in a file named after the key in base64.) Every PUT of a
//!   block is a new object (a random suffix follows the tag: `<tag>.<nonce>`); the
//!   older copies are deleted after it, and of two left by a race the newest counts.
//! - `parts/<upload>/sealed`: written when the upload becomes a blob (its body is the
//!   blob's digest). No block is taken after that, and the blob's blocks stay;
//!   `parts/<upload>/discarded`, once the upload's session is gone: its blocks are the
//!   blob's alone, the upload has none.
//! - `staged/<id>/<seq>`: the blocks of a blob longer than one block, written through
//!   [`BlobStore::stage`] (a seed's large file).
//! - `composite/<digest>/<set>`: a blob made of blocks: a small JSON index naming the
//!   block objects of set `<set>` (an upload id or a staged id) in order.
//!
//! # Why blobs of several blocks are indexes, not one object
//!
//! Feishu's blocks are 4 MiB; S3 wants 5 MiB for every part of a multipart upload but
//! the last, and `UploadPartCopy` has the same minimum, so blocks cannot be parts, nor be
//! copied into parts. Pairing blocks into parts would read half the bytes back. Instead a
//! finished upload's blocks stay where they are and an index says which ones make the
//! blob: `upload_finish` writes two small objects and moves no byte. Its digest needs no
//! byte either: BLAKE3 is a tree, 4 MiB is a power-of-two number of its 1 KiB chunks, so
//! each block's chaining value is computed as the block arrives and `upload_finish`
//! merges them ([`blake3::hazmat`]); blocks of other sizes are read back and hashed. A
//! ranged read of such a blob asks only for the blocks it spans.
//!
//! Buffers: a block is held in memory from its first byte until its PUT (a PUT needs its
//! length), and at most [`BUFFERS`] blocks are, across all requests; the next writer
//! waits for a buffer.

use crate::blob::{
    BlobInfo, BlobStore, ByteStream, Intake, KeyStream, PartStore, Payload, StagedBlob, StagedPart,
};
use crate::blob::{is_valid_key, is_valid_upload_id};
use crate::error::{StoreError, StoreResult};
use async_trait::async_trait;
use blake3::hazmat::{
    ChainingValue, HasherExt, Mode, max_subtree_len, merge_subtrees_non_root, merge_subtrees_root,
};
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncRead;
use tokio::sync::Semaphore;

/// The block of the wire contract, and the largest object a blob's bytes are kept in.
pub const BLOCK: u64 = 4 * 1024 * 1024;
/// Blocks of a composite blob asked for ahead of the one being streamed: their GETs run
/// at once (a 512 MiB download: 2 ahead 0.72× a direct GET of one object, 4 ahead 1.3×;
/// each is a connection whose socket buffers fill, not memory of ours).
const READ_AHEAD: usize = 4;
/// Block buffers held at once, in all requests (96 MiB).
const BUFFERS: usize = 24;
/// How long a request to the server may take to connect, and to be retried in all: an
/// unreachable server fails a request within a few seconds rather than hanging.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const RETRY_TIMEOUT: Duration = Duration::from_secs(2);

/// The store; cheap to clone (staged blobs keep one to write with).
#[derive(Clone)]
pub struct S3Blobs(Arc<Bucket>);

impl std::ops::Deref for S3Blobs {
    type Target = Bucket;
    fn deref(&self) -> &Bucket {
        &self.0
    }
}

pub struct Bucket {
    store: Arc<dyn ObjectStore>,
    /// The indexes of composite blobs, by digest (immutable, so never stale).
    composites: quick_cache::sync::Cache<String, Arc<Composite>>,
    buffers: Arc<Semaphore>,
    /// Where this store points, without credentials (for errors and logs).
    name: String,
}

/// A blob made of blocks.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Composite {
    size: u64,
    /// The block objects, in order, and their lengths.
    parts: Vec<String>,
    sizes: Vec<u64>,
}

/// The settings an `s3://` URL gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    pub endpoint: Option<String>,
    pub region: Option<String>,
}

impl S3Url {
    /// `s3://BUCKET?endpoint=http://HOST:PORT&region=REGION` (both optional).
    pub fn parse(url: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| "not an s3:// URL".to_owned())?;
        let (bucket, query) = rest.split_once('?').unwrap_or((rest, ""));
        let bucket = bucket.trim_end_matches('/');
        if bucket.is_empty() || bucket.contains('/') {
            return Err("the URL names no bucket (s3://BUCKET?…)".into());
        }
        let mut out = Self {
            bucket: bucket.to_owned(),
            endpoint: None,
            region: None,
        };
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            match &*k {
                "endpoint" => {
                    if !(v.starts_with("http://") || v.starts_with("https://")) {
                        return Err(format!("endpoint {v:?} is not an http(s):// address"));
                    }
                    out.endpoint = Some(v.into_owned());
                }
                "region" => out.region = Some(v.into_owned()),
                other => return Err(format!("unknown setting {other:?} (endpoint, region)")),
            }
        }
        Ok(out)
    }
}

fn os_err(e: object_store::Error) -> StoreError {
    StoreError::Backend(format!("S3: {e}"))
}

fn is_not_found(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. })
}

fn blob_path(digest: &str) -> Path {
    Path::from(format!("blobs/{digest}"))
}

fn sealed_path(upload_id: &str) -> Path {
    Path::from(format!("parts/{upload_id}/sealed"))
}

/// The marker of a finished upload whose session is gone (see the module's comment).
const DISCARDED: &str = "discarded";

/// Where block `seq` of upload `upload_id` is written, tagged `tag`. One folder per seq,
/// so that a commit lists only the copies of its own block. Every write gets a name of
/// its own (a random suffix after the tag): a commit deletes the copies older than its
/// own by name, and with one name per tag, the same bytes sent twice at once were one
/// object written twice, so each commit could delete the other's fresh write and leave
/// none (the conformance suite's "same block sent twice at once" caught it on CI).
fn block_path(upload_id: &str, seq: u64, tag: &str) -> Path {
    let nonce = rand::random::<u32>();
    Path::from(format!("parts/{upload_id}/{seq}/{tag}.{nonce:08x}"))
}

/// A block object's name, parsed: `parts/<upload>/<seq>/<tag>.<nonce>` (or without the
/// nonce, as blocks were named before it).
#[derive(Debug, Clone, Copy)]
struct BlockName {
    seq: u64,
    /// The chaining value, when the tag is one.
    cv: Option<ChainingValue>,
}

impl BlockName {
    fn of(location: &Path) -> Option<Self> {
        let parts: Vec<_> = location.parts().collect();
        let [root, _, seq, tag] = parts.as_slice() else {
            return None;
        };
        if root.as_ref() != "parts" {
            return None;
        }
        let seq = seq.as_ref().parse().ok()?;
        let tag = tag.as_ref().split('.').next().unwrap_or_default();
        let mut cv = [0u8; 32];
        let cv = hex::decode_to_slice(tag, &mut cv).ok().map(|_| cv);
        Some(Self { seq, cv })
    }
}

/// Hashing a block as it arrives, as a subtree of the BLAKE3 tree when it is one.
struct BlockHash {
    hasher: Option<blake3::Hasher>,
    offset: u64,
    /// The most bytes the subtree at `offset` may hold.
    max: Option<u64>,
    len: u64,
}

impl BlockHash {
    fn new(offset: Option<u64>) -> Self {
        let hasher = match offset {
            Some(0) => Some(blake3::Hasher::new()),
            Some(o) if o % blake3::CHUNK_LEN as u64 == 0 => {
                let mut h = blake3::Hasher::new();
                h.set_input_offset(o);
                Some(h)
            }
            _ => None,
        };
        // Only chunk-aligned offsets have subtrees (max_subtree_len asserts it).
        let max = offset
            .filter(|&o| o > 0 && hasher.is_some())
            .and_then(max_subtree_len);
        Self {
            hasher,
            offset: offset.unwrap_or(1),
            max,
            len: 0,
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        self.len += bytes.len() as u64;
        if self.max.is_some_and(|m| self.len > m) {
            self.hasher = None; // not a subtree: no chaining value, never a panic
        }
        if let Some(h) = &mut self.hasher {
            h.update(bytes);
        }
    }

    /// The object name's tag.
    fn tag(self) -> String {
        match self.hasher {
            Some(h) if self.len > 0 => hex::encode(h.finalize_non_root()),
            _ => format!("r{:016x}", rand::random::<u64>()),
        }
    }
}

impl S3Blobs {
    /// Connects to the bucket `url` names and checks that it answers. `credentials`
    /// (access key, secret) when given, else the standard `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`.
    pub async fn open(url: &str, credentials: Option<(String, String)>) -> StoreResult<Self> {
        let parsed = S3Url::parse(url).map_err(StoreError::Config)?;
        // reqwest's HTTPS is built without a crypto provider (one TLS stack in the tree).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(&parsed.bucket)
            .with_client_options(
                object_store::ClientOptions::new()
                    .with_connect_timeout(CONNECT_TIMEOUT)
                    // Downloads stream for as long as the client reads.
                    .with_timeout_disabled()
                    .with_allow_http(true),
            )
            .with_retry(object_store::RetryConfig {
                max_retries: 2,
                retry_timeout: RETRY_TIMEOUT,
                backoff: object_store::BackoffConfig {
                    init_backoff: Duration::from_millis(50),
                    max_backoff: Duration::from_millis(500),
                    base: 2.0,
                },
            });
        if let Some((id, secret)) = credentials {
            builder = builder
                .with_access_key_id(id)
                .with_secret_access_key(secret);
        }
        if let Some(endpoint) = &parsed.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_virtual_hosted_style_request(false);
        }
        if let Some(region) = &parsed.region {
            builder = builder.with_region(region);
        }
        let name = format!(
            "s3://{}{}",
            parsed.bucket,
            parsed
                .endpoint
                .as_deref()
                .map(|e| format!(" at {e}"))
                .unwrap_or_default()
        );
        let store = builder
            .build()
            .map_err(|e| StoreError::Config(format!("{name}: {e}")))?;
        let blobs = Self(Arc::new(Bucket {
            store: Arc::new(store),
            composites: quick_cache::sync::Cache::new(100_000),
            buffers: Arc::new(Semaphore::new(BUFFERS)),
            name,
        }));
        blobs.check().await?;
        Ok(blobs)
    }
}

impl Bucket {
    /// One listing: the bucket exists and the credentials are accepted.
    pub async fn check(&self) -> StoreResult<()> {
        self.store
            .list_with_delimiter(Some(&Path::from("blobs")))
            .await
            .map(|_| ())
            .map_err(|e| StoreError::Unavailable(format!("{}: {e}", self.name)))
    }

    /// Reads `data` into one block buffer (at most `max` bytes and one block), with a
    /// buffer permit held for as long as the bytes are.
    async fn read_block(
        &self,
        data: &mut (dyn AsyncRead + Send + Unpin),
        intake: &mut Intake,
        hash: &mut BlockHash,
    ) -> StoreResult<(Bytes, tokio::sync::OwnedSemaphorePermit)> {
        let permit = self
            .buffers
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Backend("buffers closed".into()))?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut block = Vec::new();
        while (block.len() as u64) < BLOCK {
            let room = (BLOCK as usize - block.len()).min(buf.len());
            let n = intake.read_into(data, &mut buf[..room]).await?;
            if n == 0 {
                break;
            }
            hash.update(&buf[..n]);
            block.extend_from_slice(&buf[..n]);
        }
        Ok((Bytes::from(block), permit))
    }

    async fn put_object(&self, path: &Path, bytes: Bytes) -> StoreResult<()> {
        self.store
            .put(path, PutPayload::from_bytes(bytes))
            .await
            .map_err(os_err)?;
        Ok(())
    }

    /// Every object under `prefix`.
    async fn list_under(&self, prefix: &str) -> StoreResult<Vec<object_store::ObjectMeta>> {
        self.store
            .list(Some(&Path::from(prefix)))
            .try_collect()
            .await
            .map_err(os_err)
    }

    async fn delete_all(&self, paths: Vec<Path>) -> StoreResult<usize> {
        let n = paths.len();
        let stream = futures_util::stream::iter(paths.into_iter().map(Ok)).boxed();
        self.store
            .delete_stream(stream)
            .try_for_each(|_| async { Ok(()) })
            .await
            .or_else(|e| if is_not_found(&e) { Ok(()) } else { Err(e) })
            .map_err(os_err)?;
        Ok(n)
    }

    /// The blocks of upload `upload_id` that count: per seq, the newest object (by time,
    /// then name).
    async fn blocks(
        &self,
        upload_id: &str,
    ) -> StoreResult<BTreeMap<u64, object_store::ObjectMeta>> {
        if !is_valid_upload_id(upload_id) {
            return Ok(BTreeMap::new());
        }
        let mut out: BTreeMap<u64, object_store::ObjectMeta> = BTreeMap::new();
        let listing = self.list_under(&format!("parts/{upload_id}")).await?;
        if listing
            .iter()
            .any(|m| m.location.filename() == Some(DISCARDED))
        {
            return Ok(out);
        }
        for meta in listing {
            let Some(name) = BlockName::of(&meta.location) else {
                continue;
            };
            let newer = out.get(&name.seq).is_none_or(|old| {
                (meta.last_modified, meta.location.as_ref())
                    > (old.last_modified, old.location.as_ref())
            });
            if newer {
                out.insert(name.seq, meta);
            }
        }
        Ok(out)
    }

    async fn is_sealed(&self, upload_id: &str) -> StoreResult<Option<String>> {
        match self.store.get(&sealed_path(upload_id)).await {
            Ok(r) => Ok(Some(
                String::from_utf8_lossy(&r.bytes().await.map_err(os_err)?).into_owned(),
            )),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(os_err(e)),
        }
    }

    /// The index of composite blob `digest`, if there is one.
    async fn composite(&self, digest: &str) -> StoreResult<Option<Arc<Composite>>> {
        if let Some(c) = self.composites.get(digest) {
            return Ok(Some(c));
        }
        let Some(index) = self
            .list_under(&format!("composite/{digest}"))
            .await?
            .into_iter()
            .next()
        else {
            return Ok(None);
        };
        let Some(c) = self.read_index(&index.location).await? else {
            return Ok(None);
        };
        let c = Arc::new(c);
        self.composites.insert(digest.to_owned(), c.clone());
        Ok(Some(c))
    }

    /// The index at `path`, if it is there.
    async fn read_index(&self, path: &Path) -> StoreResult<Option<Composite>> {
        let bytes = match self.store.get(path).await {
            Ok(r) => r.bytes().await.map_err(os_err)?,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(os_err(e)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("index {path}: {e}")))
    }

    /// Bytes `start..end` of one object, streamed. `None` when it does not exist.
    async fn get_object(
        &self,
        path: &Path,
        start: u64,
        end: u64,
    ) -> StoreResult<Option<ByteStream>> {
        let options = GetOptions::new().with_range(Some(GetRange::Bounded(start..end)));
        match self.store.get_opts(path, options).await {
            Ok(r) => Ok(Some(Box::pin(
                r.into_stream().map_err(std::io::Error::other),
            ))),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(os_err(e)),
        }
    }

    /// Writes the block objects of a blob's bytes after the first block (already read
    /// into `first`) under `staged/<id>/`, returning their names.
    async fn stage_blocks(
        &self,
        id: &str,
        first: Bytes,
        data: &mut (dyn AsyncRead + Send + Unpin),
        intake: &mut Intake,
    ) -> StoreResult<Vec<(String, u64)>> {
        let mut names = Vec::new();
        let mut block = first;
        for seq in 0u64.. {
            if block.is_empty() {
                break;
            }
            let name = format!("staged/{id}/{seq}");
            let len = block.len() as u64;
            self.put_object(&Path::from(name.as_str()), block).await?;
            names.push((name, len));
            let mut ignore = BlockHash::new(None);
            let (next, _permit) = self.read_block(data, intake, &mut ignore).await?;
            block = next;
        }
        Ok(names)
    }
}

/// Bytes hashed and held (one block at most), or written as staged blocks, not yet a blob.
struct Staged {
    store: S3Blobs,
    info: BlobInfo,
    form: StagedForm,
}

enum StagedForm {
    /// One block, in memory: committing writes `blobs/<digest>`.
    Small(Bytes, Option<tokio::sync::OwnedSemaphorePermit>),
    /// Blocks already written under `staged/<id>/` (or an upload's): committing writes
    /// the index, sealing the upload when it is one.
    Blocks {
        set: String,
        upload: bool,
        /// Block objects and their lengths.
        parts: Vec<(String, u64)>,
    },
}

/// A block of a chunked upload, in memory and hashed for its place when that was known:
/// committing writes it under `parts/`.
struct StagedBlock {
    store: S3Blobs,
    bytes: Bytes,
    hash: BlockHash,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for Staged {
    fn drop(&mut self) {
        // Uncommitted staged blocks: removed in the background (the sweep catches what
        // this misses).
        if let StagedForm::Blocks {
            set, upload: false, ..
        } = &self.form
        {
            let store = self.store.clone();
            let prefix = format!("staged/{set}");
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    if let Ok(objs) = store.list_under(&prefix).await {
                        let _ = store
                            .delete_all(objs.into_iter().map(|o| o.location).collect())
                            .await;
                    }
                });
            }
        }
    }
}

#[async_trait]
impl StagedBlob for Staged {
    fn info(&self) -> &BlobInfo {
        &self.info
    }

    async fn commit(mut self: Box<Self>) -> StoreResult<BlobInfo> {
        let form = std::mem::replace(&mut self.form, StagedForm::Small(Bytes::new(), None));
        let store = self.store.clone();
        match form {
            StagedForm::Small(bytes, _permit) => {
                store
                    .put_object(&blob_path(&self.info.digest), bytes)
                    .await?;
            }
            StagedForm::Blocks { set, upload, parts } => {
                if upload {
                    store
                        .put_object(&sealed_path(&set), Bytes::from(self.info.digest.clone()))
                        .await?;
                }
                if store.composite(&self.info.digest).await?.is_none() {
                    let index = Composite {
                        size: self.info.size,
                        sizes: parts.iter().map(|p| p.1).collect(),
                        parts: parts.into_iter().map(|p| p.0).collect(),
                    };
                    let body = serde_json::to_vec(&index)?;
                    store
                        .put_object(
                            &Path::from(format!("composite/{}/{set}", self.info.digest)),
                            Bytes::from(body),
                        )
                        .await?;
                }
            }
        }
        Ok(self.info.clone())
    }
}

#[async_trait]
impl StagedPart for StagedBlock {
    fn size(&self) -> u64 {
        self.bytes.len() as u64
    }

    async fn commit(self: Box<Self>, upload_id: &str, seq: u64, offset: u64) -> StoreResult<()> {
        if !is_valid_upload_id(upload_id) {
            return Err(StoreError::Backend(format!("upload id {upload_id:?}")));
        }
        let StagedBlock {
            store,
            bytes,
            hash,
            _permit,
        } = *self;
        // Hashed for another place (or none): hash it for this one.
        let hash = if hash.offset == offset && hash.hasher.is_some() {
            hash
        } else {
            let mut h = BlockHash::new(Some(offset));
            h.update(&bytes);
            h
        };
        let store = &store;
        if store.is_sealed(upload_id).await?.is_some() {
            return Err(StoreError::UploadClosed(upload_id.to_owned()));
        }
        let path = block_path(upload_id, seq, &hash.tag());
        store.put_object(&path, bytes).await?;
        // The copies this one replaces: those that count less (see `blocks`). Of two
        // sent at once, each deletes only the other if it is the older one.
        let same_seq = store
            .list_under(&format!("parts/{upload_id}/{seq}"))
            .await?;
        let name = path.as_ref();
        let rank = |m: &object_store::ObjectMeta| (m.last_modified, m.location.to_string());
        let Some(mine) = same_seq
            .iter()
            .find(|m| m.location.as_ref() == name)
            .map(rank)
        else {
            return Ok(()); // replaced already by a newer copy
        };
        let older: Vec<Path> = same_seq
            .iter()
            .filter(|m| rank(m) < mine)
            .map(|m| m.location.clone())
            .collect();
        store.delete_all(older).await?;
        Ok(())
    }
}

/// The digest of blocks `0..n` from their names alone, when every block is a subtree of
/// the BLAKE3 tree: all but the last `block` bytes long, `block` a power-of-two number of
/// chunks, each with its chaining value. `None` otherwise, and for one block (whose hash
/// is a root's, not a subtree's): then the bytes are hashed.
fn merged_digest(blocks: &[(BlockName, u64)]) -> Option<String> {
    let (_, first_len) = blocks.first()?;
    if blocks.len() == 1 {
        return None;
    }
    let block = *first_len;
    let chunks = block / blake3::CHUNK_LEN as u64;
    if block % blake3::CHUNK_LEN as u64 != 0 || !chunks.is_power_of_two() {
        return None;
    }
    let (last, inner) = blocks.split_last()?;
    if inner.iter().any(|(_, len)| *len != block) || last.1 == 0 || last.1 > block {
        return None;
    }
    let cvs: Vec<ChainingValue> = blocks.iter().map(|(b, _)| b.cv).collect::<Option<_>>()?;
    fn merge(cvs: &[ChainingValue]) -> ChainingValue {
        if cvs.len() == 1 {
            return cvs[0];
        }
        let left = split(cvs.len());
        merge_subtrees_non_root(&merge(&cvs[..left]), &merge(&cvs[left..]), Mode::Hash)
    }
    /// The left subtree of `n` blocks (the last possibly short): the largest power of
    /// two below `n`.
    fn split(n: usize) -> usize {
        if n.is_power_of_two() {
            n / 2
        } else {
            n.next_power_of_two() / 2
        }
    }
    let left = split(cvs.len());
    let root = merge_subtrees_root(&merge(&cvs[..left]), &merge(&cvs[left..]), Mode::Hash);
    Some(root.to_hex().to_string())
}

#[async_trait]
impl BlobStore for S3Blobs {
    async fn stage(
        &self,
        data: &mut (dyn AsyncRead + Send + Unpin),
        max: u64,
    ) -> StoreResult<Box<dyn StagedBlob>> {
        let mut intake = Intake::new(max);
        let mut ignore = BlockHash::new(None);
        let (first, permit) = self.read_block(data, &mut intake, &mut ignore).await?;
        if (first.len() as u64) < BLOCK {
            let info = intake.finish();
            return Ok(Box::new(Staged {
                store: self.clone(),
                info,
                form: StagedForm::Small(first, Some(permit)),
            }));
        }
        drop(permit);
        let id = format!("{:032x}", rand::random::<u128>());
        let mut staged = Staged {
            store: self.clone(),
            info: BlobInfo {
                digest: String::new(),
                size: 0,
            },
            form: StagedForm::Blocks {
                set: id.clone(),
                upload: false,
                parts: Vec::new(),
            },
        };
        let parts = self.stage_blocks(&id, first, data, &mut intake).await?;
        staged.info = intake.finish();
        staged.form = StagedForm::Blocks {
            set: id,
            upload: false,
            parts,
        };
        Ok(Box::new(staged))
    }

    async fn get(&self, digest: &str, start: u64, end: u64) -> StoreResult<Payload> {
        if !is_valid_key(digest) {
            return Err(StoreError::BlobMissing(digest.to_owned()));
        }
        if start < end {
            if let Some(c) = self.composites.get(digest) {
                return Ok(self.read_composite(c, start, end));
            }
            // Most blobs are one object: ask for it first.
            match self.get_object(&blob_path(digest), start, end).await {
                Ok(Some(stream)) => return Ok(Payload::Stream(stream)),
                Ok(None) => {
                    if let Some(c) = self.composite(digest).await? {
                        return Ok(self.read_composite(c, start, end));
                    }
                    return Err(StoreError::BlobMissing(digest.to_owned()));
                }
                // A start past the end (416) or a failure: the size tells which.
                Err(_) => {}
            }
        }
        match self.size(digest).await? {
            Some(_) => Ok(Payload::Bytes(Bytes::new())),
            None => Err(StoreError::BlobMissing(digest.to_owned())),
        }
    }

    async fn size(&self, digest: &str) -> StoreResult<Option<u64>> {
        if !is_valid_key(digest) {
            return Ok(None);
        }
        match self.store.head(&blob_path(digest)).await {
            Ok(meta) => return Ok(Some(meta.size)),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(os_err(e)),
        }
        Ok(self.composite(digest).await?.map(|c| c.size))
    }

    async fn delete(&self, digest: &str) -> StoreResult<()> {
        if !is_valid_key(digest) {
            return Ok(());
        }
        self.delete_all(vec![blob_path(digest)]).await?;
        self.composites.remove(digest);
        for index in self.list_under(&format!("composite/{digest}")).await? {
            let set = index.location.filename().unwrap_or_default().to_owned();
            // Each index's own blocks (two uploads of the same bytes at once leave two).
            if let Some(c) = self.read_index(&index.location).await? {
                self.delete_all(c.parts.iter().map(|p| Path::from(p.as_str())).collect())
                    .await?;
            }
            let discarded = Path::from(format!("parts/{set}/{DISCARDED}"));
            self.delete_all(vec![index.location.clone(), sealed_path(&set), discarded])
                .await?;
        }
        Ok(())
    }

    /// Whole blobs as the listing pages in, then composite ones (their indexes).
    fn list(&self) -> KeyStream<'_> {
        let name = |m: object_store::Result<object_store::ObjectMeta>, part: usize| {
            m.map_err(os_err)
                .map(|m| m.location.parts().nth(part).map(|p| p.as_ref().to_owned()))
        };
        let whole = self
            .store
            .list(Some(&Path::from("blobs")))
            .map(move |m| name(m, 1));
        // A composite blob may have two indexes (two uploads of the same bytes at once):
        // listed in key order, so repeats are next to each other.
        let mut last = None;
        let composite = self
            .store
            .list(Some(&Path::from("composite")))
            .map(move |m| name(m, 1))
            .filter_map(move |k| {
                let out = match k {
                    Ok(Some(k)) if last.as_ref() == Some(&k) => None,
                    Ok(Some(k)) => {
                        last = Some(k.clone());
                        Some(Ok(Some(k)))
                    }
                    other => Some(other),
                };
                std::future::ready(out)
            });
        Box::pin(
            whole
                .chain(composite)
                .filter_map(|k| std::future::ready(k.transpose())),
        )
    }

    async fn ping(&self) -> StoreResult<()> {
        self.check().await
    }

    async fn written_ms(&self, digest: &str) -> StoreResult<Option<i64>> {
        if !is_valid_key(digest) {
            return Ok(None);
        }
        match self.store.head(&blob_path(digest)).await {
            Ok(meta) => return Ok(Some(meta.last_modified.timestamp_millis())),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(os_err(e)),
        }
        Ok(self
            .list_under(&format!("composite/{digest}"))
            .await?
            .first()
            .map(|m| m.last_modified.timestamp_millis()))
    }

    async fn sweep_staged(&self, before_ms: i64) -> StoreResult<usize> {
        let used: HashSet<String> = self
            .list_under("composite")
            .await?
            .into_iter()
            .filter_map(|m| m.location.filename().map(str::to_owned))
            .collect();
        let mut sets: BTreeMap<String, (i64, Vec<Path>)> = BTreeMap::new();
        for meta in self.list_under("staged").await? {
            let Some(set) = meta.location.parts().nth(1).map(|p| p.as_ref().to_owned()) else {
                continue;
            };
            let entry = sets.entry(set).or_insert((i64::MIN, Vec::new()));
            entry.0 = entry.0.max(meta.last_modified.timestamp_millis());
            entry.1.push(meta.location);
        }
        let mut n = 0;
        for (set, (newest, paths)) in sets {
            if newest < before_ms && !used.contains(&set) {
                n += self.delete_all(paths).await?;
            }
        }
        Ok(n)
    }
}

#[async_trait]
impl PartStore for S3Blobs {
    async fn stage_block(
        &self,
        data: &mut (dyn AsyncRead + Send + Unpin),
        max: u64,
    ) -> StoreResult<Box<dyn StagedPart>> {
        self.stage_part_at(None, data, max).await
    }

    async fn stage_part(
        &self,
        _upload_id: &str,
        _seq: u64,
        offset: u64,
        data: &mut (dyn AsyncRead + Send + Unpin),
        max: u64,
    ) -> StoreResult<Box<dyn StagedPart>> {
        self.stage_part_at(Some(offset), data, max).await
    }

    async fn part_sizes(&self, upload_id: &str) -> StoreResult<BTreeMap<u64, u64>> {
        Ok(self
            .blocks(upload_id)
            .await?
            .into_iter()
            .map(|(seq, meta)| (seq, meta.size))
            .collect())
    }

    async fn part(&self, upload_id: &str, seq: u64) -> StoreResult<ByteStream> {
        let blocks = self.blocks(upload_id).await?;
        let meta = blocks
            .get(&seq)
            .ok_or_else(|| StoreError::BlobMissing(format!("{upload_id} block {seq}")))?;
        match self.store.get(&meta.location).await {
            Ok(r) => Ok(Box::pin(r.into_stream().map_err(std::io::Error::other))),
            Err(e) => Err(os_err(e)),
        }
    }

    async fn discard_parts(&self, upload_id: &str) -> StoreResult<()> {
        if !is_valid_upload_id(upload_id) {
            return Ok(());
        }
        // A finished upload's blocks are its blob's: only the ones it does not use go.
        let keep: HashSet<String> = match self.is_sealed(upload_id).await? {
            Some(digest) if is_valid_key(&digest) => match self.composite(&digest).await? {
                Some(c)
                    if c.parts
                        .iter()
                        .all(|p| p.starts_with(&format!("parts/{upload_id}/"))) =>
                {
                    let discarded = format!("parts/{upload_id}/{DISCARDED}");
                    self.put_object(&Path::from(discarded.as_str()), Bytes::new())
                        .await?;
                    let mut keep: HashSet<String> = c.parts.iter().cloned().collect();
                    keep.insert(sealed_path(upload_id).to_string());
                    keep.insert(discarded);
                    keep
                }
                _ => HashSet::new(),
            },
            _ => HashSet::new(),
        };
        let gone: Vec<Path> = self
            .list_under(&format!("parts/{upload_id}"))
            .await?
            .into_iter()
            .map(|m| m.location)
            .filter(|p| !keep.contains(p.as_ref()))
            .collect();
        self.delete_all(gone).await?;
        Ok(())
    }

    async fn part_uploads(&self) -> StoreResult<Vec<String>> {
        let listing = self
            .store
            .list_with_delimiter(Some(&Path::from("parts")))
            .await
            .map_err(os_err)?;
        let mut out = Vec::new();
        for prefix in listing.common_prefixes {
            let Some(id) = prefix.filename().map(str::to_owned) else {
                continue;
            };
            // Finished uploads discarded already are not leftovers: what is left of
            // them is a blob's.
            let discarded = Path::from(format!("parts/{id}/{DISCARDED}"));
            match self.store.head(&discarded).await {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => out.push(id),
                Err(e) => return Err(os_err(e)),
            }
        }
        Ok(out)
    }

    async fn assemble(&self, upload_id: &str, block_num: u64) -> StoreResult<Box<dyn StagedBlob>> {
        let blocks = self.blocks(upload_id).await?;
        let mut named = Vec::with_capacity(block_num as usize);
        let mut parts = Vec::with_capacity(block_num as usize);
        for seq in 0..block_num {
            let meta = blocks
                .get(&seq)
                .ok_or_else(|| StoreError::BlobMissing(format!("{upload_id} block {seq}")))?;
            let name = BlockName::of(&meta.location)
                .ok_or_else(|| StoreError::Corrupt(meta.location.to_string()))?;
            named.push((name, meta.size));
            parts.push((meta.location.to_string(), meta.size));
        }
        let size = parts.iter().map(|p| p.1).sum();
        let digest = match merged_digest(&named) {
            Some(d) => d,
            None => self.hash_parts(parts.iter().map(|p| p.0.as_str())).await?,
        };
        Ok(Box::new(Staged {
            store: self.clone(),
            info: BlobInfo { digest, size },
            form: StagedForm::Blocks {
                set: upload_id.to_owned(),
                upload: true,
                parts,
            },
        }))
    }
}

impl Bucket {
    /// The BLAKE3 digest of block objects read back in order (blocks of sizes the tree
    /// does not line up with).
    async fn hash_parts(&self, parts: impl Iterator<Item = &str>) -> StoreResult<String> {
        let mut h = blake3::Hasher::new();
        for p in parts {
            let r = self.store.get(&Path::from(p)).await.map_err(os_err)?;
            let mut s = r.into_stream();
            while let Some(chunk) = s.next().await {
                h.update(&chunk.map_err(os_err)?);
            }
        }
        Ok(h.finalize().to_hex().to_string())
    }
}

impl S3Blobs {
    /// Bytes `start..end` of a composite blob: the blocks they span, one after another.
    fn read_composite(&self, c: Arc<Composite>, start: u64, end: u64) -> Payload {
        let end = end.min(c.size);
        // Each block's range in the blob, and what of it is asked for.
        let mut spans = Vec::new();
        let mut base = 0;
        for (i, len) in c.sizes.iter().enumerate() {
            let (from, to) = (start.max(base), end.min(base + len));
            if from < to {
                spans.push((i, from - base, to - base));
            }
            base += len;
        }
        let store = self.clone();
        // The next blocks' GETs are sent while the current one streams (in order), so
        // a block boundary costs no round trip.
        let stream = futures_util::stream::iter(spans)
            .map(move |(i, from, to)| {
                let store = store.clone();
                let path = Path::from(c.parts[i].as_str());
                async move {
                    match store.get_object(&path, from, to).await {
                        Ok(Some(s)) => Ok(s),
                        Ok(None) => Err(std::io::Error::other(format!("block {path} is missing"))),
                        Err(e) => Err(std::io::Error::other(e.to_string())),
                    }
                }
            })
            .buffered(READ_AHEAD)
            .try_flatten();
        Payload::Stream(Box::pin(stream))
    }

    /// A block, read whole into a buffer and hashed for its place when it is known.
    async fn stage_part_at(
        &self,
        offset: Option<u64>,
        data: &mut (dyn AsyncRead + Send + Unpin),
        max: u64,
    ) -> StoreResult<Box<dyn StagedPart>> {
        let mut intake = Intake::with_hash(max.min(BLOCK), false);
        let mut hash = BlockHash::new(offset);
        let (bytes, permit) = self.read_block(data, &mut intake, &mut hash).await?;
        // read_block stops at a block: one byte more is too large (the intake says so).
        if bytes.len() as u64 == BLOCK {
            let mut probe = [0u8; 1];
            intake.read_into(data, &mut probe).await?;
        }
        Ok(Box::new(StagedBlock {
            store: self.clone(),
            bytes,
            hash,
            _permit: permit,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digest merged from blocks' chaining values is BLAKE3's of the whole, for
    /// every number of blocks and every length of the last, at two block sizes.
    #[test]
    fn merged_digests_are_blake3s() {
        for block in [1024u64, 4096] {
            for n in 1..=9u64 {
                for last in [1, 511, block - 1, block] {
                    let len = (n - 1) * block + last;
                    let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
                    let names: Vec<(BlockName, u64)> = (0..n)
                        .map(|seq| {
                            let bytes =
                                &data[(seq * block) as usize..len.min((seq + 1) * block) as usize];
                            let mut h = BlockHash::new(Some(seq * block));
                            h.update(bytes);
                            let name = block_path("up", seq, &h.tag());
                            (BlockName::of(&name).unwrap(), bytes.len() as u64)
                        })
                        .collect();
                    let want = (n > 1).then(|| blake3::hash(&data).to_hex().to_string());
                    assert_eq!(
                        merged_digest(&names),
                        want,
                        "block {block}, {n} blocks, last {last}"
                    );
                }
            }
        }
    }

    /// Every write of a block has a name of its own; the tag reads the same with or
    /// without the nonce (blocks written before it have none).
    #[test]
    fn block_names_parse_with_and_without_their_nonce() {
        let mut h = BlockHash::new(Some(0));
        h.update(b"abc");
        let tag = h.tag();
        let named = BlockName::of(&block_path("up", 3, &tag)).unwrap();
        let before = BlockName::of(&Path::from(format!("parts/up/3/{tag}"))).unwrap();
        assert_eq!(named.seq, 3);
        assert!(named.cv.is_some());
        assert_eq!(named.cv, before.cv);
        assert_ne!(block_path("up", 3, &tag), block_path("up", 3, &tag));
    }

    /// Blocks the tree does not line up with give no merged digest (they are hashed).
    #[test]
    fn irregular_blocks_are_not_merged() {
        let named = |seq: u64, offset: u64, bytes: &[u8]| {
            let mut h = BlockHash::new(Some(offset));
            h.update(bytes);
            (
                BlockName::of(&block_path("up", seq, &h.tag())).unwrap(),
                bytes.len() as u64,
            )
        };
        // Not a power-of-two number of chunks.
        let a = vec![1u8; 3072];
        assert_eq!(merged_digest(&[named(0, 0, &a), named(1, 3072, &a)]), None);
        // A middle block shorter than the first.
        let b = vec![2u8; 1024];
        assert_eq!(
            merged_digest(&[
                named(0, 0, &b),
                named(1, 1024, &b[..10]),
                named(2, 2048, &b)
            ]),
            None
        );
        // Unaligned offsets have no chaining value, and never panic.
        assert!(named(1, 6, b"world").0.cv.is_none());
        // Longer than the subtree at its offset.
        assert!(named(1, 1024, &vec![0u8; 2048]).0.cv.is_none());
    }

    #[test]
    fn urls() {
        let u = S3Url::parse("s3://media?endpoint=http://127.0.0.1:9000&region=us-east-1").unwrap();
        assert_eq!(u.bucket, "media");
        assert_eq!(u.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(u.region.as_deref(), Some("us-east-1"));
        assert_eq!(S3Url::parse("s3://b").unwrap().endpoint, None);
        for bad in [
            "http://b",
            "s3://",
            "s3://a/b",
            "s3://b?endpoint=ftp://x",
            "s3://b?color=red",
        ] {
            assert!(S3Url::parse(bad).is_err(), "{bad}");
        }
    }
}

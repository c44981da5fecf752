//! Blobs as files: `<root>/blobs/<2 hex>/<digest>`, written through `<root>/tmp/`;
//! chunked uploads in `<root>/parts/<upload_id>/` ([`parts`]).
//!
//! A file becomes visible only by an atomic rename of a fully written, fsynced temp
//! file, and the directory is fsynced after, so a crash at any instant leaves either no
//! blob or the whole blob. Temp files left by a crash are swept when the store opens.

mod parts;
mod pieces;

use crate::blob::{
    BlobInfo, BlobStore, ByteStream, FileRange, Intake, KeyStream, PartStore, Payload, StagedBlob,
    StagedPart, is_valid_key,
};
use crate::error::{StoreError, StoreResult};
use async_trait::async_trait;
use futures_util::StreamExt;
use pieces::{DirectFile, write_pieces};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::AsyncRead;

/// Reads up to this long are answered from memory; longer ones are a range of the file.
const INLINE_MAX: u64 = 64 * 1024;
/// Blobs of at most this size are kept in memory whole once a short read reads them.
const HOT_BLOB_MAX: u64 = 1024 * 1024;

pub struct FsBlobs {
    blobs: PathBuf,
    /// `blobs`, open: a short read that misses memory opens its file relative to it, so
    /// the kernel walks two path components, not every one of the data directory's.
    blobs_dir: rustix::fd::OwnedFd,
    parts: Arc<parts::Parts>,
    tmp: PathBuf,
    /// Small blobs kept in memory: blobs never change, so a copy is never stale.
    hot: HotBlobs,
    /// Blob files kept open for `sendfile(2)`, for the same reason.
    open_files: OpenFiles,
}

/// At most this many blob files are kept open; the least used are closed first.
const OPEN_FILES_MAX: usize = 256;

/// The memory the hot blobs may take in all.
const HOT_BUDGET: usize = 32 * 1024 * 1024;

/// Small blobs kept in memory, weighed by their size (quick_cache: CLOCK-Pro eviction,
/// so a scan of many cold blobs does not push out the hot ones).
type HotBlobs = quick_cache::sync::Cache<String, bytes::Bytes, BlobWeight>;

#[derive(Clone)]
struct BlobWeight;

impl quick_cache::Weighter<String, bytes::Bytes> for BlobWeight {
    fn weight(&self, _: &String, blob: &bytes::Bytes) -> u64 {
        blob.len().max(1) as u64
    }
}

/// Blob files kept open, with their sizes.
type OpenFiles = quick_cache::sync::Cache<String, (Arc<std::fs::File>, u64)>;

fn slice(blob: &bytes::Bytes, start: u64, end: u64) -> bytes::Bytes {
    let end = (end as usize).min(blob.len());
    blob.slice((start as usize).min(end)..end)
}

impl FsBlobs {
    /// Opens (creating if needed) a blob directory and sweeps what a crash left in `tmp/`.
    pub async fn open(root: &Path) -> StoreResult<Self> {
        for dir in ["blobs", "parts", "tmp"] {
            tokio::fs::create_dir_all(root.join(dir)).await?;
        }
        let blobs = root.join("blobs");
        let blobs_dir = rustix::fs::open(
            &blobs,
            rustix::fs::OFlags::RDONLY
                | rustix::fs::OFlags::DIRECTORY
                | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(std::io::Error::from)?;
        let store = Self {
            blobs,
            blobs_dir,
            parts: Arc::new(parts::Parts::new(root.join("parts"), root.join("tmp"))),
            tmp: root.join("tmp"),
            // The item estimate only sizes the tables: small media are a few KiB.
            hot: HotBlobs::with_weighter(HOT_BUDGET / 4096, HOT_BUDGET as u64, BlobWeight),
            open_files: OpenFiles::new(OPEN_FILES_MAX),
        };
        // No write is under way while the store opens: every temp file is a leftover.
        let swept = store.sweep_staged(i64::MAX).await?;
        if swept > 0 {
            tracing::info!(swept, "removed temp files left by an earlier run");
        }
        Ok(store)
    }

    /// Opens blob `key` for reading, relative to the open blob directory.
    fn open_blob(&self, key: &str) -> StoreResult<std::fs::File> {
        if !is_valid_key(key) {
            return Err(StoreError::BlobMissing(key.into()));
        }
        // `ab/abcd…`, on the stack.
        let mut rel = [b'/'; 67];
        rel[..2].copy_from_slice(&key.as_bytes()[..2]);
        rel[3..].copy_from_slice(key.as_bytes());
        let fd = rustix::fs::openat(
            &self.blobs_dir,
            &rel[..],
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| not_found_is_missing(e.into(), key))?;
        Ok(std::fs::File::from(fd))
    }

    fn path(&self, key: &str) -> StoreResult<PathBuf> {
        if !is_valid_key(key) {
            return Err(StoreError::BlobMissing(key.into()));
        }
        Ok(self.blobs.join(&key[..2]).join(key))
    }

    fn staged(&self, info: BlobInfo, tmp: TempGuard) -> StagedFile {
        StagedFile {
            info,
            tmp,
            blobs: self.blobs.clone(),
            parts: self.parts.clone(),
        }
    }
}

impl FsBlobs {
    /// Writes `data` to a temp file, hashed (or not) as `intake` says, and fsyncs it.
    async fn stage_with(
        &self,
        data: &mut (dyn AsyncRead + Send + Unpin),
        mut intake: Intake,
    ) -> StoreResult<StagedFile> {
        let tmp_path = self
            .tmp
            .join(format!("{}.part", hex::encode(rand::random::<[u8; 16]>())));
        let guard = TempGuard(Some(tmp_path.clone()));
        let path = tmp_path.clone();
        let file = blocking(move || {
            DirectFile::open(
                &path,
                std::fs::OpenOptions::new().write(true).create_new(true),
            )
        })
        .await??;
        let file = Arc::new(file);
        write_pieces(&file, data, &mut intake, 0, &(), drop).await?;
        blocking(move || file.file.sync_all()).await??;
        Ok(self.staged(intake.finish(), guard))
    }
}

/// Deletes a temp file unless the write it belongs to succeeded.
struct TempGuard(Option<PathBuf>);

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Runs blocking file work on the blocking pool.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> StoreResult<T> {
    joined(tokio::task::spawn_blocking(f)).await
}

/// What a blocking-pool task returned (a task that panicked or was cancelled is a
/// backend error).
async fn joined<T>(task: tokio::task::JoinHandle<T>) -> StoreResult<T> {
    task.await
        .map_err(|e| StoreError::Backend(format!("blocking task: {e}")))
}

fn sync_dir_blocking(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

async fn sync_dir(dir: &Path) -> std::io::Result<()> {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || sync_dir_blocking(&dir))
        .await
        .map_err(std::io::Error::other)?
}

/// Renames the temp file to `target` (replacing what is there) and makes it durable.
async fn publish(mut guard: TempGuard, target: &Path) -> StoreResult<()> {
    let tmp = guard.0.clone().expect("a staged file has a temp path");
    let parent = target.parent().expect("targets have a parent").to_owned();
    tokio::fs::create_dir_all(&parent).await?;
    tokio::fs::rename(&tmp, target).await?;
    guard.0 = None;
    sync_dir(&parent).await?;
    Ok(())
}

fn not_found_is_missing(e: std::io::Error, what: &str) -> StoreError {
    if e.kind() == std::io::ErrorKind::NotFound {
        StoreError::BlobMissing(what.into())
    } else {
        e.into()
    }
}

/// `len` bytes from `start` (fewer at the end of the file), with positioned reads.
fn read_at(file: &std::fs::File, start: u64, len: u64) -> std::io::Result<bytes::Bytes> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; len as usize];
    let mut done = 0;
    while done < buf.len() {
        let n = file.read_at(&mut buf[done..], start + done as u64)?;
        if n == 0 {
            buf.truncate(done);
            break;
        }
        done += n;
    }
    Ok(bytes::Bytes::from(buf))
}

struct StagedFile {
    info: BlobInfo,
    tmp: TempGuard,
    blobs: PathBuf,
    parts: Arc<parts::Parts>,
}

#[async_trait]
impl StagedBlob for StagedFile {
    fn info(&self) -> &BlobInfo {
        &self.info
    }

    async fn commit(self: Box<Self>) -> StoreResult<BlobInfo> {
        if self.info.digest.is_empty() {
            return Err(StoreError::Backend(
                "a block staged without a hash cannot become a blob".into(),
            ));
        }
        let key = &self.info.digest;
        let target = self.blobs.join(&key[..2]).join(key);
        if tokio::fs::try_exists(&target).await? {
            // The same bytes are stored already; the temp copy goes with the guard.
            return Ok(self.info);
        }
        publish(self.tmp, &target).await?;
        Ok(self.info)
    }
}

/// A block staged before its place was known: a temp file, copied into its upload at
/// the commit.
#[async_trait]
impl StagedPart for StagedFile {
    fn size(&self) -> u64 {
        self.info.size
    }

    async fn commit(self: Box<Self>, upload_id: &str, seq: u64, offset: u64) -> StoreResult<()> {
        let tmp = self
            .tmp
            .0
            .as_deref()
            .expect("a staged file has a temp path");
        self.parts
            .commit_copy(tmp, upload_id, seq, offset, self.info.size)
            .await
        // The temp copy goes with the guard.
    }
}

#[async_trait]
impl BlobStore for FsBlobs {
    async fn stage(
        &self,
        data: &mut (dyn AsyncRead + Send + Unpin),
        max: u64,
    ) -> StoreResult<Box<dyn StagedBlob>> {
        Ok(Box::new(self.stage_with(data, Intake::new(max)).await?))
    }

    /// Short reads come from memory ([`Payload::Bytes`]); longer ones are a range of the
    /// blob's file ([`Payload::File`]), which the server sends with `sendfile(2)`: for a
    /// 300 KB media that beat copying the bytes out of memory (bench C: 0.74× nginx
    /// before, ~1.0× after). Files stay open for the next request.
    ///
    /// A short read that misses the memory cache opens and reads the file right here,
    /// on the calling (runtime) thread, as nginx does with `aio off`: `open`, `fstat`
    /// and one `pread` (the whole blob, to keep, when it is at most 1 MiB: once per
    /// blob) take microseconds from the page cache, where the hop to the blocking pool
    /// and back took two thread switches. Drawn from 100 000 media of 1–4 KiB (bench B100k),
    /// the hop made most requests sleep and serve 9 500 req/s. A long read only opens the
    /// file (in the pool: it may be many, and the bytes go out by `sendfile`).
    async fn get(&self, digest: &str, start: u64, end: u64) -> StoreResult<Payload> {
        let len = end.saturating_sub(start);
        let range = |(file, size): (Arc<std::fs::File>, u64)| {
            // A range past the end is cut at the end, as a read would be.
            let offset = start.min(size);
            let len = len.min(size - offset);
            Payload::File(FileRange { file, offset, len })
        };
        if len <= INLINE_MAX {
            if let Some(hit) = self.get_in_memory(digest, start, end) {
                return Ok(hit);
            }
            if let Some((file, size)) = self.open_files.get(digest) {
                return Ok(Payload::Bytes(read_at(&file, start.min(size), len)?));
            }
            let file = self.open_blob(digest)?;
            // A read from the start asks for one byte more than the range: when it comes
            // back short, the range was the whole blob (a whole GET, as most are) and
            // its size is known without an `fstat` (1.6% of the server's CPU under
            // bench B100k, where nearly every request opens a blob).
            if start == 0 {
                let bytes = read_at(&file, 0, len + 1)?;
                if bytes.len() as u64 <= len {
                    self.hot.insert(digest.to_owned(), bytes.clone());
                    return Ok(Payload::Bytes(bytes));
                }
            }
            let size = file.metadata()?.len();
            if size <= HOT_BLOB_MAX {
                let whole = read_at(&file, 0, size)?;
                self.hot.insert(digest.to_owned(), whole.clone());
                return Ok(Payload::Bytes(slice(&whole, start, end)));
            }
            // A short read of a larger blob: the range, and the file kept open.
            let bytes = read_at(&file, start.min(size), len)?;
            self.open_files
                .insert(digest.to_owned(), (Arc::new(file), size));
            return Ok(Payload::Bytes(bytes));
        }
        if let Some(open) = self.open_files.get(digest) {
            return Ok(range(open));
        }
        let path = self.path(digest)?;
        let key = digest.to_owned();
        let (file, size) = blocking(move || -> StoreResult<(std::fs::File, u64)> {
            let file = std::fs::File::open(&path).map_err(|e| not_found_is_missing(e, &key))?;
            let size = file.metadata()?.len();
            Ok((file, size))
        })
        .await??;
        let open = (Arc::new(file), size);
        self.open_files.insert(digest.to_owned(), open.clone());
        Ok(range(open))
    }

    fn get_in_memory(&self, digest: &str, start: u64, end: u64) -> Option<Payload> {
        if end.saturating_sub(start) > INLINE_MAX {
            return None;
        }
        let blob = self.hot.get(digest)?;
        Some(Payload::Bytes(slice(&blob, start, end)))
    }

    /// Asked here, on the calling thread, like a short read (see [`Self::get`]): a
    /// `stat` takes microseconds, the hop to the blocking pool more (an unchanged re-seed
    /// asks once per media).
    async fn size(&self, digest: &str) -> StoreResult<Option<u64>> {
        let Ok(path) = self.path(digest) else {
            return Ok(None);
        };
        match std::fs::metadata(&path) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete(&self, digest: &str) -> StoreResult<()> {
        self.hot.remove(digest);
        self.open_files.remove(digest);
        let Ok(path) = self.path(digest) else {
            return Ok(());
        };
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Shard by shard (`blobs/<2 hex>/`), each read in the blocking pool.
    fn list(&self) -> KeyStream<'_> {
        let root = self.blobs.clone();
        let shards = futures_util::stream::once(async move {
            blocking(move || -> StoreResult<Vec<PathBuf>> {
                let mut dirs = Vec::new();
                for e in std::fs::read_dir(&root)? {
                    dirs.push(e?.path());
                }
                dirs.sort();
                Ok(dirs)
            })
            .await?
        });
        let keys = shards
            .map(|dirs| match dirs {
                Ok(dirs) => futures_util::stream::iter(dirs.into_iter().map(Ok)).left_stream(),
                Err(e) => futures_util::stream::once(async { Err(e) }).right_stream(),
            })
            .flatten()
            .then(|dir: StoreResult<PathBuf>| async move {
                let dir = dir?;
                blocking(move || -> StoreResult<Vec<String>> {
                    let mut keys = Vec::new();
                    for f in std::fs::read_dir(&dir)? {
                        if let Some(name) = f?.file_name().to_str().filter(|n| is_valid_key(n)) {
                            keys.push(name.to_owned());
                        }
                    }
                    Ok(keys)
                })
                .await?
            })
            .map(|keys| match keys {
                Ok(keys) => futures_util::stream::iter(keys.into_iter().map(Ok)).left_stream(),
                Err(e) => futures_util::stream::once(async { Err(e) }).right_stream(),
            })
            .flatten();
        Box::pin(keys)
    }

    async fn sweep_staged(&self, before_ms: i64) -> StoreResult<usize> {
        let mut n = 0;
        let mut dir = tokio::fs::read_dir(&self.tmp).await?;
        while let Some(entry) = dir.next_entry().await? {
            let modified_ms = entry
                .metadata()
                .await?
                .modified()
                .ok()
                .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_millis() as i64);
            let old = modified_ms.is_none_or(|m| m < before_ms);
            if old {
                match tokio::fs::remove_file(entry.path()).await {
                    Ok(()) => n += 1,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(n)
    }
}

#[async_trait]
impl PartStore for FsBlobs {
    async fn stage_block(
        &self,
        data: &mut (dyn AsyncRead + Send + Unpin),
        max: u64,
    ) -> StoreResult<Box<dyn StagedPart>> {
        Ok(Box::new(
            self.stage_with(data, Intake::with_hash(max, false)).await?,
        ))
    }

    async fn stage_part(
        &self,
        upload_id: &str,
        seq: u64,
        offset: u64,
        data: &mut (dyn AsyncRead + Send + Unpin),
        max: u64,
    ) -> StoreResult<Box<dyn StagedPart>> {
        match self
            .parts
            .stage_in_place(upload_id, seq, offset, data, max)
            .await?
        {
            Some(staged) => Ok(staged),
            None => self.stage_block(data, max).await,
        }
    }

    async fn assemble(&self, upload_id: &str, block_num: u64) -> StoreResult<Box<dyn StagedBlob>> {
        let (info, link) = self.parts.assemble(upload_id, block_num).await?;
        Ok(Box::new(self.staged(info, link)))
    }

    async fn part_sizes(&self, upload_id: &str) -> StoreResult<BTreeMap<u64, u64>> {
        self.parts.sizes(upload_id).await
    }

    async fn part(&self, upload_id: &str, seq: u64) -> StoreResult<ByteStream> {
        let bytes = self.parts.read(upload_id, seq).await?;
        Ok(Box::pin(futures_util::stream::once(
            async move { Ok(bytes) },
        )))
    }

    async fn discard_parts(&self, upload_id: &str) -> StoreResult<()> {
        self.parts.discard(upload_id).await
    }

    async fn part_uploads(&self) -> StoreResult<Vec<String>> {
        self.parts.ids().await
    }
}

//! Blobs as files: `<root>/blobs/<2 hex>/<sha256>`, written through `<root>/tmp/`.
//!
//! A blob becomes visible only by an atomic rename of a fully written, fsynced temp
//! file, and the directory is fsynced after, so a crash at any instant leaves either no
//! blob or the whole blob. Temp files left by a crash are swept when the store opens.

use crate::blob::{BlobInfo, BlobStore, ByteStream, is_valid_key};
use crate::error::{StoreError, StoreResult};
use async_trait::async_trait;
use sha2::{Digest, Sha256};
use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio_util::io::ReaderStream;

/// Read and write buffer size: large enough that a 1 GiB stream is not dominated by
/// per-chunk overhead.
const BUF: usize = 256 * 1024;

pub struct FsBlobs {
    blobs: PathBuf,
    tmp: PathBuf,
}

impl FsBlobs {
    /// Opens (creating if needed) a blob directory and sweeps what a crash left in `tmp/`.
    pub async fn open(root: &Path) -> StoreResult<Self> {
        let blobs = root.join("blobs");
        let tmp = root.join("tmp");
        tokio::fs::create_dir_all(&blobs).await?;
        tokio::fs::create_dir_all(&tmp).await?;
        let store = Self { blobs, tmp };
        let swept = store.sweep_tmp().await?;
        if swept > 0 {
            tracing::info!(swept, "removed temp files left by an earlier run");
        }
        Ok(store)
    }

    /// Removes every temp file; returns how many. Safe only while no write is under way,
    /// which holds at start-up.
    async fn sweep_tmp(&self) -> StoreResult<usize> {
        let mut n = 0;
        let mut dir = tokio::fs::read_dir(&self.tmp).await?;
        while let Some(entry) = dir.next_entry().await? {
            tokio::fs::remove_file(entry.path()).await?;
            n += 1;
        }
        Ok(n)
    }

    fn path(&self, key: &str) -> StoreResult<PathBuf> {
        if !is_valid_key(key) {
            return Err(StoreError::BlobMissing(key.into()));
        }
        Ok(self.blobs.join(&key[..2]).join(key))
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

async fn sync_dir(dir: &Path) -> std::io::Result<()> {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all())
        .await
        .map_err(std::io::Error::other)?
}

#[async_trait]
impl BlobStore for FsBlobs {
    async fn put(&self, data: &mut (dyn AsyncRead + Send + Unpin)) -> StoreResult<BlobInfo> {
        let tmp_path = self
            .tmp
            .join(format!("{}.part", hex::encode(rand::random::<[u8; 16]>())));
        let mut guard = TempGuard(Some(tmp_path.clone()));
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp_path)
            .await?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; BUF];
        loop {
            let n = data.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            file.write_all(&buf[..n]).await?;
            size += n as u64;
        }
        file.flush().await?;
        file.sync_all().await?;
        drop(file);
        let sha256 = hex::encode(hasher.finalize());
        let final_path = self.path(&sha256)?;
        let parent = final_path
            .parent()
            .expect("blob paths have a parent")
            .to_owned();
        if tokio::fs::try_exists(&final_path).await? {
            // Same bytes already stored; the temp copy goes with the guard.
            return Ok(BlobInfo { sha256, size });
        }
        tokio::fs::create_dir_all(&parent).await?;
        tokio::fs::rename(&tmp_path, &final_path).await?;
        guard.0 = None;
        sync_dir(&parent).await?;
        Ok(BlobInfo { sha256, size })
    }

    async fn get(&self, sha256: &str, start: u64, end: u64) -> StoreResult<ByteStream> {
        let path = self.path(sha256)?;
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::BlobMissing(sha256.into()));
            }
            Err(e) => return Err(e.into()),
        };
        if start > 0 {
            file.seek(SeekFrom::Start(start)).await?;
        }
        let reader = file.take(end.saturating_sub(start));
        Ok(Box::pin(ReaderStream::with_capacity(reader, BUF)))
    }

    async fn size(&self, sha256: &str) -> StoreResult<Option<u64>> {
        let Ok(path) = self.path(sha256) else {
            return Ok(None);
        };
        match tokio::fs::metadata(&path).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete(&self, sha256: &str) -> StoreResult<()> {
        let Ok(path) = self.path(sha256) else {
            return Ok(());
        };
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

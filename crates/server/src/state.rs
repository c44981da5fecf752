//! What every handler shares, and how it is opened from a config.

use crate::clock::ServerClock;
use crate::config::{ServerConfig, Storage};
use crate::faults::Faults;
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::request_log::RequestLog;
use crate::seed::Manifest;
use feishu_media_store::cache::CachedMeta;
use feishu_media_store::fs::FsBlobs;
use feishu_media_store::memory::{MemoryBlobs, MemoryMeta};
use feishu_media_store::sqlite::SqliteMeta;
use feishu_media_store::{BlobStore, MetaStore, StoreError};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// Cheap to clone: everything is behind `Arc`.
#[derive(Clone)]
pub struct AppState {
    pub meta: Arc<dyn MetaStore>,
    pub blobs: Arc<dyn BlobStore>,
    /// Server secret: derives access tokens (and later signs temporary links).
    /// Kept in the data dir so tokens stay valid across restarts.
    pub secret: Arc<[u8; 32]>,
    pub config: Arc<ServerConfig>,
    /// Real time, which tests can move forward.
    pub clock: ServerClock,
    pub limits: Arc<Limits>,
    pub faults: Arc<Faults>,
    pub requests: Arc<RequestLog>,
    pub metrics: Arc<Metrics>,
    /// The manifests loaded at start, which the admin API's reset loads again.
    pub startup: Arc<RwLock<Vec<(Manifest, PathBuf)>>>,
}

impl AppState {
    /// Opens the storage the config names, creating what is missing, and sweeps what an
    /// earlier run left behind.
    pub async fn open(config: ServerConfig) -> Result<Self, StoreError> {
        let (meta, blobs, secret): (Arc<dyn MetaStore>, Arc<dyn BlobStore>, [u8; 32]) =
            match &config.storage {
                Storage::Memory => (
                    Arc::new(MemoryMeta::new()),
                    Arc::new(MemoryBlobs::new()),
                    config.secret.unwrap_or_else(rand::random),
                ),
                Storage::DataDir(dir) => {
                    tokio::fs::create_dir_all(dir).await?;
                    let meta = CachedMeta::new(SqliteMeta::open(&dir.join("meta.sqlite")).await?);
                    let blobs = FsBlobs::open(dir).await?;
                    let secret = match config.secret {
                        Some(s) => s,
                        None => load_or_create_secret(&dir.join("secret")).await?,
                    };
                    (Arc::new(meta), Arc::new(blobs), secret)
                }
            };
        let clock = if config.frozen_clock {
            ServerClock::frozen()
        } else {
            ServerClock::default()
        };
        let state = Self {
            meta,
            blobs,
            secret: Arc::new(secret),
            limits: Arc::new(Limits::new(clock.clone(), config.day_offset_hours)),
            config: Arc::new(config),
            clock,
            faults: Arc::default(),
            requests: Arc::default(),
            metrics: Arc::default(),
            startup: Arc::default(),
        };
        crate::sweep::sweep(&state, true).await?;
        Ok(state)
    }
}

/// Reads the 32-byte secret (hex) or writes a fresh one, atomically and readable by the
/// owner only.
async fn load_or_create_secret(path: &Path) -> Result<[u8; 32], StoreError> {
    match tokio::fs::read_to_string(path).await {
        Ok(text) => {
            let mut out = [0u8; 32];
            hex::decode_to_slice(text.trim(), &mut out)
                .map_err(|e| StoreError::Corrupt(format!("{}: {e}", path.display())))?;
            Ok(out)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret: [u8; 32] = rand::random();
            let tmp = path.with_extension("tmp");
            tokio::fs::write(&tmp, hex::encode(secret)).await?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                tokio::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).await?;
            }
            tokio::fs::rename(&tmp, path).await?;
            Ok(secret)
        }
        Err(e) => Err(e.into()),
    }
}

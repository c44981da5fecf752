//! Opening a server's state from its config: the backends it names, the secret, the
//! clock, and the in-process parts (limits, faults, metrics, request log).

use crate::clock::Clock;
use crate::config::{ServerConfig, Storage};
use crate::limits::Limits;
use crate::state::{AppState, Shared};
use feishu_media_store::cache::CachedMeta;
use feishu_media_store::fs::FsBlobs;
use feishu_media_store::memory::{MemoryBlobs, MemoryMeta};
use feishu_media_store::sql::SqliteMeta;
use feishu_media_store::{BlobStore, MetaStore, StoreError};
use std::path::Path;
use std::sync::Arc;

impl AppState {
    /// Opens the storage the config names, creating what is missing. Nothing is swept
    /// here: [`crate::serve`] sweeps what an earlier run left before it accepts requests.
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
            Clock::frozen()
        } else {
            Clock::default()
        };
        let limits = Limits::open(&config.limits, clock.clone(), config.day_offset_hours)
            .await
            .map_err(|why| StoreError::Backend(format!("--limits: {why}")))?;
        Ok(Self::new(Shared {
            meta,
            blobs,
            secret,
            limits,
            config,
            clock,
            faults: Default::default(),
            requests: Default::default(),
            metrics: Default::default(),
            startup: Default::default(),
        }))
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

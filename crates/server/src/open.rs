//! Opening a server's state from its config: the backends it names, the secret, the
//! clock, and the in-process parts (limits, faults, metrics, request log).

use crate::clock::Clock;
use crate::config::{BlobBackend, MetadataBackend, ServerConfig};
use crate::limits::Limits;
use crate::state::{AppState, Shared};
use feishu_media_store::cache::CachedMeta;
use feishu_media_store::fs::FsBlobs;
use feishu_media_store::memory::{MemoryBlobs, MemoryMeta};
use feishu_media_store::s3::S3Blobs;
use feishu_media_store::sql::{PostgresMeta, SqliteMeta, postgres};
use feishu_media_store::{BlobStore, MetaStore, PartStore, StoreError};
use std::path::Path;
use std::sync::Arc;

/// A store that would not open, with the setting it came from (`--metadata`, `--blobs`,
/// `--limits`) and why, never a credential.
#[derive(Debug, thiserror::Error)]
#[error("{setting}{}: {cause}", if target.is_empty() { String::new() } else { format!(" ({target})") })]
pub struct OpenError {
    pub setting: &'static str,
    /// Where it points, without credentials.
    pub target: String,
    pub cause: StoreError,
}

fn failed(
    setting: &'static str,
    target: impl Into<String>,
) -> impl FnOnce(StoreError) -> OpenError {
    let target = target.into();
    move |cause| OpenError {
        setting,
        target,
        cause,
    }
}

impl AppState {
    /// Opens the storage the config names, creating what is missing. Nothing is swept
    /// here: [`crate::serve`] sweeps what an earlier run left before it accepts requests.
    pub async fn open(config: ServerConfig) -> Result<Self, OpenError> {
        // The secret: given; else kept by the shared database (so every replica has the
        // same one), else in the data dir, else (memory) made up for this run.
        let mut stored_secret = None;
        let meta: Arc<dyn MetaStore> = match &config.storage.metadata {
            MetadataBackend::Memory => Arc::new(MemoryMeta::new()),
            MetadataBackend::Sqlite(dir) => {
                let path = dir.join("meta.sqlite");
                let open = async {
                    tokio::fs::create_dir_all(dir).await?;
                    SqliteMeta::open(&path).await
                };
                let sqlite = open
                    .await
                    .map_err(failed("--data-dir", path.display().to_string()))?;
                if config.secret.is_none() {
                    stored_secret = Some(
                        load_or_create_secret(&dir.join("secret"))
                            .await
                            .map_err(failed("--data-dir", dir.display().to_string()))?,
                    );
                }
                Arc::new(CachedMeta::new(sqlite))
            }
            MetadataBackend::Postgres(url) => {
                let target = postgres::describe(url);
                let pg = PostgresMeta::open(url)
                    .await
                    .map_err(failed("--metadata", target.clone()))?;
                if config.secret.is_none() {
                    let fresh = hex::encode(rand::random::<[u8; 32]>());
                    let text = pg
                        .setting_or_insert("secret", &fresh)
                        .await
                        .map_err(failed("--metadata", target.clone()))?;
                    let mut secret = [0u8; 32];
                    hex::decode_to_slice(text.trim(), &mut secret).map_err(|e| OpenError {
                        setting: "--metadata",
                        target: target.clone(),
                        cause: StoreError::Corrupt(format!("the stored secret: {e}")),
                    })?;
                    stored_secret = Some(secret);
                }
                Arc::new(CachedMeta::new(pg))
            }
        };
        let parts: Arc<dyn PartStore> = match &config.storage.blobs {
            BlobBackend::Memory => Arc::new(MemoryBlobs::new()),
            BlobBackend::Files(dir) => Arc::new(
                async {
                    tokio::fs::create_dir_all(dir).await?;
                    FsBlobs::open(dir).await
                }
                .await
                .map_err(failed("--data-dir", dir.display().to_string()))?,
            ),
            BlobBackend::S3 { url, credentials } => Arc::new(
                S3Blobs::open(url, credentials.clone())
                    .await
                    .map_err(failed(
                        "--blobs",
                        url.split('?').next().unwrap_or("").to_owned(),
                    ))?,
            ),
        };
        let blobs: Arc<dyn BlobStore> = parts.clone();
        let secret = config.secret.or(stored_secret).unwrap_or_else(rand::random);
        let clock = if config.frozen_clock {
            Clock::frozen()
        } else {
            Clock::default()
        };
        let limits = Limits::open(&config.limits, clock.clone(), config.day_offset_hours)
            .await
            .map_err(|why| OpenError {
                setting: "--limits",
                target: String::new(),
                cause: StoreError::Unavailable(why),
            })?;
        Ok(Self::new(Shared {
            meta,
            blobs,
            parts,
            secret,
            limits,
            config,
            clock,
            faults: Default::default(),
            requests: Default::default(),
            metrics: Default::default(),
            uploads: Default::default(),
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

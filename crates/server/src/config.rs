//! Typed settings with their defaults. The CLI layers flags and environment on top.

use std::path::PathBuf;
use std::time::Duration;

/// Where metadata and blobs live: two independent choices (any mix works).
#[derive(Debug, Clone)]
pub struct Storage {
    pub metadata: MetadataBackend,
    pub blobs: BlobBackend,
}

/// Where metadata lives (`--metadata`).
#[derive(Debug, Clone)]
pub enum MetadataBackend {
    /// Nothing on disk (`--memory`).
    Memory,
    /// SQLite in this directory (the embedded default).
    Sqlite(PathBuf),
    /// PostgreSQL, shared by replicas: `postgres://USER:PASS@HOST:PORT/DB`.
    Postgres(String),
}

/// Where blobs live (`--blobs`).
#[derive(Debug, Clone)]
pub enum BlobBackend {
    Memory,
    /// Files in this directory (the embedded default).
    Files(PathBuf),
    /// An S3-compatible bucket: `s3://BUCKET?endpoint=…&region=…`; credentials as given,
    /// else from the standard `AWS_*` variables.
    S3 {
        url: String,
        credentials: Option<(String, String)>,
    },
}

impl Storage {
    /// Nothing on disk (`--memory`).
    pub fn memory() -> Self {
        Self {
            metadata: MetadataBackend::Memory,
            blobs: BlobBackend::Memory,
        }
    }

    /// SQLite and files under `dir`: the embedded default.
    pub fn data_dir(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        Self {
            metadata: MetadataBackend::Sqlite(dir.clone()),
            blobs: BlobBackend::Files(dir),
        }
    }

    /// Whether other processes may share this storage (then no sweep may assume it is
    /// alone, and caches follow the others' writes).
    pub fn is_shared(&self) -> bool {
        matches!(self.metadata, MetadataBackend::Postgres(_))
            || matches!(self.blobs, BlobBackend::S3 { .. })
    }
}

/// Where rate-limit counts are kept.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LimitsBackend {
    /// In this process (the default); daily counts saved in the metadata store.
    #[default]
    InProcess,
    /// In Redis, shared by every replica: `redis://[user:password@]host:port[/db]`.
    Redis(String),
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub storage: Storage,
    /// The base of links the server hands out (`--public-url`); `None`: the listen address.
    pub public_url: Option<String>,
    /// Lifetime of tenant and app access tokens: Feishu's 2 h.
    pub token_ttl: Duration,
    /// A token with less than this left is replaced by a new one when asked for again.
    pub token_refresh_window: Duration,
    /// How long a chunked upload may stay unfinished (Feishu: 24 h).
    pub upload_ttl: Duration,
    /// How long a temporary download link works (Feishu: 24 h).
    pub tmp_url_ttl: Duration,
    /// The server secret, when given (`FEISHU_MEDIA_SECRET` / `--secret-file`): replicas
    /// that share it accept each other's tokens and links. `None`: generated once into
    /// the data dir (or at random for `--memory`).
    pub secret: Option<[u8; 32]>,
    /// The admin API's bearer token; `None` switches the admin API off.
    pub admin_token: Option<String>,
    /// The one folder the admin API may read media files from (`--fixtures-dir`);
    /// `None`: it reads none (bytes come in the request).
    pub fixtures_dir: Option<PathBuf>,
    /// Where rate-limit counts are kept (`--limits`).
    pub limits: LimitsBackend,
    /// Hours east of UTC where the rate limits' day ends (Feishu: UTC+8).
    pub day_offset_hours: i64,
    /// Stop the server's clock (tests of rate limits advance it by hand).
    pub frozen_clock: bool,
    /// How often expired upload sessions and stale temp files are swept.
    pub sweep_interval: Duration,
    /// A request body that sends nothing for this long is abandoned (the handler sees a
    /// failed body and answers 400; a client that stalls cannot hold a request forever).
    pub body_idle_timeout: Duration,
    /// A connection gets this long to send each request head, counted once per head.
    pub head_timeout: Duration,
    /// Connections served at once; past it new ones wait to be accepted.
    pub max_connections: usize,
    /// The largest file `upload_prepare` takes (bytes).
    pub max_upload_size: u64,
    /// Chunked uploads one app may have open at once.
    pub max_open_uploads: u64,
    /// The bytes one app's open chunked uploads may announce in all.
    pub max_open_upload_bytes: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            storage: Storage::memory(),
            public_url: None,
            token_ttl: Duration::from_secs(7200),
            token_refresh_window: Duration::from_secs(1800),
            upload_ttl: Duration::from_secs(24 * 3600),
            tmp_url_ttl: Duration::from_secs(24 * 3600),
            secret: None,
            admin_token: None,
            fixtures_dir: None,
            frozen_clock: false,
            limits: LimitsBackend::InProcess,
            day_offset_hours: 8,
            sweep_interval: Duration::from_secs(600),
            body_idle_timeout: Duration::from_secs(30),
            head_timeout: Duration::from_secs(30),
            max_connections: 16_384,
            max_upload_size: 20 * 1024 * 1024 * 1024,
            max_open_uploads: 1000,
            max_open_upload_bytes: 100 * 1024 * 1024 * 1024,
        }
    }
}

/// The 32-byte key for a secret given as text: its SHA-256, so any passphrase works and
/// the key is always full length.
pub fn secret_from_text(text: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(text.trim().as_bytes()).into()
}

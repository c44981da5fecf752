//! [`AppState`]: what every layer and handler shares. [`crate::open`] assembles it.

use crate::clock::Clock;
use crate::config::ServerConfig;
use crate::faults::Faults;
use crate::limits::Limits;
use crate::memory::Uploads;
use crate::metrics::Metrics;
use crate::request_log::RequestLog;
use crate::seed::manifest::Manifest;
use feishu_media_store::{BlobStore, MetaStore, PartStore};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

/// Cheap to clone (one `Arc`): every layer of every request holds one.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub meta: Arc<dyn MetaStore>,
    pub blobs: Arc<dyn BlobStore>,
    /// The blocks of chunked uploads: the same store as `blobs`, through its other trait.
    pub parts: Arc<dyn PartStore>,
    /// Server secret: derives access tokens and signs temporary links. Replicas that
    /// share it accept each other's tokens and links.
    pub secret: [u8; 32],
    pub config: ServerConfig,
    /// The one clock everything that expires or counts reads.
    pub clock: Clock,
    pub limits: Limits,
    pub faults: Faults,
    pub requests: RequestLog,
    pub metrics: Metrics,
    /// The uploads under way: after a burst, freed memory goes back to the kernel.
    pub uploads: Uploads,
    /// The manifests loaded at start, which the admin API's reset loads again.
    pub startup: RwLock<Vec<(Manifest, PathBuf)>>,
}

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

//! [`AppState`]: what every layer and handler shares. [`crate::open`] assembles it.

use crate::clock::Clock;
use crate::config::ServerConfig;
use crate::faults::Faults;
use crate::limits::Limits;
use crate::memory::Uploads;
use crate::metrics::Metrics;
use crate::request_log::RequestLog;
use crate::seed::manifest::Manifest;
use feishu_media_store::{
    AccessToken, App, BlobStore, Document, Media, MetaStore, PartStore, Payload, StoreResult,
};
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

/// A read of the download path: the row from memory, without a future, when the store
/// holds it there; else through the store's (boxed) future.
macro_rules! memory_first {
    ($(#[$doc:meta])* $name:ident, $in_memory:ident, $shared:ident, $t:ty) => {
        $(#[$doc])*
        pub async fn $name(&self, key: &str) -> StoreResult<Option<Arc<$t>>> {
            match self.meta.$in_memory(key) {
                Some(hit) => Ok(Some(hit)),
                None => self.meta.$shared(key).await,
            }
        }
    };
}

/// The reads every download makes, memory first (see [`MetaStore::media_in_memory`]).
impl Shared {
    memory_first!(
        /// An app by its id.
        app_row, app_in_memory, app_shared, App
    );
    memory_first!(
        /// A token by the hash of its text.
        token_row, token_in_memory, token_shared, AccessToken
    );
    memory_first!(
        /// A document by its token.
        document_row, document_in_memory, document_shared, Document
    );
    memory_first!(
        /// A media by its file token.
        media_row, media_in_memory, media_shared, Media
    );

    /// Bytes `start..end` of blob `digest` (see [`BlobStore::get`]).
    pub async fn blob(&self, digest: &str, start: u64, end: u64) -> StoreResult<Payload> {
        match self.blobs.get_in_memory(digest, start, end) {
            Some(hit) => Ok(hit),
            None => self.blobs.get(digest, start, end).await,
        }
    }
}

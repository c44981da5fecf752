//! The store's one error type: what went wrong, in terms a caller can act on.

/// A storage failure. Callers map every variant to 500/1061001 except where noted; the
/// details go to the log, never to a client.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A blob that metadata points at is not there (lost or never written).
    #[error("blob {0} is missing")]
    BlobMissing(String),
    /// Stored data that cannot be read back (bad JSON in a column, an unknown enum value).
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// The backend cannot be reached now (connection refused or lost, no connection
    /// free in time): readiness fails, and service resumes when it is back.
    #[error("storage backend unreachable: {0}")]
    Unavailable(String),
    /// A backend's settings are unusable (a malformed URL, a missing bucket).
    #[error("storage settings: {0}")]
    Config(String),
    /// The backend itself failed (disk, database).
    #[error("storage backend: {0}")]
    Backend(String),
    /// The data being stored ran past the limit the caller set; nothing was kept.
    #[error("more than {0} bytes")]
    TooLarge(u64),
    /// The reader of the data being stored failed (a client that went away, a truncated
    /// body): the caller's fault, not the store's. Nothing was kept.
    #[error("reading the data to store: {0}")]
    Source(String),
    /// A chunked upload that is being (or was) assembled takes no more blocks.
    #[error("upload {0} is finished; it takes no more blocks")]
    UploadClosed(String),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        use sqlx::Error as E;
        match e {
            E::Io(_) | E::PoolTimedOut | E::PoolClosed | E::Tls(_) | E::WorkerCrashed => {
                StoreError::Unavailable(e.to_string())
            }
            E::Configuration(_) => StoreError::Config(e.to_string()),
            _ => StoreError::Backend(e.to_string()),
        }
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

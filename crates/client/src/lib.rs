//! Rust SDK for the Feishu (Lark) Drive media API, against real Feishu
//! (`https://open.feishu.cn`, `https://open.larksuite.com`) or a feishu-media server.
//!
//! # Layout
//!
//! - [`client`]: [`Client`] and its builder; every request goes through one path that
//!   takes a token, waits for the quota, sends, and retries what may be retried.
//! - [`error`]: [`Error`], with the HTTP status, Feishu code, message and log id.
//! - [`quota`]: the per-client limiter that keeps within 5 requests/s and 10 000/day.
//! - [`retry`]: which failures are retried, and the backoff between tries.
//! - [`download`]: a range as a stream, and whole files: segmented, parallel, resumable.
//! - [`upload`]: `upload_all` and the chunked calls, chosen by size.
//! - [`names`]: turning a server's file name into a safe local one.

pub mod client;
pub mod download;
pub mod error;
pub mod names;
pub mod quota;
pub mod retry;
pub mod upload;

pub use client::{Client, ClientBuilder};
pub use download::{DownloadOptions, Downloaded, Progress};
pub use error::Error;

/// Installs ring as rustls' process-wide crypto provider, which reqwest needs before any
/// HTTP client is built (the SDK calls it itself; a program that builds other reqwest
/// clients calls it first). Installing twice is harmless.
pub fn install_tls_provider() {
    #[cfg(feature = "tls")]
    {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

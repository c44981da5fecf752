//! Rust SDK for the Feishu (Lark) Drive media API, against real Feishu
//! (`https://open.feishu.cn`, `https://open.larksuite.com`) or a
//! feishu-media server.
//!
//! It downloads and uploads the images and attachments inside cloud documents, by
//! `file_token`: streaming, in parallel ranged chunks, resumable across runs, with
//! retries, and always inside Feishu's quota (5 requests per second and 10 000 a day per
//! endpoint), so a batch never provokes a 429 by itself. It also lists the documents
//! that hold the media (a docx's blocks, a sheet's cells, a bitable's records), which is
//! what an export needs.
//!
//! # A client
//!
//! Tenant access tokens are fetched from the app's credentials and renewed before they
//! expire; or give a user access token.
//!
//! ```no_run
//! use feishu_media_client::Client;
//!
//! # fn main() -> feishu_media_client::error::Result<()> {
//! let client = Client::builder("https://open.feishu.cn")
//!     .app_credentials("cli_a1b2c3", "app-secret")
//!     .build()?;
//! let as_user = Client::builder("https://open.feishu.cn")
//!     .user_token("u-…")
//!     .build()?;
//! # let _ = (client, as_user);
//! # Ok(()) }
//! ```
//!
//! # Downloading a media
//!
//! A whole media into a folder, under the name the server gives (made safe): ranged
//! chunks over several connections, resumed by the next run if this one is interrupted,
//! every chunk checked against the `Content-Range`, total and ETag asked for.
//!
//! ```no_run
//! use feishu_media_client::{Client, DownloadOptions, download::NoProgress};
//! use std::sync::Arc;
//!
//! # async fn run(client: Client) -> feishu_media_client::error::Result<()> {
//! let done = client
//!     .download_to_dir(
//!         "boxcnrHpsg1QDqXAAAyachabcef",
//!         std::path::Path::new("downloads"),
//!         &DownloadOptions::default(),
//!         Arc::new(NoProgress),
//!     )
//!     .await?;
//! println!("{} ({} bytes)", done.path.display(), done.size);
//! # Ok(()) }
//! ```
//!
//! # A range, as a stream
//!
//! ```no_run
//! # async fn run(client: feishu_media_client::Client) -> feishu_media_client::error::Result<()> {
//! // The first KiB; a bitable with advanced permissions would need its `extra`.
//! let mut answer = client
//!     .download_range("boxcnrHpsg1QDqXAAAyachabcef", Some((0, Some(1023))), None, None)
//!     .await?;
//! assert_eq!(answer.status, 206);
//! let mut bytes = Vec::new();
//! while let Some(chunk) = answer.chunk().await? {
//!     bytes.extend_from_slice(&chunk);
//! }
//! # Ok(()) }
//! ```
//!
//! # Uploading
//!
//! `upload_all` up to 20 MiB, the chunked calls (4 MiB blocks) above; uploads into a
//! docx name the document in `extra`.
//!
//! ```no_run
//! use feishu_media_client::upload::UploadTarget;
//!
//! # async fn run(client: feishu_media_client::Client) -> feishu_media_client::error::Result<()> {
//! let target = UploadTarget {
//!     parent_type: "docx_image".into(),
//!     parent_node: "doxcnBlockId".into(),
//!     extra: Some(r#"{"drive_route_token":"doxcnDocumentToken"}"#.into()),
//! };
//! let file_token = client
//!     .upload_file(std::path::Path::new("架构图.png"), "架构图.png", &target, &|_| {})
//!     .await?;
//! println!("{file_token}");
//! # Ok(()) }
//! ```
//!
//! # Exporting a document's media
//!
//! List what a document holds (every page of its listing, each call within its own
//! endpoint's quota), then download each media with the `extra` its place needs.
//! [`Place`](documents::Place) says where each one sits (a block, a cell, a record's
//! field), for a converter that puts the files back.
//!
//! ```no_run
//! use feishu_media_client::documents::DocumentKind;
//! use feishu_media_client::{DownloadOptions, download::NoProgress};
//! use std::sync::Arc;
//!
//! # async fn run(client: feishu_media_client::Client) -> feishu_media_client::error::Result<()> {
//! for media in client.document_media(DocumentKind::Bitable, "bascnDemo").await? {
//!     let opts = DownloadOptions { extra: media.extra.clone(), ..Default::default() };
//!     let saved = client
//!         .download_to_dir(&media.file_token, "export".as_ref(), &opts, Arc::new(NoProgress))
//!         .await?;
//!     println!("{:?} → {}", media.place, saved.path.display());
//! }
//! # Ok(()) }
//! ```
//!
//! The `feishu-media export` command does this for docx, sheets and bitables, numbers
//! duplicate names, writes a `media.json`, and on a second run fetches only what changed.
//!
//! # Errors
//!
//! Every failure is an [`Error`]: the API's own (`Error::Api` with the HTTP status,
//! Feishu code, message, the server's troubleshooter and the log id), a transport
//! failure naming the address and the cause, or an answer that contradicts what was
//! asked. [`Error::hint`] says in a line what to do about the codes people meet most.
//!
//! # Layout
//!
//! - [`client`]: [`Client`] and its builder; every request goes through one path that
//!   takes a token, waits for the quota, sends, and retries what may be retried.
//! - [`error`]: [`Error`], with the HTTP status, Feishu code, message and log id.
//! - [`quota`]: the limiters that keep within 5 requests/s and 10 000/day per endpoint.
//! - [`retry`]: which failures are retried, and the backoff between tries.
//! - [`documents`]: listing a docx, sheet or bitable and the media it holds.
//! - [`download`]: a range as a stream, and whole files: segmented, parallel, resumable.
//! - [`upload`]: `upload_all` and the chunked calls, chosen by size.
//! - [`names`]: turning a server's file name into a safe local one.

pub mod client;
pub mod documents;
pub mod download;
pub mod error;
pub mod names;
pub mod quota;
pub mod retry;
mod segments;
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

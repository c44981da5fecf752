//! The Feishu Drive media API server, as a library: the binary only parses flags.
//!
//! # Layout
//!
//! - [`config`]: the typed settings, with defaults.
//! - [`state`]: what every handler shares (stores, secret, config) and how it is opened.
//! - [`error`]: [`ApiError`], the one place the JSON error envelope is written.
//! - [`observe`]: per-request log id (`X-Tt-Logid`) and the structured request log line.
//! - [`auth`]: bearer tokens and scopes, checked once by the [`auth::Authed`] extractor
//!   for the scopes each endpoint declares.
//! - [`access`]: document permissions, tenant isolation and bitable `extra`.
//! - [`tokens`]: issuing tenant and app access tokens.
//! - [`serve_media`]: conditional requests, Range and the streamed body of a media.
//! - [`seed`]: the manifest (`--seed`, `--demo`): parsed, validated whole, then applied.
//! - [`routes`]: the thin endpoint handlers and [`app`], which wires them into a router.

pub mod access;
pub mod auth;
pub mod config;
pub mod demo;
pub mod error;
pub mod observe;
pub mod routes;
pub mod seed;
pub mod serve_media;
pub mod state;
pub mod tokens;

pub use config::ServerConfig;
pub use error::ApiError;
pub use routes::app;
pub use state::AppState;

use std::future::Future;

/// Serves `app(state)` on `listener` until `shutdown` resolves, then lets in-flight
/// requests finish (the caller bounds how long it waits for them).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}

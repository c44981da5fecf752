//! The Feishu Drive media API server, as a library: the binary only parses flags.
//!
//! # Layout
//!
//! - [`config`]: the typed settings, with defaults.
//! - [`state`]: what every handler shares (stores, secret, config) and how it is opened.
//! - [`error`]: [`ApiError`], the one place the JSON error envelope is written.
//! - [`observe`]: per-request log id (`X-Tt-Logid`), the log line, request log and metrics.
//! - [`auth`]: bearer tokens and scopes, checked once by the [`auth::Authed`] extractor
//!   for the scopes each endpoint declares.
//! - [`access`]: document permissions, tenant isolation and bitable `extra`.
//! - [`tokens`]: issuing tenant and app access tokens.
//! - [`upload`]: upload targets and permissions, streamed multipart bodies, media creation.
//! - [`tmp_url`]: signing and checking temporary download links.
//! - [`sweep`]: removing expired upload sessions, orphan blocks, temp files and blobs.
//! - [`serve_media`]: conditional requests, Range and the streamed body of a media.
//! - [`seed`]: the manifest (`--seed`, `--demo`): parsed, validated whole, then applied.
//! - [`routes`]: the thin endpoint handlers and [`app`], which wires them into a router.
//! - [`clock`]: real time that tests can advance.
//! - [`limits`]: Feishu's per-second and daily rate limits, and the 429 answer.
//! - [`faults`]: fault-injection rules for testers.
//! - [`request_log`], [`metrics`]: the latest requests and `GET /metrics`.
//! - [`admin`]: the admin API (`/_admin/v1/`): seed, reset, faults, requests, objects.
//! - [`front`]: each connection's first stop: downloads answered with `sendfile(2)`,
//!   everything else handed to hyper; [`serve`] accepts connections and shuts down.
//! - [`drain`]: request bodies a handler drops unread are read to their end, so an early
//!   answer (a refused upload) reaches a client that is still sending.

pub mod access;
pub mod admin;
pub mod auth;
pub mod clock;
pub mod config;
pub mod demo;
pub mod drain;
pub mod error;
pub mod faults;
pub mod front;
pub mod limits;
pub mod metrics;
pub mod observe;
pub mod request_log;
pub mod routes;
pub mod seed;
pub mod serve_media;
pub mod state;
pub mod sweep;
pub mod tmp_url;
pub mod tokens;
pub mod upload;

pub use config::ServerConfig;
pub use error::ApiError;
pub use routes::app;
pub use state::AppState;

use hyper_util::rt::TokioTimer;
use std::future::Future;
use std::time::Duration;

/// Serves `app(state)` on `listener` until `shutdown` resolves, then waits for in-flight
/// requests to finish (the caller bounds how long it waits for them).
///
/// HTTP/1.1 header names go out in Title-Case (`Content-Disposition`, `X-Tt-Logid`), as
/// Feishu's gateway sends them: the official Python SDK looks response headers up in a
/// case-sensitive dict, so lower-case names would hide the file name and error bodies
/// from it. That is why this is hyper's builder and not `axum::serve`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sweeper = tokio::spawn(sweep::sweep_periodically(
        state.clone(),
        state.config.sweep_interval,
    ));
    let flusher = tokio::spawn(limits::flush_periodically(
        state.limits.clone(),
        state.meta.clone(),
    ));
    let router = app(state.clone());
    let mut http = hyper::server::conn::http1::Builder::new();
    http.title_case_headers(true)
        .timer(TokioTimer::new())
        // A client that opens a connection and sends no complete head is dropped.
        .header_read_timeout(front::HEAD_TIMEOUT);
    // Connections watch `stop`; each holds a clone of `alive`, so once every clone is
    // gone every connection has ended.
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let (alive, mut all_ended) = tokio::sync::mpsc::channel::<()>(1);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _peer)) => stream,
                    Err(e) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let conn = front::serve_connection(stream, router.clone(), http.clone(), stop.clone());
                let alive = alive.clone();
                tokio::spawn(async move {
                    conn.await;
                    drop(alive);
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    sweeper.abort();
    let _ = stop_tx.send(true);
    drop(alive);
    let _ = all_ended.recv().await;
    flusher.abort();
    if let Err(e) = state.limits.flush(state.meta.as_ref()).await {
        tracing::warn!(error = %e, "could not save daily request counts at shutdown");
    }
    Ok(())
}

//! [`serve`]: accept connections and answer them until shut down, with the background
//! work a running server does (sweeps, saving daily request counts, giving freed memory
//! back after uploads).

use crate::app::app;
use crate::front;
use crate::services::sweep;
use crate::state::AppState;
use hyper_util::rt::TokioTimer;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Sweeps what an earlier run left behind, then serves `app(state)` on `listener` until
/// `shutdown` resolves, then waits for in-flight requests to finish (the caller bounds
/// how long it waits for them).
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
    sweep::sweep(&state, true)
        .await
        .map_err(std::io::Error::other)?;
    let sweeper = tokio::spawn(sweep::sweep_periodically(
        state.clone(),
        state.config.sweep_interval,
    ));
    let flusher = tokio::spawn(flush_periodically(state.clone()));
    let trimmer = tokio::spawn(crate::memory::trim_after_uploads(state.clone()));
    let app = app(state.clone());
    let mut http = hyper::server::conn::http1::Builder::new();
    http.title_case_headers(true)
        // Each connection's read buffer grows to this at most (hyper's default is
        // ~400 KiB: 200 uploads at once held 80 MiB in buffers alone, bench U).
        .max_buf_size(64 * 1024)
        .timer(TokioTimer::new())
        // A client that opens a connection and sends no complete head in time is dropped.
        .header_read_timeout(state.config.head_timeout);
    let timeouts = front::Timeouts {
        head: state.config.head_timeout,
        body_idle: state.config.body_idle_timeout,
    };
    // Connections watch `stop`; each holds a clone of `alive`, so once every clone is
    // gone every connection has ended.
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let (alive, mut all_ended) = tokio::sync::mpsc::channel::<()>(1);
    // Past `max_connections`, nothing more is accepted (new connections wait in the
    // kernel's backlog) until one of those being served ends.
    let slots = Arc::new(tokio::sync::Semaphore::new(
        state.config.max_connections.max(1),
    ));
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("never closed"),
            () = &mut shutdown => break,
        };
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
                let conn = front::serve_connection(
                    stream,
                    app.clone(),
                    http.clone(),
                    timeouts,
                    stop.clone(),
                );
                let alive = alive.clone();
                tokio::spawn(async move {
                    conn.await;
                    drop((slot, alive));
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    sweeper.abort();
    trimmer.abort();
    let _ = stop_tx.send(true);
    drop(alive);
    let _ = all_ended.recv().await;
    flusher.abort();
    if let Err(e) = state.limits.flush(state.meta.as_ref()).await {
        tracing::warn!(error = %e, "could not save daily request counts at shutdown");
    }
    Ok(())
}

/// Saves the daily request counts every second until the task is dropped.
async fn flush_periodically(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        if let Err(e) = state.limits.flush(state.meta.as_ref()).await {
            tracing::warn!(error = %e, "could not save daily request counts");
        }
    }
}

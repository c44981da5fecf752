//! [`serve`]: accept connections and answer them until shut down, with the background
//! work a running server does (sweeps, saving daily request counts, giving freed memory
//! back after uploads).

use crate::app::app;
use crate::connection_threads;
use crate::front;
use crate::services::sweep;
use crate::state::AppState;
use hyper_util::rt::TokioTimer;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// How many connections the kernel may hold complete but not yet accepted. Tokio's
/// `TcpListener::bind` asks for 1 024: 4 096 clients connecting at once (bench L)
/// overflowed that (`ListenOverflows` in `nstat`: 5 613 in one 5 s run) while the
/// workers were busy answering, and each dropped handshake cost its client a SYN
/// retransmission, 1 s and then 3 s before its first byte (slowest request 0.9–3.4 s,
/// nginx's 63 ms). The kernel caps this at `net.core.somaxconn` (4 096 by default since
/// Linux 5.4); this asks for more, so that a raised `somaxconn` is used.
pub const LISTEN_BACKLOG: u32 = 16_384;

/// Binds `addr` (`host:port`; port 0 picks a free one) with [`LISTEN_BACKLOG`], for
/// [`serve`]. Tries each address the name resolves to, as `TcpListener::bind` does.
pub async fn listen(addr: &str) -> std::io::Result<tokio::net::TcpListener> {
    let mut last = None;
    for addr in tokio::net::lookup_host(addr).await? {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        // As `TcpListener::bind` does: a restarted server may bind while old connections
        // linger in TIME_WAIT.
        socket.set_reuseaddr(true)?;
        match socket
            .bind(addr)
            .and_then(|()| socket.listen(LISTEN_BACKLOG))
        {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the address resolves to nothing",
        )
    }))
}

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
    // Connections are served on their own threads (see there); the accepting runtime
    // runs this loop and the background work.
    let threads = connection_threads::get()?;
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
                let (app, http, stop, alive) = (app.clone(), http.clone(), stop.clone(), alive.clone());
                let served = threads.serve(stream, move |stream| async move {
                    front::serve_connection(stream, app, http, timeouts, stop).await;
                    drop((slot, alive));
                });
                if let Err(e) = served {
                    tracing::warn!(error = %e, "cannot serve an accepted connection");
                }
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

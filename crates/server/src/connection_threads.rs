//! [`ConnectionThreads`]: the threads connections are served on, each a single-threaded
//! Tokio runtime polling its own epoll, as nginx's worker processes do.
//!
//! On Tokio's work-stealing runtime one worker at a time polls the shared epoll and
//! wakes another to take half of what it found; under bench B (64 keep-alive
//! connections, 2 cores) the server then used 0.94 of its 2 cores, the same throughput
//! as with one worker thread, and the machine sat 37–47% of a core idle (nginx:
//! 17–22%), requests waiting on hand-offs between workers. With each connection kept on
//! one thread that waits on its own epoll, a thread never waits for another: over nine
//! alternating runs each, B went from 56.2–60.2k to 59.6–62.9k requests/s (+4.6% at the
//! median; nginx ~72k; see the README's Performance). The per-thread memos of the
//! request path ([`crate::secret`], the store's near slots) are hit by the same thread
//! for the connection's whole life, too.
//!
//! The cost is nginx's: a connection cannot move to an idle thread, so each new one
//! goes to the thread with the fewest open. The threads and their runtimes live for
//! the whole process (resources a connection opens, like a pooled database connection,
//! stay registered with the runtime they were opened on, so that runtime must outlive
//! every user of them); every server of the process shares them.

use std::future::Future;
use std::io;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::runtime::Handle;

/// Blocking threads (file opens and reads, upload writes) per connection thread: each
/// thread gets its own malloc arena, so more costs memory for no speed on few cores.
const BLOCKING_THREADS: usize = 16;

pub struct ConnectionThreads {
    threads: Box<[Thread]>,
}

struct Thread {
    runtime: Handle,
    /// Connections being served on it.
    open: AtomicUsize,
}

static THREADS: OnceLock<io::Result<ConnectionThreads>> = OnceLock::new();
static COUNT: OnceLock<usize> = OnceLock::new();

/// Sets how many connection threads the process starts (before the first server does);
/// without it, one per CPU. Returns false when they were counted already.
pub fn set_count(n: std::num::NonZeroUsize) -> bool {
    COUNT.set(n.get()).is_ok()
}

/// The process's connection threads, started on first use.
pub fn get() -> io::Result<&'static ConnectionThreads> {
    let started = THREADS.get_or_init(|| {
        let n = *COUNT.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from));
        ConnectionThreads::start(n)
    });
    started
        .as_ref()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot start connection threads: {e}")))
}

impl ConnectionThreads {
    fn start(n: usize) -> io::Result<Self> {
        let threads = (0..n)
            .map(|i| {
                let (ready, started) = std::sync::mpsc::channel();
                std::thread::Builder::new()
                    .name(format!("connections-{i}"))
                    .spawn(move || {
                        let runtime = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            // As the CLI's runtime (see there): the connections already
                            // woken are answered before more wake-ups are taken in.
                            .event_interval(400)
                            .max_blocking_threads(BLOCKING_THREADS)
                            .thread_name(format!("connections-{i}-blocking"))
                            .build();
                        match runtime {
                            Ok(runtime) => {
                                let _ = ready.send(Ok(runtime.handle().clone()));
                                // Runs what is spawned onto it for the rest of the process.
                                runtime.block_on(std::future::pending::<()>());
                            }
                            Err(e) => {
                                let _ = ready.send(Err(e));
                            }
                        }
                    })?;
                let runtime = started
                    .recv()
                    .map_err(|_| io::Error::other("a connection thread ended at start"))??;
                Ok(Thread {
                    runtime,
                    open: AtomicUsize::new(0),
                })
            })
            .collect::<io::Result<_>>()?;
        Ok(Self { threads })
    }

    /// Serves `stream` on the thread with the fewest open connections: `serve` makes the
    /// connection's future there, from the stream registered with that thread's epoll.
    pub fn serve<F, Fut>(&'static self, stream: tokio::net::TcpStream, serve: F) -> io::Result<()>
    where
        F: FnOnce(tokio::net::TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let thread = self
            .threads
            .iter()
            .min_by_key(|t| t.open.load(Ordering::Relaxed))
            .expect("at least one thread");
        // Out of the accepting runtime's epoll, into the chosen thread's.
        let stream = stream.into_std()?;
        thread.open.fetch_add(1, Ordering::Relaxed);
        let open = Open(&thread.open);
        thread.runtime.spawn(async move {
            let _open = open;
            match tokio::net::TcpStream::from_std(stream) {
                Ok(stream) => serve(stream).await,
                Err(e) => tracing::warn!(error = %e, "cannot serve an accepted connection"),
            }
        });
        Ok(())
    }
}

/// Counts a connection as open on its thread until dropped (however its task ends).
struct Open(&'static AtomicUsize);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::ConnectionThreads;
    use std::sync::atomic::Ordering;
    use std::sync::{Arc, Mutex};

    /// Each new connection goes to the thread with the fewest open, is served on that
    /// thread, and stops counting there when its future ends.
    #[tokio::test]
    async fn connections_spread_over_the_threads_and_are_served_there() {
        let threads: &'static ConnectionThreads =
            Box::leak(Box::new(ConnectionThreads::start(2).unwrap()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let served_on = Arc::new(Mutex::new(Vec::new()));
        let (release, released) = tokio::sync::watch::channel(false);
        let mut clients = Vec::new();
        for _ in 0..6 {
            clients.push(tokio::net::TcpStream::connect(addr).await.unwrap());
            let (stream, _) = listener.accept().await.unwrap();
            let served_on = served_on.clone();
            let mut released = released.clone();
            threads
                .serve(stream, move |stream| async move {
                    let name = std::thread::current().name().map(str::to_owned);
                    served_on.lock().unwrap().push(name);
                    let _ = released.wait_for(|r| *r).await;
                    drop(stream);
                })
                .unwrap();
        }
        // Each was counted as open when it was handed over, before it ran.
        let open: Vec<usize> = threads
            .threads
            .iter()
            .map(|t| t.open.load(Ordering::Relaxed))
            .collect();
        assert_eq!(open, [3, 3], "six connections over two threads");
        while served_on.lock().unwrap().len() < 6 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let mut names = served_on.lock().unwrap().clone();
        names.sort();
        let expected: Vec<_> = ["connections-0", "connections-1"]
            .iter()
            .flat_map(|n| std::iter::repeat_n(Some((*n).to_owned()), 3))
            .collect();
        assert_eq!(names, expected);
        release.send(true).unwrap();
        for _ in 0..400 {
            if threads
                .threads
                .iter()
                .all(|t| t.open.load(Ordering::Relaxed) == 0)
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        panic!("connections still counted as open after they ended");
    }
}

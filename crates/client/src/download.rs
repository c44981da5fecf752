//! Downloads: one range as a stream, or a whole media into a folder, in parallel ranged
//! chunks, resumable across runs.
//!
//! A whole-file download keeps, beside the result, a hidden part file and a small state
//! file (`.<token>.feishu-part`, `.<token>.feishu-state.json`: the validator, total
//! length and which chunks are done). A second run resumes
//! the missing chunks under `If-Range`, so a media that changed in between is noticed
//! (the server answers 200) and the download starts over with the new bytes. Every
//! chunk's `Content-Range`, total and ETag must be exactly what was asked, or the
//! download stops with [`Error::Inconsistent`] before writing anything wrong.

use crate::client::{Body, Client};
use crate::error::{Error, Result};
use crate::names::safe_file_name;
use crate::segments;
use feishu_media_proto::disposition;
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

/// Told about a download's progress (the CLI draws bars with it).
pub trait Progress: Send + Sync {
    /// The size is known; `already` bytes were there from an earlier run.
    fn start(&self, _name: &str, _total: u64, _already: u64) {}
    fn advance(&self, _bytes: u64) {}
}

/// No progress reporting.
pub struct NoProgress;

impl Progress for NoProgress {}

#[derive(Debug, Clone, Default)]
pub struct DownloadOptions {
    /// The bitable `extra` parameter.
    pub extra: Option<String>,
    /// Chunks of one file fetched at once. `None` (with `chunk_size` `None`): chosen
    /// from what the first answer shows. That answer asks for the whole media and is
    /// measured as it comes (the wait for its first body byte, one connection's rate);
    /// the rest is cut so that every connection ends at about the same moment within
    /// the quota, and a fast link or a small media stays on one connection.
    pub connections: Option<usize>,
    /// The size of a chunk (and of the first request); `None`: 8 MiB with a given
    /// `connections`, else chosen with them.
    pub chunk_size: Option<u64>,
    /// Overwrite an existing file of the same name.
    pub force: bool,
    /// Save under this name (made safe) rather than the one the server gives.
    pub save_as: Option<String>,
}

/// The chunk size and connections when only one of them is given.
const DEFAULT_CHUNK: u64 = 8 * 1024 * 1024;
const DEFAULT_CONNECTIONS: usize = 4;

/// A finished download.
#[derive(Debug, Clone, Serialize)]
pub struct Downloaded {
    pub file_token: String,
    pub path: PathBuf,
    /// The name the server gave.
    pub file_name: String,
    pub size: u64,
    pub etag: Option<String>,
    /// Body bytes received in this run (less than `size` after a resume).
    pub bytes_transferred: u64,
    pub resumed: bool,
}

/// Where a download of `file_token`, named `file_name` by the server, is saved.
fn target_path(
    out_dir: &Path,
    opts: &DownloadOptions,
    file_name: &str,
    file_token: &str,
) -> PathBuf {
    let name = opts.save_as.as_deref().unwrap_or(file_name);
    out_dir.join(safe_file_name(name, file_token))
}

/// One answer of the download endpoint, body not yet read.
pub struct Fetched {
    pub status: u16,
    pub headers: HeaderMap,
    response: reqwest::Response,
    /// When the request went out (after its turn in the quota).
    sent_at: Instant,
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

impl Fetched {
    /// `(first, last, total)` from `Content-Range: bytes a-b/n`.
    pub fn content_range(&self) -> Option<(u64, u64, u64)> {
        let v = header(&self.headers, "content-range")?.strip_prefix("bytes ")?;
        let (range, total) = v.split_once('/')?;
        let (a, b) = range.split_once('-')?;
        Some((a.parse().ok()?, b.parse().ok()?, total.parse().ok()?))
    }

    pub fn etag(&self) -> Option<&str> {
        header(&self.headers, "etag")
    }

    pub fn last_modified(&self) -> Option<&str> {
        header(&self.headers, "last-modified")
    }

    pub fn content_length(&self) -> Option<u64> {
        header(&self.headers, "content-length").and_then(|v| v.parse().ok())
    }

    /// The server's file name: `filename*` first, then raw UTF-8 `filename=`.
    pub fn file_name(&self) -> Option<String> {
        disposition::file_name(self.headers.get("content-disposition")?.as_bytes())
    }

    /// The next piece of the body.
    pub async fn chunk(&mut self) -> Result<Option<bytes::Bytes>> {
        self.response
            .chunk()
            .await
            .map_err(|e| Error::transport(&e))
    }
}

impl Client {
    /// One download request: the whole media, or `Range: bytes=first-[last]`, optionally
    /// under `If-Range`. Answers 200, 206 or 416 as the server sent them.
    pub async fn download_range(
        &self,
        file_token: &str,
        range: Option<(u64, Option<u64>)>,
        if_range: Option<&str>,
        extra: Option<&str>,
    ) -> Result<Fetched> {
        let url = self.url(&feishu_media_proto::endpoint::download_path(file_token));
        let range_value = range.map(|(a, b)| match b {
            Some(b) => format!("bytes={a}-{b}"),
            None => format!("bytes={a}-"),
        });
        let sent_at = Mutex::new(Instant::now());
        let answer = self
            .send(
                feishu_media_proto::endpoint::Endpoint::Download,
                |http, auth| {
                    *sent_at.lock().expect("not poisoned") = Instant::now();
                    let mut r = http.get(&url).header("Authorization", auth);
                    if let Some(e) = extra {
                        r = r.query(&[("extra", e)]);
                    }
                    if let Some(v) = &range_value {
                        r = r.header("Range", v);
                    }
                    if let Some(v) = if_range {
                        r = r.header("If-Range", v);
                    }
                    r
                },
                &[416],
            )
            .await?;
        match answer.body {
            Body::Stream(response) => Ok(Fetched {
                status: answer.status,
                headers: answer.headers,
                response,
                sent_at: sent_at.into_inner().expect("not poisoned"),
            }),
            Body::Read(_) => Err(Error::Inconsistent(
                "a JSON answer where media bytes were expected".into(),
            )),
        }
    }

    /// Whether the media still has the ETag `etag`: one conditional request
    /// (`If-None-Match`), answered 304 when it has, the bytes left unread when not.
    pub async fn unchanged(
        &self,
        file_token: &str,
        etag: &str,
        extra: Option<&str>,
    ) -> Result<bool> {
        let url = self.url(&feishu_media_proto::endpoint::download_path(file_token));
        let answer = self
            .send(
                feishu_media_proto::endpoint::Endpoint::Download,
                |http, auth| {
                    let mut r = http
                        .get(&url)
                        .header("Authorization", auth)
                        .header("If-None-Match", etag);
                    if let Some(e) = extra {
                        r = r.query(&[("extra", e)]);
                    }
                    r
                },
                &[304],
            )
            .await?;
        Ok(answer.status == 304)
    }

    /// Downloads a whole media into `out_dir` under its (made safe) name; see the module
    /// documentation for resumption and checks.
    pub async fn download_to_dir(
        &self,
        file_token: &str,
        out_dir: &Path,
        opts: &DownloadOptions,
        progress: Arc<dyn Progress>,
    ) -> Result<Downloaded> {
        match self
            .download_once(file_token, out_dir, opts, progress.clone())
            .await
        {
            Err(Changed) => {
                tracing::info!(
                    file_token,
                    "the media changed since the partial download: starting over"
                );
                let work = Work::new(out_dir, file_token);
                work.discard().await;
                self.download_once(file_token, out_dir, opts, progress)
                    .await
                    .map_err(|e| match e {
                        Changed => {
                            Error::Inconsistent("the media changed again while downloading".into())
                        }
                        Failed(e) => e,
                    })
            }
            Err(Failed(e)) => Err(e),
            Ok(d) => Ok(d),
        }
    }

    async fn download_once(
        &self,
        file_token: &str,
        out_dir: &Path,
        opts: &DownloadOptions,
        progress: Arc<dyn Progress>,
    ) -> Result<Downloaded, Stop> {
        let work = Work::new(out_dir, file_token);
        tokio::fs::create_dir_all(out_dir)
            .await
            .map_err(Error::from)?;
        let extra = opts.extra.as_deref();
        let adaptive = opts.connections.is_none() && opts.chunk_size.is_none();
        let chunk = opts.chunk_size.unwrap_or(DEFAULT_CHUNK).max(64 * 1024);
        let transferred = Arc::new(std::sync::atomic::AtomicU64::new(0));
        // The measured first answer, still streaming its share (adaptive downloads).
        let mut first_share = None;

        let (state, resumed) = match work.load().await {
            Some(st) => (st, true),
            None => {
                let asked = if adaptive { None } else { Some(chunk - 1) };
                let mut first = self
                    .download_range(file_token, Some((0, asked)), None, extra)
                    .await?;
                if first.status == 416 {
                    // Any range of an empty media is unsatisfiable: ask for it whole.
                    first = self.download_range(file_token, None, None, extra).await?;
                }
                let total = match first.status {
                    206 => first
                        .content_range()
                        .map(|r| r.2)
                        .ok_or_else(|| bad("206 without a Content-Range"))?,
                    200 => first
                        .content_length()
                        .ok_or_else(|| bad("200 without a Content-Length"))?,
                    s => return Err(bad(&format!("unexpected status {s}")).into()),
                };
                let state = State {
                    file_token: file_token.to_owned(),
                    file_name: first.file_name().unwrap_or_else(|| file_token.to_owned()),
                    validator: first.etag().or(first.last_modified()).map(str::to_owned),
                    etag: first.etag().map(str::to_owned),
                    total,
                    chunk,
                    done: vec![false; total.div_ceil(chunk) as usize],
                    bounds: Vec::new(),
                };
                let target = target_path(out_dir, opts, &state.file_name, file_token);
                if !opts.force && tokio::fs::try_exists(&target).await.map_err(Error::from)? {
                    return Err(Error::Exists(target).into());
                }
                let f = tokio::fs::File::create(&work.part)
                    .await
                    .map_err(Error::from)?;
                f.set_len(total).await.map_err(Error::from)?;
                drop(f);
                progress.start(&state.file_name, total, 0);
                let shared = Shared::new(state);
                if first.status == 200 {
                    // The server sent it all at once (no ranges): keep it as it comes.
                    write_body(&mut first, &work.part, 0, total, &progress, &transferred).await?;
                    shared.lock().done.iter_mut().for_each(|d| *d = true);
                } else if adaptive && total > 0 {
                    if first.content_range().map(|r| (r.0, r.1)) != Some((0, total - 1)) {
                        return Err(bad("asked for bytes 0-, got another range").into());
                    }
                    let (bounds, share) = self.measure_and_plan(
                        first,
                        work.part.clone(),
                        total,
                        progress.clone(),
                        transferred.clone(),
                    );
                    let bounds = bounds.await;
                    let mut st = shared.lock();
                    st.done = vec![false; bounds.len() - 1];
                    st.bounds = bounds;
                    drop(st);
                    first_share = Some(share);
                } else if total > 0 {
                    let (a, b, _) = first.content_range().expect("checked above");
                    let want_end = chunk.min(total) - 1;
                    if (a, b) != (0, want_end) {
                        return Err(
                            bad(&format!("asked for bytes 0-{want_end}, got {a}-{b}")).into()
                        );
                    }
                    match write_body(
                        &mut first,
                        &work.part,
                        0,
                        want_end + 1,
                        &progress,
                        &transferred,
                    )
                    .await
                    {
                        Ok(()) => {}
                        Err(BodyCut(reached)) => {
                            // Go on from the byte reached, under If-Range like any chunk.
                            let st = shared.lock().clone();
                            self.fetch_chunk(
                                &st,
                                0,
                                reached,
                                extra,
                                &work.part,
                                &progress,
                                &transferred,
                            )
                            .await?;
                        }
                        Err(Write(e)) => return Err(e.into()),
                    }
                    shared.lock().done[0] = true;
                }
                let state = shared.lock().clone();
                work.save(&state).await.map_err(Error::from)?;
                (state, false)
            }
        };

        let target = target_path(out_dir, opts, &state.file_name, file_token);
        if resumed {
            if !opts.force && tokio::fs::try_exists(&target).await.map_err(Error::from)? {
                return Err(Error::Exists(target).into());
            }
            let have: u64 = state
                .done
                .iter()
                .enumerate()
                .filter(|(_, d)| **d)
                .map(|(i, _)| state.chunk_len(i))
                .sum();
            progress.start(&state.file_name, state.total, have);
        }

        // The missing chunks, a few at a time (the first one's still coming in, if its
        // answer was measured).
        let missing: VecDeque<usize> = state
            .done
            .iter()
            .enumerate()
            .filter(|(i, d)| !(**d || (first_share.is_some() && *i == 0)))
            .map(|(i, _)| i)
            .collect();
        // Measured or resumed with no number given: a connection per segment.
        let connections = match opts.connections {
            Some(n) => n.max(1),
            None if adaptive => missing.len().clamp(1, segments::MAX_EXTRA_CONNECTIONS),
            None => DEFAULT_CONNECTIONS,
        };
        if !missing.is_empty() || first_share.is_some() {
            if state.validator.is_none() && resumed {
                // Nothing to guard a resume with: start over.
                return Err(Changed);
            }
            let shared = Shared::new(state.clone());
            let missing_len = missing.len();
            let queue = Arc::new(Mutex::new(missing));
            let mut tasks = tokio::task::JoinSet::new();
            if let Some(share) = first_share.take() {
                let (client, shared, work, progress, transferred) = (
                    self.clone(),
                    shared.clone(),
                    work.clone(),
                    progress.clone(),
                    transferred.clone(),
                );
                let extra = opts.extra.clone();
                tasks.spawn(async move {
                    let reached = match share.await {
                        Ok(Ok(_)) => None,
                        Ok(Err(BodyCut(reached))) => Some(reached),
                        Ok(Err(Write(e))) => return Err(e.into()),
                        Err(e) => return Err(Error::Transport(format!("task: {e}")).into()),
                    };
                    let st = shared.lock().clone();
                    if let Some(reached) = reached.filter(|r| *r < st.chunk_end(0)) {
                        // Go on from the byte reached, under If-Range like any chunk.
                        client
                            .fetch_chunk(
                                &st,
                                0,
                                reached,
                                extra.as_deref(),
                                &work.part,
                                &progress,
                                &transferred,
                            )
                            .await?;
                    }
                    let snapshot = {
                        let mut s = shared.lock();
                        s.done[0] = true;
                        s.clone()
                    };
                    work.save(&snapshot).await.map_err(Error::from)?;
                    Ok(())
                });
            }
            for _ in 0..connections.min(missing_len) {
                let (client, queue, shared, work, progress, transferred) = (
                    self.clone(),
                    queue.clone(),
                    shared.clone(),
                    work.clone(),
                    progress.clone(),
                    transferred.clone(),
                );
                let extra = opts.extra.clone();
                tasks.spawn(async move {
                    loop {
                        let Some(i) = queue.lock().expect("not poisoned").pop_front() else {
                            return Ok(());
                        };
                        let st = shared.lock().clone();
                        let from = st.chunk_start(i);
                        client
                            .fetch_chunk(
                                &st,
                                i,
                                from,
                                extra.as_deref(),
                                &work.part,
                                &progress,
                                &transferred,
                            )
                            .await?;
                        let snapshot = {
                            let mut s = shared.lock();
                            s.done[i] = true;
                            s.clone()
                        };
                        work.save(&snapshot).await.map_err(Error::from)?;
                    }
                });
            }
            while let Some(joined) = tasks.join_next().await {
                let result: Result<(), Stop> =
                    joined.map_err(|e| Error::Transport(format!("task: {e}")))?;
                if let Err(e) = result {
                    tasks.abort_all();
                    return Err(e);
                }
            }
        }

        // All there: make it durable and give it its name.
        let f = tokio::fs::OpenOptions::new()
            .write(true)
            .open(&work.part)
            .await
            .map_err(Error::from)?;
        f.sync_all().await.map_err(Error::from)?;
        drop(f);
        if !opts.force && tokio::fs::try_exists(&target).await.map_err(Error::from)? {
            return Err(Error::Exists(target).into());
        }
        tokio::fs::rename(&work.part, &target)
            .await
            .map_err(Error::from)?;
        let _ = tokio::fs::remove_file(&work.state).await;
        Ok(Downloaded {
            file_token: file_token.to_owned(),
            path: target,
            file_name: state.file_name,
            size: state.total,
            etag: state.etag,
            bytes_transferred: transferred.load(std::sync::atomic::Ordering::Relaxed),
            resumed,
        })
    }

    /// Streams the first answer (all of the media, `bytes=0-`) into the part file in a
    /// task of its own, and plans the rest from how it arrives ([`segments::plan`]).
    /// Gives the future of the chunk bounds (from 0 to `total`; the first chunk is this
    /// answer's share, where it stops) and the task, which ends with the offset reached
    /// or where the body broke off.
    fn measure_and_plan(
        &self,
        first: Fetched,
        part: PathBuf,
        total: u64,
        progress: Arc<dyn Progress>,
        transferred: Arc<AtomicU64>,
    ) -> (
        impl std::future::Future<Output = Vec<u64>> + use<>,
        tokio::task::JoinHandle<Result<u64, BodyError>>,
    ) {
        let at = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicU64::new(total));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let share = tokio::spawn(write_measured(
            first,
            part,
            total,
            (at.clone(), stop.clone(), tx),
            progress,
            transferred,
        ));
        let spacing = self.request_spacing(feishu_media_proto::endpoint::Endpoint::Download);
        let bounds = async move {
            let mut rest = match rx.await {
                Ok(probe) => {
                    tracing::debug!(?probe, "first answer measured");
                    segments::plan(total, at.load(Ordering::Acquire), probe, spacing)
                }
                // The body broke off before it could be measured: even segments, the
                // first continued from where it broke.
                Err(_) => segments::even(0, total, DEFAULT_CONNECTIONS).split_off(1),
            };
            stop.store(rest[0], Ordering::Release);
            rest.insert(0, 0);
            tracing::debug!(segments = rest.len() - 1, "download planned");
            rest
        };
        (bounds, share)
    }

    /// Fetches chunk `i` into the part file, continuing from the byte reached when the
    /// body breaks off, and checking that every answer is exactly the range asked for.
    #[allow(clippy::too_many_arguments)]
    async fn fetch_chunk(
        &self,
        st: &State,
        i: usize,
        from: u64,
        extra: Option<&str>,
        part: &Path,
        progress: &Arc<dyn Progress>,
        transferred: &Arc<std::sync::atomic::AtomicU64>,
    ) -> Result<(), Stop> {
        let end = st.chunk_end(i); // exclusive
        let mut pos = from;
        let mut failures = 0;
        while pos < end {
            let mut f = self
                .download_range(
                    &st.file_token,
                    Some((pos, Some(end - 1))),
                    st.validator.as_deref(),
                    extra,
                )
                .await?;
            if f.status == 200 {
                // If-Range did not hold: the media is not the one partly downloaded.
                return Err(Changed);
            }
            if f.status != 206 {
                return Err(bad(&format!("chunk {i}: status {}", f.status)).into());
            }
            let Some((a, b, total)) = f.content_range() else {
                return Err(bad(&format!("chunk {i}: 206 without Content-Range")).into());
            };
            if (a, b, total) != (pos, end - 1, st.total) {
                return Err(bad(&format!(
                    "asked for bytes {pos}-{}/{}, got {a}-{b}/{total}",
                    end - 1,
                    st.total
                ))
                .into());
            }
            if let (Some(want), Some(got)) = (&st.etag, f.etag())
                && want != got
            {
                return Err(bad(&format!("ETag changed from {want} to {got} mid-download")).into());
            }
            match write_body(&mut f, part, pos, end, progress, transferred).await {
                Ok(()) => pos = end,
                Err(BodyCut(reached)) => {
                    failures += 1;
                    if failures >= self.retry_policy().max_attempts {
                        return Err(Error::Transport(format!(
                            "chunk {i} kept breaking off at byte {reached}"
                        ))
                        .into());
                    }
                    tracing::debug!(chunk = i, reached, "body cut: continuing from there");
                    pos = reached;
                    tokio::time::sleep(self.retry_policy().backoff(failures)).await;
                }
                Err(Write(e)) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

/// How a download stops.
enum Stop {
    /// The media changed since the partial download: start over.
    Changed,
    Failed(Error),
}
use Stop::{Changed, Failed};

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Failed(e)
    }
}

fn bad(why: &str) -> Error {
    Error::Inconsistent(why.to_owned())
}

/// How writing a body ended early.
enum BodyError {
    /// The connection broke at this offset.
    BodyCut(u64),
    Write(Error),
}
use BodyError::{BodyCut, Write};

impl From<BodyError> for Stop {
    fn from(e: BodyError) -> Self {
        match e {
            BodyCut(at) => Failed(Error::Transport(format!("the body broke off at byte {at}"))),
            Write(e) => Failed(e),
        }
    }
}

/// Writes the body of `f` at `start..end` of the part file.
async fn write_body(
    f: &mut Fetched,
    part: &Path,
    start: u64,
    end: u64,
    progress: &Arc<dyn Progress>,
    transferred: &Arc<std::sync::atomic::AtomicU64>,
) -> Result<(), BodyError> {
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .open(part)
        .await
        .map_err(|e| Write(e.into()))?;
    file.seek(SeekFrom::Start(start))
        .await
        .map_err(|e| Write(e.into()))?;
    let mut pos = start;
    loop {
        match f.chunk().await {
            Ok(Some(bytes)) => {
                if pos + bytes.len() as u64 > end {
                    return Err(Write(bad(&format!(
                        "more bytes than the range {start}-{}",
                        end - 1
                    ))));
                }
                file.write_all(&bytes).await.map_err(|e| Write(e.into()))?;
                pos += bytes.len() as u64;
                transferred.fetch_add(bytes.len() as u64, std::sync::atomic::Ordering::Relaxed);
                progress.advance(bytes.len() as u64);
            }
            Ok(None) if pos == end => break,
            Ok(None) | Err(_) => {
                file.flush().await.map_err(|e| Write(e.into()))?;
                return Err(BodyCut(pos));
            }
        }
    }
    file.flush().await.map_err(|e| Write(e.into()))?;
    Ok(())
}

/// How long to measure the first answer's rate: at least this much of its body and
/// time, unless it takes longer than the cap.
const PROBE_BYTES: u64 = 256 * 1024;
const PROBE_TIME: Duration = Duration::from_millis(100);
const PROBE_MAX_TIME: Duration = Duration::from_millis(500);

/// Writes the first answer from byte 0 on, tells `probe` how it arrives once it has
/// seen enough (or at its end), keeps `at` at the offset reached, and stops at `stop`
/// (which the plan lowers). Bytes written past a lowered stop are the same bytes the
/// next chunk writes: harmless.
async fn write_measured(
    mut f: Fetched,
    part: PathBuf,
    total: u64,
    (at, stop, probe): (
        Arc<AtomicU64>,
        Arc<AtomicU64>,
        tokio::sync::oneshot::Sender<segments::Probe>,
    ),
    progress: Arc<dyn Progress>,
    transferred: Arc<AtomicU64>,
) -> Result<u64, BodyError> {
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .open(&part)
        .await
        .map_err(|e| Write(e.into()))?;
    let mut probe = Some(probe);
    let mut first_piece: Option<Instant> = None;
    let (mut pos, mut since_first) = (0u64, 0u64);
    loop {
        let limit = stop.load(Ordering::Acquire);
        if pos >= limit {
            break;
        }
        match f.chunk().await {
            Ok(Some(bytes)) => {
                let now = Instant::now();
                let keep = bytes.len().min((limit - pos) as usize);
                file.write_all(&bytes[..keep])
                    .await
                    .map_err(|e| Write(e.into()))?;
                pos += keep as u64;
                at.store(pos, Ordering::Release);
                transferred.fetch_add(keep as u64, Ordering::Relaxed);
                progress.advance(keep as u64);
                let Some(t0) = first_piece else {
                    first_piece = Some(now);
                    continue;
                };
                since_first += keep as u64;
                let took = now - t0;
                let seen = (since_first >= PROBE_BYTES && took >= PROBE_TIME)
                    || took >= PROBE_MAX_TIME
                    || pos >= total;
                if seen && let Some(tx) = probe.take() {
                    let _ = tx.send(segments::Probe {
                        first_byte: t0 - f.sent_at,
                        rate: since_first as f64 / took.as_secs_f64(),
                    });
                }
            }
            Ok(None) if pos == total => break,
            Ok(None) | Err(_) => {
                file.flush().await.map_err(|e| Write(e.into()))?;
                return Err(BodyCut(pos));
            }
        }
    }
    if let Some(tx) = probe.take() {
        // All of it came before there was enough to measure: nothing is left to split.
        let _ = tx.send(segments::Probe {
            first_byte: first_piece.map_or(Duration::ZERO, |t| t - f.sent_at),
            rate: f64::INFINITY,
        });
    }
    file.flush().await.map_err(|e| Write(e.into()))?;
    Ok(pos)
}

/// What a resumable download remembers between runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct State {
    file_token: String,
    file_name: String,
    /// What `If-Range` carries: the ETag, else the `Last-Modified` date.
    validator: Option<String>,
    etag: Option<String>,
    total: u64,
    chunk: u64,
    done: Vec<bool>,
    /// Chunk `i` is `bounds[i]..bounds[i + 1]` when chunks were planned (no
    /// `connections` given); empty: every chunk is `chunk` long.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    bounds: Vec<u64>,
}

impl State {
    fn chunk_start(&self, i: usize) -> u64 {
        match self.bounds.get(i) {
            Some(b) => *b,
            None => (i as u64 * self.chunk).min(self.total),
        }
    }

    fn chunk_end(&self, i: usize) -> u64 {
        match self.bounds.get(i + 1) {
            Some(b) => *b,
            None => ((i as u64 + 1) * self.chunk).min(self.total),
        }
    }

    fn chunk_len(&self, i: usize) -> u64 {
        self.chunk_end(i) - self.chunk_start(i)
    }

    /// Whether the chunks cover `0..total` exactly, one `done` flag each.
    fn consistent(&self) -> bool {
        if self.bounds.is_empty() {
            return self.chunk > 0 && self.done.len() as u64 == self.total.div_ceil(self.chunk);
        }
        self.bounds.len() == self.done.len() + 1
            && self.bounds.first() == Some(&0)
            && self.bounds.last() == Some(&self.total)
            && self.bounds.windows(2).all(|w| w[0] < w[1])
    }
}

#[derive(Clone)]
struct Shared(Arc<Mutex<State>>);

impl Shared {
    fn new(s: State) -> Self {
        Self(Arc::new(Mutex::new(s)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().expect("not poisoned")
    }
}

/// Where a download keeps its part and state files: hidden files beside the result,
/// named after the file token (the only name known before the first answer).
#[derive(Clone)]
struct Work {
    part: PathBuf,
    state: PathBuf,
    file_token: String,
}

impl Work {
    fn new(out_dir: &Path, file_token: &str) -> Self {
        let key = safe_file_name(file_token, "media");
        Self {
            part: out_dir.join(format!(".{key}.feishu-part")),
            state: out_dir.join(format!(".{key}.feishu-state.json")),
            file_token: file_token.to_owned(),
        }
    }

    /// The state of an earlier run, if it is usable.
    async fn load(&self) -> Option<State> {
        let bytes = tokio::fs::read(&self.state).await.ok()?;
        let st: State = serde_json::from_slice(&bytes).ok()?;
        let part_len = tokio::fs::metadata(&self.part).await.ok()?.len();
        let ok = st.file_token == self.file_token && part_len == st.total && st.consistent();
        ok.then_some(st)
    }

    /// Writes the state atomically (temp file, then rename).
    async fn save(&self, st: &State) -> std::io::Result<()> {
        let tmp = self
            .state
            .with_extension(format!("json.{}", rand::random::<u32>()));
        tokio::fs::write(&tmp, serde_json::to_vec(st).expect("serializes")).await?;
        tokio::fs::rename(&tmp, &self.state).await
    }

    async fn discard(&self) {
        let _ = tokio::fs::remove_file(&self.part).await;
        let _ = tokio::fs::remove_file(&self.state).await;
    }
}

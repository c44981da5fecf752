//! Uploads: `upload_all` up to 20 MiB, the chunked calls above, Adler-32 sent with every
//! part; failed parts are retried by the request path.

use crate::client::Client;
use crate::error::{Error, Result};
use feishu_media_proto::endpoint::{self, Endpoint};
use feishu_media_proto::upload::{
    Adler32, BLOCK_SIZE, FileTokenData, FinishRequest, PrepareData, PrepareRequest, UPLOAD_ALL_MAX,
    block_len,
};
use futures_util::StreamExt;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Blocks of one chunked upload sent at once.
const PARALLEL_BLOCKS: usize = 3;
/// An upload journal is saved at most this often while blocks go up, and when a run
/// stops on an error.
const JOURNAL_EVERY: Duration = Duration::from_secs(1);

/// Where an upload goes (`parent_type`, `parent_node`, `extra` as Feishu defines them).
#[derive(Debug, Clone)]
pub struct UploadTarget {
    pub parent_type: String,
    pub parent_node: String,
    pub extra: Option<String>,
}

impl Client {
    /// Uploads bytes of at most 20 MiB with `upload_all`.
    pub async fn upload_all(
        &self,
        file_name: &str,
        bytes: Vec<u8>,
        target: &UploadTarget,
    ) -> Result<String> {
        if bytes.len() as u64 > UPLOAD_ALL_MAX {
            return Err(Error::Invalid(
                "upload_all takes at most 20 MiB; use upload_file".into(),
            ));
        }
        let url = self.url(endpoint::UPLOAD_ALL);
        let checksum = Adler32::of(&bytes).to_string();
        let size = bytes.len().to_string();
        let bytes = bytes::Bytes::from(bytes);
        let answer = self
            .send(
                Endpoint::UploadAll,
                |http, auth| {
                    let mut form = reqwest::multipart::Form::new()
                        .text("file_name", file_name.to_owned())
                        .text("parent_type", target.parent_type.clone())
                        .text("parent_node", target.parent_node.clone())
                        .text("size", size.clone())
                        .text("checksum", checksum.clone());
                    if let Some(e) = &target.extra {
                        form = form.text("extra", e.clone());
                    }
                    let part = reqwest::multipart::Part::stream(bytes.clone())
                        .file_name(file_name.to_owned());
                    http.post(&url)
                        .header("Authorization", auth)
                        .multipart(form.part("file", part))
                },
                &[],
            )
            .await?;
        let data: FileTokenData = Self::json_data(answer).await?;
        Ok(data.file_token)
    }

    /// Uploads a file: `upload_all` when it fits, else prepare, every block, finish.
    /// `on_bytes` is told how many bytes went up after each request.
    pub async fn upload_file(
        &self,
        path: &Path,
        file_name: &str,
        target: &UploadTarget,
        on_bytes: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<String> {
        self.upload_file_with(path, file_name, target, None, on_bytes)
            .await
    }

    /// [`Client::upload_file`], keeping a chunked upload's progress in a journal file
    /// under `journal_dir`: called again for the same file (same size and modification
    /// time) and target after a run was cut short, it sends only the blocks the server
    /// has not acknowledged. An upload id the server no longer takes (they last 24 hours)
    /// starts the upload over. The journal goes when the upload is done.
    pub async fn upload_file_resumable(
        &self,
        path: &Path,
        file_name: &str,
        target: &UploadTarget,
        journal_dir: &Path,
        on_bytes: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<String> {
        self.upload_file_with(path, file_name, target, Some(journal_dir), on_bytes)
            .await
    }

    async fn upload_file_with(
        &self,
        path: &Path,
        file_name: &str,
        target: &UploadTarget,
        journal_dir: Option<&Path>,
        on_bytes: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<String> {
        let meta = tokio::fs::metadata(path).await?;
        let size = meta.len();
        if size <= UPLOAD_ALL_MAX {
            let bytes = tokio::fs::read(path).await?;
            let token = self.upload_all(file_name, bytes, target).await?;
            on_bytes(size);
            return Ok(token);
        }
        let key = self.journal_key(path, &meta, file_name, target);
        let journal = journal_dir.map(|dir| Journal::new(dir, &key));
        // Never report more than the file: a restart after a stale journal sends again
        // blocks that were already counted.
        let reported = AtomicU64::new(0);
        let report = |n: u64| {
            let before = reported.fetch_add(n, Ordering::Relaxed);
            on_bytes(n.min(size.saturating_sub(before)));
        };
        let mut resume = match &journal {
            Some(j) => j.load(&key).await,
            None => None,
        };
        loop {
            let resuming = resume.is_some();
            let progress = match resume.take() {
                Some(p) => p,
                None => {
                    let plan = self.prepare(file_name, target, size).await?;
                    Progress {
                        key: key.clone(),
                        upload_id: plan.upload_id,
                        block_num: plan.block_num,
                        done: BTreeSet::new(),
                    }
                }
            };
            if let Some(j) = &journal {
                j.save(&progress).await;
            }
            report(progress.done.iter().map(|&seq| block_len(size, seq)).sum());
            match self
                .send_blocks(path, size, progress, journal.as_ref(), &report)
                .await
            {
                Ok(token) => {
                    if let Some(j) = &journal {
                        j.discard().await;
                    }
                    return Ok(token);
                }
                // The server has forgotten the upload (expired), or it is not ours: once,
                // start over.
                Err(e) if resuming && matches!(e.code(), Some(1061021 | 1062007)) => {
                    if let Some(j) = &journal {
                        j.discard().await;
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn prepare(
        &self,
        file_name: &str,
        target: &UploadTarget,
        size: u64,
    ) -> Result<PrepareData> {
        let prepare = PrepareRequest {
            file_name: file_name.to_owned(),
            parent_type: target.parent_type.clone(),
            parent_node: target.parent_node.clone(),
            size: size as i64,
            extra: target.extra.clone(),
        };
        let plan: PrepareData = self
            .post_json(Endpoint::UploadPrepare, endpoint::UPLOAD_PREPARE, &prepare)
            .await?;
        if plan.block_size != BLOCK_SIZE {
            return Err(Error::Inconsistent(format!(
                "block size {} where {BLOCK_SIZE} was expected",
                plan.block_size
            )));
        }
        Ok(plan)
    }

    /// Sends the blocks `progress` lacks, then finishes the upload.
    async fn send_blocks(
        &self,
        path: &Path,
        size: u64,
        progress: Progress,
        journal: Option<&Journal>,
        on_bytes: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<String> {
        // Blocks go up a few at a time, so the client's reading and the server's writing
        // overlap; each is read from the file with a positioned read, only when sent.
        let file = std::sync::Arc::new(std::fs::File::open(path)?);
        let url = self.url(endpoint::UPLOAD_PART);
        let upload_id = progress.upload_id.clone();
        let block_num = progress.block_num;
        let missing: Vec<u64> = (0..block_num)
            .filter(|seq| !progress.done.contains(seq))
            .collect();
        // With the time of the last save: a journal written after every block cost 5-10%
        // of a fast upload, and a crash now loses at most a second of acknowledgements.
        let progress = std::sync::Mutex::new((progress, Instant::now()));
        let results: Vec<Result<u64>> = futures_util::stream::iter(missing)
            .map(|seq| {
                let (file, url, upload_id) = (file.clone(), url.clone(), upload_id.clone());
                let progress = &progress;
                async move {
                    let len = block_len(size, seq);
                    let block = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
                        use std::os::unix::fs::FileExt;
                        let mut block = vec![0u8; len as usize];
                        file.read_exact_at(&mut block, seq * BLOCK_SIZE)?;
                        Ok(block)
                    })
                    .await
                    .map_err(|e| Error::Invalid(format!("read task: {e}")))??;
                    let checksum = Adler32::of(&block).to_string();
                    let block = bytes::Bytes::from(block);
                    let answer = self
                        .send(
                            Endpoint::UploadPart,
                            |http, auth| {
                                let form = reqwest::multipart::Form::new()
                                    .text("upload_id", upload_id.clone())
                                    .text("seq", seq.to_string())
                                    .text("size", len.to_string())
                                    .text("checksum", checksum.clone())
                                    .part(
                                        "file",
                                        reqwest::multipart::Part::stream(block.clone())
                                            .file_name("blob"),
                                    );
                                http.post(&url)
                                    .header("Authorization", auth)
                                    .multipart(form)
                            },
                            &[],
                        )
                        .await?;
                    let _: serde_json::Value = Self::json_data(answer).await?;
                    let due = {
                        let mut p = progress.lock().expect("not poisoned");
                        p.0.done.insert(seq);
                        (p.1.elapsed() >= JOURNAL_EVERY).then(|| {
                            p.1 = Instant::now();
                            p.0.clone()
                        })
                    };
                    if let (Some(j), Some(snapshot)) = (journal, due) {
                        j.save(&snapshot).await;
                    }
                    on_bytes(len);
                    Ok(len)
                }
            })
            .buffer_unordered(PARALLEL_BLOCKS)
            .collect()
            .await;
        if let Some(failed) = results.into_iter().find_map(|r| r.err()) {
            if let Some(j) = journal {
                let snapshot = progress.lock().expect("not poisoned").0.clone();
                j.save(&snapshot).await;
            }
            return Err(failed);
        }
        let finish = FinishRequest {
            upload_id,
            block_num: block_num as i64,
        };
        let data: FileTokenData = self
            .post_json(Endpoint::UploadFinish, endpoint::UPLOAD_FINISH, &finish)
            .await?;
        Ok(data.file_token)
    }

    /// POSTs `body` as JSON to `path`; the answer's `data`.
    async fn post_json<T: serde::de::DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<T> {
        let url = self.url(path);
        let answer = self
            .send(
                endpoint,
                |http, auth| http.post(&url).header("Authorization", auth).json(body),
                &[],
            )
            .await?;
        Self::json_data(answer).await
    }

    /// What makes two runs the same upload: where to, as whom, which file in which state.
    /// No secret goes in (it is written to the journal): a user token only as a hash.
    fn journal_key(
        &self,
        path: &Path,
        meta: &std::fs::Metadata,
        file_name: &str,
        target: &UploadTarget,
    ) -> String {
        let who = self.identity();
        let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        serde_json::json!([
            self.url(""),
            who,
            path,
            meta.len(),
            modified.to_string(),
            file_name,
            target.parent_type,
            target.parent_node,
            target.extra,
        ])
        .to_string()
    }
}

/// A chunked upload's state, as the journal keeps it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Progress {
    key: String,
    upload_id: String,
    block_num: u64,
    /// The blocks the server acknowledged.
    done: BTreeSet<u64>,
}

/// A journal file: `<dir>/<hash of the key>.json`, written whole and renamed into place.
struct Journal {
    dir: PathBuf,
    path: PathBuf,
}

impl Journal {
    fn new(dir: &Path, key: &str) -> Self {
        Self {
            dir: dir.to_owned(),
            path: dir.join(format!("{:016x}.json", fnv1a(key.as_bytes()))),
        }
    }

    /// The progress of an earlier run of the same upload, if any.
    async fn load(&self, key: &str) -> Option<Progress> {
        let bytes = tokio::fs::read(&self.path).await.ok()?;
        let p: Progress = serde_json::from_slice(&bytes).ok()?;
        (p.key == key && p.done.iter().all(|&seq| seq < p.block_num)).then_some(p)
    }

    /// Saves `progress`. A journal that cannot be written costs only the resume, so the
    /// upload goes on (with a warning).
    async fn save(&self, progress: &Progress) {
        let tmp = self
            .path
            .with_extension(format!("json.{}", rand::random::<u32>()));
        let write = async {
            tokio::fs::create_dir_all(&self.dir).await?;
            tokio::fs::write(&tmp, serde_json::to_vec(progress).expect("serializes")).await?;
            tokio::fs::rename(&tmp, &self.path).await
        };
        if let Err(e) = write.await {
            let _ = tokio::fs::remove_file(&tmp).await;
            tracing::warn!(journal = %self.path.display(), error = %e, "upload journal not saved");
        }
    }

    async fn discard(&self) {
        let _ = tokio::fs::remove_file(&self.path).await;
    }
}

/// FNV-1a, 64 bits: a stable name for a journal (std's hasher may change between
/// releases, and a changed name only costs a resume).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

//! `feishu-media download` and `feishu-media upload`: the SDK with progress bars, a
//! summary, `--json`, and exit codes.

use anyhow::Context;
use clap::Args;
use feishu_media_client::upload::UploadTarget;
use feishu_media_client::{Client, DownloadOptions, Error, Progress};
use futures_util::StreamExt;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// How to reach the API and as whom (shared by download and upload).
#[derive(Args)]
pub struct Connection {
    /// https://open.feishu.cn, https://open.larksuite.com, or a feishu-media server.
    #[arg(
        long,
        env = "FEISHU_BASE_URL",
        default_value = "https://open.feishu.cn"
    )]
    base_url: String,
    #[arg(long, env = "FEISHU_APP_ID", requires = "app_secret")]
    app_id: Option<String>,
    #[arg(long, env = "FEISHU_APP_SECRET", hide_env_values = true)]
    app_secret: Option<String>,
    /// Act as a user instead of the app.
    #[arg(
        long,
        env = "FEISHU_USER_TOKEN",
        hide_env_values = true,
        conflicts_with = "app_id"
    )]
    user_token: Option<String>,
    /// Requests per second to keep within (Feishu: 5 per app); 0: no wait.
    #[arg(long, default_value_t = 5)]
    rate: u32,
    /// Print one JSON object per file instead of bars and a summary.
    #[arg(long)]
    pub(crate) json: bool,
}

impl Connection {
    pub(crate) fn client(&self) -> anyhow::Result<Client> {
        let builder = Client::builder(&self.base_url).quota(feishu_media_client::quota::Quota {
            per_second: self.rate,
            per_day: 10_000,
        });
        let builder = match (&self.app_id, &self.app_secret, &self.user_token) {
            (Some(id), Some(secret), _) => builder.app_credentials(id, secret),
            (_, _, Some(t)) => builder.user_token(t),
            _ => anyhow::bail!(
                "give --app-id and --app-secret (or FEISHU_APP_ID / FEISHU_APP_SECRET), or --user-token"
            ),
        };
        Ok(builder.build()?)
    }
}

#[derive(Args)]
pub struct DownloadArgs {
    /// File tokens to download.
    tokens: Vec<String>,
    /// A file with more tokens, one a line (`-`: standard input).
    #[arg(short = 'i', long = "input")]
    input: Option<PathBuf>,
    /// The folder to save into.
    #[arg(short = 'o', long = "output", default_value = ".")]
    output: PathBuf,
    /// The bitable `extra` parameter (JSON).
    #[arg(long)]
    extra: Option<String>,
    /// Parallel ranged requests per file. Without it (and --chunk-mib), each download
    /// measures its first answer and splits the rest to suit the link and the quota.
    #[arg(long)]
    connections: Option<usize>,
    /// Files downloaded at once.
    #[arg(long, default_value_t = 4)]
    parallel: usize,
    /// Chunk size in MiB (resume granularity; 8 with --connections).
    #[arg(long)]
    chunk_mib: Option<u64>,
    /// Overwrite files that exist.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    conn: Connection,
}

#[derive(Args)]
pub struct UploadArgs {
    /// Files to upload.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    #[arg(long)]
    parent_type: String,
    #[arg(long, default_value = "")]
    parent_node: String,
    /// The upload `extra` parameter (JSON), e.g. {"drive_route_token":"doxcn…"}.
    #[arg(long)]
    extra: Option<String>,
    /// Where files over 20 MiB (uploaded in blocks) keep a journal of the blocks sent, so
    /// that running the same command again after an interrupted run sends only the rest
    /// [default: $XDG_STATE_HOME/feishu-media/uploads, or ~/.local/state/feishu-media/uploads].
    #[arg(long, env = "FEISHU_MEDIA_STATE_DIR")]
    state_dir: Option<PathBuf>,
    /// Keep no journal: an interrupted upload starts over.
    #[arg(long, conflicts_with = "state_dir")]
    no_resume: bool,
    #[command(flatten)]
    conn: Connection,
}

/// Where upload journals go unless `--state-dir` says: the XDG state directory.
fn default_state_dir() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(state.join("feishu-media/uploads"))
}

/// `Err(SomeFailed)` when any of `total` transfers failed (exit status 5).
fn all_succeeded(failed: usize, total: usize) -> anyhow::Result<()> {
    if failed > 0 {
        return Err(SomeFailed { failed, total }.into());
    }
    Ok(())
}

/// Some transfers failed; the details were printed.
#[derive(Debug, thiserror::Error)]
#[error("{failed} of {total} failed")]
pub struct SomeFailed {
    pub failed: usize,
    pub total: usize,
}

/// A file's bar, and the bar of all files together.
pub(crate) struct Bar {
    pub(crate) file: ProgressBar,
    pub(crate) all: ProgressBar,
}

impl Progress for Bar {
    fn start(&self, name: &str, total: u64, already: u64) {
        self.file.set_length(total);
        self.file.set_position(already);
        self.file.set_message(name.to_owned());
        self.all.inc_length(total);
        self.all.inc(already);
    }

    fn advance(&self, bytes: u64) {
        self.file.inc(bytes);
        self.all.inc(bytes);
    }
}

pub(crate) struct Quiet;

impl Progress for Quiet {}

pub(crate) fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{msg:30!} {bar:30} {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12} eta {eta}",
    )
    .expect("valid template")
}

pub(crate) fn failure_line(what: &str, e: &Error) -> String {
    let hint = e
        .hint()
        .map(|h| format!("\n  hint: {h}"))
        .unwrap_or_default();
    format!("FAILED {what}: {e}{hint}")
}

pub async fn download(args: DownloadArgs) -> anyhow::Result<()> {
    let mut tokens = args.tokens.clone();
    if let Some(input) = &args.input {
        let text = if input.as_os_str() == "-" {
            std::io::read_to_string(std::io::stdin())?
        } else {
            std::fs::read_to_string(input)
                .with_context(|| format!("cannot read {}", input.display()))?
        };
        tokens.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned),
        );
    }
    if tokens.is_empty() {
        anyhow::bail!("no file tokens given");
    }
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("cannot create {}", args.output.display()))?;
    let client = args.conn.client()?;
    let opts = DownloadOptions {
        extra: args.extra.clone(),
        connections: args.connections.map(|n| n.max(1)),
        chunk_size: args.chunk_mib.map(|m| m.max(1) * 1024 * 1024),
        force: args.force,
        save_as: None,
    };
    let bars = (!args.conn.json && std::io::stderr().is_terminal()).then(MultiProgress::new);
    let all = bars.as_ref().map(|m| {
        let b = m.add(ProgressBar::new(0).with_style(bar_style()));
        b.set_message(format!("all {} files", tokens.len()));
        b
    });
    let started = Instant::now();
    let results: Vec<(String, Result<feishu_media_client::Downloaded, Error>)> =
        futures_util::stream::iter(tokens.iter().cloned())
            .map(|token| {
                let (client, opts, out) = (client.clone(), opts.clone(), args.output.clone());
                let progress: Arc<dyn Progress> = match (&bars, &all) {
                    (Some(m), Some(all)) => {
                        let b = m.insert_from_back(1, ProgressBar::new(0).with_style(bar_style()));
                        b.set_message(token.clone());
                        Arc::new(Bar {
                            file: b,
                            all: all.clone(),
                        })
                    }
                    _ => Arc::new(Quiet),
                };
                async move {
                    let r = client.download_to_dir(&token, &out, &opts, progress).await;
                    (token, r)
                }
            })
            .buffered(args.parallel.max(1))
            .collect()
            .await;
    let failed = report(&results, args.conn.json, started, |d| {
        format!(
            "{} ({} bytes{})",
            d.path.display(),
            d.size,
            if d.resumed { ", resumed" } else { "" }
        )
    });
    all_succeeded(failed, results.len())
}

pub async fn upload(args: UploadArgs) -> anyhow::Result<()> {
    let client = args.conn.client()?;
    let target = UploadTarget {
        parent_type: args.parent_type.clone(),
        parent_node: args.parent_node.clone(),
        extra: args.extra.clone(),
    };
    let journals = if args.no_resume {
        None
    } else {
        args.state_dir.clone().or_else(default_state_dir)
    };
    let bars = (!args.conn.json && std::io::stderr().is_terminal()).then(MultiProgress::new);
    let started = Instant::now();
    let mut results = Vec::new();
    for path in &args.paths {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let bar = bars.as_ref().map(|m| {
            let b = m.add(
                ProgressBar::new(std::fs::metadata(path).map(|m| m.len()).unwrap_or(0))
                    .with_style(bar_style()),
            );
            b.set_message(name.clone());
            b
        });
        let on_bytes = |n: u64| {
            if let Some(b) = &bar {
                b.inc(n);
            }
        };
        let r = match &journals {
            Some(dir) => {
                client
                    .upload_file_resumable(path, &name, &target, dir, &on_bytes)
                    .await
            }
            None => client.upload_file(path, &name, &target, &on_bytes).await,
        };
        results.push((
            path.display().to_string(),
            r.map(|token| Uploaded {
                path: path.clone(),
                file_token: token,
            }),
        ));
    }
    let failed = report(&results, args.conn.json, started, |u| u.file_token.clone());
    all_succeeded(failed, results.len())
}

#[derive(serde::Serialize)]
struct Uploaded {
    path: PathBuf,
    file_token: String,
}

/// Prints one line (or JSON object) per item and a summary; returns how many failed.
fn report<T: serde::Serialize>(
    results: &[(String, Result<T, Error>)],
    json: bool,
    started: Instant,
    describe: impl Fn(&T) -> String,
) -> usize {
    let mut failed = 0;
    for (what, r) in results {
        match r {
            Ok(v) if json => println!(
                "{}",
                serde_json::json!({"ok": true, "item": what, "result": v})
            ),
            Ok(v) => println!("ok     {what}: {}", describe(v)),
            Err(e) => {
                failed += 1;
                if json {
                    println!(
                        "{}",
                        serde_json::json!({"ok": false, "item": what, "error": e.to_string(), "code": e.code(), "hint": e.hint()})
                    );
                } else {
                    eprintln!("{}", failure_line(what, e));
                }
            }
        }
    }
    if !json {
        eprintln!(
            "{} done, {failed} failed, in {:.1} s",
            results.len() - failed,
            started.elapsed().as_secs_f64()
        );
    }
    failed
}

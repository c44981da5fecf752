//! `feishu-media serve`: flags and environment in, a running server out.

use anyhow::Context;
use clap::Args;
use feishu_media_server::config::{self, BlobBackend, LimitsBackend, MetadataBackend, Storage};
use feishu_media_server::{AppState, ServerConfig, demo, seed};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the chosen address is printed).
    #[arg(long, env = "FEISHU_MEDIA_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Directory for the embedded store (SQLite metadata, blob files, server secret).
    #[arg(
        long,
        env = "FEISHU_MEDIA_DATA_DIR",
        default_value = "./feishu-media-data"
    )]
    data_dir: PathBuf,
    /// Keep everything in memory; nothing is written to disk.
    #[arg(long, env = "FEISHU_MEDIA_MEMORY", conflicts_with_all = ["metadata", "blobs"])]
    memory: bool,
    /// Where metadata lives: `postgres://USER:PASS@HOST:PORT/DB` (shared by replicas);
    /// default: SQLite under --data-dir.
    #[arg(long, env = "FEISHU_MEDIA_METADATA", hide_env_values = true)]
    metadata: Option<String>,
    /// Where blobs live: `s3://BUCKET?endpoint=http://HOST:PORT&region=REGION` (any
    /// S3-compatible server; path-style when an endpoint is given; credentials from
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN); default: files
    /// under --data-dir.
    #[arg(long, env = "FEISHU_MEDIA_BLOBS")]
    blobs: Option<String>,
    /// A seed manifest to load (idempotently) at start.
    #[arg(long, env = "FEISHU_MEDIA_SEED")]
    seed: Option<PathBuf>,
    /// Base URL of links the server hands out (default: http://<listen address>).
    #[arg(long, env = "FEISHU_MEDIA_PUBLIC_URL")]
    public_url: Option<String>,
    /// Load a small demo world and print curl lines that use it.
    #[arg(long, env = "FEISHU_MEDIA_DEMO")]
    demo: bool,
    /// The server secret (any text; replicas sharing it accept each other's tokens and
    /// links). Default: generated once into the data dir. Prefer the env var or the file.
    #[arg(long, env = "FEISHU_MEDIA_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// A file holding the server secret.
    #[arg(long, env = "FEISHU_MEDIA_SECRET_FILE", conflicts_with = "secret")]
    secret_file: Option<PathBuf>,
    /// Seconds a temporary download link stays valid.
    #[arg(long, env = "FEISHU_MEDIA_TMP_URL_TTL", default_value_t = 24 * 3600)]
    tmp_url_ttl: u64,
    /// Seconds a chunked upload may stay unfinished.
    #[arg(long, env = "FEISHU_MEDIA_UPLOAD_TTL", default_value_t = 24 * 3600)]
    upload_ttl: u64,
    /// Where rate-limit counts are kept: `redis://HOST:PORT` shares them between
    /// replicas (5/s and 10 000/day for the fleet together); default: in this process.
    #[arg(long, env = "FEISHU_MEDIA_LIMITS", hide_env_values = true)]
    limits: Option<String>,
    /// Seconds a request body may send nothing before the request is abandoned (400).
    #[arg(long, env = "FEISHU_MEDIA_BODY_IDLE_TIMEOUT", default_value_t = 30)]
    body_idle_timeout: u64,
    /// Seconds a connection gets to send each request head (counted once per head).
    #[arg(long, env = "FEISHU_MEDIA_HEAD_TIMEOUT", default_value_t = 30)]
    head_timeout: u64,
    /// Connections served at once; past it new connections wait to be accepted.
    #[arg(long, env = "FEISHU_MEDIA_MAX_CONNECTIONS", default_value_t = 16_384)]
    max_connections: usize,
    /// Threads that serve connections, each with its own event loop, as nginx's
    /// workers (default: one per CPU). A connection stays on the thread it was given.
    #[arg(long, env = "FEISHU_MEDIA_CONNECTION_THREADS")]
    connection_threads: Option<std::num::NonZeroUsize>,
    /// The largest file a chunked upload may announce, in bytes (default 20 GiB).
    #[arg(long, env = "FEISHU_MEDIA_MAX_UPLOAD_SIZE", default_value_t = 20 << 30)]
    max_upload_size: u64,
    /// Chunked uploads one app may have open at once.
    #[arg(long, env = "FEISHU_MEDIA_MAX_OPEN_UPLOADS", default_value_t = 1000)]
    max_open_uploads: u64,
    /// Bytes one app's open chunked uploads may announce in all (default 100 GiB).
    #[arg(long, env = "FEISHU_MEDIA_MAX_OPEN_UPLOAD_BYTES", default_value_t = 100 << 30)]
    max_open_upload_bytes: u64,
    /// Bearer token of the admin API (`/_admin/v1/`); without one the admin API is off.
    /// `--demo` makes one up when none is given.
    #[arg(long, env = "FEISHU_MEDIA_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// The one folder the admin API may read media `path`s from; without it the admin
    /// API reads no files (media bytes come in the request).
    #[arg(long, env = "FEISHU_MEDIA_FIXTURES_DIR")]
    fixtures_dir: Option<PathBuf>,
    /// A JSON file of fault-injection rules to start with.
    #[arg(long, env = "FEISHU_MEDIA_FAULTS")]
    faults: Option<PathBuf>,
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    #[arg(long, env = "FEISHU_MEDIA_SHUTDOWN_GRACE", default_value_t = 30)]
    shutdown_grace: u64,
    /// Log filter (tracing's EnvFilter syntax).
    #[arg(long, env = "FEISHU_MEDIA_LOG", default_value = "info")]
    log: String,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&args.log).context("--log")?)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    raise_open_file_limit(args.max_connections);
    if let Some(n) = args.connection_threads {
        feishu_media_server::connection_threads::set_count(n);
    }
    let admin_token = match (&args.admin_token, args.demo) {
        (Some(t), _) if t.trim().is_empty() => anyhow::bail!("the admin token is empty"),
        (Some(t), _) => Some(t.clone()),
        (None, true) => Some(format!("adm-{}", random_hex())),
        (None, false) => None,
    };
    let secret = match (&args.secret, &args.secret_file) {
        (Some(text), _) => Some(text.clone()),
        (None, Some(path)) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --secret-file {}", path.display()))?,
        ),
        (None, None) => None,
    };
    if secret.as_deref().is_some_and(|s| s.trim().is_empty()) {
        anyhow::bail!("the server secret is empty");
    }
    let config = ServerConfig {
        storage: storage(&args)?,
        // Without one, links name the host each request was sent to (right behind a
        // proxy too).
        public_url: args.public_url.clone(),
        secret: secret.as_deref().map(config::secret_from_text),
        tmp_url_ttl: Duration::from_secs(args.tmp_url_ttl),
        upload_ttl: Duration::from_secs(args.upload_ttl),
        body_idle_timeout: Duration::from_secs(args.body_idle_timeout.max(1)),
        head_timeout: Duration::from_secs(args.head_timeout.max(1)),
        max_connections: args.max_connections.max(1),
        max_upload_size: args.max_upload_size,
        max_open_uploads: args.max_open_uploads,
        max_open_upload_bytes: args.max_open_upload_bytes,
        admin_token: admin_token.clone(),
        fixtures_dir: args.fixtures_dir.clone(),
        limits: match &args.limits {
            Some(url) => LimitsBackend::Redis(url.clone()),
            None => LimitsBackend::InProcess,
        },
        ..ServerConfig::default()
    };
    // Storage first: a setting that does not work stops the server before it listens.
    let state = AppState::open(config).await?;
    let listener = feishu_media_server::listen(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let base = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));

    if let Some(path) = &args.seed {
        let report = seed::load_file(&state, path).await.map_err(|e| {
            anyhow::Error::new(e).context(format!("manifest {} refused", path.display()))
        })?;
        tracing::info!(?report, manifest = %path.display(), "manifest loaded");
    }
    if args.demo {
        let manifest = seed::parse(demo::manifest().to_string().as_bytes())?;
        seed::load_startup(&state, manifest, PathBuf::from(".")).await?;
    }
    if let Some(path) = &args.faults {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read --faults {}", path.display()))?;
        let rules = feishu_media_server::faults::parse_rules(&bytes)
            .map_err(|e| anyhow::anyhow!("--faults {}: {e}", path.display()))?;
        state.faults.set(rules);
    }

    println!("feishu-media listening on http://{addr}");
    if args.demo {
        println!("\n{}", demo::instructions(&base, admin_token.as_deref()));
    }

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(feishu_media_server::serve(listener, state, async move {
        let _ = stop_rx.await;
    }));
    shutdown_signal().await;
    tracing::info!(
        grace_secs = args.shutdown_grace,
        "shutting down: finishing in-flight requests"
    );
    let _ = stop_tx.send(());
    match tokio::time::timeout(Duration::from_secs(args.shutdown_grace), server).await {
        Ok(joined) => joined.context("server task")?.context("server")?,
        Err(_) => tracing::warn!("grace period over: cutting the remaining connections"),
    }
    Ok(())
}

/// The metadata and blob backends the flags name; a malformed URL is refused here, one
/// that cannot be reached when the storage is opened.
fn storage(args: &ServeArgs) -> anyhow::Result<Storage> {
    if args.memory {
        return Ok(Storage::memory());
    }
    let mut storage = Storage::data_dir(&args.data_dir);
    if let Some(url) = &args.metadata {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            anyhow::bail!("--metadata: expected postgres://USER:PASS@HOST:PORT/DB");
        }
        storage.metadata = MetadataBackend::Postgres(url.clone());
    }
    if let Some(url) = &args.blobs {
        feishu_media_store::s3::S3Url::parse(url).map_err(|e| anyhow::anyhow!("--blobs: {e}"))?;
        storage.blobs = BlobBackend::S3 {
            url: url.clone(),
            credentials: None,
        };
    }
    Ok(storage)
}

/// SIGTERM or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// 16 random bytes as hex, from the OS (for a generated admin token).
fn random_hex() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_err()
    {
        // No /dev/urandom: time and process id are still unguessable enough for a demo.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
            ^ u128::from(std::process::id());
        bytes = seed.to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Raises the soft limit on open files towards the hard one, so `--max-connections`
/// connections (each a descriptor, plus blob files) can be open; as nginx's
/// `worker_rlimit_nofile` does. A limit that cannot be raised is only reported.
fn raise_open_file_limit(connections: usize) {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    let want = connections as u64 + 1024;
    let current = limit.current.unwrap_or(u64::MAX);
    if current >= want {
        return;
    }
    limit.current = Some(limit.maximum.map_or(want, |max| max.min(want)));
    let raised = limit.current;
    match setrlimit(Resource::Nofile, limit) {
        Ok(()) if raised >= Some(want) => {}
        Ok(()) => tracing::warn!(
            open_files = raised,
            "the open-file limit is below --max-connections; raise the hard limit (ulimit -Hn)"
        ),
        Err(e) => tracing::warn!(error = %e, "could not raise the open-file limit"),
    }
}

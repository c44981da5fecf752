//! A real server for tests: the library's `serve` on `127.0.0.1:0`, backed by the
//! embedded store in a temp dir (or memory), seeded from a manifest.
//!
//! # Layout
//!
//! - [`TestServer`]: start, seed, restart on the same data dir, stop.
//! - [`TestServer::tenant_token`] and friends: the few HTTP calls every test needs.

use feishu_media_server::config::{BlobBackend, LimitsBackend, MetadataBackend, Storage};
use feishu_media_server::{AppState, ServerConfig, seed};
use std::path::{Path, PathBuf};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// An HTTP client for tests. Builds of the whole workspace give reqwest rustls without
/// a built-in crypto provider (the SDK brings ring), so one is installed first.
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// Which backend a test server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    Memory,
    /// PostgreSQL + S3 + Redis, as replicas run: a fresh database and bucket on the
    /// engines `with-engines` started, and a Redis of the server's own.
    Shared,
}

impl Backend {
    /// The backend of the default servers ([`TestServer::start`]): embedded, or shared
    /// when the suite runs under `with-engines` (`FEISHU_MEDIA_TEST_BACKEND=shared`).
    pub fn default_for_tests() -> Self {
        match std::env::var("FEISHU_MEDIA_TEST_BACKEND").as_deref() {
            Ok("shared") => Backend::Shared,
            _ => Backend::Embedded,
        }
    }
}

/// The shared storage of one test server: its own database and bucket on the engines
/// `with-engines` started, its own Redis.
fn shared_storage() -> (Storage, TestRedis) {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| panic!("{name}: run under with-engines"))
    };
    let pg = var("FEISHU_MEDIA_TEST_POSTGRES");
    let port: u16 = pg
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port");
    let name = format!("t{:016x}", rand_u64());
    let database = feishu_media_engines::create_database(port, &name);
    std::fs::create_dir(std::path::Path::new(&var("FEISHU_MEDIA_TEST_S3_DIR")).join(&name))
        .expect("the bucket's directory");
    let endpoint = var("FEISHU_MEDIA_TEST_S3_ENDPOINT");
    let storage = Storage {
        metadata: MetadataBackend::Postgres(database),
        blobs: BlobBackend::S3 {
            url: format!("s3://{name}?endpoint={endpoint}&region=us-east-1"),
            credentials: Some((
                feishu_media_engines::S3_ACCESS_KEY.into(),
                feishu_media_engines::S3_SECRET_KEY.into(),
            )),
        },
    };
    (storage, TestRedis::start())
}

/// One world for several servers (replicas): a PostgreSQL database, an S3 bucket and a
/// Redis, each engine private to this value and stopped with it.
pub struct SharedWorld {
    pub postgres: TestPostgres,
    pub s3: TestS3,
    pub redis: TestRedis,
    pub database: String,
}

impl SharedWorld {
    pub fn start() -> Self {
        let postgres = TestPostgres::start();
        let database = postgres.database("world");
        Self {
            postgres,
            s3: TestS3::start(),
            redis: TestRedis::start(),
            database,
        }
    }

    /// The storage every replica of this world opens.
    pub fn storage(&self) -> Storage {
        Storage {
            metadata: MetadataBackend::Postgres(self.database.clone()),
            blobs: BlobBackend::S3 {
                url: self.s3.url(),
                credentials: Some(self.s3.credentials()),
            },
        }
    }

    /// Sets `config` to this world's storage and Redis limits.
    pub fn configure(&self, config: &mut ServerConfig) {
        config.storage = self.storage();
        config.limits = LimitsBackend::Redis(self.redis.url());
    }

    /// A replica of this world, seeded with `manifest` (the same manifest again is a
    /// no-op), its config adjusted by `configure` after the world's settings.
    pub async fn replica(
        &self,
        manifest: serde_json::Value,
        configure: impl FnOnce(&mut ServerConfig),
    ) -> TestServer {
        let tmp = tempfile::tempdir().expect("temp dir");
        let mut server =
            TestServer::start_configured(Backend::Embedded, tmp.path(), manifest, |c| {
                self.configure(c);
                configure(c);
            })
            .await;
        server._tmp = Some(tmp);
        server
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

pub struct TestServer {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    pub state: AppState,
    /// The data dir (also where manifest fixtures are written).
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    /// The Redis of a shared-storage server, stopped with it.
    _redis: Option<TestRedis>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// The embedded backend in a fresh temp dir, seeded with `manifest`.
    pub async fn start(manifest: serde_json::Value) -> Self {
        Self::start_with(Backend::default_for_tests(), manifest).await
    }

    /// The embedded backend in a fresh temp dir, with the config adjusted.
    pub async fn start_with_config(
        manifest: serde_json::Value,
        configure: impl FnOnce(&mut ServerConfig),
    ) -> Self {
        let tmp = tempfile::tempdir().expect("temp dir");
        let mut server = Self::start_configured(
            Backend::default_for_tests(),
            tmp.path(),
            manifest,
            configure,
        )
        .await;
        server._tmp = Some(tmp);
        server
    }

    pub async fn start_with(backend: Backend, manifest: serde_json::Value) -> Self {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().to_owned();
        let mut server = Self::start_in(backend, &dir, manifest).await;
        server._tmp = Some(tmp);
        server
    }

    /// A server on an existing data dir (for restart tests); the caller keeps the dir.
    pub async fn start_in(backend: Backend, dir: &Path, manifest: serde_json::Value) -> Self {
        Self::start_configured(backend, dir, manifest, |_| {}).await
    }

    /// A server on `dir` whose config `configure` adjusts (admin token, limits' time zone…).
    pub async fn start_configured(
        backend: Backend,
        dir: &Path,
        manifest: serde_json::Value,
        configure: impl FnOnce(&mut ServerConfig),
    ) -> Self {
        // FEISHU_MEDIA_TEST_LOG=warn (any filter): the servers' logs on stderr.
        if let Ok(filter) = std::env::var("FEISHU_MEDIA_TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
        let listener = feishu_media_server::listen("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (storage, redis) = match backend {
            Backend::Embedded => (Storage::data_dir(dir), None),
            Backend::Memory => (Storage::memory(), None),
            Backend::Shared => {
                let (storage, redis) = shared_storage();
                (storage, Some(redis))
            }
        };
        let mut config = ServerConfig {
            storage,
            public_url: Some(base.clone()),
            ..ServerConfig::default()
        };
        configure(&mut config);
        // Shared limits too, unless the test stops the clock (Redis counts by its own)
        // or chose its limits itself.
        if let Some(redis) = &redis
            && !config.frozen_clock
            && config.limits == LimitsBackend::InProcess
        {
            config.limits = LimitsBackend::Redis(redis.url());
        }
        let state = AppState::open(config).await.expect("open storage");
        let parsed = seed::parse(manifest.to_string().as_bytes()).expect("test manifest parses");
        seed::load_startup(&state, parsed, dir.to_owned())
            .await
            .expect("test manifest applies");
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(feishu_media_server::serve(
            listener,
            state.clone(),
            async move {
                let _ = stopped.await;
            },
        ));
        // `serve` sweeps what an earlier run left before it accepts: once it answers, the
        // state a test inspects is the state requests will see.
        let health = format!("{base}/healthz");
        while http().get(&health).send().await.is_err() {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        Self {
            base,
            state,
            dir: dir.to_owned(),
            _tmp: None,
            _redis: redis,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops accepting, lets in-flight requests finish, and waits for the server task.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The download URL of `file_token` (not percent-encoded: pass what the path should hold).
    pub fn download_url(&self, file_token: &str) -> String {
        self.url(&format!("/open-apis/drive/v1/medias/{file_token}/download"))
    }

    /// Fetches a tenant access token; panics unless the server hands one out.
    pub async fn tenant_token(&self, app_id: &str, app_secret: &str) -> String {
        self.fetch_token("tenant_access_token", app_id, app_secret)
            .await
    }

    /// Fetches an app access token; panics unless the server hands one out.
    pub async fn app_token(&self, app_id: &str, app_secret: &str) -> String {
        self.fetch_token("app_access_token", app_id, app_secret)
            .await
    }

    async fn fetch_token(&self, kind: &str, app_id: &str, app_secret: &str) -> String {
        let body: serde_json::Value = http()
            .post(self.url(&format!("/open-apis/auth/v3/{kind}/internal")))
            .body(serde_json::json!({"app_id": app_id, "app_secret": app_secret}).to_string())
            .send()
            .await
            .expect("token request")
            .bytes()
            .await
            .map(|b| serde_json::from_slice(&b).expect("token answer is JSON"))
            .expect("token body");
        body[kind]
            .as_str()
            .unwrap_or_else(|| panic!("no {kind} in {body}"))
            .to_owned()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

pub use feishu_media_engines::{TestPostgres, TestRedis, TestS3};

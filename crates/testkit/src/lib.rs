//! A real server for tests: the library's `serve` on `127.0.0.1:0`, backed by the
//! embedded store in a temp dir (or memory), seeded from a manifest.
//!
//! # Layout
//!
//! - [`TestServer`]: start, seed, restart on the same data dir, stop.
//! - [`TestServer::tenant_token`] and friends: the few HTTP calls every test needs.

use feishu_media_server::config::Storage;
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
}

pub struct TestServer {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    pub state: AppState,
    /// The data dir (also where manifest fixtures are written).
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// The embedded backend in a fresh temp dir, seeded with `manifest`.
    pub async fn start(manifest: serde_json::Value) -> Self {
        Self::start_with(Backend::Embedded, manifest).await
    }

    /// The embedded backend in a fresh temp dir, with the config adjusted.
    pub async fn start_with_config(
        manifest: serde_json::Value,
        configure: impl FnOnce(&mut ServerConfig),
    ) -> Self {
        let tmp = tempfile::tempdir().expect("temp dir");
        let mut server =
            Self::start_configured(Backend::Embedded, tmp.path(), manifest, configure).await;
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
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let storage = match backend {
            Backend::Embedded => Storage::DataDir(dir.to_owned()),
            Backend::Memory => Storage::Memory,
        };
        let mut config = ServerConfig {
            storage,
            public_url: Some(base.clone()),
            ..ServerConfig::default()
        };
        configure(&mut config);
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

/// A real Redis (Debian's `redis-server`, which `scripts/test.sh` installs) on a free
/// loopback port, in memory only, stopped when dropped.
pub struct TestRedis {
    child: std::process::Child,
    pub port: u16,
}

impl TestRedis {
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        Self::start_on(port)
    }

    /// Starts (or restarts) Redis on `port`.
    pub fn start_on(port: u16) -> Self {
        let child = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("redis-server: install Debian's redis-server (scripts/test.sh does)");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Self { child, port }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills it at once (an engine that goes away).
    pub fn kill(mut self) -> u16 {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.port
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

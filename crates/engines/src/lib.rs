//! Real engines for tests, each on a free loopback port, each stopped (and its files
//! removed) when dropped: PostgreSQL (Debian's `postgresql`), an S3 server that checks
//! SigV4 signatures (`s3s-fs`), Redis (Debian's `redis-server`). `scripts/test.sh`
//! installs them; a test that needs one and cannot start it fails and says what to install.
//!
//! A crate of its own, with no dependency on the project's crates, so that the store's
//! tests and the server's (through the testkit) start the same engines the same way.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Waits until something accepts connections on `port`.
fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

/// A private PostgreSQL cluster: `initdb` in a temp dir (as the `postgres` user when
/// run as root, which PostgreSQL refuses), on a free port, without fsync (a committed
/// write survives the server being killed, not the machine).
pub struct TestPostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    as_postgres: bool,
}

impl TestPostgres {
    pub fn start() -> Self {
        let bin = postgres_bin();
        let dir = tempfile::Builder::new()
            .prefix("feishu-media-pg")
            .tempdir()
            .expect("a temp dir");
        let as_postgres = is_root();
        if as_postgres {
            // The postgres user must reach and own its directory.
            run(Command::new("chmod").arg("755").arg(dir.path()));
            run(Command::new("chown").arg("postgres").arg(dir.path()));
        }
        let pg = Self {
            dir,
            bin,
            port: free_port(),
            as_postgres,
        };
        let data = pg.data();
        run(pg
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .args(["--locale=C"]));
        pg.run_server();
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut c = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        c.stdout(Stdio::null()).stderr(Stdio::null());
        c
    }

    fn run_server(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
             -c full_page_writes=off -c max_connections=400",
            self.port,
            self.dir.path().display()
        );
        run(self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.path().join("log"))
            .args(["-w", "start", "-o", &options]));
        wait_for_port(self.port, "PostgreSQL");
    }

    /// A fresh database on this cluster, and its URL.
    pub fn database(&self, name: &str) -> String {
        run(self
            .command("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args([
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                &format!("CREATE DATABASE {name}"),
            ]));
        self.url(name)
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Stops the server at once, as a crash would (`pg_ctl stop -m immediate`).
    pub fn stop(&self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"])
            .status();
    }

    /// Starts it again on the same port and data.
    pub fn restart(&self) {
        self.run_server();
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Creates database `name` on the cluster listening on `port` (through `psql`); its URL.
pub fn create_database(port: u16, name: &str) -> String {
    let mut psql = Command::new("psql");
    psql.args([
        "-h",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-U",
        "postgres",
        "-q",
    ])
    .args([
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        &format!("CREATE DATABASE {name}"),
    ])
    .stdout(Stdio::null());
    run(&mut psql);
    format!("postgres://postgres@127.0.0.1:{port}/{name}")
}

/// The newest PostgreSQL's programs (`/usr/lib/postgresql/<version>/bin`).
fn postgres_bin() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .unwrap_or_else(|_| {
            panic!(
                "{}: install Debian's postgresql (scripts/test.sh does)",
                root.display()
            )
        })
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            Some((v, e.path().join("bin")))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("a PostgreSQL version under /usr/lib/postgresql")
        .1
}

fn run(c: &mut Command) {
    let status = c.status().unwrap_or_else(|e| panic!("{c:?}: {e}"));
    assert!(status.success(), "{c:?}: {status}");
}

/// An S3 server that checks SigV4 signatures (`s3s-fs`, which `scripts/test.sh` installs
/// with `cargo install`), its data in a temp dir, with one bucket.
pub struct TestS3 {
    child: Option<Child>,
    dir: tempfile::TempDir,
    pub port: u16,
    pub bucket: String,
}

/// The credentials the test server accepts.
pub const S3_ACCESS_KEY: &str = "AKIDFEISHUMEDIATEST";
pub const S3_SECRET_KEY: &str = "feishu-media-test-secret";

impl TestS3 {
    pub fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("feishu-media-s3")
            .tempdir()
            .expect("a temp dir");
        let bucket = "media".to_owned();
        // s3s-fs keeps a bucket as a directory.
        std::fs::create_dir(dir.path().join(&bucket)).expect("the bucket's directory");
        let mut s3 = Self {
            child: None,
            dir,
            port: free_port(),
            bucket,
        };
        s3.run_server();
        s3
    }

    fn run_server(&mut self) {
        let child = Command::new("s3s-fs")
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", S3_ACCESS_KEY, "--secret-key", S3_SECRET_KEY])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "s3s-fs: cargo install s3s-fs --version 0.14.1 --features binary --locked \
                 (scripts/test.sh does)",
            );
        self.child = Some(child);
        wait_for_port(self.port, "s3s-fs");
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The `--blobs` URL (the credentials go apart: [`Self::credentials`]).
    pub fn url(&self) -> String {
        format!(
            "s3://{}?endpoint={}&region=us-east-1",
            self.bucket,
            self.endpoint()
        )
    }

    /// A further bucket, empty.
    pub fn bucket(&self, name: &str) -> String {
        std::fs::create_dir(self.dir.path().join(name)).expect("the bucket's directory");
        format!("s3://{name}?endpoint={}&region=us-east-1", self.endpoint())
    }

    /// The directory whose subdirectories are the buckets.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Where the bucket's objects are, as files (s3s-fs keeps them so).
    pub fn bucket_dir(&self) -> PathBuf {
        self.dir.path().join(&self.bucket)
    }

    /// The access key and secret this server accepts.
    pub fn credentials(&self) -> (String, String) {
        (S3_ACCESS_KEY.to_owned(), S3_SECRET_KEY.to_owned())
    }

    /// Stops the server at once.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port and data.
    pub fn restart(&mut self) {
        self.stop();
        self.run_server();
    }
}

impl Drop for TestS3 {
    fn drop(&mut self) {
        self.stop();
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
        Self::start_on(free_port())
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

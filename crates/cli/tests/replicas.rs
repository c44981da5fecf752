//! Three replicas of the real binary on one world (a private PostgreSQL, an s3s-fs that
//! checks signatures, a Redis) behind nginx (`upstream`, round robin): the CLI downloads
//! a 64 MiB media through the proxy while one replica is killed with SIGKILL, and gets
//! it byte-identical through the others. nginx reads each response from its replica at a
//! capped rate (`proxy_limit_rate`, with no temp file), so the kill lands in the middle
//! of the transfers.
//!
//! Bounded: one download, loopback only, every process stopped at the end.

use feishu_media_engines::{TestPostgres, TestRedis, TestS3, free_port};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_feishu-media");
const SIZE: usize = 64 << 20;

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn replica(
    pg: &str,
    s3: &TestS3,
    redis: &TestRedis,
    seed: Option<&Path>,
    data: &Path,
) -> (Proc, u16) {
    let (id, secret) = s3.credentials();
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .args([
            "--metadata",
            pg,
            "--blobs",
            &s3.url(),
            "--limits",
            &redis.url(),
        ])
        .env("AWS_ACCESS_KEY_ID", id)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(seed) = seed {
        cmd.arg("--seed").arg(seed);
    }
    let mut child = cmd.spawn().expect("the server binary");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a first line").unwrap();
    let port = first
        .rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no address in {first:?}"));
    std::thread::spawn(move || for _ in lines {});
    (Proc(child), port)
}

/// nginx, stopped with SIGTERM when dropped (SIGKILL would leave its worker behind).
struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let pid = rustix::process::Pid::from_raw(self.0.id() as i32).expect("a pid");
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let _ = self.0.wait();
    }
}

/// nginx in front of `ports`, round robin, reading each response at 12 MiB/s.
fn nginx(dir: &Path, ports: &[u16]) -> (Nginx, u16) {
    let port = free_port();
    let servers: String = ports
        .iter()
        .map(|p| format!("server 127.0.0.1:{p} max_fails=1 fail_timeout=30s;"))
        .collect();
    let conf = dir.join("nginx.conf");
    let d = dir.display();
    std::fs::write(
        &conf,
        format!(
            "daemon off; worker_processes 1; pid {d}/nginx.pid; error_log {d}/error.log;
             events {{ worker_connections 256; }}
             http {{
               access_log off;
               client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;
               fastcgi_temp_path {d}/fcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
               upstream media {{ {servers} }}
               server {{
                 listen 127.0.0.1:{port};
                 location / {{
                   proxy_pass http://media;
                   proxy_http_version 1.1;
                   proxy_set_header Connection \"\";
                   proxy_set_header Host $http_host;
                   proxy_next_upstream error timeout http_502 http_503;
                   proxy_max_temp_file_size 0;
                   proxy_limit_rate 12m;
                 }}
               }}
             }}"
        ),
    )
    .unwrap();
    let nginx = ["/usr/sbin/nginx", "nginx"]
        .into_iter()
        .find(|n| {
            Command::new(n)
                .arg("-v")
                .stderr(Stdio::null())
                .status()
                .is_ok()
        })
        .expect("nginx: install Debian's nginx (scripts/test.sh does)");
    let child = Command::new(nginx)
        .arg("-c")
        .arg(&conf)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nginx did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (Nginx(child), port)
}

#[test]
fn a_download_through_nginx_survives_a_replica_killed_midway() {
    let dir = tempfile::tempdir().unwrap();
    let pg = TestPostgres::start();
    let db = pg.database("fleet");
    let s3 = TestS3::start();
    let redis = TestRedis::start();

    let data: Vec<u8> = (0..SIZE as u64)
        .map(|i| ((i * 2654435761) >> 13) as u8)
        .collect();
    std::fs::write(dir.path().join("big.bin"), &data).unwrap();
    let manifest = dir.path().join("manifest.json");
    std::fs::write(
        &manifest,
        serde_json::json!({
            "apps": [{"app_id": "cli_f", "app_secret": "s", "tenant_key": "t", "scopes": ["drive:drive"], "rate_limit": null}],
            "users": [{"user_id": "ou", "tenant_key": "t"}],
            "user_tokens": [{"token": "u-fleet", "app_id": "cli_f", "user_id": "ou", "scopes": ["drive:drive"]}],
            "documents": [{"token": "doxF", "type": "docx", "tenant_key": "t", "owner": "user:ou"}],
            "media": [{"file_token": "boxBig", "document": "doxF", "parent_type": "docx_file",
                       "file_name": "big.bin", "path": "big.bin"}]
        })
        .to_string(),
    )
    .unwrap();
    // The first replica seeds the world; the others join it.
    let mut replicas = Vec::new();
    for i in 0..3 {
        let data_dir = dir.path().join(format!("r{i}"));
        replicas.push(replica(
            &db,
            &s3,
            &redis,
            (i == 0).then_some(&*manifest),
            &data_dir,
        ));
    }
    let ports: Vec<u16> = replicas.iter().map(|r| r.1).collect();
    let (_nginx, port) = nginx(dir.path(), &ports);

    let out = dir.path().join("out");
    let started = Instant::now();
    let mut download = Command::new(BIN)
        .args([
            "download",
            "boxBig",
            "--json",
            "--connections",
            "4",
            "--chunk-mib",
            "4",
        ])
        .arg("--output")
        .arg(&out)
        .args(["--base-url", &format!("http://127.0.0.1:{port}")])
        .args(["--user-token", "u-fleet", "--rate", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // 64 MiB over four connections at 12 MiB/s each: over a second. Kill midway.
    std::thread::sleep(Duration::from_millis(700));
    if download.try_wait().unwrap().is_some() {
        let output = download.wait_with_output().unwrap();
        panic!(
            "the download ended before the kill ({}): the test proves nothing\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let (mut victim, _) = replicas.remove(1);
    victim.0.kill().unwrap();
    victim.0.wait().unwrap();
    let output = download.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let got = std::fs::read(out.join("big.bin")).unwrap();
    assert!(got == data, "the download differs from the media");
    assert!(started.elapsed() < Duration::from_secs(60));
}

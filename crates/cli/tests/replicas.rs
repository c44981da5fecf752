//! Three replicas of the real binary on one world (a private PostgreSQL, an s3s-fs that
//! checks signatures, a Redis) behind nginx (`upstream`, round robin): tokens, links and
//! uploads made through one replica work on the others, 5/s holds for the fleet, a soft
//! delete is a 404 everywhere within a second; then the CLI downloads
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
const ADMIN: &str = "adm-fleet";

/// `curl -s` with `args`: (status, body).
fn curl(args: &[&str]) -> (u16, Vec<u8>) {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "20", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl");
    let mut body = out.stdout;
    let split = body
        .iter()
        .rposition(|&b| b == b'\n')
        .expect("a status line");
    let status = String::from_utf8_lossy(&body[split + 1..])
        .trim()
        .parse()
        .unwrap_or(0);
    body.truncate(split);
    (status, body)
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(body)))
}

/// What holds across the fleet, through the proxy (round robin: consecutive requests go
/// to different replicas): a token, a link and an upload minted on one work on the
/// others, 5/s for the fleet, a soft delete seen everywhere within a second.
fn one_world_through(proxy: &str, dir: &Path) {
    let token = json(
        &curl(&[
            "-X",
            "POST",
            &format!("{proxy}/open-apis/auth/v3/tenant_access_token/internal"),
            "-d",
            r#"{"app_id":"cli_f","app_secret":"s"}"#,
        ])
        .1,
    )["tenant_access_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let auth = format!("Authorization: Bearer {token}");
    let small = format!("{proxy}/open-apis/drive/v1/medias/boxSmall/download");
    for _ in 0..6 {
        let (status, body) = curl(&["-H", &auth, &small]);
        assert_eq!((status, body.as_slice()), (200, &b"small media"[..]));
    }
    // A link from one replica, fetched from the next ones.
    let links = json(
        &curl(&[
            "-H",
            &auth,
            &format!(
                "{proxy}/open-apis/drive/v1/medias/batch_get_tmp_download_url?file_tokens=boxSmall"
            ),
        ])
        .1,
    );
    let link = links["data"]["tmp_download_urls"][0]["tmp_download_url"]
        .as_str()
        .unwrap_or_else(|| panic!("{links}"))
        .to_owned();
    assert!(link.starts_with(proxy), "links name the proxy: {link}");
    for _ in 0..3 {
        assert_eq!(curl(&[&link]).0, 200);
    }
    // A chunked upload through the proxy (its blocks go to different replicas), then
    // read back through it.
    let file = dir.join("up.bin");
    let bytes: Vec<u8> = (0..(9u32 << 20)).map(|i| (i % 241) as u8).collect();
    std::fs::write(&file, &bytes).unwrap();
    let out = Command::new(BIN)
        .args([
            "upload",
            "--parent-type",
            "docx_file",
            "--parent-node",
            "doxF",
        ])
        .args([
            "--extra",
            r#"{"drive_route_token":"doxF"}"#,
            "--no-resume",
            "--json",
        ])
        .args([
            "--base-url",
            proxy,
            "--user-token",
            "u-fleet",
            "--rate",
            "0",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout);
    let uploaded = json(line.lines().last().unwrap().as_bytes());
    let up_token = uploaded["result"]["file_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{uploaded}"))
        .to_owned();
    for _ in 0..3 {
        let (status, body) = curl(&[
            "-H",
            &auth,
            &format!("{proxy}/open-apis/drive/v1/medias/{up_token}/download"),
        ]);
        assert_eq!(status, 200);
        assert!(
            body == bytes,
            "the upload reads back the same from every replica"
        );
    }
    // 5/s for the fleet: twelve requests at once, four to each replica.
    let limited = json(
        &curl(&[
            "-X",
            "POST",
            &format!("{proxy}/open-apis/auth/v3/tenant_access_token/internal"),
            "-d",
            r#"{"app_id":"cli_lim","app_secret":"s"}"#,
        ])
        .1,
    )["tenant_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let lim_auth = format!("Authorization: Bearer {limited}");
    let burst = std::time::Instant::now();
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..12)
            .map(|_| s.spawn(|| curl(&["-o", "/dev/null", "-H", &lim_auth, &small]).0))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let secs = burst.elapsed().as_secs_f64();
    let allowed = statuses.iter().filter(|&&s| s == 200).count();
    // Twelve curl processes take a while to start on a loaded machine, and the window
    // refills meanwhile (one more request per 200 ms). Counted per replica instead, all
    // twelve would pass (four to each); that stays out of bounds while the burst lasts
    // under 1.2 s.
    let most = 5 + (5.0 * secs).floor() as usize + 1;
    assert!(
        (5..=most).contains(&allowed) && allowed < 12,
        "5/s for the fleet: {allowed} allowed in {secs:.2} s, at most {most}: {statuses:?}"
    );
    // A soft delete through one replica: 404 on all of them within a second.
    let (status, _) = curl(&[
        "-X",
        "POST",
        "-H",
        &format!("Authorization: Bearer {ADMIN}"),
        &format!("{proxy}/_admin/v1/media/boxSmall/delete"),
    ]);
    assert_eq!(status, 200);
    let deleted = Instant::now();
    let mut gone = 0;
    while gone < 3 {
        let (status, body) = curl(&["-H", &auth, &small]);
        if status == 404 {
            assert_eq!(json(&body)["code"], 1061007);
            gone += 1;
        } else {
            gone = 0;
            assert!(
                deleted.elapsed() < Duration::from_secs(1),
                "still served after 1 s"
            );
        }
    }
}

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
        .args(["--admin-token", ADMIN])
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
                 client_max_body_size 64m;
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
fn one_world_behind_nginx_and_a_download_that_survives_a_replica_killed_midway() {
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
            "apps": [{"app_id": "cli_f", "app_secret": "s", "tenant_key": "t", "scopes": ["drive:drive"], "rate_limit": null},
                     {"app_id": "cli_lim", "app_secret": "s", "tenant_key": "t", "scopes": ["drive:drive"]}],
            "users": [{"user_id": "ou", "tenant_key": "t"}],
            "user_tokens": [{"token": "u-fleet", "app_id": "cli_f", "user_id": "ou", "scopes": ["drive:drive"]}],
            "documents": [{"token": "doxF", "type": "docx", "tenant_key": "t", "owner": "user:ou",
                           "members": [{"principal": "app:cli_f", "role": "edit"},
                                       {"principal": "app:cli_lim", "role": "view"}]}],
            "media": [{"file_token": "boxBig", "document": "doxF", "parent_type": "docx_file",
                       "file_name": "big.bin", "path": "big.bin"},
                      {"file_token": "boxSmall", "document": "doxF", "parent_type": "docx_file",
                       "file_name": "small.txt", "content_text": "small media"}]
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
    one_world_through(&format!("http://127.0.0.1:{port}"), dir.path());

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

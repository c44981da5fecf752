//! The real binary as users run it: flags, exit codes, the demo, shutdown, memory.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_feishu-media");

/// A running `feishu-media serve`, killed on drop.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().expect("a first line").expect("utf-8");
        let base = first
            .strip_prefix("feishu-media listening on ")
            .expect(&first)
            .trim()
            .to_owned();
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self { child, base }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn curl(args: &[&str]) -> std::process::Output {
    Command::new("curl").args(args).output().expect("curl")
}

fn world_with_file(dir: &Path, size: u64) -> std::path::PathBuf {
    let f = std::fs::File::create(dir.join("big.bin")).unwrap();
    f.set_len(size).unwrap();
    let manifest = serde_json::json!({
        "apps": [{"app_id": "cli_t", "app_secret": "s", "tenant_key": "t", "scopes": ["drive:drive"], "rate_limit": null}],
        "users": [{"user_id": "ou", "tenant_key": "t"}],
        "user_tokens": [{"token": "u-t", "app_id": "cli_t", "user_id": "ou", "scopes": ["drive:drive"]}],
        "documents": [{"token": "dox", "type": "docx", "tenant_key": "t", "owner": "user:ou"}],
        "media": [{"file_token": "boxBig", "document": "dox", "parent_type": "docx_file",
                   "file_name": "big.bin", "path": "big.bin"}]
    });
    let path = dir.join("manifest.json");
    std::fs::write(&path, manifest.to_string()).unwrap();
    path
}

/// A server on the embedded store in `dir/data`, seeded with [`world_with_file`].
fn seeded_with_file(dir: &Path, size: u64) -> Server {
    let manifest = world_with_file(dir, size);
    let data = dir.join("data");
    Server::start(&[
        "--data-dir",
        data.to_str().unwrap(),
        "--seed",
        manifest.to_str().unwrap(),
    ])
}

#[test]
fn a_manifest_named_without_a_folder_reads_its_fixtures_from_the_current_one() {
    let dir = tempfile::tempdir().unwrap();
    world_with_file(dir.path(), 5000);
    let mut child = Command::new(BIN)
        .current_dir(dir.path())
        .args([
            "serve",
            "--memory",
            "--listen",
            "127.0.0.1:0",
            "--seed",
            "manifest.json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert!(
        first.starts_with("feishu-media listening on "),
        "{first:?}, stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_refused_manifest_exits_3_naming_the_json_path() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("m.json");
    std::fs::write(
        &manifest,
        r#"{"documents":[{"token":"d","type":"docx","tenant_key":"t","members":[{"principal":"app:cli_x","role":"view"}]}]}"#,
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--memory", "--listen", "127.0.0.1:0", "--seed"])
        .arg(&manifest)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("documents[0].members[0].principal: no app or user \"app:cli_x\""),
        "{err}"
    );
}

#[test]
fn zero_connection_threads_is_a_usage_error() {
    for how in [
        "--connection-threads=0",
        "--connection-threads=-1",
        "--connection-threads=x",
    ] {
        let out = Command::new(BIN)
            .args(["serve", "--memory", "--listen", "127.0.0.1:0"])
            .arg(how)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{how:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--connection-threads"), "{err}");
    }
    let out = Command::new(BIN)
        .args(["serve", "--memory", "--listen", "127.0.0.1:0"])
        .env("FEISHU_MEDIA_CONNECTION_THREADS", "0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_demo_curl_lines_work_as_printed() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .current_dir(dir.path())
        .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut printed = String::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.starts_with("#     -d '");
        printed.push_str(&line);
        printed.push('\n');
        if done {
            break;
        }
    }
    // Run every command block exactly as printed, in one shell.
    let script: String = printed
        .lines()
        .skip_while(|l| !l.starts_with("# 1."))
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let out = Command::new("bash")
        .current_dir(dir.path())
        .args(["-euc", &script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("HTTP/1.1 206 Partial Content"), "{stdout}");
    assert!(stdout.contains("Hello from feish"), "{stdout}");
    assert!(stdout.contains("quarter,revenue"), "{stdout}");
    let png = std::fs::read(dir.path().join("架构图.png")).expect("saved under the Chinese name");
    assert!(png.starts_with(b"\x89PNG"));
    // The listings hand out the media tokens.
    assert!(
        stdout.contains(r#""block_type":27"#) && stdout.contains(r#""token":"boxcnDemoImage""#),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#""fileToken":"boxcnDemoCell""#),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#""file_token":"boxcnDemoSheet""#) && stdout.contains("&extra="),
        "{stdout}"
    );
    let file = std::fs::read_to_string(dir.path().join("合同.txt")).expect("the drive file");
    assert!(file.contains("A drive file"));

    // The OAuth lines, as a tester follows them without a browser: the printed URL
    // with &user_id=, then the printed exchange with the code it redirected with.
    let url = printed
        .lines()
        .find_map(|l| l.strip_prefix("#   http"))
        .map(|rest| format!("http{rest}&user_id=ou_alice"))
        .expect("the authorize URL");
    let head = curl(&["-sS", "-o", "/dev/null", "-D", "-", &url]);
    let head = String::from_utf8_lossy(&head.stdout).into_owned();
    let location = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(": ")?;
            name.eq_ignore_ascii_case("location").then_some(value)
        })
        .unwrap_or_else(|| panic!("a redirect: {head}"));
    let code = location
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let exchange: String = printed
        .lines()
        .skip_while(|l| !l.starts_with("#   curl"))
        .map(|l| l.trim_start_matches('#').trim_start())
        .collect::<Vec<_>>()
        .join("\n")
        .replace("CODE", code);
    let out = Command::new("bash")
        .args(["-euc", &exchange])
        .output()
        .unwrap();
    let answer = String::from_utf8_lossy(&out.stdout);
    assert!(
        answer.contains(r#""access_token":"u-"#) && answer.contains("refresh_token"),
        "{answer}"
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn sigterm_lets_an_in_flight_download_finish() {
    let dir = tempfile::tempdir().unwrap();
    let size = 24 * 1024 * 1024;
    let mut server = seeded_with_file(dir.path(), size);
    let url = format!("{}/open-apis/drive/v1/medias/boxBig/download", server.base);
    let out = dir.path().join("out.bin");
    // ~3 s at 8 MB/s: long enough to be in flight when the signal comes.
    let mut download = Command::new("curl")
        .args([
            "-sS",
            "-f",
            "--limit-rate",
            "8M",
            "-H",
            "Authorization: Bearer u-t",
            "-o",
        ])
        .arg(&out)
        .arg(&url)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        Command::new("kill")
            .args(["-TERM", &server.pid().to_string()])
            .status()
            .unwrap()
            .success()
    );
    std::thread::sleep(Duration::from_millis(200));
    // New connections are refused while the old one finishes.
    let refused = curl(&[
        "-sS",
        "-o",
        "/dev/null",
        "-H",
        "Authorization: Bearer u-t",
        &url,
    ]);
    assert!(
        !refused.status.success(),
        "a new request was served after SIGTERM"
    );
    assert!(
        download.wait().unwrap().success(),
        "the in-flight download failed"
    );
    assert_eq!(std::fs::metadata(&out).unwrap().len(), size);
    let started = Instant::now();
    let status = loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "server did not exit"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
}

/// Peak resident memory of a process, from /proc (Linux).
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[test]
fn a_large_media_streams_without_being_held_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let size: u64 = 512 * 1024 * 1024;
    let server = seeded_with_file(dir.path(), size);
    std::fs::remove_file(dir.path().join("big.bin")).unwrap(); // the store has its own copy
    let url = format!("{}/open-apis/drive/v1/medias/boxBig/download", server.base);
    let out = curl(&[
        "-sS",
        "-f",
        "-H",
        "Authorization: Bearer u-t",
        "-o",
        "/dev/null",
        "-w",
        "%{size_download}",
        &url,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), size.to_string());
    // Seeding and serving 512 MiB both stream: the peak stays far below the file's size.
    let peak_mib = peak_rss_kib(server.pid()) / 1024;
    println!("peak RSS while serving {} MiB: {peak_mib} MiB", size >> 20);
    assert!(
        peak_mib < 96,
        "peak RSS {peak_mib} MiB while serving a 512 MiB media"
    );
}

#[test]
fn temporary_links_use_the_public_url() {
    let server = Server::start(&[
        "--memory",
        "--demo",
        "--public-url",
        "https://media.example.test:9443/",
    ]);
    let out = curl(&[
        "-sS",
        "-f",
        "-H",
        "Authorization: Bearer u-demo-alice",
        &format!(
            "{}/open-apis/drive/v1/medias/batch_get_tmp_download_url?file_tokens=boxcnDemoText",
            server.base
        ),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let link = v["data"]["tmp_download_urls"][0]["tmp_download_url"]
        .as_str()
        .unwrap();
    let prefix = "https://media.example.test:9443/space/api/box/stream/download/authcode/?code=";
    assert!(link.starts_with(prefix), "{link}");
    // The same path on the address the server really listens on serves the file.
    let local = format!(
        "{}{}",
        server.base,
        &link["https://media.example.test:9443".len()..]
    );
    let body = curl(&["-sS", "-f", &local]);
    assert!(String::from_utf8_lossy(&body.stdout).starts_with("Hello from feishu-media."));
}

fn tmp_link(base: &str) -> String {
    let out = curl(&[
        "-sS",
        "-f",
        "-H",
        "Authorization: Bearer u-demo-alice",
        &format!(
            "{base}/open-apis/drive/v1/medias/batch_get_tmp_download_url?file_tokens=boxcnDemoText"
        ),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON answer");
    v["data"]["tmp_download_urls"][0]["tmp_download_url"]
        .as_str()
        .expect("a link")
        .to_owned()
}

fn status_of(url: &str) -> String {
    String::from_utf8_lossy(&curl(&["-s", "-o", "/dev/null", "-w", "%{http_code}", url]).stdout)
        .into_owned()
}

#[test]
fn replicas_sharing_a_secret_accept_each_others_links_and_links_expire() {
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("secret");
    std::fs::write(&secret_file, "correct horse battery staple\n").unwrap();
    let s = secret_file.to_str().unwrap();
    let a = Server::start(&[
        "--memory",
        "--demo",
        "--secret-file",
        s,
        "--tmp-url-ttl",
        "2",
    ]);
    let b = Server::start(&["--memory", "--demo", "--secret-file", s]);
    let c = Server::start(&["--memory", "--demo"]);
    let link = tmp_link(&a.base);
    let path = &link[a.base.len()..];
    assert_eq!(status_of(&link), "200");
    assert_eq!(
        status_of(&format!("{}{path}", b.base)),
        "200",
        "same secret, other replica"
    );
    assert_eq!(
        status_of(&format!("{}{path}", c.base)),
        "403",
        "another secret"
    );
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(status_of(&link), "403", "expired after --tmp-url-ttl");
}

#[test]
fn large_uploads_stream_without_being_held_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let server = seeded_with_file(dir.path(), 1);
    let block = 4 * 1024 * 1024;
    let blocks = 48; // 192 MiB through the chunked calls
    let block_file = dir.path().join("block.bin");
    std::fs::write(&block_file, vec![b'z'; block]).unwrap();
    let auth = "Authorization: Bearer u-t";
    let extra = r#"{"drive_route_token":"dox"}"#;

    // upload_all at its 20 MiB limit.
    let twenty = dir.path().join("twenty.bin");
    std::fs::File::create(&twenty)
        .unwrap()
        .set_len(20 * 1024 * 1024)
        .unwrap();
    let out = curl(&[
        "-sS",
        "-f",
        "-H",
        auth,
        "-F",
        "file_name=twenty.bin",
        "-F",
        "parent_type=docx_file",
        "-F",
        "parent_node=b",
        "-F",
        "size=20971520",
        "-F",
        &format!("extra={extra}"),
        "-F",
        &format!("file=@{}", twenty.display()),
        &format!("{}/open-apis/drive/v1/medias/upload_all", server.base),
    ]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("file_token"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let size = block * blocks;
    let prepare = serde_json::json!({"file_name": "big.bin", "parent_type": "docx_file", "parent_node": "b",
        "size": size, "extra": extra});
    let out = curl(&[
        "-sS",
        "-f",
        "-H",
        auth,
        "-H",
        "Content-Type: application/json",
        "-d",
        &prepare.to_string(),
        &format!("{}/open-apis/drive/v1/medias/upload_prepare", server.base),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = v["data"]["upload_id"].as_str().unwrap().to_owned();
    for seq in 0..blocks {
        let out = curl(&[
            "-sS",
            "-f",
            "-H",
            auth,
            "-F",
            &format!("upload_id={id}"),
            "-F",
            &format!("seq={seq}"),
            "-F",
            &format!("size={block}"),
            "-F",
            &format!("file=@{}", block_file.display()),
            &format!("{}/open-apis/drive/v1/medias/upload_part", server.base),
        ]);
        assert!(
            out.status.success(),
            "part {seq}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let finish = serde_json::json!({"upload_id": id, "block_num": blocks});
    let out = curl(&[
        "-sS",
        "-f",
        "-H",
        auth,
        "-H",
        "Content-Type: application/json",
        "-d",
        &finish.to_string(),
        &format!("{}/open-apis/drive/v1/medias/upload_finish", server.base),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let token = v["data"]["file_token"].as_str().expect("a file token");
    let out = curl(&[
        "-sS",
        "-f",
        "-H",
        auth,
        "-o",
        "/dev/null",
        "-w",
        "%{size_download}",
        &format!("{}/open-apis/drive/v1/medias/{token}/download", server.base),
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), size.to_string());
    let peak_mib = peak_rss_kib(server.pid()) / 1024;
    println!(
        "peak RSS after a 20 MiB upload_all and a {} MiB chunked upload: {peak_mib} MiB",
        size >> 20
    );
    assert!(peak_mib < 96, "peak RSS {peak_mib} MiB");
}

fn admin_cli(base: &str, token: &str, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("admin")
        .args(["--url", base])
        .args(args)
        .env("FEISHU_MEDIA_ADMIN_TOKEN", token)
        .output()
        .unwrap()
}

#[test]
fn admin_commands_steer_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&["--memory", "--demo", "--admin-token", "adm-cli"]);
    let text = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).into_owned();

    let out = admin_cli(&server.base, "adm-cli", &["list", "apps"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = text(&out);
    assert!(table.starts_with("APP_ID"), "{table}");
    assert!(
        table.contains("cli_demo") && table.contains("(1 row)"),
        "{table}"
    );

    let out = admin_cli(&server.base, "adm-cli", &["--json", "list", "media"]);
    let media: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Four media, and the drive file's bytes (parent type `explorer`).
    let media = media.as_array().unwrap();
    assert_eq!(media.len(), 5);
    assert_eq!(
        media
            .iter()
            .filter(|m| m["parent_type"] == "explorer")
            .count(),
        1
    );

    // Soft delete through the CLI; the download then answers 1061007.
    let out = admin_cli(&server.base, "adm-cli", &["soft-delete", "boxcnDemoText"]);
    assert!(text(&out).contains("deleted: true"), "{}", text(&out));
    let dl = format!(
        "{}/open-apis/drive/v1/medias/boxcnDemoText/download",
        server.base
    );
    let body = curl(&["-sS", "-H", "Authorization: Bearer u-demo-alice", &dl]);
    assert!(String::from_utf8_lossy(&body.stdout).contains("1061007"));

    // Faults from a file, the request log, and reset back to the demo world.
    let rules = dir.path().join("faults.json");
    std::fs::write(
        &rules,
        r#"[{"endpoint":"download","times":1,"action":{"status":503,"code":1061045}}]"#,
    )
    .unwrap();
    let out = admin_cli(
        &server.base,
        "adm-cli",
        &["faults", "set", rules.to_str().unwrap()],
    );
    assert!(text(&out).contains("download"), "{}", text(&out));
    let out = admin_cli(&server.base, "adm-cli", &["requests", "--limit", "3"]);
    assert!(text(&out).contains("/_admin/v1/faults"), "{}", text(&out));
    let out = admin_cli(&server.base, "adm-cli", &["reset"]);
    assert!(text(&out).contains("media: 5"), "{}", text(&out));
    let body = curl(&["-sS", "-H", "Authorization: Bearer u-demo-alice", &dl]);
    assert!(
        String::from_utf8_lossy(&body.stdout).starts_with("Hello"),
        "reset undid the delete and the fault"
    );

    // Refusals exit 4 with the code and the reason.
    let out = admin_cli(&server.base, "wrong", &["list", "apps"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("1069401"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = admin_cli(&server.base, "adm-cli", &["get", "media", "boxNope"]);
    assert_eq!(out.status.code(), Some(4));
    // An unreachable server exits 1.
    let out = admin_cli("http://127.0.0.1:9", "adm-cli", &["list", "apps"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn fault_rules_from_a_file_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("faults.json");
    std::fs::write(
        &rules,
        r#"[{"endpoint":"download","times":1,"action":{"status":503,"code":1061045}}]"#,
    )
    .unwrap();
    let server = Server::start(&["--memory", "--demo", "--faults", rules.to_str().unwrap()]);
    let dl = format!(
        "{}/open-apis/drive/v1/medias/boxcnDemoText/download",
        server.base
    );
    let code = |o: std::process::Output| String::from_utf8_lossy(&o.stdout).into_owned();
    let first = curl(&[
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        "Authorization: Bearer u-demo-alice",
        &dl,
    ]);
    assert_eq!(code(first), "503");
    let second = curl(&[
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        "Authorization: Bearer u-demo-alice",
        &dl,
    ]);
    assert_eq!(code(second), "200");

    // A bad rule file stops the start with the JSON path at fault.
    std::fs::write(&rules, r#"[{"endpoint":"download","action":{}}]"#).unwrap();
    let out = Command::new(BIN)
        .args([
            "serve",
            "--memory",
            "--listen",
            "127.0.0.1:0",
            "--faults",
            rules.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("[0].action"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A server whose world holds `media` (token, bytes), on the embedded store, admin on.
fn media_server(dir: &Path, media: &[(&str, &Path)]) -> Server {
    let m: Vec<serde_json::Value> = media
        .iter()
        .map(|(token, path)| {
            serde_json::json!({"file_token": token, "document": "dox", "parent_type": "docx_file",
                "file_name": format!("{token}.bin"), "path": path.to_str().unwrap()})
        })
        .collect();
    let manifest = serde_json::json!({
        "apps": [{"app_id": "cli_t", "app_secret": "s", "tenant_key": "t", "scopes": ["drive:drive"], "rate_limit": null}],
        "documents": [{"token": "dox", "type": "docx", "tenant_key": "t", "owner": "app:cli_t"}],
        "media": m
    });
    let path = dir.join("manifest.json");
    std::fs::write(&path, manifest.to_string()).unwrap();
    let data = dir.join("data");
    Server::start(&[
        "--data-dir",
        data.to_str().unwrap(),
        "--seed",
        path.to_str().unwrap(),
        "--admin-token",
        "adm",
        // The resume test re-seeds a media from a file through the admin API.
        "--fixtures-dir",
        dir.to_str().unwrap(),
    ])
}

fn cli(base: &str, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .args(["--base-url", base, "--app-id", "cli_t", "--app-secret", "s"])
        // Upload journals go under the state directory: never the tester's own.
        .env(
            "XDG_STATE_HOME",
            std::env::temp_dir().join(format!("feishu-media-tests-{}", std::process::id())),
        );
    c
}

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (((i as u64 * 2_654_435_761) >> 11) as u8) ^ seed)
        .collect()
}

#[test]
fn download_killed_midway_resumes_and_a_changed_media_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let size = 24 * 1024 * 1024;
    let v1 = pattern(size, 1);
    let src = dir.path().join("v1.bin");
    std::fs::write(&src, &v1).unwrap();
    let server = media_server(dir.path(), &[("boxR", &src)]);
    let out = dir.path().join("out");

    // 24 chunks of 1 MiB at 4 requests/s: about 6 s; killed after 2.
    let mut child = cli(
        &server.base,
        &[
            "download",
            "boxR",
            "-o",
            out.to_str().unwrap(),
            "--chunk-mib",
            "1",
            "--rate",
            "4",
            "--connections",
            "2",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    std::thread::sleep(Duration::from_millis(2000));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!out.join("boxR.bin").exists(), "not finished yet");
    assert!(out.join(".boxR.feishu-state.json").exists());

    let run = cli(
        &server.base,
        &[
            "download",
            "boxR",
            "-o",
            out.to_str().unwrap(),
            "--chunk-mib",
            "1",
            "--rate",
            "0",
            "--json",
        ],
    )
    .output()
    .unwrap();
    let v = succeeded_json(&run);
    let transferred = v["result"]["bytes_transferred"].as_u64().unwrap();
    assert_eq!(v["result"]["resumed"], true);
    assert!(
        transferred < size as u64 && transferred > 0,
        "resumed: {transferred} of {size}"
    );
    assert!(
        std::fs::read(out.join("boxR.bin")).unwrap() == v1,
        "byte-identical after the resume"
    );
    assert!(
        !out.join(".boxR.feishu-part").exists() && !out.join(".boxR.feishu-state.json").exists()
    );

    // Kill again, then replace the media: the next run must notice and restart.
    std::fs::remove_file(out.join("boxR.bin")).unwrap();
    let mut child = cli(
        &server.base,
        &[
            "download",
            "boxR",
            "-o",
            out.to_str().unwrap(),
            "--chunk-mib",
            "1",
            "--rate",
            "4",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap();
    child.wait().unwrap();
    let v2 = pattern(size, 2);
    let src2 = dir.path().join("v2.bin");
    std::fs::write(&src2, &v2).unwrap();
    let seed = serde_json::json!({"media": [{"file_token": "boxR", "document": "dox", "parent_type": "docx_file",
        "file_name": "boxR.bin", "path": src2.to_str().unwrap()}]});
    let seeded = curl(&[
        "-sS",
        "-f",
        "-X",
        "POST",
        "-H",
        "Authorization: Bearer adm",
        "-d",
        &seed.to_string(),
        &format!("{}/_admin/v1/seed", server.base),
    ]);
    assert!(seeded.status.success());
    let run = cli(
        &server.base,
        &[
            "download",
            "boxR",
            "-o",
            out.to_str().unwrap(),
            "--chunk-mib",
            "1",
            "--rate",
            "0",
            "--json",
        ],
    )
    .output()
    .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        std::fs::read(out.join("boxR.bin")).unwrap() == v2,
        "the new bytes, not a mix"
    );
}

#[test]
fn cli_downloads_large_media_in_parallel_and_reports_failures() {
    let dir = tempfile::tempdir().unwrap();
    let size = 200 * 1024 * 1024;
    let src = dir.path().join("big.bin");
    std::fs::write(&src, pattern(size, 9)).unwrap();
    let server = media_server(dir.path(), &[("boxL", &src)]);
    let out = dir.path().join("out");
    let run = cli(
        &server.base,
        &[
            "download",
            "boxL",
            "boxMissing",
            "-o",
            out.to_str().unwrap(),
            "--connections",
            "4",
            "--rate",
            "0",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(run.status.code(), Some(5), "one of two failed");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("1061003") && stderr.contains("hint:"),
        "{stderr}"
    );
    assert!(stderr.contains("1 done, 1 failed"), "{stderr}");
    let got = std::fs::read(out.join("boxL.bin")).unwrap();
    assert_eq!(got.len(), size);
    assert!(got == std::fs::read(&src).unwrap());
    // The same in one single request, over the existing file with --force.
    let run = cli(
        &server.base,
        &[
            "download",
            "boxL",
            "-o",
            out.to_str().unwrap(),
            "--connections",
            "1",
            "--chunk-mib",
            "512",
            "--rate",
            "0",
            "--force",
        ],
    )
    .output()
    .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(std::fs::read(out.join("boxL.bin")).unwrap() == std::fs::read(&src).unwrap());
    // Without --force an existing file is left alone.
    let run = cli(
        &server.base,
        &[
            "download",
            "boxL",
            "-o",
            out.to_str().unwrap(),
            "--rate",
            "0",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(run.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&run.stderr).contains("exists"));
}

/// Upload flags that put a file into `media_server`'s document.
const INTO_DOX: &[&str] = &[
    "--parent-type",
    "docx_file",
    "--parent-node",
    "blk",
    "--extra",
    r#"{"drive_route_token":"dox"}"#,
];

#[test]
fn cli_uploads_small_and_chunked_files() {
    let dir = tempfile::tempdir().unwrap();
    let server = media_server(dir.path(), &[]);
    let small = dir.path().join("小文件.txt");
    std::fs::write(&small, b"small").unwrap();
    let big = dir.path().join("big.bin");
    let big_bytes = pattern(300 * 1024 * 1024, 3);
    std::fs::write(&big, &big_bytes).unwrap();
    let run = cli(
        &server.base,
        &[
            &["upload", small.to_str().unwrap(), big.to_str().unwrap()][..],
            INTO_DOX,
            &["--json", "--rate", "0"],
        ]
        .concat(),
    )
    .output()
    .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&run.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    let out = dir.path().join("back");
    for (line, want) in lines.iter().zip([&b"small"[..], &big_bytes]) {
        let token = line["result"]["file_token"].as_str().unwrap();
        assert!(std::fs::read(download_back(&server.base, token, &out)).unwrap() == want);
    }
    assert!(
        out.join("小文件.txt").exists(),
        "saved under the uploaded name"
    );
}

#[test]
fn an_interrupted_chunked_upload_resumes_from_its_journal() {
    let dir = tempfile::tempdir().unwrap();
    let server = media_server(dir.path(), &[]);
    let big = dir.path().join("big.bin");
    let bytes = pattern(6 * 4 * 1024 * 1024 + 7, 5); // 7 blocks
    std::fs::write(&big, &bytes).unwrap();
    let journals = dir.path().join("journals");
    let upload = || {
        cli(
            &server.base,
            &[
                &["upload", big.to_str().unwrap()][..],
                INTO_DOX,
                &[
                    "--state-dir",
                    journals.to_str().unwrap(),
                    "--json",
                    "--rate",
                    "0",
                ],
            ]
            .concat(),
        )
        .output()
        .unwrap()
    };
    let parts_sent = || {
        let out = admin_cli(
            &server.base,
            "adm",
            &["--json", "requests", "--limit", "1000"],
        );
        let log: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        log.as_array()
            .unwrap()
            .iter()
            .filter(|r| r["endpoint"] == "upload_part")
            .count()
    };
    // Every third block refused: the first run fails, its journal stays.
    let rules = dir.path().join("faults.json");
    std::fs::write(
        &rules,
        r#"[{"endpoint":"upload_part","every":3,"action":{"status":400,"code":1062009}}]"#,
    )
    .unwrap();
    admin_cli(
        &server.base,
        "adm",
        &["faults", "set", rules.to_str().unwrap()],
    );
    let first = upload();
    assert_eq!(
        first.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let journal: Vec<_> = std::fs::read_dir(&journals).unwrap().collect();
    assert_eq!(journal.len(), 1);
    let journal: serde_json::Value =
        serde_json::from_slice(&std::fs::read(journal[0].as_ref().unwrap().path()).unwrap())
            .unwrap();
    // A refused block is sometimes retried (the refusal can come before the whole block
    // was sent), so which blocks went through is read from the journal.
    let acked = journal["done"].as_array().unwrap().len();
    assert!((4..7).contains(&acked), "{journal}");
    let sent_before = parts_sent();
    admin_cli(&server.base, "adm", &["faults", "clear"]);

    // The same command again sends only the blocks the journal lacks.
    let second = upload();
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(parts_sent(), sent_before + 7 - acked);
    assert_eq!(std::fs::read_dir(&journals).unwrap().count(), 0);
    let line: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    let token = line["result"]["file_token"].as_str().unwrap();
    let saved = download_back(&server.base, token, &dir.path().join("back"));
    assert!(std::fs::read(saved).unwrap() == bytes);
}

/// Downloads `token` into `out` with the CLI; where it was saved.
fn download_back(base: &str, token: &str, out: &Path) -> std::path::PathBuf {
    let run = cli(
        base,
        &[
            "download",
            token,
            "-o",
            out.to_str().unwrap(),
            "--json",
            "--rate",
            "0",
        ],
    )
    .output()
    .unwrap();
    let v = succeeded_json(&run);
    v["result"]["path"].as_str().unwrap().into()
}

/// The JSON a CLI run printed, once it is known to have succeeded.
fn succeeded_json(run: &std::process::Output) -> serde_json::Value {
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    serde_json::from_slice(&run.stdout).unwrap()
}

/// The open descriptors and resident memory (KiB) of process `pid`.
fn fds_and_rss(pid: u32) -> (usize, u64) {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    (fds, rss)
}

/// Raises this process's soft limit on open files to `want` (or the hard limit).
fn raise_fd_limit(want: u64) -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    let target = limit.maximum.map_or(want, |max| max.min(want));
    if limit.current.is_some_and(|c| c < target) {
        limit.current = Some(target);
        setrlimit(Resource::Nofile, limit).unwrap();
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// Opens `conns` connections to `addr` at once, sends one download on each, reads every
/// answer while all are open; returns the statuses and the server's descriptors and
/// memory at the peak.
fn connections_at_once(
    addr: &str,
    pid: u32,
    conns: usize,
) -> (std::collections::BTreeMap<String, usize>, usize, u64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // Open them all first (a few hundred handshakes at a time), and hold them.
        let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(256));
        let mut opening = Vec::with_capacity(conns);
        for _ in 0..conns {
            let (addr, gate) = (addr.to_owned(), gate.clone());
            opening.push(tokio::spawn(async move {
                let _turn = gate.acquire().await.unwrap();
                tokio::net::TcpStream::connect(&addr).await.unwrap()
            }));
        }
        let mut open = Vec::with_capacity(conns);
        for c in opening {
            open.push(c.await.unwrap());
        }
        // Then a request on every one of them, all at once.
        let request = "GET /open-apis/drive/v1/medias/boxBig/download HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer u-t\r\n\r\n";
        let mut asking = Vec::with_capacity(conns);
        for mut c in open {
            asking.push(tokio::spawn(async move {
                c.write_all(request.as_bytes()).await.unwrap();
                let mut got = Vec::new();
                let mut buf = [0u8; 8192];
                // The head, then the 4096-byte body it announces.
                loop {
                    let n = c.read(&mut buf).await.unwrap();
                    assert!(n > 0, "closed before the answer");
                    got.extend_from_slice(&buf[..n]);
                    if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n")
                        && got.len() >= end + 4 + 4096
                    {
                        break;
                    }
                }
                (String::from_utf8_lossy(&got[9..12]).into_owned(), c)
            }));
        }
        let mut statuses = std::collections::BTreeMap::<String, usize>::new();
        let mut held = Vec::with_capacity(conns);
        for a in asking {
            let (status, c) = tokio::time::timeout(Duration::from_secs(120), a)
                .await
                .expect("bounded")
                .unwrap();
            *statuses.entry(status).or_default() += 1;
            held.push(c);
        }
        let (peak_fds, peak_rss) = fds_and_rss(pid);
        drop(held);
        (statuses, peak_fds, peak_rss)
    })
}

/// The server's descriptors and memory once its descriptors are back to `fds` (or 20 s).
fn settled(pid: u32, fds: usize) -> (usize, u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = fds_and_rss(pid);
        if now.0 <= fds || Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn ten_thousand_connections_at_once_are_all_served_then_let_go() {
    const CONNS: usize = 10_000;
    let limit = raise_fd_limit(CONNS as u64 + 1000);
    assert!(
        limit > CONNS as u64 + 100,
        "the hard limit on open files is {limit}"
    );
    let dir = tempfile::tempdir().unwrap();
    let server = seeded_with_file(dir.path(), 4096);
    let addr = server.base.trim_start_matches("http://").to_owned();
    let pid = server.pid();
    // A first round warms what a loaded server keeps (its database connections, the
    // caches); a second must come back to the same descriptors and no more memory.
    let (first, _, _) = connections_at_once(&addr, pid, CONNS);
    assert_eq!(first.get("200"), Some(&CONNS), "{first:?}");
    let (fds_before, rss_before) = settled(pid, 64);
    let (statuses, peak_fds, peak_rss) = connections_at_once(&addr, pid, CONNS);
    assert_eq!(statuses.get("200"), Some(&CONNS), "{statuses:?}");
    assert!(
        peak_fds >= fds_before + CONNS,
        "all {CONNS} were open at once: {peak_fds}"
    );
    let (fds_after, rss_after) = settled(pid, fds_before);
    println!(
        "10k connections: fds {fds_before} → {peak_fds} → {fds_after}; \
         RSS {rss_before} → {peak_rss} → {rss_after} KiB"
    );
    if fds_after > fds_before {
        let links: Vec<_> = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.unwrap().path()).ok())
            .collect();
        panic!("descriptors kept: {fds_before} → {fds_after}: {links:?}");
    }
    assert!(
        rss_after < rss_before + 16 * 1024,
        "memory grew from one round to the next: {rss_before} → {rss_after} KiB"
    );
}

#[test]
fn failures_say_what_fits_the_call_and_where_the_connection_failed() {
    let dir = tempfile::tempdir().unwrap();
    let server = media_server(dir.path(), &[]);
    let file = dir.path().join("a.txt");
    std::fs::write(&file, b"abc").unwrap();
    // A docx upload without `extra`: the upload hint, and the server's own reason.
    let run = cli(
        &server.base,
        &[
            "upload",
            file.to_str().unwrap(),
            "--parent-type",
            "docx_file",
            "--parent-node",
            "blk",
            "--rate",
            "0",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(run.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("1061002"), "{stderr}");
    assert!(
        stderr.contains(r#"--extra '{"drive_route_token":"<document token>"}'"#),
        "{stderr}"
    );
    assert!(
        !stderr.contains("bitablePerm"),
        "not the download hint: {stderr}"
    );
    assert!(
        stderr.contains("server: extra"),
        "the server's troubleshooter: {stderr}"
    );
    // Nobody listening: one line with the address and the cause.
    let run = cli(
        "http://127.0.0.1:9",
        &["download", "boxAny", "-o", dir.path().to_str().unwrap()],
    )
    .output()
    .unwrap();
    assert_eq!(run.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&run.stderr);
    let line = stderr
        .lines()
        .find(|l| l.contains("FAILED"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(line.contains("http://127.0.0.1:9/"), "{line}");
    assert!(line.contains("connection refused"), "{line}");
}

/// `feishu-media export …` against `base` as the demo app; (status, stdout, stderr).
fn export(base: &str, out: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let o = Command::new(BIN)
        .arg("export")
        .args(args)
        .arg("-o")
        .arg(out)
        .args([
            "--base-url",
            base,
            "--app-id",
            "cli_demo",
            "--app-secret",
            "demo-secret",
        ])
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A media's bytes as the server serves them, by the demo's user token.
fn served(base: &str, token: &str, extra: Option<&str>) -> Vec<u8> {
    let mut url = format!("{base}/open-apis/drive/v1/medias/{token}/download");
    if let Some(e) = extra {
        url += "?extra=";
        url += &e.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
    }
    let o = curl(&[
        "-sS",
        "-f",
        "-H",
        "Authorization: Bearer u-demo-alice",
        &url,
    ]);
    assert!(o.status.success(), "{url}");
    o.stdout
}

#[test]
fn export_saves_every_media_of_the_demo_where_media_json_says() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&["--memory", "--demo", "--admin-token", "adm-x"]);
    let out = dir.path().join("out");
    let (code, stdout, stderr) =
        export(&server.base, &out, &["doxcnDemo", "shtcnDemo", "bascnDemo"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("4 downloaded, 0 unchanged, 0 failed"),
        "{stderr}"
    );

    let index = |doc: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(out.join(doc).join("media.json")).unwrap()).unwrap()
    };
    let docx = index("doxcnDemo");
    assert_eq!(docx["kind"], "docx");
    let media = docx["media"].as_array().unwrap();
    assert_eq!(media.len(), 2);
    assert_eq!(media[0]["file_token"], "boxcnDemoImage");
    assert_eq!(media[0]["path"], "架构图.png");
    assert_eq!(
        media[0]["places"],
        serde_json::json!([{"kind": "block", "block_id": "blkDemo"}])
    );
    assert_eq!(media[1]["path"], "notes.txt");
    assert_eq!(media[1]["places"][0]["block_id"], "blkF1");
    for m in media {
        let saved = std::fs::read(out.join("doxcnDemo").join(m["path"].as_str().unwrap())).unwrap();
        assert_eq!(
            saved,
            served(&server.base, m["file_token"].as_str().unwrap(), None)
        );
        assert_eq!(m["size"], saved.len());
    }
    let sheet = index("shtcnDemo");
    assert_eq!(
        sheet["media"][0]["places"],
        serde_json::json!([{"kind": "cell", "sheet_id": "sht1", "cell": "B2"}])
    );
    let saved = std::fs::read(out.join("shtcnDemo/q3-sheet.csv")).unwrap();
    assert_eq!(saved, served(&server.base, "boxcnDemoCell", None));
    let bitable = index("bascnDemo");
    assert_eq!(
        bitable["media"][0]["places"],
        serde_json::json!([{"kind": "record", "table_id": "tblDemo", "record_id": "recDemo", "field": "附件"}])
    );
    let extra = r#"{"bitablePerm":{"tableId":"tblDemo"}}"#;
    assert_eq!(
        std::fs::read(out.join("bascnDemo/q3.csv")).unwrap(),
        served(&server.base, "boxcnDemoSheet", Some(extra))
    );
    assert!(
        !std::fs::read_dir(out.join("doxcnDemo"))
            .unwrap()
            .any(|e| { e.unwrap().file_name().to_string_lossy().starts_with('.') }),
        "no hidden work files left"
    );

    // Again: nothing is downloaded.
    let (code, stdout, stderr) =
        export(&server.base, &out, &["doxcnDemo", "shtcnDemo", "bascnDemo"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("0 downloaded, 4 unchanged"), "{stderr}");
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.starts_with("unchanged"))
            .count(),
        4,
        "{stdout}"
    );

    // A media changed on the server is fetched again, into the same file.
    let put = curl(&[
        "-sS",
        "-f",
        "-X",
        "PUT",
        "-H",
        "Authorization: Bearer adm-x",
        "-H",
        "Content-Type: application/json",
        &format!("{}/_admin/v1/media/boxcnDemoText", server.base),
        "-d",
        r#"{"file_token":"boxcnDemoText","document":"doxcnDemo","parent_type":"docx_file","file_name":"notes.txt","content_text":"changed notes"}"#,
    ]);
    assert!(
        put.status.success(),
        "{}",
        String::from_utf8_lossy(&put.stderr)
    );
    let (code, stdout, stderr) = export(&server.base, &out, &["doxcnDemo", "--json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    let status = |t: &str| {
        lines
            .iter()
            .find(|l| l["media"]["file_token"] == t)
            .unwrap()["media"]["status"]
            .clone()
    };
    assert_eq!(status("boxcnDemoText"), "downloaded");
    assert_eq!(status("boxcnDemoImage"), "unchanged");
    assert_eq!(
        std::fs::read(out.join("doxcnDemo/notes.txt")).unwrap(),
        b"changed notes"
    );

    // A token of no known prefix needs --type; an unknown document fails with its code.
    let (code, _, stderr) = export(&server.base, &out, &["XyZ123"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("--type"), "{stderr}");
    let (code, _, stderr) = export(&server.base, &out, &["doxcnNope"]);
    assert_eq!(code, Some(5), "{stderr}");
    assert!(stderr.contains("1770002"), "{stderr}");
}

#[test]
fn export_of_200_media_keeps_within_the_quota_in_near_minimal_time() {
    let dir = tempfile::tempdir().unwrap();
    let media: Vec<serde_json::Value> = (0..200)
        .map(|i| {
            serde_json::json!({"file_token": format!("boxM{i}"), "document": "doxcnMany",
            "parent_type": "docx_image", "parent_node": format!("blk{i}"),
            "file_name": "same.png", "content_text": format!("media {i}")})
        })
        .collect();
    let manifest = serde_json::json!({
        "apps": [{"app_id": "cli_demo", "app_secret": "demo-secret", "tenant_key": "t",
                  "scopes": ["docx:document:readonly", "drive:drive:readonly"],
                  "rate_limit": {"per_second": 20, "per_day": 100000}}],
        "documents": [{"token": "doxcnMany", "type": "docx", "tenant_key": "t",
                       "members": [{"principal": "app:cli_demo", "role": "view"}]}],
        "media": media
    });
    let path = dir.path().join("m.json");
    std::fs::write(&path, manifest.to_string()).unwrap();
    let server = Server::start(&[
        "--memory",
        "--seed",
        path.to_str().unwrap(),
        "--admin-token",
        "adm-y",
    ]);
    let out = dir.path().join("out");
    let started = Instant::now();
    let (code, stdout, stderr) = export(
        &server.base,
        &out,
        &["doxcnMany", "--rate", "20", "--parallel", "8"],
    );
    let took = started.elapsed();
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stderr.contains("200 downloaded"), "{stderr}");
    // 200 downloads at 20/s, evenly spaced: 9.95 s at the least; the listing counts
    // against its own quota.
    let minimal = Duration::from_millis(9950);
    assert!(
        took >= minimal.mul_f64(0.95),
        "{took:?}: faster than the quota allows?"
    );
    assert!(
        took <= minimal.mul_f64(1.1),
        "{took:?} is more than 10% over {minimal:?}"
    );
    let log = curl(&[
        "-sS",
        "-H",
        "Authorization: Bearer adm-y",
        &format!("{}/_admin/v1/requests?limit=1000", server.base),
    ]);
    let log: serde_json::Value = serde_json::from_slice(&log.stdout).unwrap();
    let statuses: Vec<u64> = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["status"].as_u64())
        .collect();
    assert!(statuses.len() > 200, "{}", statuses.len());
    assert!(!statuses.contains(&429), "a 429 in the export");
    // Same names, numbered in document order.
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("doxcnMany/media.json")).unwrap()).unwrap();
    assert_eq!(index["media"][0]["path"], "same.png");
    assert_eq!(index["media"][1]["path"], "same (2).png");
    assert_eq!(index["media"][199]["path"], "same (200).png");
    assert_eq!(
        std::fs::read(out.join("doxcnMany/same (2).png")).unwrap(),
        b"media 1"
    );
}

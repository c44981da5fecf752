//! Durability under SIGKILL: many concurrent uploads (whole and chunked) against the
//! real binary, killed at random moments over several rounds and restarted on the same
//! data dir. Every token answered before a kill must download byte-identical; every
//! media that exists must have all its bytes; no temp file, orphan block set or orphan
//! blob may survive the start-up sweep.
//!
//! Bounded: `FEISHU_MEDIA_CRASH_TRIALS` SIGKILL trials (20 unless set; the soak script
//! `scripts/crash-soak.sh` runs 100), 4 client threads, loopback only, a fixed seed.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_feishu-media");
const AUTH: &str = "Authorization: Bearer u-owner";
const EXTRA: &str = r#"{"drive_route_token":"dox"}"#;
const BLOCK: usize = 4 * 1024 * 1024;

/// `(file_token, the bytes sent)` for every upload the server answered.
type Answered = Vec<(String, Vec<u8>)>;

/// A small deterministic generator (xorshift): the test needs repeatable variety, not quality.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn start(data: &Path, manifest: &Path) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .arg("--seed")
        .arg(manifest)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let base = first
        .strip_prefix("feishu-media listening on ")
        .unwrap()
        .trim()
        .to_owned();
    std::thread::spawn(move || for _ in lines {});
    (child, base)
}

fn curl(args: &[&str]) -> Option<String> {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The `data` of a success answer, if the request got one.
fn data(answer: Option<String>) -> Option<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_str(&answer?).ok()?;
    (v["code"] == 0).then(|| v["data"].clone())
}

fn upload_all(base: &str, file: &Path, size: usize) -> Option<String> {
    let url = format!("{base}/open-apis/drive/v1/medias/upload_all");
    let file_arg = format!("file=@{}", file.display());
    let size_arg = format!("size={size}");
    let extra_arg = format!("extra={EXTRA}");
    let answer = curl(&[
        "-H",
        AUTH,
        "-F",
        "file_name=crash.bin",
        "-F",
        "parent_type=docx_file",
        "-F",
        "parent_node=blk",
        "-F",
        &size_arg,
        "-F",
        &extra_arg,
        "-F",
        &file_arg,
        &url,
    ]);
    data(answer)?["file_token"].as_str().map(str::to_owned)
}

fn chunked(base: &str, dir: &Path, bytes: &[u8]) -> Option<String> {
    let prepare = serde_json::json!({"file_name": "crash-chunked.bin", "parent_type": "docx_file",
        "parent_node": "blk", "size": bytes.len(), "extra": EXTRA});
    let d = data(curl(&[
        "-H",
        AUTH,
        "-H",
        "Content-Type: application/json",
        "-d",
        &prepare.to_string(),
        &format!("{base}/open-apis/drive/v1/medias/upload_prepare"),
    ]))?;
    let id = d["upload_id"].as_str()?.to_owned();
    let blocks = d["block_num"].as_u64()? as usize;
    for seq in (0..blocks).rev() {
        let block = &bytes[seq * BLOCK..((seq + 1) * BLOCK).min(bytes.len())];
        let path = dir.join(format!("{id}-{seq}"));
        std::fs::write(&path, block).ok()?;
        let (id_arg, seq_arg, size_arg, file_arg) = (
            format!("upload_id={id}"),
            format!("seq={seq}"),
            format!("size={}", block.len()),
            format!("file=@{}", path.display()),
        );
        data(curl(&[
            "-H",
            AUTH,
            "-F",
            &id_arg,
            "-F",
            &seq_arg,
            "-F",
            &size_arg,
            "-F",
            &file_arg,
            &format!("{base}/open-apis/drive/v1/medias/upload_part"),
        ]))?;
    }
    let finish = serde_json::json!({"upload_id": id, "block_num": blocks});
    let d = data(curl(&[
        "-H",
        AUTH,
        "-H",
        "Content-Type: application/json",
        "-d",
        &finish.to_string(),
        &format!("{base}/open-apis/drive/v1/medias/upload_finish"),
    ]))?;
    d["file_token"].as_str().map(str::to_owned)
}

fn download(base: &str, token: &str) -> Option<Vec<u8>> {
    let out = Command::new("curl")
        .args([
            "-sS",
            "-f",
            "-H",
            AUTH,
            &format!("{base}/open-apis/drive/v1/medias/{token}/download"),
        ])
        .output()
        .ok()?;
    out.status.success().then_some(out.stdout)
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.path().is_dir() {
                out.extend(files_in(&e.path()));
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

#[test]
fn sigkill_at_random_moments_leaves_no_broken_token_and_no_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let manifest = dir.path().join("manifest.json");
    std::fs::write(
        &manifest,
        serde_json::json!({
            "apps": [{"app_id": "cli_c", "app_secret": "s", "tenant_key": "t", "scopes": ["drive:drive"], "rate_limit": null}],
            "users": [{"user_id": "ou", "tenant_key": "t"}],
            "user_tokens": [{"token": "u-owner", "app_id": "cli_c", "user_id": "ou", "scopes": ["drive:drive"]}],
            "documents": [{"token": "dox", "type": "docx", "tenant_key": "t", "owner": "user:ou"}]
        })
        .to_string(),
    )
    .unwrap();

    let trials: u64 = std::env::var("FEISHU_MEDIA_CRASH_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let answered: Arc<Mutex<Answered>> = Arc::default();
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for round in 0..trials {
        let (mut server, base) = start(&data_dir, &manifest);
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..4u64)
            .map(|c| {
                let (base, stop, answered, work) =
                    (base.clone(), stop.clone(), answered.clone(), work.clone());
                let mut rng = Rng(rng.next() | 1);
                std::thread::spawn(move || {
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) && n < 40 {
                        n += 1;
                        let token = if c == 0 {
                            let len = BLOCK + 1 + rng.below(200_000) as usize;
                            let bytes = rng.bytes(len);
                            chunked(&base, &work, &bytes).map(|t| (t, bytes))
                        } else {
                            let len = rng.below(600_000) as usize;
                            let bytes = rng.bytes(len);
                            let path = work.join(format!("r{round}c{c}n{n}"));
                            std::fs::write(&path, &bytes).unwrap();
                            upload_all(&base, &path, bytes.len()).map(|t| (t, bytes))
                        };
                        match token {
                            Some(pair) => answered.lock().unwrap().push(pair),
                            None if stop.load(Ordering::Relaxed) => break,
                            None => {}
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300 + rng.below(900)));
        server.kill().unwrap(); // SIGKILL
        server.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.join().unwrap();
        }
    }

    // Restart: the start-up sweep runs, then every answered token must be whole.
    let (mut server, base) = start(&data_dir, &manifest);
    let answered = answered.lock().unwrap().clone();
    assert!(
        answered.len() >= 8,
        "too few uploads got through to test anything: {}",
        answered.len()
    );
    for (token, bytes) in &answered {
        let got = download(&base, token)
            .unwrap_or_else(|| panic!("answered token {token} does not download"));
        assert!(
            got == *bytes,
            "token {token}: {} bytes back, {} sent",
            got.len(),
            bytes.len()
        );
    }
    server.kill().unwrap();
    server.wait().unwrap();

    // Every media that exists has all its bytes; nothing is left over.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use feishu_media_store::{BlobStore, MetaStore, PartStore};
        let meta = feishu_media_store::sql::SqliteMeta::open(&data_dir.join("meta.sqlite"))
            .await
            .unwrap();
        let blobs = feishu_media_store::fs::FsBlobs::open(&data_dir)
            .await
            .unwrap();
        let media = meta.list_media().await.unwrap();
        assert!(media.len() >= answered.len());
        for m in &media {
            assert_eq!(
                blobs.size(&m.digest).await.unwrap(),
                Some(m.size),
                "media {} lost bytes",
                m.file_token
            );
        }
        let referenced: std::collections::HashSet<_> =
            media.iter().map(|m| m.digest.clone()).collect();
        for key in feishu_media_store::blob::all_keys(&blobs).await.unwrap() {
            assert!(
                referenced.contains(&key),
                "orphan blob {key} survived the start-up sweep"
            );
        }
        for id in blobs.part_uploads().await.unwrap() {
            assert!(
                meta.upload(&id).await.unwrap().is_some(),
                "blocks of upload {id} without a session"
            );
        }
    });
    assert!(
        files_in(&data_dir.join("tmp")).is_empty(),
        "temp files survived: {:?}",
        files_in(&data_dir.join("tmp"))
    );
    println!(
        "crash test: {} answered uploads checked over {trials} SIGKILL trials, 0 missing or partial",
        answered.len()
    );
}

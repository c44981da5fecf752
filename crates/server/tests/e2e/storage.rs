//! Both backends behind the same HTTP surface; restarts; curl against the server.

use crate::support::*;
use std::process::Command;

#[tokio::test]
async fn the_memory_backend_serves_the_same_answers() {
    let s = TestServer::start_with(Backend::Memory, world()).await;
    let resp = get(
        &s.download_url("boxHundred"),
        "u-alice",
        &[("Range", "bytes=10-12")],
    )
    .await;
    assert_eq!(resp.status(), 206);
    assert_eq!(resp.bytes().await.unwrap(), [10u8, 11, 12][..]);
    expect_error(
        get(&s.download_url("boxDeleted"), "u-alice", &[]).await,
        404,
        1061007,
    )
    .await;
}

#[tokio::test]
async fn a_restart_on_the_same_data_dir_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(Backend::Embedded, dir.path(), world()).await;
    let etag = header(
        get(&s.download_url("boxCn"), "u-alice", &[])
            .await
            .headers(),
        "etag",
    )
    .unwrap()
    .to_owned();
    s.stop().await;
    // No manifest this time: everything must come from the data dir.
    let s = TestServer::start_in(Backend::Embedded, dir.path(), serde_json::json!({})).await;
    let resp = get(&s.download_url("boxCn"), "u-alice", &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(resp.headers(), "etag"), Some(etag.as_str()));
    assert_eq!(resp.bytes().await.unwrap(), PNG);
}

/// Runs curl in `dir` (off the async runtime, which is serving the request) and
/// insists that it succeeds; returns what it printed.
async fn curl_ok(dir: &std::path::Path, args: &[&str]) -> String {
    let dir = dir.to_owned();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("curl")
            .current_dir(dir)
            .args(&args)
            .output()
            .expect("curl is installed (scripts/test.sh installs it)")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn curl_resumes_a_partial_file_and_accepts_a_complete_one() {
    let s = server().await;
    let url = s.download_url("boxHundred");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("hundred.bin");
    let auth = "Authorization: Bearer u-alice";
    let data = hundred();

    // Half a file, then `-C -`.
    std::fs::write(&out, &data[..37]).unwrap();
    curl_ok(
        dir.path(),
        &[
            "-sS",
            "-f",
            "-C",
            "-",
            "-H",
            auth,
            "-o",
            "hundred.bin",
            &url,
        ],
    )
    .await;
    assert_eq!(std::fs::read(&out).unwrap(), data);

    // Complete already: the server answers 416 and curl calls that done (curl's `-f`
    // would turn any 416 into exit 22, so it is left out here).
    let code = curl_ok(
        dir.path(),
        &[
            "-sS",
            "-C",
            "-",
            "-H",
            auth,
            "-o",
            "hundred.bin",
            "-w",
            "%{http_code}",
            &url,
        ],
    )
    .await;
    assert_eq!(code, "416");
    assert_eq!(
        std::fs::read(&out).unwrap(),
        data,
        "a complete file stays intact"
    );
}

#[tokio::test]
async fn curl_saves_under_the_chinese_name() {
    let s = server().await;
    let url = s.download_url("boxReport");
    let dir = tempfile::tempdir().unwrap();
    curl_ok(
        dir.path(),
        &[
            "-sS",
            "-f",
            "-O",
            "-J",
            "-H",
            "Authorization: Bearer u-alice",
            &url,
        ],
    )
    .await;
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["季度报告 Q3.pdf"]);
    assert_eq!(
        std::fs::read(dir.path().join(&names[0])).unwrap(),
        b"%PDF-1.4 report"
    );
}

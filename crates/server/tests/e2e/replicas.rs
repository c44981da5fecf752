//! Replicas sharing one world (PostgreSQL + S3 + Redis, each engine real and private to
//! the test): what one mints, the others honour; a write on one is seen by the others
//! within a second; the engines failing and coming back.

use crate::support::*;
use crate::tmp_urls::link;
use crate::uploads::{finish, part, prepare};
use feishu_media_testkit::{SharedWorld, TestServer};
use reqwest::Method;
use std::time::{Duration, Instant};

const BLOCK: u64 = 4 * 1024 * 1024;

async fn replicas(world: &SharedWorld, n: usize) -> Vec<TestServer> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(
            world
                .replica(crate::support::world(), |c| {
                    c.admin_token = Some(ADMIN.into())
                })
                .await,
        );
    }
    out
}

#[tokio::test]
async fn tokens_links_and_uploads_minted_on_one_replica_work_on_every_other() {
    let world = SharedWorld::start();
    let r = replicas(&world, 3).await;
    // A tenant token from replica 0 downloads on 1 and 2 (one secret, kept in PostgreSQL).
    let token = r[0].tenant_token("cli_up", "sec-u").await;
    for s in &r[1..] {
        let resp = get(&s.download_url("boxHundred"), &token, &[]).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.bytes().await.unwrap(), hundred());
    }
    // A temporary link from replica 1 works on replica 2.
    let url = link(&r[1], &token, "boxHundred").await;
    let on_two = url.replace(&r[1].base, &r[2].base);
    assert_ne!(url, on_two);
    let resp = client().get(&on_two).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap(), hundred());

    // A chunked upload prepared on 0, its blocks sent to 2, 1 and 0, finished on 1,
    // downloaded from 2: byte-identical.
    let size = 2 * BLOCK + 777;
    let data: Vec<u8> = (0..size).map(|i| (i * 13 % 251) as u8).collect();
    let d = expect_data(prepare(&r[0], &token, "shared.bin", size).await).await;
    let id = d["upload_id"].as_str().unwrap().to_owned();
    for seq in 0..3u64 {
        let block = &data[(seq * BLOCK) as usize..((seq + 1) * BLOCK).min(size) as usize];
        let at = &r[2 - seq as usize];
        expect_data(part(at, &token, &id, seq, block, None).await).await;
    }
    let done = expect_data(finish(&r[1], &token, &id, 3).await).await;
    let file_token = done["file_token"].as_str().unwrap();
    let resp = get(&r[2].download_url(file_token), &token, &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap(), data);
    // A range across a block boundary, from the third.
    let resp = get(
        &r[0].download_url(file_token),
        &token,
        &[("Range", &format!("bytes={}-{}", BLOCK - 5, BLOCK + 4))],
    )
    .await;
    assert_eq!(resp.status(), 206);
    assert_eq!(
        resp.bytes().await.unwrap(),
        &data[(BLOCK - 5) as usize..(BLOCK + 5) as usize]
    );
}

#[tokio::test]
async fn a_soft_delete_on_one_replica_is_a_404_on_the_others_within_a_second() {
    let world = SharedWorld::start();
    let r = replicas(&world, 2).await;
    let token = r[0].tenant_token("cli_up", "sec-u").await;
    // Replica 1 has the media (and the token) in its cache.
    for _ in 0..2 {
        assert_eq!(
            get(&r[1].download_url("boxHundred"), &token, &[])
                .await
                .status(),
            200
        );
    }
    let resp = admin(&r[0], Method::POST, "/media/boxHundred/delete", None).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let deleted_at = Instant::now();
    loop {
        let resp = get(&r[1].download_url("boxHundred"), &token, &[]).await;
        if resp.status() == 404 {
            expect_error(resp, 404, 1061007).await;
            break;
        }
        assert!(
            deleted_at.elapsed() < Duration::from_secs(1),
            "replica 1 still serves a media deleted on replica 0"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // And back, the same way.
    admin(&r[1], Method::POST, "/media/boxHundred/undelete", None).await;
    let undeleted_at = Instant::now();
    while get(&r[0].download_url("boxHundred"), &token, &[])
        .await
        .status()
        != 200
    {
        assert!(undeleted_at.elapsed() < Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn five_per_second_hold_for_the_fleet() {
    let world = SharedWorld::start();
    let r = replicas(&world, 3).await;
    let token = r[0].tenant_token("cli_lim", "sec-l").await;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..12 {
        let url = r[i % 3].download_url("boxHundred");
        let token = token.clone();
        set.spawn(async move { get(&url, &token, &[]).await.status().as_u16() });
    }
    let statuses = set.join_all().await;
    let allowed = statuses.iter().filter(|&&s| s == 200).count();
    assert!(
        (5..=6).contains(&allowed),
        "5/s for three replicas together (6 if the burst outlasts 200 ms): {statuses:?}"
    );
}

/// Within 2 s, never a hang: `f` runs to its answer.
async fn within_two_seconds<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    let started = Instant::now();
    let out = tokio::time::timeout(Duration::from_secs(5), f)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer in 5 s"));
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{what}: {:?}",
        started.elapsed()
    );
    out
}

async fn readyz(s: &TestServer) -> (u16, serde_json::Value) {
    let resp = client().get(s.url("/readyz")).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn postgres_down_is_unready_and_500_within_two_seconds_then_back_without_a_restart() {
    let world = SharedWorld::start();
    let r = replicas(&world, 1).await;
    let s = &r[0];
    assert_eq!(readyz(s).await.0, 200);
    world.postgres.stop();
    let (status, body) = within_two_seconds("readyz", readyz(s)).await;
    assert_eq!(
        (status, body["metadata"].as_str()),
        (503, Some("unavailable")),
        "{body}"
    );
    // A token request writes to PostgreSQL: a 500 in the envelope, quickly.
    let resp = within_two_seconds(
        "a token request",
        client()
            .post(s.url("/open-apis/auth/v3/tenant_access_token/internal"))
            .json(&serde_json::json!({"app_id": "cli_up", "app_secret": "sec-u"}))
            .send(),
    )
    .await
    .unwrap();
    expect_error(resp, 500, 1061001).await;
    world.postgres.restart();
    let back = Instant::now();
    loop {
        if readyz(s).await.0 == 200 {
            break;
        }
        assert!(back.elapsed() < Duration::from_secs(10), "not ready again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let token = s.tenant_token("cli_up", "sec-u").await;
    assert_eq!(
        get(&s.download_url("boxHundred"), &token, &[])
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn s3_down_is_unready_and_500_within_two_seconds_then_back_without_a_restart() {
    let mut world = SharedWorld::start();
    let r = replicas(&world, 1).await;
    let s = &r[0];
    let token = s.tenant_token("cli_up", "sec-u").await;
    world.s3.stop();
    let (status, body) = within_two_seconds("readyz", readyz(s)).await;
    assert_eq!(
        (status, body["blobs"].as_str()),
        (503, Some("unavailable")),
        "{body}"
    );
    let resp = within_two_seconds(
        "a download",
        get(&s.download_url("boxHundred"), &token, &[]),
    )
    .await;
    expect_error(resp, 500, 1061001).await;
    world.s3.restart();
    let resp = get(&s.download_url("boxHundred"), &token, &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap(), hundred());
    assert_eq!(readyz(s).await.0, 200);
}

#[tokio::test]
async fn unusable_engine_urls_are_refused_naming_the_setting_and_never_the_password() {
    let world = SharedWorld::start();
    let url = format!(
        "postgres://postgres:hunter2-secret@127.0.0.1:{}/nosuchdb",
        world.postgres.port
    );
    let config = feishu_media_server::ServerConfig {
        storage: feishu_media_server::config::Storage {
            metadata: feishu_media_server::config::MetadataBackend::Postgres(url),
            blobs: feishu_media_server::config::BlobBackend::Memory,
        },
        ..Default::default()
    };
    let e = feishu_media_server::AppState::open(config)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(e.starts_with("--metadata"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
    // A bucket that does not exist.
    let config = feishu_media_server::ServerConfig {
        storage: feishu_media_server::config::Storage {
            metadata: feishu_media_server::config::MetadataBackend::Memory,
            blobs: feishu_media_server::config::BlobBackend::S3 {
                url: format!("s3://nosuchbucket?endpoint={}", world.s3.endpoint()),
                credentials: Some(world.s3.credentials()),
            },
        },
        ..Default::default()
    };
    let e = feishu_media_server::AppState::open(config)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(e.starts_with("--blobs"), "{e}");
    assert!(!e.contains(&world.s3.credentials().1), "{e}");
}

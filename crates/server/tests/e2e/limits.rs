//! Wire contract §6: 5 requests/s and 10 000/day per (app, tenant, endpoint), driven by
//! the server's clock rather than by sleeping.

use crate::support::*;
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The shared world on a stopped clock: only `advance` moves time, however slow the run.
async fn server() -> TestServer {
    TestServer::start_with_config(world(), |c| c.frozen_clock = true).await
}

#[tokio::test]
async fn a_burst_of_five_then_429_with_feishu_headers() {
    let s = server().await;
    let token = s.tenant_token("cli_lim", "sec-l").await;
    let url = s.download_url("boxHundred");
    for i in 0..5 {
        assert_eq!(get(&url, &token, &[]).await.status(), 200, "request {i}");
    }
    let (h, env) = expect_error(get(&url, &token, &[]).await, 429, 99991400).await;
    assert_eq!(env.msg, "request trigger frequency limit");
    assert_eq!(header(&h, "x-ogw-ratelimit-limit"), Some("5"));
    assert_eq!(header(&h, "x-ogw-ratelimit-reset"), Some("1"));
    assert_eq!(header(&h, "retry-after"), Some("1"));
    // One more every 200 ms (a quota of 5/s), five again after a quiet second.
    s.state.clock.advance(ms(200));
    assert_eq!(get(&url, &token, &[]).await.status(), 200);
    expect_error(get(&url, &token, &[]).await, 429, 99991400).await;
    s.state.clock.advance(ms(1000));
    for _ in 0..5 {
        assert_eq!(get(&url, &token, &[]).await.status(), 200);
    }
}

#[tokio::test]
async fn limits_are_per_app_per_endpoint_and_shared_by_the_apps_user_tokens() {
    let s = server().await;
    let lim = s.tenant_token("cli_lim", "sec-l").await;
    let other = s.tenant_token("cli_lim2", "sec-l2").await;
    let url = s.download_url("boxHundred");
    for _ in 0..5 {
        assert_eq!(get(&url, &lim, &[]).await.status(), 200);
    }
    expect_error(get(&url, &lim, &[]).await, 429, 99991400).await;
    // The app's user token counts against the same app.
    expect_error(get(&url, "u-lim", &[]).await, 429, 99991400).await;
    // Another app is not affected; nor is another endpoint of the same app.
    assert_eq!(get(&url, &other, &[]).await.status(), 200);
    let tmp = s.url("/open-apis/drive/v1/medias/batch_get_tmp_download_url?file_tokens=boxHundred");
    assert_eq!(get(&tmp, &lim, &[]).await.status(), 200);
    // The token and scope checks still come first.
    expect_error(get(&url, "t-unknown", &[]).await, 400, 99991663).await;
}

#[tokio::test]
async fn apps_without_limits_are_not_limited() {
    let s = server().await;
    let token = s.tenant_token("cli_a", "sec-a").await;
    for _ in 0..40 {
        assert_eq!(
            get(&s.download_url("boxHundred"), &token, &[])
                .await
                .status(),
            200
        );
    }
}

#[tokio::test]
async fn the_daily_limit_ends_at_midnight_utc_plus_8() {
    let s = server().await;
    let token = s.tenant_token("cli_lim2", "sec-l2").await;
    let url = s.download_url("boxHundred");
    for _ in 0..3 {
        assert_eq!(get(&url, &token, &[]).await.status(), 200);
        s.state.clock.advance(ms(1000));
    }
    let (h, _) = expect_error(get(&url, &token, &[]).await, 429, 99991400).await;
    assert_eq!(header(&h, "x-ogw-ratelimit-limit"), Some("3"));
    let reset: u64 = header(&h, "x-ogw-ratelimit-reset")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(header(&h, "retry-after"), Some(reset.to_string().as_str()));
    // The reset is the time to the next midnight in UTC+8.
    let now_ms = s.state.clock.unix_ms() + 8 * 3600 * 1000;
    let to_midnight = (86_400_000 - now_ms.rem_euclid(86_400_000)) as u64;
    assert!(
        reset.abs_diff(to_midnight.div_ceil(1000)) <= 1,
        "{reset} vs {to_midnight} ms"
    );
    s.state.clock.advance(Duration::from_secs(reset));
    // The tenant token (two hours) expired meanwhile unless midnight was nearer (tokens
    // read the same clock); either way a fresh one counts on the new day.
    let ttl = s.state.config.token_ttl.as_secs();
    let old = get(&url, &token, &[]).await.status();
    assert_eq!(
        old,
        if reset > ttl { 400 } else { 200 },
        "the old token, {reset} s on"
    );
    s.state.clock.advance(Duration::from_secs(ttl));
    let token = s.tenant_token("cli_lim2", "sec-l2").await;
    assert_eq!(get(&url, &token, &[]).await.status(), 200, "a new day");
}

#[tokio::test]
async fn daily_counts_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_configured(Backend::Embedded, dir.path(), world(), |c| {
        c.frozen_clock = true
    })
    .await;
    let token = s.tenant_token("cli_lim2", "sec-l2").await;
    let url = s.download_url("boxHundred");
    assert_eq!(get(&url, &token, &[]).await.status(), 200);
    assert_eq!(get(&url, &token, &[]).await.status(), 200);
    s.stop().await; // flushes the counts
    let s = TestServer::start_in(Backend::Embedded, dir.path(), world()).await;
    let url = s.download_url("boxHundred");
    assert_eq!(
        get(&url, &token, &[]).await.status(),
        200,
        "the third of the day"
    );
    s.state.clock.advance(ms(1000));
    let (h, _) = expect_error(get(&url, &token, &[]).await, 429, 99991400).await;
    assert_eq!(header(&h, "x-ogw-ratelimit-limit"), Some("3"));
}

#[tokio::test]
async fn upload_endpoints_are_limited_too() {
    let s = server().await;
    let token = s.tenant_token("cli_lim", "sec-l").await;
    let url = s.url("/open-apis/drive/v1/medias/upload_prepare");
    let body = serde_json::json!({"file_name": "a", "parent_type": "docx_file", "parent_node": "b",
        "size": 1, "extra": r#"{"drive_route_token":"doxA"}"#});
    for _ in 0..5 {
        expect_data(post_json(&url, &token, &body).await).await;
    }
    expect_error(post_json(&url, &token, &body).await, 429, 99991400).await;
}

// --- shared limits, in Redis --------------------------------------------------------------

/// The admin API's usage: today's count of each app against its limits, the count the
/// limits themselves keep (in process, or in Redis when shared).
#[tokio::test]
async fn usage_reports_todays_count_against_each_limit() {
    let s = admin_server().await;
    let token = s.tenant_token("cli_lim2", "sec-l2").await;
    for _ in 0..2 {
        assert_eq!(
            get(&s.download_url("boxHundred"), &token, &[])
                .await
                .status(),
            200
        );
    }
    let used = expect_data(admin(&s, reqwest::Method::GET, "/usage", None).await).await;
    let row = used
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["app_id"] == "cli_lim2" && u["endpoint"] == "download")
        .unwrap_or_else(|| panic!("{used}"))
        .clone();
    assert_eq!(row["today"], 2, "{row}");
    assert_eq!(
        (row["per_second"].as_u64(), row["per_day"].as_u64()),
        (Some(2), Some(3))
    );
    assert!(
        !used
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["app_id"] == "cli_a"),
        "an app without limits has no gauge"
    );
}

use feishu_media_testkit::TestRedis;

/// `n` downloads at once, spread over `replicas`; how many were allowed (the rest must
/// be 429). At once, so the count does not hang on how long each request takes: one
/// request every 200 ms is within 5/s, however many there are.
async fn burst(replicas: &[(&TestServer, &String)], n: usize) -> usize {
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        let (s, t) = replicas[i % replicas.len()];
        let (url, token) = (s.download_url("boxHundred"), t.clone());
        set.spawn(async move { get(&url, &token, &[]).await.status().as_u16() });
    }
    let statuses = set.join_all().await;
    assert!(
        statuses.iter().all(|&s| s == 200 || s == 429),
        "{statuses:?}"
    );
    statuses.iter().filter(|&&s| s == 200).count()
}

/// Two replicas counting in one Redis (embedded storage each: only the counts are
/// shared here; the replica tests share everything).
async fn two_replicas(redis: &TestRedis) -> (TestServer, TestServer, [tempfile::TempDir; 2]) {
    let url = redis.url();
    let config = |c: &mut feishu_media_server::ServerConfig| {
        c.limits = feishu_media_server::config::LimitsBackend::Redis(url.clone());
    };
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let embedded = feishu_media_testkit::Backend::Embedded;
    let a = TestServer::start_configured(embedded, dirs[0].path(), world(), config).await;
    let b = TestServer::start_configured(embedded, dirs[1].path(), world(), config).await;
    (a, b, dirs)
}

#[tokio::test]
async fn the_redis_counter_passes_the_suite() {
    let redis = TestRedis::start();
    let counter = feishu_media_server::limits::Shared::connect(&redis.url(), 8)
        .await
        .unwrap();
    let meta = feishu_media_store::memory::MemoryMeta::new();
    feishu_media_server::limits::counter_suite(&counter, &meta, "cli|t|download").await;
}

/// Two replicas' counters, one key, as fast as they can for `secs`: (allowed, calls,
/// round trips to Redis).
async fn hammer(limit: feishu_media_store::RateLimit, secs: f64) -> (u64, u64, u64, f64) {
    use feishu_media_server::limits::{Hit, Now, RateCounter, Shared};
    let redis = TestRedis::start();
    let a = Shared::connect(&redis.url(), 8).await.unwrap();
    let b = Shared::connect(&redis.url(), 8).await.unwrap();
    let meta = feishu_media_store::memory::MemoryMeta::new();
    let now = Now {
        unix_ms: 0,
        day: 0,
        secs_to_day_end: 1,
    };
    let started = std::time::Instant::now();
    let (mut allowed, mut calls) = (0u64, 0u64);
    while started.elapsed().as_secs_f64() < secs {
        for counter in [&a, &b] {
            calls += 1;
            if counter.hit("k", limit, now, &meta).await.unwrap() == Hit::Allowed {
                allowed += 1;
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let stats = std::process::Command::new("redis-cli")
        .args(["-p", &redis.port.to_string(), "INFO", "commandstats"])
        .output()
        .unwrap();
    let scripts = String::from_utf8_lossy(&stats.stdout)
        .lines()
        .filter(|l| l.starts_with("cmdstat_evalsha:") || l.starts_with("cmdstat_eval:"))
        .filter_map(|l| {
            l.split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum();
    (allowed, calls, scripts, elapsed)
}

/// Under the limit at a high rate: every request allowed, in a few round trips (leases).
#[tokio::test]
async fn leases_at_high_rates_cut_round_trips_to_redis() {
    // Far above what two counters in one task can ask (about 2 million a second).
    let limit = feishu_media_store::RateLimit {
        per_second: 100_000_000,
        per_day: u32::MAX,
    };
    let (allowed, calls, scripts, _) = hammer(limit, 1.0).await;
    assert_eq!(allowed, calls, "under the limit, nothing is refused");
    assert!(
        scripts * 4 < calls,
        "{scripts} round trips for {calls} requests"
    );
}

/// Over the limit at a high rate: the two replicas together never admit more than the
/// burst plus the rate for the time elapsed, nor starve the key.
#[tokio::test]
async fn leases_and_kept_refusals_never_pass_the_limit() {
    let limit = feishu_media_store::RateLimit {
        per_second: 500,
        per_day: 100_000_000,
    };
    let (allowed, calls, scripts, secs) = hammer(limit, 1.0).await;
    let most = 500.0 + 500.0 * secs;
    assert!(
        (allowed as f64) <= most + 1.0,
        "{allowed} allowed in {secs:.2} s; at most {most}"
    );
    assert!(
        allowed as f64 >= 0.5 * most,
        "{allowed} of {calls} allowed: starved"
    );
    assert!(
        scripts * 2 < calls,
        "refusals kept: {scripts} round trips for {calls}"
    );
}

#[tokio::test]
async fn replicas_sharing_redis_hold_five_per_second_together() {
    let redis = TestRedis::start();
    let (a, b, _dirs) = two_replicas(&redis).await;
    // Each replica issues its own token (their secrets differ); both count for cli_lim.
    let (ta, tb) = (
        a.tenant_token("cli_lim", "sec-l").await,
        b.tenant_token("cli_lim", "sec-l").await,
    );
    let allowed = burst(&[(&a, &ta), (&b, &tb)], 10).await;
    assert!(
        (5..=6).contains(&allowed),
        "five for the fleet (six if the burst outlasts 200 ms), not each: {allowed}"
    );
    // Without Redis, each replica would have allowed its own five.
    let alone = server().await;
    let t = alone.tenant_token("cli_lim", "sec-l").await;
    for _ in 0..5 {
        assert_eq!(
            get(&alone.download_url("boxHundred"), &t, &[])
                .await
                .status(),
            200
        );
    }
}

#[tokio::test]
async fn without_redis_requests_go_on_counted_per_replica_and_share_again_when_it_returns() {
    let redis = TestRedis::start();
    let (a, b, _dirs) = two_replicas(&redis).await;
    let (ta, tb) = (
        a.tenant_token("cli_lim", "sec-l").await,
        b.tenant_token("cli_lim", "sec-l").await,
    );
    let port = redis.kill();
    let started = std::time::Instant::now();
    let resp = get(&a.download_url("boxHundred"), &ta, &[]).await;
    assert_eq!(resp.status(), 200, "served, counted in process");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // Back on the same port: counted in Redis again (the replicas reconnect by themselves).
    let redis = TestRedis::start_on(port);
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let allowed = burst(&[(&a, &ta), (&b, &tb)], 10).await;
        if (5..=6).contains(&allowed) {
            break;
        }
        // Still reconnecting (each replica allowed its own five): the window restarts
        // after a second.
        assert!(std::time::Instant::now() < deadline, "{allowed} allowed");
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    drop(redis);
}

#[tokio::test]
async fn an_unreachable_redis_is_refused_at_start_naming_the_setting() {
    let config = feishu_media_server::ServerConfig {
        limits: feishu_media_server::config::LimitsBackend::Redis(
            "redis://user:s3cret@127.0.0.1:1".into(),
        ),
        ..Default::default()
    };
    let e = feishu_media_server::AppState::open(config)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("--limits"), "{e}");
    assert!(!e.contains("s3cret"), "credentials never appear: {e}");
}

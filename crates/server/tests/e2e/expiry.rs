//! Expiry on the server's one clock: access tokens, upload sessions and temporary links
//! expire when the test advances the clock, with no sleeping and no seeded lifetimes.

use crate::support::*;
use crate::tmp_urls::link;
use crate::uploads::{part, prepare};
use std::time::Duration;

const MIN: u64 = 60;

#[tokio::test]
async fn tenant_tokens_are_renewed_in_their_last_half_hour_and_die_after_two_hours() {
    let s = server().await;
    let url = s.download_url("boxHundred");
    let first = s.tenant_token("cli_a", "sec-a").await;
    s.state.clock.advance(Duration::from_secs(89 * MIN));
    assert_eq!(
        s.tenant_token("cli_a", "sec-a").await,
        first,
        "31 min left: the same"
    );
    s.state.clock.advance(Duration::from_secs(2 * MIN));
    let second = s.tenant_token("cli_a", "sec-a").await;
    assert_ne!(second, first, "29 min left: a new one");
    assert_eq!(
        get(&url, &first, &[]).await.status(),
        200,
        "the old one still works"
    );
    s.state.clock.advance(Duration::from_secs(30 * MIN));
    expect_error(get(&url, &first, &[]).await, 400, 99991663).await;
    assert_eq!(get(&url, &second, &[]).await.status(), 200);
    s.state.clock.advance(Duration::from_secs(91 * MIN));
    expect_error(get(&url, &second, &[]).await, 400, 99991663).await;
}

#[tokio::test]
async fn user_tokens_expire_with_their_own_code() {
    let s = server().await;
    let url = s.download_url("boxHundred");
    assert_eq!(get(&url, "u-alice", &[]).await.status(), 200);
    s.state.clock.advance(Duration::from_secs(7200));
    expect_error(get(&url, "u-alice", &[]).await, 400, 99991677).await;
}

#[tokio::test]
async fn upload_sessions_expire_after_a_day() {
    let s = server().await;
    let token = s.tenant_token("cli_up", "sec-u").await;
    let id = expect_data(prepare(&s, &token, "x.bin", 10).await).await["upload_id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.state.clock.advance(Duration::from_secs(23 * 3600));
    let token = s.tenant_token("cli_up", "sec-u").await;
    expect_data(part(&s, &token, &id, 0, &[1u8; 10], None).await).await;
    s.state.clock.advance(Duration::from_secs(3600));
    let token = s.tenant_token("cli_up", "sec-u").await;
    expect_error(
        part(&s, &token, &id, 0, &[1u8; 10], None).await,
        400,
        1061021,
    )
    .await;
}

#[tokio::test]
async fn temporary_links_expire_after_a_day() {
    let s = server().await;
    let token = s.tenant_token("cli_a", "sec-a").await;
    let link = link(&s, &token, "boxHundred").await;
    s.state.clock.advance(Duration::from_secs(24 * 3600 - 5));
    assert_eq!(client().get(&link).send().await.unwrap().status(), 200);
    s.state.clock.advance(Duration::from_secs(5));
    expect_error(client().get(&link).send().await.unwrap(), 403, 1061004).await;
}

//! `/metrics` and `/openapi.json`.

use crate::support::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn metrics_count_requests_bytes_limits_and_faults() {
    let s = admin_server().await;
    let url = s.download_url("boxHundred");
    for _ in 0..3 {
        assert_eq!(get(&url, "u-alice", &[]).await.status(), 200);
    }
    let _ = get(&s.download_url("boxNoSuch"), "u-alice", &[]).await;
    let lim = s.tenant_token("cli_lim", "sec-l").await;
    for _ in 0..6 {
        let _ = get(&url, &lim, &[]).await;
    }
    expect_data(
        admin(
            &s,
            Method::PUT,
            "/faults",
            Some(json!([{"endpoint": "download", "times": 1, "action": {"delay_ms": 1}}])),
        )
        .await,
    )
    .await;
    let _ = get(&url, "u-alice", &[]).await;

    let resp = client().get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(
        header(resp.headers(), "content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = resp.text().await.unwrap();
    let value = |series: &str| -> u64 {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(series)
                    .and_then(|rest| rest.trim().parse().ok())
            })
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    };
    assert_eq!(
        value(r#"feishu_media_requests_total{endpoint="download",status="200"}"#),
        3 + 5 + 1
    );
    assert_eq!(
        value(r#"feishu_media_requests_total{endpoint="download",status="404"}"#),
        1
    );
    assert_eq!(
        value(r#"feishu_media_requests_total{endpoint="download",status="429"}"#),
        1
    );
    assert_eq!(
        value(r#"feishu_media_rate_limited_total{endpoint="download"}"#),
        1
    );
    assert_eq!(
        value(r#"feishu_media_faults_fired_total{endpoint="download"}"#),
        1
    );
    assert!(value(r#"feishu_media_response_bytes_total{endpoint="download"}"#) >= 900);
    assert_eq!(
        value(r#"feishu_media_request_duration_seconds_count{endpoint="download"}"#),
        11
    );
    assert_eq!(
        value(r#"feishu_media_request_duration_seconds_bucket{endpoint="download",le="+Inf"}"#),
        11
    );
}

/// The public routes, from the endpoint table: what the OpenAPI document must describe,
/// exactly. Feishu's API is every row but the health, metrics, OpenAPI and admin ones;
/// a path with a `{param}` is written as OpenAPI writes it; rows the sendfile front
/// answers are documented for HEAD too.
fn public() -> Vec<(String, String)> {
    use feishu_media_proto::endpoint::{Access, ENDPOINTS, Method as M, PathPattern};
    let mut out = Vec::new();
    for row in ENDPOINTS {
        if matches!(row.access, Access::Public | Access::AdminToken) {
            continue;
        }
        let path = match row.path {
            PathPattern::Exact(p) => p.to_owned(),
            PathPattern::Param { prefix, suffix } => {
                format!("{prefix}{{{}}}{suffix}", param_name(prefix))
            }
            PathPattern::Param2 {
                prefix,
                middle,
                suffix,
            } => format!("{prefix}{{app_token}}{middle}{{table_id}}{suffix}"),
            PathPattern::Prefix(p) => panic!("a public prefix row: {p}"),
        };
        let method = match row.method {
            M::Get => "get",
            M::Post => "post",
            M::Any => panic!("a public row of any method: {}", row.name),
        };
        out.push((method.to_owned(), path.clone()));
        if row.front {
            out.push(("head".to_owned(), path));
        }
    }
    out
}

/// What Feishu's reference calls a path's parameter.
fn param_name(prefix: &str) -> &'static str {
    use feishu_media_proto::endpoint::{
        BITABLE_APPS, DOCX_DOCUMENTS, SPREADSHEETS, SPREADSHEETS_V3,
    };
    match prefix {
        DOCX_DOCUMENTS => "document_id",
        SPREADSHEETS | SPREADSHEETS_V3 => "spreadsheet_token",
        BITABLE_APPS => "app_token",
        _ => "file_token",
    }
}

#[tokio::test]
async fn the_openapi_document_matches_the_routes() {
    let s = server().await;
    let doc: serde_json::Value = client()
        .get(s.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            documented.push((method.clone(), path.clone()));
        }
    }
    documented.sort();
    let mut public = public();
    public.sort();
    assert_eq!(documented, public);
    // Every documented operation is really routed: no plain-text 404 for any of them.
    for (method, path) in &documented {
        let mut url = s.url(&path.replace("{file_token}", "boxHundred"));
        for p in [
            "{document_id}",
            "{spreadsheet_token}",
            "{app_token}",
            "{table_id}",
        ] {
            url = url.replace(p, "x");
        }
        let resp = call(method.to_uppercase().parse().unwrap(), &url, None, &[]).await;
        let ct = header(resp.headers(), "content-type")
            .unwrap_or_default()
            .to_owned();
        assert!(
            !(resp.status() == 404 && ct.starts_with("text/plain")),
            "{method} {path} is not routed"
        );
    }
    // And an undocumented neighbour is not.
    let resp = call(Method::DELETE, &s.download_url("boxHundred"), None, &[]).await;
    assert_eq!(resp.status(), 404);
}

//! The documents that hold the media (documents-and-oauth §7–10): docx blocks, sheet
//! values, bitable records and drive files, listed as Feishu lists them and downloaded
//! through the tokens and URLs the listings hand out.

use crate::support::*;
use serde_json::{Value, json};

const PNG2: &[u8] = b"\x89PNG\r\n\x1a\nsecond image";

pub fn docs_world() -> Value {
    json!({
        "apps": [
            {"app_id": "cli_d", "app_secret": "sec-d", "tenant_key": "acme",
             "scopes": ["docx:document:readonly", "sheets:spreadsheet:readonly", "bitable:app:readonly",
                        "drive:drive:readonly", "docs:document.media:upload", "drive:file:download"],
             "rate_limit": null},
            {"app_id": "cli_slow", "app_secret": "sec-s", "tenant_key": "acme",
             "scopes": ["docx:document:readonly", "drive:drive:readonly", "bitable:app:readonly"],
             "rate_limit": {"per_second": 2, "per_day": 10000}},
            {"app_id": "cli_none", "app_secret": "sec-n", "tenant_key": "acme",
             "scopes": ["docx:document:readonly", "sheets:spreadsheet:readonly", "bitable:app:readonly",
                        "drive:drive:readonly"]},
            {"app_id": "cli_noscope", "app_secret": "sec-x", "tenant_key": "acme", "scopes": ["drive:drive:readonly"]},
            {"app_id": "cli_far", "app_secret": "sec-f", "tenant_key": "globex",
             "scopes": ["docx:document:readonly", "drive:drive:readonly"]}
        ],
        "users": [{"user_id": "ou_alice", "tenant_key": "acme", "name": "Alice"}],
        "documents": [
            {"token": "doxD", "type": "docx", "tenant_key": "acme", "title": "设计文档",
             "owner": "user:ou_alice",
             "members": [{"principal": "app:cli_d", "role": "edit"}, {"principal": "app:cli_slow", "role": "view"},
                         {"principal": "app:cli_noscope", "role": "view"}, {"principal": "app:cli_far", "role": "view"}],
             "blocks": [
                {"block_id": "blkH1", "type": "heading1", "text": "架构"},
                {"block_id": "blkImg", "type": "image", "file_token": "boxImg1", "width": 640, "height": 480},
                {"block_id": "blkT1", "type": "text", "text": "见附件"},
                {"block_id": "blkF1", "type": "file", "file_token": "boxFile1"}
             ]},
            {"token": "shtD", "type": "sheet", "tenant_key": "acme",
             "members": [{"principal": "app:cli_d", "role": "view"}],
             "sheets": [{"sheet_id": "sht1", "title": "Sheet1",
                         "cells": {"A1": "名称", "B1": "附件", "A2": "Q3", "B2": {"attachment": "boxSheetFile"},
                                   "C2": {"image": "boxSheetImg"}, "D3": 42}}]},
            {"token": "basD", "type": "bitable", "tenant_key": "acme", "advanced_permission": true,
             "members": [{"principal": "app:cli_d", "role": "manage"}, {"principal": "app:cli_slow", "role": "manage"}],
             "tables": [{"table_id": "tblD", "name": "报表",
                         "fields": [{"field_id": "fldName", "name": "名称", "type": "text"},
                                    {"field_id": "fldN", "name": "数量", "type": "number"},
                                    {"field_id": "fldAtt", "name": "附件", "type": "attachment"}],
                         "records": [{"record_id": "recA", "fields": {"名称": "Q3", "数量": 3}},
                                     {"record_id": "recB", "fields": {"名称": "Q4 plan", "数量": 10}},
                                     {"record_id": "recC", "fields": {"名称": "empty"}}]}]},
            {"token": "basOpenD", "type": "bitable", "tenant_key": "acme",
             "members": [{"principal": "app:cli_d", "role": "view"}]},
            {"token": "boxcnDrive", "type": "file", "tenant_key": "acme", "file_name": "合同.pdf",
             "content_base64": b64(&hundred()),
             "members": [{"principal": "app:cli_d", "role": "view"}, {"principal": "app:cli_slow", "role": "view"}]}
        ],
        "media": [
            {"file_token": "boxImg1", "document": "doxD", "parent_type": "docx_image", "parent_node": "blkImg",
             "file_name": "arch.png", "content_base64": b64(PNG)},
            {"file_token": "boxFile1", "document": "doxD", "parent_type": "docx_file", "parent_node": "blkF1",
             "file_name": "notes.txt", "content_text": "hello notes"},
            {"file_token": "boxImg2", "document": "doxD", "parent_type": "docx_image", "parent_node": "blkExtra",
             "file_name": "second.png", "content_base64": b64(PNG2)},
            {"file_token": "boxSheetFile", "document": "shtD", "parent_type": "sheet_file",
             "file_name": "q3.xlsx", "content_text": "sheet attachment"},
            {"file_token": "boxSheetImg", "document": "shtD", "parent_type": "sheet_image",
             "file_name": "cell.png", "content_base64": b64(PNG)},
            {"file_token": "boxAttA", "document": "basD", "parent_type": "bitable_file",
             "file_name": "a.pdf", "content_text": "attachment of A",
             "bitable": {"table_id": "tblD", "field_id": "fldAtt", "record_id": "recA"}},
            {"file_token": "boxAttB", "document": "basD", "parent_type": "bitable_image",
             "file_name": "b.png", "content_base64": b64(PNG2),
             "bitable": {"table_id": "tblD", "field_id": "fldAtt", "record_id": "recB"}},
            {"file_token": "boxOpenAtt", "document": "basOpenD", "parent_type": "bitable_file",
             "file_name": "open.txt", "content_text": "open attachment",
             "bitable": {"table_id": "tblAuto", "field_id": "fldAuto", "record_id": "recAuto"}}
        ]
    })
}

fn b64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

async fn docs_server() -> (TestServer, String) {
    let s = TestServer::start(docs_world()).await;
    let t = s.tenant_token("cli_d", "sec-d").await;
    (s, t)
}

async fn bytes_of(resp: reqwest::Response) -> Vec<u8> {
    assert_eq!(resp.status(), 200);
    resp.bytes().await.unwrap().to_vec()
}

#[tokio::test]
async fn a_docx_lists_its_blocks_page_by_page_and_its_media_download() {
    let (s, t) = docs_server().await;
    let doc = expect_data(get(&s.url("/open-apis/docx/v1/documents/doxD"), &t, &[]).await).await;
    assert_eq!(doc["document"]["document_id"], "doxD");
    assert_eq!(doc["document"]["title"], "设计文档");
    assert!(doc["document"]["revision_id"].as_u64().unwrap() >= 1);

    let mut items = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut url = s.url("/open-apis/docx/v1/documents/doxD/blocks?page_size=2");
        if let Some(t) = &token {
            url += &format!("&page_token={t}");
        }
        let data = expect_data(get(&url, &t, &[]).await).await;
        pages += 1;
        let page = data["items"].as_array().unwrap();
        assert!(page.len() <= 2);
        items.extend(page.iter().cloned());
        if data["has_more"] == true {
            token = Some(data["page_token"].as_str().unwrap().to_owned());
        } else {
            assert!(
                data.get("page_token").is_none(),
                "no page_token on the last page"
            );
            break;
        }
    }
    assert_eq!(pages, 3, "six blocks in pages of two");
    let ids: Vec<&str> = items
        .iter()
        .map(|b| b["block_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["doxD", "blkH1", "blkImg", "blkT1", "blkF1", "blkExtra"]
    );
    let types: Vec<u64> = items
        .iter()
        .map(|b| b["block_type"].as_u64().unwrap())
        .collect();
    assert_eq!(types, [1, 3, 27, 2, 23, 27]);
    assert_eq!(
        items[0]["children"],
        json!(["blkH1", "blkImg", "blkT1", "blkF1", "blkExtra"])
    );
    assert_eq!(
        items[1]["heading1"]["elements"][0]["text_run"]["content"],
        "架构"
    );
    assert_eq!(items[2]["image"]["token"], "boxImg1");
    assert_eq!(items[2]["image"]["width"], 640);
    assert_eq!(items[2]["parent_id"], "doxD");
    assert_eq!(items[4]["file"]["token"], "boxFile1");
    assert_eq!(items[4]["file"]["name"], "notes.txt");
    assert_eq!(
        items[5]["image"]["token"], "boxImg2",
        "a media placed by parent_node"
    );

    let want: [(&str, &[u8]); 3] = [
        ("boxImg1", PNG),
        ("boxFile1", b"hello notes"),
        ("boxImg2", PNG2),
    ];
    for (token, bytes) in want {
        assert_eq!(
            bytes_of(get(&s.download_url(token), &t, &[]).await).await,
            bytes
        );
    }

    // One page holds them all by default.
    let data =
        expect_data(get(&s.url("/open-apis/docx/v1/documents/doxD/blocks"), &t, &[]).await).await;
    assert_eq!(data["items"].as_array().unwrap().len(), 6);
    assert_eq!(data["has_more"], false);
}

#[tokio::test]
async fn an_upload_into_a_docx_block_appears_in_its_listing() {
    let (s, t) = docs_server().await;
    let up = s.url("/open-apis/drive/v1/medias/upload_all");
    let size = PNG.len().to_string();
    let resp = post_multipart(
        &up,
        &t,
        &[
            ("file_name", None, b"up.png"),
            ("parent_type", None, b"docx_image"),
            ("parent_node", None, b"blkNew"),
            ("size", None, size.as_bytes()),
            ("extra", None, br#"{"drive_route_token":"doxD"}"#),
            ("file", Some("up.png"), PNG),
        ],
    )
    .await;
    let token = expect_data(resp).await["file_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let data =
        expect_data(get(&s.url("/open-apis/docx/v1/documents/doxD/blocks"), &t, &[]).await).await;
    let last = data["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["block_id"], "blkNew");
    assert_eq!(last["block_type"], 27);
    assert_eq!(last["image"]["token"], token.as_str());
    assert_eq!(
        bytes_of(get(&s.download_url(&token), &t, &[]).await).await,
        PNG
    );
    let doc = expect_data(get(&s.url("/open-apis/docx/v1/documents/doxD"), &t, &[]).await).await;
    assert!(doc["document"]["revision_id"].as_u64().unwrap() > 1);
}

#[tokio::test]
async fn docx_errors_are_the_docx_familys() {
    let (s, t) = docs_server().await;
    let blocks =
        |doc: &str, q: &str| s.url(&format!("/open-apis/docx/v1/documents/{doc}/blocks{q}"));
    expect_error(get(&blocks("doxNope", ""), &t, &[]).await, 404, 1770002).await;
    expect_error(
        get(&s.url("/open-apis/docx/v1/documents/shtD"), &t, &[]).await,
        404,
        1770002,
    )
    .await;
    expect_error(
        get(&blocks("doxD", "?page_token=blkNope"), &t, &[]).await,
        400,
        1770022,
    )
    .await;
    for q in [
        "?page_size=0",
        "?page_size=501",
        "?page_size=x",
        "?document_revision_id=abc",
    ] {
        expect_error(get(&blocks("doxD", q), &t, &[]).await, 400, 1770001).await;
    }
    let none = s.tenant_token("cli_none", "sec-n").await;
    expect_error(get(&blocks("doxD", ""), &none, &[]).await, 403, 1770032).await;
    let far = s.tenant_token("cli_far", "sec-f").await;
    expect_error(get(&blocks("doxD", ""), &far, &[]).await, 403, 1770032).await;
    let noscope = s.tenant_token("cli_noscope", "sec-x").await;
    expect_error(get(&blocks("doxD", ""), &noscope, &[]).await, 400, 99991672).await;

    // Over its limit the docx family answers HTTP 400, code 99991400, with the headers.
    let slow = s.tenant_token("cli_slow", "sec-s").await;
    let mut refused = None;
    for _ in 0..6 {
        let resp = get(&blocks("doxD", ""), &slow, &[]).await;
        if resp.status() != 200 {
            refused = Some(resp);
            break;
        }
    }
    let (h, _) = expect_error(refused.expect("a refusal past 2/s"), 400, 99991400).await;
    assert_eq!(header(&h, "x-ogw-ratelimit-limit"), Some("2"));
    assert!(header(&h, "x-ogw-ratelimit-reset").is_some());
}

#[tokio::test]
async fn sheet_values_carry_attachment_and_image_tokens() {
    let (s, t) = docs_server().await;
    let url = |q: &str| {
        s.url(&format!(
            "/open-apis/sheets/v2/spreadsheets/shtD/values_batch_get?{q}"
        ))
    };
    let data = expect_data(get(&url("ranges=sht1!A1:C2,sht1"), &t, &[]).await).await;
    assert_eq!(data["spreadsheetToken"], "shtD");
    let ranges = data["valueRanges"].as_array().unwrap();
    assert_eq!(ranges[0]["range"], "sht1!A1:C2");
    assert_eq!(ranges[0]["majorDimension"], "ROWS");
    let v = &ranges[0]["values"];
    assert_eq!(v[0], json!(["名称", "附件", null]));
    assert_eq!(v[1][0], "Q3");
    assert_eq!(v[1][1]["type"], "attachment");
    assert_eq!(v[1][1]["fileToken"], "boxSheetFile");
    assert_eq!(v[1][1]["size"], 16);
    assert_eq!(v[1][1]["text"], "q3.xlsx");
    assert_eq!(v[1][2]["type"], "embed-image");
    assert_eq!(v[1][2]["fileToken"], "boxSheetImg");
    // A bare sheet id is its used area.
    assert_eq!(ranges[1]["range"], "sht1!A1:D3");
    assert_eq!(ranges[1]["values"][2][3], 42);
    assert_eq!(data["totalCells"], 6 + 12);
    let token = v[1][1]["fileToken"].as_str().unwrap();
    assert_eq!(
        bytes_of(get(&s.download_url(token), &t, &[]).await).await,
        b"sheet attachment"
    );

    // A range past the cells in use is cut to them; ToString renders numbers as text.
    let data = expect_data(
        get(
            &url("ranges=sht1!D1:D1000000&valueRenderOption=ToString"),
            &t,
            &[],
        )
        .await,
    )
    .await;
    assert_eq!(data["valueRanges"][0]["range"], "sht1!D1:D3");
    assert_eq!(data["valueRanges"][0]["values"][2][0], "42");

    expect_error(get(&url("ranges=nosheet!A1:B2"), &t, &[]).await, 400, 90215).await;
    for q in [
        "ranges=sht1!A0:B2",
        "ranges=",
        "",
        "ranges=sht1&valueRenderOption=Bogus",
    ] {
        expect_error(get(&url(q), &t, &[]).await, 400, 90202).await;
    }
    expect_error(
        get(
            &s.url("/open-apis/sheets/v2/spreadsheets/shtNope/values_batch_get?ranges=sht1"),
            &t,
            &[],
        )
        .await,
        404,
        91402,
    )
    .await;
    let none = s.tenant_token("cli_none", "sec-n").await;
    expect_error(get(&url("ranges=sht1"), &none, &[]).await, 403, 91403).await;
}

/// `code` and `msg` of a bitable answer, which is HTTP 200 even for errors.
async fn bitable_code(resp: reqwest::Response) -> i64 {
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    body["code"].as_i64().unwrap()
}

#[tokio::test]
async fn bitable_records_carry_attachments_whose_urls_download() {
    let (s, t) = docs_server().await;
    let search = |app: &str, table: &str, q: &str| {
        s.url(&format!(
            "/open-apis/bitable/v1/apps/{app}/tables/{table}/records/search{q}"
        ))
    };
    // Page by page, one record each.
    let mut records = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let q = match &token {
            Some(t) => format!("?page_size=1&page_token={t}"),
            None => "?page_size=1".into(),
        };
        let data = expect_data(post_json(&search("basD", "tblD", &q), &t, &json!({})).await).await;
        assert_eq!(data["total"], 3);
        records.extend(data["items"].as_array().unwrap().iter().cloned());
        match data["has_more"].as_bool().unwrap() {
            true => token = Some(data["page_token"].as_str().unwrap().into()),
            false => break,
        }
    }
    let ids: Vec<&str> = records
        .iter()
        .map(|r| r["record_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["recA", "recB", "recC"]);
    assert_eq!(
        records[0]["fields"]["名称"],
        json!([{"text": "Q3", "type": "text"}])
    );
    assert_eq!(records[0]["fields"]["数量"], 3);
    assert!(
        records[2]["fields"].get("附件").is_none(),
        "no attachment, no key"
    );

    let att = &records[0]["fields"]["附件"][0];
    assert_eq!(att["file_token"], "boxAttA");
    assert_eq!(att["name"], "a.pdf");
    assert_eq!(att["size"], 15);
    assert_eq!(att["type"], "application/pdf");
    let url = att["url"].as_str().unwrap();
    let tmp_url = att["tmp_url"].as_str().unwrap();
    let base = s.url("");
    assert!(
        url.starts_with(&format!(
            "{base}/open-apis/drive/v1/medias/boxAttA/download?extra="
        )),
        "{url}"
    );
    assert!(
        tmp_url.starts_with(&format!(
            "{base}/open-apis/drive/v1/medias/batch_get_tmp_download_url?file_tokens=boxAttA&extra="
        )),
        "{tmp_url}"
    );
    let extra = url.split_once("extra=").unwrap().1;
    let extra = percent_encoding::percent_decode_str(extra)
        .decode_utf8()
        .unwrap();
    let extra: Value = serde_json::from_str(&extra).unwrap();
    assert_eq!(extra["bitablePerm"]["tableId"], "tblD");
    assert!(extra["bitablePerm"]["rev"].is_u64());

    // The url downloads as it is; without its extra the advanced bitable refuses.
    assert_eq!(bytes_of(get(url, &t, &[]).await).await, b"attachment of A");
    expect_error(get(&s.download_url("boxAttA"), &t, &[]).await, 400, 1061002).await;
    // The tmp_url answers a link that downloads with no token at all.
    let links = expect_data(get(tmp_url, &t, &[]).await).await;
    let link = links["tmp_download_urls"][0]["tmp_download_url"]
        .as_str()
        .unwrap();
    let resp = client().get(link).send().await.unwrap();
    assert_eq!(bytes_of(resp).await, b"attachment of A");

    // A bitable without advanced permissions: plain URLs; undeclared tables, fields
    // and records come from the media placed in them.
    let data =
        expect_data(post_json(&search("basOpenD", "tblAuto", ""), &t, &json!({})).await).await;
    let att = &data["items"][0]["fields"]["fldAuto"][0];
    assert_eq!(data["items"][0]["record_id"], "recAuto");
    assert_eq!(att["url"], s.download_url("boxOpenAtt"));
    assert_eq!(
        bytes_of(get(att["url"].as_str().unwrap(), &t, &[]).await).await,
        b"open attachment"
    );
}

#[tokio::test]
async fn bitable_filters_sorts_and_errors() {
    let (s, t) = docs_server().await;
    let url = s.url("/open-apis/bitable/v1/apps/basD/tables/tblD/records/search");
    let ids = |data: &Value| -> Vec<String> {
        data["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["record_id"].as_str().unwrap().to_owned())
            .collect()
    };
    for (filter, want) in [
        (
            json!({"conjunction": "and", "conditions": [{"field_name": "名称", "operator": "is", "value": ["Q3"]}]}),
            vec!["recA"],
        ),
        (
            json!({"conditions": [{"field_name": "名称", "operator": "contains", "value": ["Q"]}]}),
            vec!["recA", "recB"],
        ),
        (
            json!({"conditions": [{"field_name": "附件", "operator": "isEmpty", "value": []}]}),
            vec!["recC"],
        ),
        (
            json!({"conditions": [{"field_name": "附件", "operator": "isNotEmpty"}]}),
            vec!["recA", "recB"],
        ),
        (
            json!({"conditions": [{"field_name": "数量", "operator": "isGreater", "value": ["5"]}]}),
            vec!["recB"],
        ),
        (
            json!({"conjunction": "or", "conditions": [
            {"field_name": "名称", "operator": "is", "value": ["empty"]},
            {"field_name": "数量", "operator": "is", "value": ["3"]}]}),
            vec!["recA", "recC"],
        ),
        (
            json!({"conditions": [{"field_name": "名称", "operator": "isNot", "value": ["Q3"]}]}),
            vec!["recB", "recC"],
        ),
    ] {
        let data = expect_data(post_json(&url, &t, &json!({"filter": filter})).await).await;
        assert_eq!(ids(&data), want, "{filter}");
        assert_eq!(data["total"], want.len());
    }
    let data = expect_data(
        post_json(
            &url,
            &t,
            &json!({"sort": [{"field_name": "数量", "desc": true}], "field_names": ["名称"]}),
        )
        .await,
    )
    .await;
    assert_eq!(ids(&data), ["recB", "recA", "recC"]);
    assert!(
        data["items"][0]["fields"].get("数量").is_none(),
        "only the fields asked for"
    );

    for (body, code) in [
        (
            json!({"filter": {"conditions": [{"field_name": "nope", "operator": "is", "value": ["x"]}]}}),
            1254018,
        ),
        (
            json!({"filter": {"conditions": [{"field_name": "名称", "operator": "like", "value": ["x"]}]}}),
            1254018,
        ),
        (
            json!({"filter": {"conjunction": "xor", "conditions": []}}),
            1254018,
        ),
        (
            json!({"filter": {"conditions": [{"field_name": "附件", "operator": "contains", "value": ["x"]}]}}),
            1254018,
        ),
        (json!({"field_names": ["nope"]}), 1254045),
        (json!({"sort": [{"field_name": "nope"}]}), 1254045),
        (json!({"filter": "not an object"}), 1254000),
    ] {
        assert_eq!(
            bitable_code(post_json(&url, &t, &body).await).await,
            code,
            "{body}"
        );
    }
    let raw = client()
        .post(&url)
        .header("Authorization", format!("Bearer {t}"))
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bitable_code(raw).await, 1254000);
    assert_eq!(
        bitable_code(post_json(&format!("{url}?page_token=recNope"), &t, &json!({})).await).await,
        1254000
    );
    assert_eq!(
        bitable_code(post_json(&format!("{url}?page_size=501"), &t, &json!({})).await).await,
        1254000
    );
    let other = s.url("/open-apis/bitable/v1/apps/basD/tables/tblNope/records/search");
    assert_eq!(
        bitable_code(post_json(&other, &t, &json!({})).await).await,
        1254004
    );
    let other = s.url("/open-apis/bitable/v1/apps/basNope/tables/tblD/records/search");
    assert_eq!(
        bitable_code(post_json(&other, &t, &json!({})).await).await,
        1254040
    );
    let none = s.tenant_token("cli_none", "sec-n").await;
    assert_eq!(
        bitable_code(post_json(&url, &none, &json!({})).await).await,
        1254302
    );
    // Nothing changed: the first search still answers the same.
    let data = expect_data(post_json(&url, &t, &json!({})).await).await;
    assert_eq!(ids(&data), ["recA", "recB", "recC"]);
}

#[tokio::test]
async fn the_bitable_family_allows_four_times_the_media_rate() {
    // Frozen: the window does not refill while the burst runs, however slowly (a loaded
    // CI machine let 11 through on real time).
    let s = TestServer::start_with_config(docs_world(), |c| c.frozen_clock = true).await;
    let slow = s.tenant_token("cli_slow", "sec-s").await;
    let url = s.url("/open-apis/bitable/v1/apps/basD/tables/tblD/records/search");
    let mut allowed = 0;
    let mut refused = None;
    for _ in 0..20 {
        let resp = post_json(&url, &slow, &json!({})).await;
        if resp.status() == 429 {
            refused = Some(resp);
            break;
        }
        allowed += 1;
    }
    // A burst of 2 × 4 = 8, and not one more.
    assert_eq!(allowed, 8);
    let (h, _) = expect_error(refused.expect("a 429"), 429, 99991400).await;
    assert_eq!(header(&h, "x-ogw-ratelimit-limit"), Some("8"));
}

#[tokio::test]
async fn a_drive_file_downloads_whole_by_range_and_by_validators() {
    let (s, t) = docs_server().await;
    let url = s.url("/open-apis/drive/v1/files/boxcnDrive/download");
    let resp = get(&url, &t, &[]).await;
    let h = resp.headers().clone();
    assert_eq!(bytes_of(resp).await, hundred());
    assert_eq!(header(&h, "content-type"), Some("application/pdf"));
    let disposition = String::from_utf8_lossy(h["content-disposition"].as_bytes()).into_owned();
    assert!(
        disposition.contains("filename*=UTF-8''%E5%90%88%E5%90%8C.pdf"),
        "{disposition}"
    );
    let etag = header(&h, "etag").unwrap().to_owned();

    let resp = get(&url, &t, &[("Range", "bytes=10-19")]).await;
    assert_eq!(resp.status(), 206);
    assert_eq!(
        header(resp.headers(), "content-range"),
        Some("bytes 10-19/100")
    );
    assert_eq!(
        resp.bytes().await.unwrap().to_vec(),
        hundred()[10..20].to_vec()
    );
    let resp = get(&url, &t, &[("If-None-Match", &etag)]).await;
    assert_eq!(resp.status(), 304);
    let head = call(reqwest::Method::HEAD, &url, Some(&t), &[]).await;
    assert_eq!(head.status(), 200);
    assert_eq!(header(head.headers(), "content-length"), Some("100"));

    // Files and media are downloaded each at their own path.
    expect_error(
        get(&s.download_url("boxcnDrive"), &t, &[]).await,
        404,
        1061003,
    )
    .await;
    expect_error(
        get(
            &s.url("/open-apis/drive/v1/files/boxImg1/download"),
            &t,
            &[],
        )
        .await,
        404,
        1061003,
    )
    .await;
    expect_error(
        get(
            &s.url("/open-apis/drive/v1/files/boxNope/download"),
            &t,
            &[],
        )
        .await,
        404,
        1061003,
    )
    .await;
    let none = s.tenant_token("cli_none", "sec-n").await;
    expect_error(get(&url, &none, &[]).await, 403, 1061004).await;

    // Over the limit: HTTP 200 with code 1061045, as documented for this endpoint.
    let slow = s.tenant_token("cli_slow", "sec-s").await;
    let mut refused = None;
    for _ in 0..6 {
        let resp = get(&url, &slow, &[]).await;
        if resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            == Some("application/json; charset=utf-8")
        {
            refused = Some(resp);
            break;
        }
    }
    let (h, _) = expect_error(refused.expect("refused past 2/s"), 200, 1061045).await;
    assert!(header(&h, "x-ogw-ratelimit-reset").is_some());
}

#[tokio::test]
async fn content_that_breaks_a_rule_is_refused_by_its_json_path() {
    use feishu_media_server::seed;
    let s = TestServer::start(docs_world()).await;
    let doc = |extra: Value| {
        let mut d = json!({"token": "doxNew", "type": "docx", "tenant_key": "acme"});
        d.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({"documents": [d]})
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            doc(json!({"blocks": [{"block_id": "b1", "type": "image", "file_token": "boxImg1"}]})),
            "documents[0].blocks[0].file_token: media \"boxImg1\" belongs to \"doxD\"",
        ),
        (
            doc(json!({"blocks": [{"block_id": "b1", "type": "image", "file_token": "boxNope"}]})),
            "documents[0].blocks[0].file_token: no media \"boxNope\"",
        ),
        (
            doc(json!({"blocks": [{"block_id": "b1", "type": "heading10", "text": "x"}]})),
            "documents[0].blocks[0].type",
        ),
        (
            doc(json!({"blocks": [{"block_id": "b1", "type": "text"}]})),
            "documents[0].blocks[0].text",
        ),
        (
            doc(
                json!({"blocks": [{"block_id": "b1", "type": "text", "text": "a"}, {"block_id": "b1", "type": "text", "text": "b"}]}),
            ),
            "documents[0].blocks[1].block_id: duplicate block",
        ),
        (
            doc(json!({"sheets": []})),
            "documents[0].sheets: only a sheet has sheets",
        ),
        (
            json!({"documents": [{"token": "shtNew", "type": "sheet", "tenant_key": "acme",
                "sheets": [{"sheet_id": "s1", "cells": {"A0": "x"}}]}]}),
            "documents[0].sheets[0].cells.A0",
        ),
        (
            json!({"documents": [{"token": "shtNew", "type": "sheet", "tenant_key": "acme",
                "sheets": [{"sheet_id": "s1", "cells": {"A1": [1]}}]}]}),
            "documents[0].sheets[0].cells.A1",
        ),
        (
            json!({"documents": [{"token": "basNew", "type": "bitable", "tenant_key": "acme",
                "tables": [{"table_id": "t1", "fields": [{"field_id": "f1", "name": "n", "type": "date"}]}]}]}),
            "documents[0].tables[0].fields[0].type",
        ),
        (
            json!({"documents": [{"token": "basNew", "type": "bitable", "tenant_key": "acme",
                "tables": [{"table_id": "t1", "fields": [{"field_id": "f1", "name": "n", "type": "number"}],
                            "records": [{"record_id": "r1", "fields": {"n": "not a number"}}]}]}]}),
            "documents[0].tables[0].records[0].fields.n",
        ),
        (
            json!({"documents": [{"token": "basNew", "type": "bitable", "tenant_key": "acme",
                "tables": [{"table_id": "t1", "records": [{"record_id": "r1", "fields": {"nope": 1}}]}]}]}),
            "documents[0].tables[0].records[0].fields.nope: the table has no field",
        ),
        (
            json!({"documents": [{"token": "boxcnF", "type": "file", "tenant_key": "acme", "content_text": "x"}]}),
            "documents[0].file_name: required for a drive file",
        ),
        (
            json!({"documents": [{"token": "boxcnF", "type": "file", "tenant_key": "acme", "file_name": "a"}]}),
            "documents[0]: give exactly one of path",
        ),
        (
            doc(json!({"file_name": "a.txt"})),
            "documents[0]: only a drive file",
        ),
        (
            json!({"media": [{"file_token": "boxX", "document": "boxcnDrive", "parent_type": "explorer",
                "file_name": "x", "content_text": "x"}]}),
            "media[0].parent_type",
        ),
        (
            json!({"media": [{"file_token": "boxcnDrive", "document": "doxD", "parent_type": "docx_file",
                "file_name": "x", "content_text": "x"}]}),
            "media[0].file_token: \"boxcnDrive\" is a drive file's token",
        ),
        (
            json!({"apps": [{"app_id": "cli_o", "app_secret": "s", "tenant_key": "acme", "scopes": [],
                "redirect_uris": ["javascript:alert(1)"]}]}),
            "apps[0].redirect_uris[0]",
        ),
    ];
    for (manifest, want) in cases {
        let got = match seed::parse(manifest.to_string().as_bytes()) {
            Ok(m) => seed::apply(&s.state, &m, Some(&s.dir))
                .await
                .expect_err("must be refused")
                .to_string(),
            Err(e) => e.to_string(),
        };
        assert!(got.starts_with(want), "{manifest}: {got}");
    }
    // Nothing of them was written.
    let t = s.tenant_token("cli_d", "sec-d").await;
    expect_error(
        get(&s.url("/open-apis/docx/v1/documents/doxNew"), &t, &[]).await,
        404,
        1770002,
    )
    .await;
    let data =
        expect_data(get(&s.url("/open-apis/docx/v1/documents/doxD/blocks"), &t, &[]).await).await;
    assert_eq!(data["items"].as_array().unwrap().len(), 6);
}

#[tokio::test]
async fn media_show_once_whether_declared_or_placed() {
    let s = TestServer::start(json!({
        "apps": [{"app_id": "cli_d", "app_secret": "sec-d", "tenant_key": "acme",
                  "scopes": ["docx:document:readonly", "bitable:app:readonly"], "rate_limit": null}],
        "documents": [
            {"token": "doxS", "type": "docx", "tenant_key": "acme",
             "members": [{"principal": "app:cli_d", "role": "view"}],
             "blocks": [{"block_id": "blkF", "type": "file", "file_token": "boxShown"}]},
            {"token": "basS", "type": "bitable", "tenant_key": "acme",
             "members": [{"principal": "app:cli_d", "role": "view"}],
             "tables": [{"table_id": "tblS", "fields": [{"field_id": "fldA", "name": "附件", "type": "attachment"}],
                         "records": [{"record_id": "recS", "fields": {"附件": ["boxDeclared"]}}]}]}
        ],
        "media": [
            {"file_token": "boxShown", "document": "doxS", "parent_type": "docx_file", "file_name": "a.txt", "content_text": "a"},
            {"file_token": "boxLoose", "document": "doxS", "parent_type": "docx_image", "file_name": "b.png", "content_text": "b"},
            {"file_token": "boxGone", "document": "doxS", "parent_type": "docx_image", "file_name": "c.png",
             "content_text": "c", "deleted": true},
            {"file_token": "boxDeclared", "document": "basS", "parent_type": "bitable_file", "file_name": "d.txt",
             "content_text": "d", "bitable": {"table_id": "tblS", "field_id": "fldA", "record_id": "recS"}}
        ]
    }))
    .await;
    let t = s.tenant_token("cli_d", "sec-d").await;
    let data =
        expect_data(get(&s.url("/open-apis/docx/v1/documents/doxS/blocks"), &t, &[]).await).await;
    let ids: Vec<&str> = data["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["block_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["doxS", "blkF", "blkboxLoose"],
        "declared once, loose appended, deleted gone"
    );
    let url = s.url("/open-apis/bitable/v1/apps/basS/tables/tblS/records/search");
    let data = expect_data(post_json(&url, &t, &json!({})).await).await;
    let atts = data["items"][0]["fields"]["附件"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(atts.len(), 1, "{atts:?}");
    assert_eq!(atts[0]["file_token"], "boxDeclared");
}

#[tokio::test]
async fn a_spreadsheets_sheets_and_a_bitables_tables_are_listed() {
    let (s, t) = docs_server().await;
    let data = expect_data(
        get(
            &s.url("/open-apis/sheets/v3/spreadsheets/shtD/sheets/query"),
            &t,
            &[],
        )
        .await,
    )
    .await;
    let sheet = &data["sheets"][0];
    assert_eq!(sheet["sheet_id"], "sht1");
    assert_eq!(sheet["title"], "Sheet1");
    assert_eq!(sheet["index"], 0);
    assert_eq!(sheet["grid_properties"]["row_count"], 3);
    assert_eq!(sheet["grid_properties"]["column_count"], 4);
    expect_error(
        get(
            &s.url("/open-apis/sheets/v3/spreadsheets/shtNope/sheets/query"),
            &t,
            &[],
        )
        .await,
        404,
        91402,
    )
    .await;

    let tables = |app: &str, q: &str| s.url(&format!("/open-apis/bitable/v1/apps/{app}/tables{q}"));
    let data = expect_data(get(&tables("basD", ""), &t, &[]).await).await;
    assert_eq!(data["total"], 1);
    assert_eq!(data["items"][0]["table_id"], "tblD");
    assert_eq!(data["items"][0]["name"], "报表");
    // Tables only media name are listed too, one page at a time.
    let data = expect_data(get(&tables("basOpenD", "?page_size=1"), &t, &[]).await).await;
    assert_eq!(data["items"][0]["table_id"], "tblAuto");
    assert_eq!(data["has_more"], false);
    assert_eq!(
        bitable_code(get(&tables("basNope", ""), &t, &[]).await).await,
        1254040
    );
    assert_eq!(
        bitable_code(get(&tables("basD", "?page_token=tblNope"), &t, &[]).await).await,
        1254000
    );
    assert_eq!(
        bitable_code(get(&tables("basD", "?page_size=101"), &t, &[]).await).await,
        1254000
    );
}

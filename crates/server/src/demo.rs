//! `serve --demo`: a small world to try the API on, and the curl lines that use it.

use serde_json::json;

pub const APP_ID: &str = "cli_demo";
pub const APP_SECRET: &str = "demo-secret";
pub const USER_TOKEN: &str = "u-demo-alice";
pub const IMAGE_TOKEN: &str = "boxcnDemoImage";
pub const TEXT_TOKEN: &str = "boxcnDemoText";
pub const BITABLE_TOKEN: &str = "boxcnDemoSheet";
pub const DOCX: &str = "doxcnDemo";
pub const SHEET: &str = "shtcnDemo";
pub const BITABLE: &str = "bascnDemo";
pub const DRIVE_FILE: &str = "boxcnDemoFile";
/// Where the demo app's OAuth codes may go.
pub const REDIRECT_URI: &str = "http://127.0.0.1:8000/callback";

/// A 16×16 PNG, so the Chinese-named image is a real image.
const PNG_BASE64: &str = "iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAABlklEQVR42g3LQQEAIQgAQSMQwQhEIIIRjEAEIhjBCETguU8jGMEId/Of1hrS6A1tWGM0ZsMb0ViN3chGNU7jNl6jNUGELqhgwhCm4EIIS9hCCiUc4QpP/tCRTu9oxzqjMzveic7q7E52qnM6t/P6HxRRuqKKKUOZiiuhLGUrqZRylKs8/YMhRjfUMGMY03AjjGVsI40yjnGNZ38YyKAPdGCDMZgDH8RgDfYgBzU4gzt44w8TmfSJTmwyJnPik5isyZ7kpCZncidv/sERpzvqmDOc6bgTznK2k045x7nO8z8EEvRAAwtGMAMPIljBDjKo4AQ3ePGHhSz6Qhe2GIu58EUs1mIvclGLs7iLt/6wkU3f6MY2YzM3vonN2uxNbmpzNnfz9h8SSXqiiSUjmYknkaxkJ5lUcpKbvPxDIUUvtLBiFLPwIopV7CKLKk5xi1d/OMihH/Rgh3GYBz/EYR32IQ91OId7eOcPF7n0i17sMi7z4pe4rMu+5KUu53Iv7/7hIY/+0Ic9xmM+/BGP9diPfNTjPO7jPT6GdLgQ8hjYogAAAABJRU5ErkJggg==";

/// The demo world as a manifest.
pub fn manifest() -> serde_json::Value {
    json!({
        "apps": [{
            "app_id": APP_ID, "app_secret": APP_SECRET, "tenant_key": "demo-tenant",
            "scopes": ["drive:drive:readonly", "docs:document.media:upload", "bitable:app",
                       "docx:document:readonly", "sheets:spreadsheet:readonly", "offline_access"],
            "redirect_uris": [REDIRECT_URI]
        }],
        "users": [{"user_id": "ou_alice", "tenant_key": "demo-tenant", "name": "Alice"}],
        "user_tokens": [{
            "token": USER_TOKEN, "app_id": APP_ID, "user_id": "ou_alice",
            "scopes": ["docs:doc:readonly"], "expires_in": 30 * 24 * 3600
        }],
        "documents": [
            {"token": DOCX, "type": "docx", "tenant_key": "demo-tenant", "owner": "user:ou_alice",
             "title": "设计文档",
             "members": [{"principal": format!("app:{APP_ID}"), "role": "view"}],
             "blocks": [
                {"block_id": "blkH1", "type": "heading1", "text": "架构"},
                {"block_id": "blkDemo", "type": "image", "file_token": IMAGE_TOKEN, "width": 16, "height": 16},
                {"block_id": "blkT1", "type": "text", "text": "说明见附件。"},
                {"block_id": "blkF1", "type": "file", "file_token": TEXT_TOKEN}
             ]},
            {"token": SHEET, "type": "sheet", "tenant_key": "demo-tenant", "owner": "user:ou_alice",
             "members": [{"principal": format!("app:{APP_ID}"), "role": "view"}],
             "sheets": [{"sheet_id": "sht1", "title": "Sheet1",
                         "cells": {"A1": "季度", "B1": "附件", "A2": "Q3", "B2": {"attachment": "boxcnDemoCell"}}}]},
            {"token": BITABLE, "type": "bitable", "tenant_key": "demo-tenant", "owner": "user:ou_alice",
             "advanced_permission": true,
             "members": [{"principal": format!("app:{APP_ID}"), "role": "manage"}],
             "tables": [{"table_id": "tblDemo", "name": "报表",
                         "fields": [{"field_id": "fldName", "name": "季度", "type": "text"},
                                    {"field_id": "fldDemo", "name": "附件", "type": "attachment"}],
                         "records": [{"record_id": "recDemo", "fields": {"季度": "Q3"}}]}]},
            {"token": DRIVE_FILE, "type": "file", "tenant_key": "demo-tenant", "owner": "user:ou_alice",
             "file_name": "合同.txt", "content_text": "这是一份云空间里的文件。\nA drive file, not a media.\n",
             "members": [{"principal": format!("app:{APP_ID}"), "role": "view"}]}
        ],
        "media": [
            {"file_token": IMAGE_TOKEN, "document": "doxcnDemo", "parent_type": "docx_image",
             "parent_node": "blkDemo", "file_name": "架构图.png", "mime_type": "image/png",
             "content_base64": PNG_BASE64},
            {"file_token": TEXT_TOKEN, "document": "doxcnDemo", "parent_type": "docx_file",
             "file_name": "notes.txt",
             "content_text": "Hello from feishu-media.\n这是一个演示文件。\n0123456789abcdefghijklmnopqrstuvwxyz\n"},
            {"file_token": BITABLE_TOKEN, "document": "bascnDemo", "parent_type": "bitable_file",
             "file_name": "q3.csv", "content_text": "quarter,revenue\nQ3,42\n",
             "bitable": {"table_id": "tblDemo", "field_id": "fldDemo", "record_id": "recDemo"}},
            {"file_token": "boxcnDemoCell", "document": SHEET, "parent_type": "sheet_file",
             "file_name": "q3-sheet.csv", "content_text": "quarter,cost\nQ3,17\n"}
        ]
    })
}

/// The lines `serve --demo` prints, for a server reachable at `base`.
pub fn instructions(base: &str, admin_token: Option<&str>) -> String {
    let extra = r#"{"bitablePerm":{"tableId":"tblDemo","attachments":{"fldDemo":{"recDemo":["boxcnDemoSheet"]}}}}"#;
    let extra_q: String =
        percent_encoding::utf8_percent_encode(extra, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    let redirect_q: String =
        percent_encoding::utf8_percent_encode(REDIRECT_URI, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    let admin = match admin_token {
        Some(t) => format!(
            "\n# the web console: open {base}/console and log in with the admin token {t}\n\
             \n# 11. the admin API: the latest requests, then make the next download fail once\n\
             curl -sS -H 'Authorization: Bearer {t}' '{base}/_admin/v1/requests?limit=5'\n\
             curl -sS -X PUT -H 'Authorization: Bearer {t}' {base}/_admin/v1/faults \\\n  \
             -d '[{{\"endpoint\":\"download\",\"times\":1,\"action\":{{\"status\":500,\"code\":1061001}}}}]'\n"
        ),
        None => String::new(),
    };
    format!(
        r#"feishu-media demo world is ready at {base}
  app_id={APP_ID}  app_secret={APP_SECRET}  user token={USER_TOKEN}

# 1. a tenant access token
TOKEN=$(curl -s -X POST {base}/open-apis/auth/v3/tenant_access_token/internal \
  -H 'Content-Type: application/json' -d '{{"app_id":"{APP_ID}","app_secret":"{APP_SECRET}"}}' \
  | sed -E 's/.*"tenant_access_token":"([^"]+)".*/\1/'); echo $TOKEN

# 2. download the image, saved under its Chinese name (架构图.png)
curl -sS -OJ -H "Authorization: Bearer $TOKEN" {base}/open-apis/drive/v1/medias/{IMAGE_TOKEN}/download

# 3. the first 16 bytes of a text file (206 Partial Content)
curl -sS -i -H "Authorization: Bearer $TOKEN" -H 'Range: bytes=0-15' {base}/open-apis/drive/v1/medias/{TEXT_TOKEN}/download

# 4. the same file with the user token
curl -sS -H 'Authorization: Bearer {USER_TOKEN}' {base}/open-apis/drive/v1/medias/{TEXT_TOKEN}/download

# 5. a bitable attachment: advanced permissions need `extra`
curl -sS -H "Authorization: Bearer $TOKEN" '{base}/open-apis/drive/v1/medias/{BITABLE_TOKEN}/download?extra={extra_q}'

# 6. a docx's blocks: image blocks (27) and file blocks (23) hold the media tokens
curl -sS -H "Authorization: Bearer $TOKEN" '{base}/open-apis/docx/v1/documents/{DOCX}/blocks?page_size=500'

# 7. a sheet's cells: the attachment cell holds a fileToken
curl -sS -H "Authorization: Bearer $TOKEN" '{base}/open-apis/sheets/v2/spreadsheets/{SHEET}/values_batch_get?ranges=sht1!A1:B2'

# 8. a bitable's records: attachments with url and tmp_url (carrying extra)
curl -sS -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{{}}' \
  '{base}/open-apis/bitable/v1/apps/{BITABLE}/tables/tblDemo/records/search'

# 9. a drive file (not a media): its own download path
curl -sS -OJ -H "Authorization: Bearer $TOKEN" {base}/open-apis/drive/v1/files/{DRIVE_FILE}/download

# 10. OAuth: open this in a browser, pick Alice, grant; the code arrives at {REDIRECT_URI}
#     (add &user_id=ou_alice to skip the page), then exchange it:
#   {base}/open-apis/authen/v1/authorize?client_id={APP_ID}&response_type=code&redirect_uri={redirect_q}&scope=docx:document:readonly%20offline_access&state=demo
#   curl -sS -X POST {base}/open-apis/authen/v2/oauth/token -H 'Content-Type: application/json' \
#     -d '{{"grant_type":"authorization_code","client_id":"{APP_ID}","client_secret":"{APP_SECRET}","code":"CODE","redirect_uri":"{REDIRECT_URI}"}}'
{admin}"#
    )
}

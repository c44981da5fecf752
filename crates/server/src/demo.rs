//! `serve --demo`: a small world to try the API on, and the curl lines that use it.

use serde_json::json;

pub const APP_ID: &str = "cli_demo";
pub const APP_SECRET: &str = "demo-secret";
pub const USER_TOKEN: &str = "u-demo-alice";
pub const IMAGE_TOKEN: &str = "boxcnDemoImage";
pub const TEXT_TOKEN: &str = "boxcnDemoText";
pub const BITABLE_TOKEN: &str = "boxcnDemoSheet";

/// A 16×16 PNG, so the Chinese-named image is a real image.
const PNG_BASE64: &str = "iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAABlklEQVR42g3LQQEAIQgAQSMQwQhEIIIRjEAEIhjBCETguU8jGMEId/Of1hrS6A1tWGM0ZsMb0ViN3chGNU7jNl6jNUGELqhgwhCm4EIIS9hCCiUc4QpP/tCRTu9oxzqjMzveic7q7E52qnM6t/P6HxRRuqKKKUOZiiuhLGUrqZRylKs8/YMhRjfUMGMY03AjjGVsI40yjnGNZ38YyKAPdGCDMZgDH8RgDfYgBzU4gzt44w8TmfSJTmwyJnPik5isyZ7kpCZncidv/sERpzvqmDOc6bgTznK2k045x7nO8z8EEvRAAwtGMAMPIljBDjKo4AQ3ePGHhSz6Qhe2GIu58EUs1mIvclGLs7iLt/6wkU3f6MY2YzM3vonN2uxNbmpzNnfz9h8SSXqiiSUjmYknkaxkJ5lUcpKbvPxDIUUvtLBiFLPwIopV7CKLKk5xi1d/OMihH/Rgh3GYBz/EYR32IQ91OId7eOcPF7n0i17sMi7z4pe4rMu+5KUu53Iv7/7hIY/+0Ic9xmM+/BGP9diPfNTjPO7jPT6GdLgQ8hjYogAAAABJRU5ErkJggg==";

/// The demo world as a manifest.
pub fn manifest() -> serde_json::Value {
    json!({
        "apps": [{
            "app_id": APP_ID, "app_secret": APP_SECRET, "tenant_key": "demo-tenant",
            "scopes": ["drive:drive:readonly", "docs:document.media:upload", "bitable:app"]
        }],
        "users": [{"user_id": "ou_alice", "tenant_key": "demo-tenant", "name": "Alice"}],
        "user_tokens": [{
            "token": USER_TOKEN, "app_id": APP_ID, "user_id": "ou_alice",
            "scopes": ["docs:doc:readonly"], "expires_in": 30 * 24 * 3600
        }],
        "documents": [
            {"token": "doxcnDemo", "type": "docx", "tenant_key": "demo-tenant", "owner": "user:ou_alice",
             "members": [{"principal": format!("app:{APP_ID}"), "role": "view"}]},
            {"token": "bascnDemo", "type": "bitable", "tenant_key": "demo-tenant", "owner": "user:ou_alice",
             "advanced_permission": true,
             "members": [{"principal": format!("app:{APP_ID}"), "role": "manage"}]}
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
             "bitable": {"table_id": "tblDemo", "field_id": "fldDemo", "record_id": "recDemo"}}
        ]
    })
}

/// The lines `serve --demo` prints, for a server reachable at `base`.
pub fn instructions(base: &str, admin_token: Option<&str>) -> String {
    let extra = r#"{"bitablePerm":{"tableId":"tblDemo","attachments":{"fldDemo":{"recDemo":["boxcnDemoSheet"]}}}}"#;
    let extra_q: String =
        percent_encoding::utf8_percent_encode(extra, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    let admin = match admin_token {
        Some(t) => format!(
            "\n# 6. the admin API: the latest requests, then make the next download fail once\n\
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
{admin}"#
    )
}

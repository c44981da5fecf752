//! The document endpoints (documents-and-oauth §7–10): extract, call
//! [`crate::services::documents`], answer in each family's shapes and codes.

use super::json::JSON_MAX;
use crate::error::{ApiError, json_response};
use crate::gateway::query_param;
use crate::layers::auth::Authed;
use crate::layers::{Matched, RequestContext, Response};
use crate::services::documents::bitable::{Records, Search, SearchError};
use crate::services::documents::sheets::{MAX_RANGES, Range, RangeError, Render};
use crate::services::documents::{
    self as docs, BITABLE, DOCX, DRIVE_FILE, SHEET, page, page_size, readable_document, revision,
};
use crate::services::links;
use crate::services::media::respond;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use feishu_media_proto::ErrorCode;
use feishu_media_proto::envelope::SuccessEnvelope;
use feishu_media_store::ParentType;
use serde_json::json;

fn ok(data: serde_json::Value) -> axum::response::Response {
    json_response(StatusCode::OK, &SuccessEnvelope::new(data))
}

/// A page of a paged listing as Feishu answers it: `page_token` only when more follow.
fn paged<T: serde::Serialize>(
    items: Vec<T>,
    next: Option<String>,
    total: Option<usize>,
) -> serde_json::Value {
    let mut data = json!({"items": items, "has_more": next.is_some()});
    if let Some(total) = total {
        data["total"] = json!(total);
    }
    if let Some(next) = next {
        data["page_token"] = json!(next);
    }
    data
}

fn param(parts: &Parts) -> String {
    parts
        .extensions
        .get::<Matched>()
        .and_then(|m| m.param.clone())
        .unwrap_or_default()
}

/// `GET /open-apis/docx/v1/documents/{document_id}`.
pub async fn docx_document(
    State(state): State<AppState>,
    Authed(caller): Authed,
    parts: Parts,
) -> Result<axum::response::Response, ApiError> {
    let doc = readable_document(&state, &caller, &param(&parts), DOCX).await?;
    let media = state.meta.document_media(&doc.token).await?;
    Ok(ok(json!({"document": {
        "document_id": doc.token,
        "revision_id": revision(&media),
        "title": doc.content.title.clone().unwrap_or_default(),
    }})))
}

/// `GET /open-apis/docx/v1/documents/{document_id}/blocks`.
pub async fn docx_blocks(
    State(state): State<AppState>,
    Authed(caller): Authed,
    parts: Parts,
) -> Result<axum::response::Response, ApiError> {
    let bad = |why: String| ApiError::new(ErrorCode::DocxInvalidParam).hint(why);
    let size = page_size(query_param(&parts.uri, "page_size").as_deref(), 500, 500).map_err(bad)?;
    if let Some(rev) = query_param(&parts.uri, "document_revision_id")
        && rev.parse::<i64>().is_err_and(|_| !rev.is_empty())
    {
        return Err(bad(format!(
            "document_revision_id must be an integer, not {rev:?}"
        )));
    }
    let doc = readable_document(&state, &caller, &param(&parts), DOCX).await?;
    let media = state.meta.document_media(&doc.token).await?;
    let items = docs::docx::blocks(&doc, &media);
    let token = query_param(&parts.uri, "page_token").filter(|t| !t.is_empty());
    let (items, next) = page(items, size, token.as_deref(), |v| docs::docx::block_id(v))
        .ok_or_else(|| {
            ApiError::new(ErrorCode::DocxInvalidPageToken)
                .hint("page_token is not one this document's listing handed out")
        })?;
    Ok(ok(paged(items, next, None)))
}

/// `GET /open-apis/sheets/v2/spreadsheets/{token}/values_batch_get`.
pub async fn sheet_values(
    State(state): State<AppState>,
    Authed(caller): Authed,
    parts: Parts,
) -> Result<axum::response::Response, ApiError> {
    let bad = |why: String| ApiError::new(ErrorCode::SheetsBadRange).hint(why);
    let render = query_param(&parts.uri, "valueRenderOption");
    let render = Render::parse(render.as_deref()).ok_or_else(|| {
        bad(format!(
            "valueRenderOption {render:?} is not ToString, Formula, FormattedValue or UnformattedValue"
        ))
    })?;
    let ranges = query_param(&parts.uri, "ranges").unwrap_or_default();
    if ranges.is_empty() {
        return Err(bad(
            "ranges is required (sheetId!A1:B2, comma-separated)".into()
        ));
    }
    let ranges: Vec<&str> = ranges.split(',').map(str::trim).collect();
    if ranges.len() > MAX_RANGES {
        return Err(bad(format!("at most {MAX_RANGES} ranges at a time")));
    }
    let ranges = ranges
        .iter()
        .map(|r| Range::parse(r))
        .collect::<Result<Vec<_>, _>>()
        .map_err(range_error)?;
    let doc = readable_document(&state, &caller, &param(&parts), SHEET).await?;
    let media = state.meta.document_media(&doc.token).await?;
    let rev = revision(&media);
    let mut total = 0u64;
    let mut values = Vec::with_capacity(ranges.len());
    for r in &ranges {
        let (v, n) =
            docs::sheets::value_range(&doc, &media, r, render, rev).map_err(range_error)?;
        total += n;
        if total > docs::sheets::MAX_CELLS {
            return Err(range_error(RangeError::TooLarge(format!(
                "the ranges cover more than {} cells in all",
                docs::sheets::MAX_CELLS
            ))));
        }
        values.push(v);
    }
    Ok(ok(json!({
        "revision": rev,
        "spreadsheetToken": doc.token,
        "totalCells": total,
        "valueRanges": values,
    })))
}

fn range_error(e: RangeError) -> ApiError {
    match e {
        RangeError::Malformed(r) => ApiError::new(ErrorCode::SheetsBadRange).hint(format!(
            "{r:?} is not a range (sheetId, sheetId!A1:B2, sheetId!A:C)"
        )),
        RangeError::NoSheet(s) => ApiError::new(ErrorCode::SheetsSheetNotFound)
            .hint(format!("the spreadsheet has no sheet {s:?}")),
        RangeError::TooLarge(why) => ApiError::new(ErrorCode::SheetsBadRange).hint(why),
    }
}

/// `GET /open-apis/sheets/v3/spreadsheets/{token}/sheets/query`: the sheets, in order.
pub async fn sheets_query(
    State(state): State<AppState>,
    Authed(caller): Authed,
    parts: Parts,
) -> Result<axum::response::Response, ApiError> {
    let doc = readable_document(&state, &caller, &param(&parts), SHEET).await?;
    let sheets: Vec<serde_json::Value> = doc
        .content
        .sheets
        .iter()
        .enumerate()
        .map(|(i, s)| docs::sheets::sheet_info(i, s))
        .collect();
    Ok(ok(json!({"sheets": sheets})))
}

/// `GET /open-apis/bitable/v1/apps/{app_token}/tables`: the tables, paged.
pub async fn bitable_tables(
    State(state): State<AppState>,
    Authed(caller): Authed,
    parts: Parts,
) -> Result<axum::response::Response, ApiError> {
    let bad = |why: String| ApiError::new(ErrorCode::BitableBadRequest).hint(why);
    let size = page_size(query_param(&parts.uri, "page_size").as_deref(), 20, 100).map_err(bad)?;
    let doc = readable_document(&state, &caller, &param(&parts), BITABLE).await?;
    let media = state.meta.document_media(&doc.token).await?;
    let rev = revision(&media);
    let tables = docs::bitable::tables(&doc, &media);
    let total = tables.len();
    let token = query_param(&parts.uri, "page_token").filter(|t| !t.is_empty());
    let (items, next) = page(tables, size, token.as_deref(), |(id, _)| id.as_str())
        .ok_or_else(|| bad("page_token is not one this listing handed out".into()))?;
    let items: Vec<serde_json::Value> = items
        .into_iter()
        .map(|(id, name)| json!({"table_id": id, "name": name, "revision": rev}))
        .collect();
    Ok(ok(paged(items, next, Some(total))))
}

/// `POST /open-apis/bitable/v1/apps/{app_token}/tables/{table_id}/records/search`.
pub async fn bitable_search(
    State(state): State<AppState>,
    Authed(caller): Authed,
    parts: Parts,
    body: axum::body::Body,
) -> Result<axum::response::Response, ApiError> {
    let bad = |why: String| ApiError::new(ErrorCode::BitableBadRequest).hint(why);
    let size = page_size(query_param(&parts.uri, "page_size").as_deref(), 20, 500).map_err(bad)?;
    let bytes = axum::body::to_bytes(body, JSON_MAX).await.map_err(|e| {
        bad(format!(
            "the body must be at most {JSON_MAX} bytes of JSON ({e})"
        ))
    })?;
    let search: Search = if bytes.iter().all(u8::is_ascii_whitespace) {
        Search::default()
    } else {
        super::json::parse(&bytes).map_err(bad)?
    };
    let doc = readable_document(&state, &caller, &param(&parts), BITABLE).await?;
    let table_id = parts
        .extensions
        .get::<Matched>()
        .and_then(|m| m.second.clone())
        .unwrap_or_default();
    let media = state.meta.document_media(&doc.token).await?;
    let (table, placed) = docs::bitable::table(&doc, &media, &table_id).ok_or_else(|| {
        ApiError::new(ErrorCode::BitableTableNotFound)
            .hint(format!("the bitable has no table {table_id:?}"))
    })?;
    let base = links::public_base(state.config.public_url.as_deref(), &parts.headers);
    let records = Records {
        table: &table,
        placed: &placed,
        base: &base,
        extra_rev: doc.advanced_permission.then(|| revision(&media)),
    };
    let found = records.search(&search).map_err(|e| match e {
        SearchError::NoField(f) => ApiError::new(ErrorCode::BitableFieldNotFound)
            .hint(format!("the table has no field {f:?}")),
        SearchError::BadFilter(why) => ApiError::new(ErrorCode::BitableInvalidFilter).hint(why),
    })?;
    let total = found.len();
    let token = query_param(&parts.uri, "page_token").filter(|t| !t.is_empty());
    let (items, next) = page(found, size, token.as_deref(), |r| {
        r["record_id"].as_str().unwrap_or_default()
    })
    .ok_or_else(|| bad("page_token is not one this search handed out".into()))?;
    Ok(ok(paged(items, next, Some(total))))
}

/// `GET|HEAD /open-apis/drive/v1/files/{file_token}/download`: the same answer as a
/// media download (Range, validators, HEAD), for a drive file.
pub async fn file_download(
    state: &AppState,
    req: &Parts,
    ctx: &RequestContext,
) -> Result<Response, ApiError> {
    let caller = ctx.require_caller()?;
    let doc = readable_document(state, caller, ctx.param(), DRIVE_FILE).await?;
    let media = state
        .media_row(&doc.token)
        .await?
        .filter(|m| m.parent_type == ParentType::Explorer)
        .ok_or_else(|| ApiError::internal(format!("drive file {} has no bytes", doc.token)))?;
    if media.deleted {
        return Err(ApiError::new(ErrorCode::Deleted));
    }
    respond(state, &media, &req.method, &req.headers).await
}

//! `batch_get_tmp_download_url` and the links it hands out.

use crate::access::readable_media;
use crate::auth::{Authed, TmpDownloadUrl};
use crate::error::{ApiError, json_response};
use crate::observe::note;
use crate::serve_media::respond;
use crate::state::AppState;
use crate::tmp_url::{sign, verify};
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use feishu_media_proto::ErrorCode;
use feishu_media_proto::envelope::SuccessEnvelope;
use feishu_media_proto::tmp_url::{LINK_PATH, MAX_TOKENS, TmpDownloadUrl as Link, TmpDownloadUrls};

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The base of links: `--public-url`, else the Host the caller used.
fn public_base(state: &AppState, headers: &HeaderMap) -> String {
    match &state.config.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            format!("http://{host}")
        }
    }
}

pub async fn batch_get_tmp_download_url(
    State(state): State<AppState>,
    auth: Authed<TmpDownloadUrl>,
    parts: Parts,
) -> Result<Response, ApiError> {
    let query = parts.uri.query().unwrap_or_default();
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let tokens: Vec<&str> = pairs
        .iter()
        .filter(|(k, v)| k == "file_tokens" && !v.is_empty())
        .map(|(_, v)| v.as_str())
        .collect();
    if tokens.is_empty() || tokens.len() > MAX_TOKENS {
        return Err(ApiError::params(format!(
            "file_tokens: give 1 to {MAX_TOKENS} tokens, not {}",
            tokens.len()
        )));
    }
    let extra = pairs
        .iter()
        .find(|(k, _)| k == "extra")
        .map(|(_, v)| v.as_str());
    let expires_at = unix_now() + state.config.tmp_url_ttl.as_secs();
    let base = public_base(&state, &parts.headers);
    let mut links = Vec::with_capacity(tokens.len());
    for token in tokens {
        // The first token that fails answers for the whole call.
        let media = readable_media(&state, &auth.caller, token, extra).await?;
        let code = sign(&state.secret, &media.file_token, expires_at);
        links.push(Link {
            file_token: media.file_token,
            tmp_download_url: format!("{base}{LINK_PATH}?code={code}"),
        });
    }
    Ok(json_response(
        StatusCode::OK,
        &SuccessEnvelope::new(TmpDownloadUrls {
            tmp_download_urls: links,
        }),
    ))
}

/// A temporary link: no `Authorization`, the signed code is the permission.
pub async fn download_by_code(
    State(state): State<AppState>,
    parts: Parts,
) -> Result<Response, ApiError> {
    let code = super::query_param(&parts.uri, "code").unwrap_or_default();
    let file_token = verify(&state.secret, &code, unix_now()).map_err(|why| {
        ApiError::new(ErrorCode::Forbidden).hint(format!("the link's code is not valid ({why:?})"))
    })?;
    note(&parts.extensions, |n| {
        n.file_token = Some(file_token.clone())
    });
    crate::auth::inject_fault(
        &state,
        &parts.extensions,
        "tmp_link",
        None,
        Some(&file_token),
    )
    .await?;
    let media = state
        .meta
        .media(&file_token)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound))?;
    if media.deleted {
        return Err(ApiError::new(ErrorCode::Deleted));
    }
    respond(&state, &media, &parts.method, &parts.headers).await
}

//! `batch_get_tmp_download_url`: signed links to media the caller may read.

use crate::error::{ApiError, json_response};
use crate::layers::auth::Authed;
use crate::services::access::readable_media;
use crate::services::links;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use feishu_media_proto::endpoint::TMP_LINK;
use feishu_media_proto::envelope::SuccessEnvelope;
use feishu_media_proto::tmp_url::{MAX_TOKENS, TmpDownloadUrl as Link, TmpDownloadUrls};

pub async fn batch_get_tmp_download_url(
    State(state): State<AppState>,
    Authed(caller): Authed,
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
    let expires_at = state.clock.unix_secs() + state.config.tmp_url_ttl.as_secs();
    let base = links::public_base(state.config.public_url.as_deref(), &parts.headers);
    let mut urls = Vec::with_capacity(tokens.len());
    for token in tokens {
        // The first token that fails answers for the whole call.
        let media = readable_media(&state, &caller, token, extra).await?;
        let code = links::sign(&state.secret, &media.file_token, expires_at);
        urls.push(Link {
            file_token: media.file_token.clone(),
            tmp_download_url: format!("{base}{TMP_LINK}?code={code}"),
        });
    }
    Ok(json_response(
        StatusCode::OK,
        &SuccessEnvelope::new(TmpDownloadUrls {
            tmp_download_urls: urls,
        }),
    ))
}

//! `GET|HEAD /open-apis/drive/v1/medias/{file_token}/download`: the seed endpoint.

use crate::access::readable_media;
use crate::auth::{Authed, Download};
use crate::error::ApiError;
use crate::observe::note;
use crate::serve_media::respond;
use crate::state::AppState;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use std::convert::Infallible;

/// The `{file_token}` segment of a `…/{file_token}/download` path, percent-decoded
/// (lossily: a token that is not UTF-8 names no media, and says so with 404).
/// Never rejects, so the token check keeps its place as the first answer.
pub struct FileToken(pub String);

impl<S: Send + Sync> FromRequestParts<S> for FileToken {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        let token = super::file_token_of(parts).unwrap_or_default();
        note(&parts.extensions, |n| n.file_token = Some(token.clone()));
        Ok(FileToken(token))
    }
}

pub async fn download(
    State(state): State<AppState>,
    auth: Authed<Download>,
    FileToken(file_token): FileToken,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let extra = super::query_param(&uri, "extra");
    let media = readable_media(&state, &auth.caller, &file_token, extra.as_deref()).await?;
    respond(&state, &media, &method, &headers).await
}

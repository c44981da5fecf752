//! The endpoint handlers (thin: extract, call a service, answer) and [`Dispatch`], the
//! innermost service, which hands each matched endpoint to its handler: one arm per row
//! of the endpoint table.

mod admin;
mod console;
mod documents;
mod download;
mod health;
pub mod json;
mod oauth;
mod tmp_url;
mod tokens;
mod upload;

use crate::error::ApiError;
use crate::gateway::{Refusal, not_found};
use crate::layers::{Matched, Request, Response, served};
use crate::state::AppState;
use axum::Router;
use axum::handler::Handler;
use axum::response::IntoResponse;
use feishu_media_proto::endpoint::{ADMIN, Endpoint};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tower::{Service, ServiceExt};

/// Runs the handler of the request's endpoint.
#[derive(Clone)]
pub struct Dispatch {
    state: AppState,
    /// The admin API routes its own paths under `/_admin/v1`.
    admin: Router,
}

impl Dispatch {
    pub fn new(state: AppState) -> Self {
        let admin = Router::new()
            .nest(ADMIN, admin::router())
            .fallback(async || not_found())
            .method_not_allowed_fallback(async || not_found())
            .with_state(state.clone());
        Self { state, admin }
    }
}

impl Service<Request> for Dispatch {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let state = self.state.clone();
        // Only the admin API's requests need its router (the download path does not).
        let admin = Matched::of(&req)
            .is_some_and(|m| m.endpoint == Endpoint::Admin)
            .then(|| self.admin.clone());
        Box::pin(async move {
            if let Some(refusal) = req.extensions().get::<Refusal>() {
                let mut e = ApiError::params(refusal.why);
                e.status = Some(refusal.status);
                return Ok(served(e.into_response()));
            }
            let Some(endpoint) = Matched::of(&req).map(|m| m.endpoint) else {
                return Ok(served(not_found()));
            };
            let s = state.clone();
            Ok(match endpoint {
                Endpoint::TenantAccessToken => axum(tokens::tenant_access_token, req, s).await,
                Endpoint::AppAccessToken => axum(tokens::app_access_token, req, s).await,
                Endpoint::Download => media(download::download(&state, &req.into_parts().0).await),
                Endpoint::UploadAll => axum(upload::upload_all, req, s).await,
                Endpoint::UploadPrepare => axum(upload::upload_prepare, req, s).await,
                Endpoint::UploadPart => axum(upload::upload_part, req, s).await,
                Endpoint::UploadFinish => axum(upload::upload_finish, req, s).await,
                Endpoint::BatchGetTmpDownloadUrl => {
                    axum(tmp_url::batch_get_tmp_download_url, req, s).await
                }
                Endpoint::TmpLink => media(download::tmp_link(&state, &req.into_parts().0).await),
                Endpoint::DocxDocument => axum(documents::docx_document, req, s).await,
                Endpoint::DocxBlocks => axum(documents::docx_blocks, req, s).await,
                Endpoint::SheetValues => axum(documents::sheet_values, req, s).await,
                Endpoint::BitableSearch => axum(documents::bitable_search, req, s).await,
                Endpoint::SheetsQuery => axum(documents::sheets_query, req, s).await,
                Endpoint::BitableTables => axum(documents::bitable_tables, req, s).await,
                Endpoint::FileDownload => {
                    media(documents::file_download(&state, &req.into_parts().0).await)
                }
                Endpoint::OauthAuthorize => axum(oauth::authorize, req, s).await,
                Endpoint::OauthToken => axum(oauth::token, req, s).await,
                Endpoint::UserInfo => axum(oauth::user_info, req, s).await,
                Endpoint::Metrics => axum(health::metrics, req, s).await,
                Endpoint::OpenApi => axum(health::openapi, req, s).await,
                Endpoint::Healthz => axum(health::healthz, req, s).await,
                Endpoint::Readyz => axum(health::readyz, req, s).await,
                Endpoint::Console => axum(console::console, req, s).await,
                Endpoint::Admin => match admin.expect("taken above").oneshot(req).await {
                    Ok(resp) => served(resp),
                    Err(never) => match never {},
                },
            })
        })
    }
}

/// An axum handler's answer.
async fn axum<H: Handler<T, AppState>, T>(handler: H, req: Request, state: AppState) -> Response {
    served(handler.call(req, state).await)
}

fn media(answer: Result<Response, ApiError>) -> Response {
    answer.unwrap_or_else(|e| served(e.into_response()))
}

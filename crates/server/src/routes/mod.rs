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
use crate::layers::{Request, RequestContext, Response, served};
use crate::state::AppState;
use axum::Router;
use axum::handler::Handler;
use axum::response::IntoResponse;
use feishu_media_proto::endpoint::{ADMIN, Endpoint};
use tower::ServiceExt;

/// Runs the handler of the request's endpoint.
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

    /// Runs the request's handler.
    pub async fn run(&self, req: Request, ctx: &RequestContext) -> Response {
        if let Some(refusal) = req.extensions().get::<Refusal>() {
            let mut e = ApiError::params(refusal.why);
            e.status = Some(refusal.status);
            return served(e.into_response());
        }
        let Some(endpoint) = ctx.matched.as_ref().map(|m| m.endpoint) else {
            return served(not_found());
        };
        let state = &self.state;
        // The downloads read the context; the rest are axum handlers, which read their
        // extractors from the request.
        let req = match endpoint {
            Endpoint::Download | Endpoint::TmpLink | Endpoint::FileDownload => req,
            _ => with_context(req, ctx),
        };
        match endpoint {
            Endpoint::TenantAccessToken => {
                axum(tokens::tenant_access_token, req, state.clone()).await
            }
            Endpoint::AppAccessToken => axum(tokens::app_access_token, req, state.clone()).await,
            Endpoint::Download => media(download::download(state, &req.into_parts().0, ctx).await),
            Endpoint::UploadAll => axum(upload::upload_all, req, state.clone()).await,
            Endpoint::UploadPrepare => axum(upload::upload_prepare, req, state.clone()).await,
            Endpoint::UploadPart => axum(upload::upload_part, req, state.clone()).await,
            Endpoint::UploadFinish => axum(upload::upload_finish, req, state.clone()).await,
            Endpoint::BatchGetTmpDownloadUrl => {
                axum(tmp_url::batch_get_tmp_download_url, req, state.clone()).await
            }
            Endpoint::TmpLink => media(download::tmp_link(state, &req.into_parts().0, ctx).await),
            Endpoint::DocxDocument => axum(documents::docx_document, req, state.clone()).await,
            Endpoint::DocxBlocks => axum(documents::docx_blocks, req, state.clone()).await,
            Endpoint::SheetValues => axum(documents::sheet_values, req, state.clone()).await,
            Endpoint::BitableSearch => axum(documents::bitable_search, req, state.clone()).await,
            Endpoint::SheetsQuery => axum(documents::sheets_query, req, state.clone()).await,
            Endpoint::BitableTables => axum(documents::bitable_tables, req, state.clone()).await,
            Endpoint::FileDownload => {
                media(documents::file_download(state, &req.into_parts().0, ctx).await)
            }
            Endpoint::OauthAuthorize => axum(oauth::authorize, req, state.clone()).await,
            Endpoint::OauthToken => axum(oauth::token, req, state.clone()).await,
            Endpoint::UserInfo => axum(oauth::user_info, req, state.clone()).await,
            Endpoint::Metrics => axum(health::metrics, req, state.clone()).await,
            Endpoint::OpenApi => axum(health::openapi, req, state.clone()).await,
            Endpoint::Healthz => axum(health::healthz, req, state.clone()).await,
            Endpoint::Readyz => axum(health::readyz, req, state.clone()).await,
            Endpoint::Console => axum(console::console, req, state.clone()).await,
            Endpoint::Admin => match self.admin.clone().oneshot(req).await {
                Ok(resp) => served(resp),
                Err(never) => match never {},
            },
        }
    }
}

/// `req` with what axum handlers extract from its extensions: the match (`Parts`
/// readers of the path's parameters) and the caller ([`crate::layers::auth::Authed`]).
fn with_context(mut req: Request, ctx: &RequestContext) -> Request {
    if let Some(m) = &ctx.matched {
        req.extensions_mut().insert(m.clone());
    }
    if let Some(c) = &ctx.caller {
        req.extensions_mut().insert(c.clone());
    }
    req
}

/// An axum handler's answer.
async fn axum<H: Handler<T, AppState>, T>(handler: H, req: Request, state: AppState) -> Response {
    served(handler.call(req, state).await)
}

fn media(answer: Result<Response, ApiError>) -> Response {
    answer.unwrap_or_else(|e| served(e.into_response()))
}

//! [`App`]: the whole server, as one tower service and as one async function
//! ([`App::handle`]). It matches each request against the endpoint table once (unless
//! the front did already), then runs the layers of [`crate::layers`] and the handler of
//! [`crate::routes::Dispatch`].

use crate::body::BoxError;
use crate::layers::{
    Matched, Request, RequestContext, Response, auth, drain, fault, limit, observe,
};
use crate::log_id::LogId;
use crate::routes::Dispatch;
use crate::state::AppState;
use axum::body::Body;
use bytes::Bytes;
use feishu_media_proto::endpoint::Endpoint;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::Service;

#[derive(Clone)]
pub struct App(Arc<Parts>);

struct Parts {
    state: AppState,
    dispatch: Dispatch,
}

/// The server for `state`, ready to be served (by [`crate::serve`]) or called in tests.
pub fn app(state: AppState) -> App {
    let dispatch = Dispatch::new(state.clone());
    App(Arc::new(Parts { state, dispatch }))
}

impl App {
    /// What the app serves from.
    pub fn state(&self) -> &AppState {
        &self.0.state
    }

    /// Answers `req`: observe, drain, auth, rate limit, fault, then the handler
    /// (outermost first, see [`crate::layers`]), all in this one future. `matched`: the
    /// endpoint, if the caller (the front) matched it already.
    pub async fn handle(&self, req: Request, matched: Option<Matched>) -> Response {
        let (mut resp, log_id) = self.handle_unmarked(req, matched).await;
        observe::mark(&mut resp, log_id);
        resp
    }

    /// [`App::handle`], but the answer is not marked with its `X-Tt-Logid`: the caller
    /// writes it (the front, into the head it writes itself; one allocation and one
    /// header of the map fewer per request).
    pub async fn handle_unmarked(
        &self,
        mut req: Request,
        matched: Option<Matched>,
    ) -> (Response, LogId) {
        let matched = matched
            .or_else(|| Endpoint::find(req.method().as_str(), req.uri().path()).map(Matched::new));
        let mut ctx = RequestContext::new(matched);
        let state = &self.0.state;
        let observed = observe::start(state, &req, &ctx);
        drain::wrap(&mut req);
        let checked = self.checked(req, &mut ctx);
        let log_id = observed.log_id();
        let resp = crate::log_id::scope(log_id, checked).await;
        (observed.finish(state, ctx, resp), log_id)
    }

    /// The checks of the layers inside `observe`, then the handler.
    async fn checked(&self, mut req: Request, ctx: &mut RequestContext) -> Response {
        let state = &self.0.state;
        if let Err(refused) = auth::check(state, &mut req, ctx).await {
            return refused;
        }
        if let Err(refused) = limit::check(state, ctx).await {
            return refused;
        }
        if let Err(refused) = fault::check(state, ctx).await {
            return refused;
        }
        self.0.dispatch.run(req, ctx).await
    }
}

impl<B> Service<axum::http::Request<B>> for App
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: axum::http::Request<B>) -> Self::Future {
        let app = self.clone();
        Box::pin(async move { Ok(app.handle(req.map(Body::new), None).await) })
    }
}

#[cfg(test)]
mod tests {
    /// A request's future is allocated and copied whole for every request the front
    /// answers: when the layers nested it, a 4 KiB GET's was ~12 KiB (in this unoptimized
    /// build) and its allocation the largest single cost of the request (bench B).
    #[tokio::test]
    async fn a_request_is_one_small_future() {
        let state = crate::testing::state().await;
        let app = super::app(state);
        let req = crate::testing::get("/open-apis/drive/v1/medias/boxA/download", &[]);
        let size = std::mem::size_of_val(&app.handle(req, None));
        assert!(size <= 4096, "the future of a request takes {size} bytes");
    }
}

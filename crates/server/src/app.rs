//! [`App`]: the whole server as one tower service. It matches each request against the
//! endpoint table once (unless the front did already), then runs the layers of
//! [`crate::layers`] and the handler of [`crate::routes::Dispatch`].

use crate::body::BoxError;
use crate::layers::auth::Auth;
use crate::layers::drain::Drain;
use crate::layers::fault::Fault;
use crate::layers::limit::RateLimit;
use crate::layers::observe::Observe;
use crate::layers::{Matched, Request, Response, StepLayer, Stepped};
use crate::routes::Dispatch;
use crate::state::AppState;
use axum::body::Body;
use bytes::Bytes;
use feishu_media_proto::endpoint::Endpoint;
use std::convert::Infallible;
use std::task::{Context, Poll};
use tower::{Layer, Service};

/// Outermost first: observe, drain, auth, rate limit, fault, then the handler.
type Stack =
    Stepped<Stepped<Stepped<Stepped<Stepped<Dispatch, Fault>, RateLimit>, Auth>, Drain>, Observe>;

#[derive(Clone)]
pub struct App {
    stack: Stack,
}

/// The server for `state`, ready to be served (by [`crate::serve`]) or called in tests.
pub fn app(state: AppState) -> App {
    let dispatch = Dispatch::new(state.clone());
    let fault = StepLayer::new(&state, Fault).layer(dispatch);
    let limit = StepLayer::new(&state, RateLimit).layer(fault);
    let auth = StepLayer::new(&state, Auth).layer(limit);
    let drain = StepLayer::new(&state, Drain).layer(auth);
    let stack = StepLayer::new(&state, Observe).layer(drain);
    App { stack }
}

impl<B> Service<axum::http::Request<B>> for App
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = <Stack as Service<Request>>::Future;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: axum::http::Request<B>) -> Self::Future {
        let mut req = req.map(Body::new);
        if req.extensions().get::<Matched>().is_none()
            && let Some(m) = Endpoint::find(req.method().as_str(), req.uri().path())
        {
            let m = Matched::new(m);
            req.extensions_mut().insert(m);
        }
        self.stack.call(req)
    }
}

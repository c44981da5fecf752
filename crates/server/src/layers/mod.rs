//! The tower layers every request passes through, outermost first:
//!
//! 1. [`observe`]: log id, `X-Tt-Logid`, the log line, metrics, the request log, and a
//!    fault rule's cut of the body;
//! 2. [`drain`]: request bodies a handler drops unread are read to their end;
//! 3. [`auth`]: the endpoint's [`Access`](feishu_media_proto::endpoint::Access), checked
//!    once: token and scopes (leaving a [`Caller`](crate::caller::Caller)), a signed link
//!    (leaving a [`LinkGrant`](crate::caller::LinkGrant)) or the admin token;
//! 4. [`limit`]: the rate limit of wire contract §6;
//! 5. [`fault`]: the fault rule that fires for this request, if any.
//!
//! That is the contract's order: token, scope, rate limit, then what the handler checks.
//! Each layer reads the request's [`Matched`] endpoint, put there once by
//! [`crate::app::App`] (or by the front, which matched it already).

pub mod auth;
pub mod drain;
pub mod fault;
pub mod limit;
pub mod observe;

use crate::body::ServedBody;
use crate::state::AppState;
use axum::body::Body;
use feishu_media_proto::endpoint::{Endpoint, EndpointSpec, Match, decode_param};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tower::{Layer, Service, ServiceExt};

pub type Request = axum::http::Request<Body>;
pub type Response = axum::http::Response<ServedBody>;

/// The endpoint a request matched, in its extensions.
#[derive(Debug, Clone)]
pub struct Matched {
    pub endpoint: Endpoint,
    /// The path's `{param}` (a file or document token), percent-decoded.
    pub param: Option<String>,
    /// The path's second parameter (a bitable's table id), percent-decoded.
    pub second: Option<String>,
}

impl Matched {
    pub fn new(m: Match<'_>) -> Self {
        Self {
            endpoint: m.endpoint,
            param: m.param.map(decode_param),
            second: m.second.map(decode_param),
        }
    }

    pub fn spec(&self) -> &'static EndpointSpec {
        self.endpoint.spec()
    }

    /// The match a request carries.
    pub fn of(req: &Request) -> Option<&Self> {
        req.extensions().get::<Self>()
    }
}

/// One layer's work: look at the request, answer it or pass it on to `next`.
pub trait Step: Clone + Send + Sync + 'static {
    fn run<S: Inner>(
        &self,
        state: &AppState,
        req: Request,
        next: Next<S>,
    ) -> impl Future<Output = Response> + Send;
}

/// What a layer wraps.
pub trait Inner:
    Service<Request, Response = Response, Error = Infallible, Future: Send> + Clone + Send + 'static
{
}

impl<S> Inner for S where
    S: Service<Request, Response = Response, Error = Infallible, Future: Send>
        + Clone
        + Send
        + 'static
{
}

/// The rest of the stack, as a [`Step`] sees it.
pub struct Next<S>(S);

impl<S: Inner> Next<S> {
    pub async fn run(self, req: Request) -> Response {
        match self.0.oneshot(req).await {
            Ok(resp) => resp,
            Err(never) => match never {},
        }
    }
}

/// A [`Step`] as a tower layer.
#[derive(Clone)]
pub struct StepLayer<T> {
    state: AppState,
    step: T,
}

impl<T> StepLayer<T> {
    pub fn new(state: &AppState, step: T) -> Self {
        Self {
            state: state.clone(),
            step,
        }
    }
}

impl<S, T: Clone> Layer<S> for StepLayer<T> {
    type Service = Stepped<S, T>;
    fn layer(&self, inner: S) -> Stepped<S, T> {
        Stepped {
            inner,
            state: self.state.clone(),
            step: self.step.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Stepped<S, T> {
    inner: S,
    state: AppState,
    step: T,
}

impl<S: Inner, T: Step> Service<Request> for Stepped<S, T> {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Every service of the stack is always ready; `Next::run` asks the inner one.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let next = Next(self.inner.clone());
        let state = self.state.clone();
        let step = self.step.clone();
        Box::pin(async move { Ok(step.run(&state, req, next).await) })
    }
}

/// An axum answer (an error, a JSON body) as an answer of the stack.
pub fn served(resp: axum::response::Response) -> Response {
    resp.map(ServedBody::from)
}

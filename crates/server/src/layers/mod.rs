//! The layers every request passes through before its handler, outermost first:
//!
//! 1. [`observe`]: log id, `X-Tt-Logid`, the log line, metrics, the request log, and a
//!    fault rule's cut of the body (around everything else);
//! 2. [`drain`]: request bodies a handler drops unread are read to their end;
//! 3. [`auth`]: the endpoint's [`Access`](feishu_media_proto::endpoint::Access), checked
//!    once: token and scopes (leaving a [`Caller`](crate::caller::Caller)), a signed link
//!    (leaving a [`LinkGrant`](crate::caller::LinkGrant)) or the admin token;
//! 4. [`limit`]: the rate limit of wire contract §6;
//! 5. [`fault`]: the fault rule that fires for this request, if any.
//!
//! That is the contract's order: token, scope, rate limit, then what the handler checks.
//! [`crate::app::App::handle`] runs them in that order. Each is a plain function, not a
//! tower layer: a check that lets the request on or answers in its place
//! ([`Checked`]), and `observe` a start and a finish around the rest. So a request is
//! one small future. As five nested tower layers, each boxed a future that held the
//! request again (and nesting them as async functions instead still held it once per
//! level): a 4 KiB GET's future was ~12 KiB, and allocating and copying it was the
//! largest single cost of the request (bench B, `perf record`).
//!
//! Each layer reads the request's [`Matched`] endpoint, put there once by
//! [`crate::app::App`] (or by the front, which matched it already).

pub mod auth;
pub mod drain;
pub mod fault;
pub mod limit;
pub mod observe;

use crate::body::ServedBody;
use axum::body::Body;
use feishu_media_proto::endpoint::{Endpoint, EndpointSpec, Match, decode_param};

pub type Request = axum::http::Request<Body>;
pub type Response = axum::http::Response<ServedBody>;

/// What a check decided: let the request on (`Ok`), or this answer in its place.
pub type Checked = Result<(), Response>;

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

/// An axum answer (an error, a JSON body) as an answer of the stack.
pub fn served(resp: axum::response::Response) -> Response {
    resp.map(ServedBody::from)
}

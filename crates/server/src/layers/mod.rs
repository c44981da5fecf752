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
//! Each layer reads the request's [`Matched`] endpoint from its [`RequestContext`], matched once
//! by [`crate::app::App`] (or by the front, which matched it already).

pub mod auth;
pub mod drain;
pub mod fault;
pub mod limit;
pub mod observe;

use crate::body::ServedBody;
use crate::caller::{Caller, LinkGrant};
use crate::error::ApiError;
use axum::body::Body;
use feishu_media_proto::endpoint::{Endpoint, EndpointSpec, Match, decode_param};

pub type Request = axum::http::Request<Body>;
pub type Response = axum::http::Response<ServedBody>;

/// What a check decided: let the request on (`Ok`), or this answer in its place.
pub type Checked = Result<(), Response>;

/// The endpoint a request matched.
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
}

/// What the layers learn about a request, carried beside it (not in its extensions) by
/// [`crate::app::App::handle`], lent to each check and the handler, and given to
/// [`observe`] for the log line at the end. Kept in the request's extensions, the match
/// and the caller cost four allocations per request (the map, its table, a box per
/// value) and a hashed lookup per read: a tenth of a cached download's allocations
/// (bench B, callgrind). Handlers behind axum extractors get copies put into the
/// extensions at their door ([`crate::routes::Dispatch`]).
#[derive(Debug, Default)]
pub struct RequestContext {
    /// The endpoint the request matched; `None`: no endpoint (404).
    pub matched: Option<Matched>,
    /// Who called, once the token and scopes passed ([`auth`]).
    pub caller: Option<Caller>,
    /// What a temporary link's verified code grants ([`auth`]).
    pub grant: Option<LinkGrant>,
    /// Set by a fault rule: close the connection after this many body bytes.
    pub cut_after_bytes: Option<u64>,
    /// Set by a fault rule: a wait before the first body byte, and a bandwidth.
    pub first_byte_ms: Option<u64>,
    pub bandwidth_bytes_per_s: Option<u64>,
}

impl RequestContext {
    pub fn new(matched: Option<Matched>) -> Self {
        Self {
            matched,
            ..Self::default()
        }
    }

    /// The matched endpoint's row.
    pub fn spec(&self) -> Option<&'static EndpointSpec> {
        self.matched.as_ref().map(Matched::spec)
    }

    /// The caller, for a handler whose endpoint's row takes a token (so [`auth`] left
    /// one, or answered in its place).
    pub fn require_caller(&self) -> Result<&Caller, ApiError> {
        self.caller
            .as_ref()
            .ok_or_else(|| ApiError::internal("no caller: the endpoint's row takes no token"))
    }

    /// The path's first parameter (a file or document token), percent-decoded.
    pub fn param(&self) -> &str {
        self.matched
            .as_ref()
            .and_then(|m| m.param.as_deref())
            .unwrap_or_default()
    }

    /// The media or document the request names, for fault rules and the log: a link's
    /// grant, else the path's token.
    pub fn file_token(&self) -> Option<&str> {
        match &self.grant {
            Some(g) => Some(&g.file_token),
            None => self.matched.as_ref()?.param.as_deref(),
        }
    }
}

/// An axum answer (an error, a JSON body) as an answer of the stack.
pub fn served(resp: axum::response::Response) -> Response {
    resp.map(ServedBody::from)
}

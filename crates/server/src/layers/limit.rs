//! Rate limits as a layer (wire contract §6, check 3): after the token and scope, before
//! anything the handler checks. The counting itself is [`crate::limits`].

use super::{Inner, Matched, Next, Request, Response, Step, served};
use crate::caller::Caller;
use crate::state::AppState;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use feishu_media_proto::ErrorCode;
use feishu_media_proto::endpoint::{Limit, OverLimit};

#[derive(Clone)]
pub struct RateLimit;

impl Step for RateLimit {
    async fn run<S: Inner>(&self, state: &AppState, req: Request, next: Next<S>) -> Response {
        let Some(spec) = Matched::of(&req).map(|m| m.spec()) else {
            return next.run(req).await;
        };
        if let Limit::PerApp { times, over } = spec.limit
            && let Some(caller) = req.extensions().get::<Caller>()
            && let Err(mut e) = state
                .limits
                .check(state.meta.as_ref(), caller, spec.name, times)
                .await
        {
            state.metrics.rate_limited(spec.name);
            // The same headers in every family; the status and code are its own.
            match over {
                OverLimit::TooMany => {}
                OverLimit::BadRequest => e.status = Some(StatusCode::BAD_REQUEST),
                OverLimit::CanRetry => {
                    e.code = ErrorCode::CanRetry;
                    e.status = Some(StatusCode::OK);
                }
            }
            return served(e.into_response());
        }
        next.run(req).await
    }
}

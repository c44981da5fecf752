//! Rate limits as a layer (wire contract §6, check 3): after the token and scope, before
//! anything the handler checks. The counting itself is [`crate::limits`].

use super::{Inner, Matched, Next, Request, Response, Step, served};
use crate::caller::Caller;
use crate::state::AppState;
use axum::response::IntoResponse;
use feishu_media_proto::endpoint::Limit;

#[derive(Clone)]
pub struct RateLimit;

impl Step for RateLimit {
    async fn run<S: Inner>(&self, state: &AppState, req: Request, next: Next<S>) -> Response {
        let Some(spec) = Matched::of(&req).map(|m| m.spec()) else {
            return next.run(req).await;
        };
        if spec.limit == Limit::PerApp
            && let Some(caller) = req.extensions().get::<Caller>()
            && let Err(e) = state
                .limits
                .check(state.meta.as_ref(), caller, spec.name)
                .await
        {
            state.metrics.rate_limited(spec.name);
            return served(e.into_response());
        }
        next.run(req).await
    }
}

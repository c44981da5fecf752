//! Rate limits as a layer (wire contract §6, check 3): after the token and scope, before
//! anything the handler checks. The counting itself is [`crate::limits`].

use super::{Checked, RequestContext, served};
use crate::state::AppState;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use feishu_media_proto::ErrorCode;
use feishu_media_proto::endpoint::{Limit, OverLimit};

/// The caller's rate limit for this endpoint, if it has one.
pub async fn check(state: &AppState, ctx: &RequestContext) -> Checked {
    let Some(spec) = ctx.spec() else {
        return Ok(());
    };
    if let Limit::PerApp { times, over } = spec.limit
        && let Some(caller) = &ctx.caller
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
        return Err(served(e.into_response()));
    }
    Ok(())
}

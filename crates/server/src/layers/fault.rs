//! Fault injection as a layer: the first rule that matches and fires for this request
//! delays it, answers for it, or marks its body to be cut or slowed down (which
//! [`super::observe`] does). After authentication and rate limits, as testers expect: a fault never hides
//! a token or scope error.

use super::{Checked, RequestContext, served};
use crate::state::AppState;
use axum::response::IntoResponse;

/// The fault rule that fires for this request, if any: its delay, its answer, or its
/// marks on the body.
/// Not `async`: only a delay awaits, and the context is not held across it.
pub fn check(
    state: &AppState,
    ctx: &mut RequestContext,
) -> impl Future<Output = Checked> + Send + 'static {
    let action = ctx.spec().filter(|s| s.faults).and_then(|spec| {
        let app_id = ctx.caller.as_ref().map(|c| c.app_id());
        let action = state.faults.decide(spec.name, app_id, ctx.file_token())?;
        state.metrics.fault_fired(spec.name);
        Some(action)
    });
    let answer = action.as_ref().and_then(|a| a.error());
    // A rule that answers for the request leaves its answer unshaped.
    if let Some(action) = &action
        && answer.is_none()
    {
        ctx.cut_after_bytes = action.cut_after_bytes;
        ctx.first_byte_ms = action.first_byte_ms;
        ctx.bandwidth_bytes_per_s = action.bandwidth_bytes_per_s;
    }
    let delay_ms = action.and_then(|a| a.delay_ms);
    async move {
        if let Some(ms) = delay_ms {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        match answer {
            Some(e) => Err(served(e.into_response())),
            None => Ok(()),
        }
    }
}

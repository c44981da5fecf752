//! Fault injection as a layer: the first rule that matches and fires for this request
//! delays it, answers for it, or marks its body to be cut or slowed down (which
//! [`super::observe`] does). After authentication and rate limits, as testers expect: a fault never hides
//! a token or scope error.

use super::observe::RequestNotes;
use super::{Checked, Matched, Request, served};
use crate::caller::Caller;
use crate::state::AppState;
use axum::response::IntoResponse;

/// The fault rule that fires for this request, if any: its delay, its answer, or its
/// marks on the body.
/// Not `async`: only a delay awaits, and the request (whose body is not `Sync`) is not
/// held across it.
pub fn check(
    state: &AppState,
    req: &Request,
    notes: &mut RequestNotes,
) -> impl Future<Output = Checked> + Send + 'static {
    let action = Matched::of(req)
        .map(|m| m.spec())
        .filter(|s| s.faults)
        .and_then(|spec| {
            let app_id = req.extensions().get::<Caller>().map(|c| c.app_id.as_str());
            let action = state
                .faults
                .decide(spec.name, app_id, notes.file_token.as_deref())?;
            state.metrics.fault_fired(spec.name);
            Some(action)
        });
    let answer = action.as_ref().and_then(|a| a.error());
    // A rule that answers for the request leaves its answer unshaped.
    if let Some(action) = &action
        && answer.is_none()
    {
        notes.cut_after_bytes = action.cut_after_bytes;
        notes.first_byte_ms = action.first_byte_ms;
        notes.bandwidth_bytes_per_s = action.bandwidth_bytes_per_s;
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

//! Fault injection as a layer: the first rule that matches and fires for this request
//! delays it, answers for it, or marks its body to be cut or slowed down (which
//! [`super::observe`] does). After authentication and rate limits, as testers expect: a fault never hides
//! a token or scope error.

use super::observe::{note, noted};
use super::{Checked, Matched, Request, served};
use crate::caller::Caller;
use crate::state::AppState;
use axum::response::IntoResponse;

/// The fault rule that fires for this request, if any: its delay, its answer, or its
/// marks on the body.
/// (`&mut` only because a request body is not `Sync`: a shared borrow could not be held
/// across an await of a `Send` future.)
pub async fn check(state: &AppState, req: &mut Request) -> Checked {
    let Some(spec) = Matched::of(req).map(|m| m.spec()).filter(|s| s.faults) else {
        return Ok(());
    };
    let app_id = req.extensions().get::<Caller>().map(|c| c.app_id.as_str());
    let file_token = noted(req.extensions(), |n| n.file_token.clone()).flatten();
    let Some(action) = state
        .faults
        .decide(spec.name, app_id, file_token.as_deref())
    else {
        return Ok(());
    };
    state.metrics.fault_fired(spec.name);
    if let Some(ms) = action.delay_ms {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    if let Some(e) = action.error() {
        return Err(served(e.into_response()));
    }
    note(req.extensions(), |n| {
        n.cut_after_bytes = action.cut_after_bytes;
        n.first_byte_ms = action.first_byte_ms;
        n.bandwidth_bytes_per_s = action.bandwidth_bytes_per_s;
    });
    Ok(())
}

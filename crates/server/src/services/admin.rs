//! The admin API's work that is more than a lookup: reset, and applying one object of
//! the manifest schema. The handlers are in `routes::admin`.

use crate::error::ApiError;
use crate::seed::{self, Manifest, SeedError, SeedReport};
use crate::state::AppState;

/// A refused manifest or object: 400 `1061002`, the JSON path and reason in `troubleshooter`.
pub fn refused(e: SeedError) -> ApiError {
    ApiError::params(e.to_string())
}

/// Applies a manifest given to the admin API: media bytes come in the request, or (with
/// `--fixtures-dir`) from files inside that folder only.
pub async fn apply(state: &AppState, manifest: &Manifest) -> Result<SeedReport, ApiError> {
    seed::apply(state, manifest, state.config.fixtures_dir.as_deref())
        .await
        .map_err(refused)
}

/// Wipes every object, blob, block, counter, fault rule and logged request, then loads
/// the start-up manifests again.
pub async fn reset(state: &AppState) -> Result<SeedReport, ApiError> {
    state.meta.wipe().await?;
    for key in feishu_media_store::blob::all_keys(&*state.blobs).await? {
        state.blobs.delete(&key).await?;
    }
    for id in state.parts.part_uploads().await? {
        state.parts.discard_parts(&id).await?;
    }
    state.limits.clear().await?;
    state.faults.set(Vec::new());
    state.requests.clear();
    let startup = state.startup.read().expect("not poisoned").clone();
    let mut total = SeedReport::default();
    for (manifest, base) in &startup {
        let r = seed::apply(state, manifest, Some(base))
            .await
            .map_err(refused)?;
        total.apps += r.apps;
        total.users += r.users;
        total.user_tokens += r.user_tokens;
        total.documents += r.documents;
        total.media += r.media;
    }
    Ok(total)
}

//! Leftovers: expired upload sessions and their blocks, blocks whose session is gone,
//! stale temp files, and (at start-up only) blobs that no media points at.

use crate::state::AppState;
use feishu_media_store::StoreResult;
use std::collections::HashSet;
use std::time::Duration;

/// What one sweep removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Swept {
    pub upload_sessions: usize,
    pub orphan_part_sets: usize,
    pub temp_files: usize,
    pub orphan_blobs: usize,
}

/// Temp files younger than this may belong to a write under way.
const STAGED_GRACE: Duration = Duration::from_secs(3600);

/// One sweep. `at_startup` on storage of its own: no request is being served, so every
/// temp file and every blob without a media is a leftover (while serving, a blob is
/// committed a moment before its media, so unreferenced blobs are left alone). On
/// storage shared with other replicas, one sweeps at a time (the others skip their
/// turn), and only what is older than [`STAGED_GRACE`] is a leftover: another replica
/// may be writing the rest.
pub async fn sweep(state: &AppState, at_startup: bool) -> StoreResult<Swept> {
    let mut swept = Swept::default();
    let Some(_alone) = state.meta.exclusive("feishu-media sweep").await? else {
        return Ok(swept);
    };
    let shared = state.config.storage.is_shared();
    let at_startup_alone = at_startup && !shared;
    let now = state.clock.unix_ms();
    let grace_ms = STAGED_GRACE.as_millis() as i64;
    for id in state.meta.expired_uploads(now).await? {
        state.parts.discard_parts(&id).await?;
        state.meta.delete_upload(&id).await?;
        swept.upload_sessions += 1;
    }
    for id in state.parts.part_uploads().await? {
        if state.meta.upload(&id).await?.is_none() {
            state.parts.discard_parts(&id).await?;
            swept.orphan_part_sets += 1;
        }
    }
    swept.temp_files = state
        .blobs
        .sweep_staged(if at_startup_alone {
            i64::MAX
        } else {
            now - grace_ms
        })
        .await?;
    if at_startup {
        let referenced: HashSet<String> = state
            .meta
            .list_media()
            .await?
            .into_iter()
            .map(|m| m.digest)
            .collect();
        let mut keys = state.blobs.list();
        while let Some(key) = futures_util::TryStreamExt::try_next(&mut keys).await? {
            if referenced.contains(&key) {
                continue;
            }
            if shared {
                // Young, or of unknown age: perhaps a media is about to point at it.
                match state.blobs.written_ms(&key).await? {
                    Some(at) if at < now - grace_ms => {}
                    _ => continue,
                }
            }
            state.blobs.delete(&key).await?;
            swept.orphan_blobs += 1;
        }
    }
    if swept != Swept::default() {
        tracing::info!(?swept, at_startup, "swept leftovers");
    }
    Ok(swept)
}

/// Sweeps every `interval` until the task is dropped.
pub async fn sweep_periodically(state: AppState, interval: Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.tick().await; // the first tick is immediate; start-up already swept
    loop {
        tick.tick().await;
        if let Err(e) = sweep(&state, false).await {
            tracing::warn!(error = %e, "sweep failed");
        }
    }
}

//! Entry points for the fuzz targets (`fuzz/`): the parsers that take untrusted bytes,
//! each run to its end on one input. Not an API.

use crate::services::form::{FormLimits, FormReader};
use feishu_media_proto::ErrorCode;
use std::sync::OnceLock;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

/// The connection front's head parser, and what it makes of a head it parses.
pub fn request_head(bytes: &[u8]) {
    crate::front::fuzz_head(bytes);
}

/// An upload form read as `upload_all` reads it: fields, the file part streamed to its
/// end, the rest; with a small limit, so the limits are exercised too.
pub fn upload_form(bytes: &[u8]) {
    let limits = FormLimits {
        body_max: 64 * 1024,
        too_large: ErrorCode::FileTooLarge,
    };
    let body = axum::body::Body::from(bytes.to_vec());
    runtime().block_on(async move {
        let Ok(mut form) = FormReader::new(
            Some("multipart/form-data; boundary=XyZ"),
            None,
            body,
            limits,
        ) else {
            return;
        };
        if let Ok(Some(mut file)) = form.next_file().await {
            let _ = tokio::io::copy(file.reader(), &mut tokio::io::sink()).await;
            let _ = file.adler();
        }
        if let Ok(fields) = form.finish().await {
            let _ = fields.file_name();
            let _ = fields.number("size");
        }
    });
}

/// A seed manifest parsed and applied to an in-memory world; a refused one must change
/// nothing.
pub fn seed_manifest(bytes: &[u8]) {
    let Ok(manifest) = crate::seed::parse(bytes) else {
        return;
    };
    runtime().block_on(async move {
        let config = crate::ServerConfig {
            frozen_clock: true,
            ..Default::default()
        };
        let state = crate::AppState::open(config).await.expect("memory store");
        if crate::seed::apply(&state, &manifest, None).await.is_err() {
            let empty = state.meta.list_apps().await.expect("memory").is_empty()
                && state.meta.list_media().await.expect("memory").is_empty()
                && state
                    .meta
                    .list_documents()
                    .await
                    .expect("memory")
                    .is_empty();
            assert!(empty, "a refused manifest wrote something");
        }
    });
}

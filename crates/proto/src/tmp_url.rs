//! `GET /open-apis/drive/v1/medias/batch_get_tmp_download_url` (wire contract §5).

use serde::{Deserialize, Serialize};

/// At most this many `file_tokens` per call.
pub const MAX_TOKENS: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TmpDownloadUrl {
    pub file_token: String,
    pub tmp_download_url: String,
}

/// The answer `data`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TmpDownloadUrls {
    pub tmp_download_urls: Vec<TmpDownloadUrl>,
}

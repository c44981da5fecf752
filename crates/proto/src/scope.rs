//! The scopes each endpoint accepts; holding any one of them is enough.

/// Download media and temporary download URLs (seed page, "权限要求").
pub const DOWNLOAD: &[&str] = &[
    "bitable:app",
    "bitable:app:readonly",
    "docs:doc",
    "docs:doc:readonly",
    "docs:document.media:download",
    "drive:drive",
    "drive:drive:readonly",
    "sheets:spreadsheet",
    "sheets:spreadsheet:readonly",
];

/// `upload_all` and the chunked upload calls.
pub const UPLOAD: &[&str] = &[
    "bitable:app",
    "docs:doc",
    "docs:document.media:upload",
    "drive:drive",
    "sheets:spreadsheet",
];

/// The docx family: a document and its blocks.
pub const DOCX_READ: &[&str] = &["docx:document", "docx:document:readonly"];

/// Sheets v2: reading ranges.
pub const SHEETS_READ: &[&str] = &[
    "drive:drive",
    "drive:drive:readonly",
    "sheets:spreadsheet",
    "sheets:spreadsheet:readonly",
];

/// Bitable: searching records.
pub const BITABLE_READ: &[&str] = &[
    "base:record:retrieve",
    "bitable:app",
    "bitable:app:readonly",
];

/// Drive files: downloading one.
pub const FILE_DOWNLOAD: &[&str] = &[
    "drive:drive",
    "drive:drive:readonly",
    "drive:file",
    "drive:file:download",
    "space:document:retrieve",
];

/// The OAuth scope that brings a refresh token with the access token.
pub const OFFLINE_ACCESS: &str = "offline_access";

/// Whether `held` contains any of `accepted`.
pub fn grants<S: AsRef<str>>(held: &[S], accepted: &[&str]) -> bool {
    held.iter().any(|h| accepted.contains(&h.as_ref()))
}

/// The scope list as Feishu writes it in a message: `[a, b, c]`.
pub fn bracketed(accepted: &[&str]) -> String {
    format!("[{}]", accepted.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_one_scope_is_enough() {
        assert!(grants(&["x", "drive:drive:readonly"], DOWNLOAD));
        assert!(!grants(&["drive:drive:readonly"], UPLOAD));
        assert!(!grants::<&str>(&[], DOWNLOAD));
    }
}

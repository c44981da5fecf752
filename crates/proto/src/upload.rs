//! Uploads (wire contract §4): limits, the file-name rule, Adler-32 checksums, and the
//! JSON bodies of the chunked calls.

use serde::{Deserialize, Serialize};

/// `upload_all` takes at most 20 MiB.
pub const UPLOAD_ALL_MAX: u64 = 20 * 1024 * 1024;

/// Every block of a chunked upload but the last is exactly this long.
pub const BLOCK_SIZE: u64 = 4 * 1024 * 1024;

/// How many blocks a chunked upload of `size` bytes has.
pub fn block_num(size: u64) -> u64 {
    size.div_ceil(BLOCK_SIZE)
}

/// The length block `seq` of an upload of `size` bytes must have.
pub fn block_len(size: u64, seq: u64) -> u64 {
    size.saturating_sub(seq * BLOCK_SIZE).min(BLOCK_SIZE)
}

/// The longest file name, in characters.
pub const FILE_NAME_MAX_CHARS: usize = 250;

/// Why a file name is refused (answered 400 1061008).
pub fn file_name_problem(name: &str) -> Option<&'static str> {
    let chars = name.chars().count();
    if chars == 0 {
        Some("file_name is empty")
    } else if chars > FILE_NAME_MAX_CHARS {
        Some("file_name is longer than 250 characters")
    } else if name.chars().any(char::is_control) {
        Some("file_name holds a control character")
    } else if name.contains('/') || name.contains('\\') {
        Some("file_name holds a path separator")
    } else if name == "." || name == ".." {
        Some("file_name is a dot segment")
    } else {
        None
    }
}

/// The Adler-32 checksum Feishu uses, computed incrementally.
#[derive(Default, Clone)]
pub struct Adler32(adler2::Adler32);

impl Adler32 {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.write_slice(bytes);
    }

    pub fn finish(&self) -> u32 {
        self.0.checksum()
    }

    pub fn of(bytes: &[u8]) -> u32 {
        let mut a = Self::new();
        a.update(bytes);
        a.finish()
    }
}

/// A `checksum` field: the Adler-32 as a decimal string.
pub fn parse_checksum(s: &str) -> Option<u32> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `POST …/medias/upload_prepare` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrepareRequest {
    pub file_name: String,
    pub parent_type: String,
    #[serde(default)]
    pub parent_node: String,
    pub size: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<String>,
}

/// `upload_prepare` answer `data`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrepareData {
    pub upload_id: String,
    pub block_size: u64,
    pub block_num: u64,
}

/// `POST …/medias/upload_finish` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinishRequest {
    pub upload_id: String,
    pub block_num: i64,
}

/// The answer `data` of `upload_all` and `upload_finish`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileTokenData {
    pub file_token: String,
}

/// The `extra` of uploads into a docx: which document the block belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UploadExtra {
    pub drive_route_token: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adler32_known_values() {
        assert_eq!(Adler32::of(b""), 1);
        assert_eq!(Adler32::of(b"Wikipedia"), 0x11E6_0398);
        let mut a = Adler32::new();
        a.update(b"Wiki");
        a.update(b"pedia");
        assert_eq!(a.finish(), 0x11E6_0398);
    }

    #[test]
    fn checksums_are_decimal() {
        assert_eq!(parse_checksum("300286872"), Some(300_286_872));
        assert_eq!(parse_checksum(" 1 "), Some(1));
        for bad in ["", "-1", "0x10", "99999999999", "1.0"] {
            assert_eq!(parse_checksum(bad), None, "{bad}");
        }
    }

    #[test]
    fn blocks() {
        assert_eq!(block_num(0), 0);
        assert_eq!(block_num(1), 1);
        assert_eq!(block_num(BLOCK_SIZE), 1);
        assert_eq!(block_num(BLOCK_SIZE + 1), 2);
        assert_eq!(block_len(BLOCK_SIZE + 1, 0), BLOCK_SIZE);
        assert_eq!(block_len(BLOCK_SIZE + 1, 1), 1);
        assert_eq!(block_len(BLOCK_SIZE + 1, 2), 0);
    }

    #[test]
    fn file_names() {
        assert_eq!(file_name_problem("架构图.png"), None);
        assert_eq!(file_name_problem(&"a".repeat(250)), None);
        for bad in ["", "a/b", "a\\b", "..", ".", "a\0b", "a\nb"] {
            assert!(file_name_problem(bad).is_some(), "{bad:?}");
        }
        assert!(file_name_problem(&"字".repeat(251)).is_some());
    }
}

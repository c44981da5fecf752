//! `Content-Disposition` for downloads: written by the server, read by clients.
//!
//! Feishu sends the name as raw UTF-8 in `filename="…"` and the Python SDK reads only
//! that parameter; browsers and RFC 6266 parsers want `filename*` (RFC 8187). The server
//! sends both, and clients prefer `filename*`.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// RFC 8187 `attr-char`: everything else is percent-encoded in `filename*`.
const ATTR_CHAR_ESCAPES: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// The header value for a download of `file_name`, as bytes (the raw UTF-8 name is not
/// ASCII, so this is not a `str` header in the strict sense).
///
/// Control characters cannot stand in a header; in the raw form they become `_`, while
/// `filename*` keeps the exact name.
pub fn attachment(file_name: &str) -> Vec<u8> {
    // Written into one buffer big enough for the worst name (every byte escaped in the
    // raw form, percent-encoded in the other): every download answer makes one.
    let mut out = Vec::with_capacity(42 + 5 * file_name.len());
    out.extend_from_slice(b"attachment; filename=\"");
    for c in file_name.chars() {
        match c {
            '"' | '\\' => out.extend_from_slice(&[b'\\', c as u8]),
            c if c.is_control() => out.push(b'_'),
            c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    out.extend_from_slice(b"\"; filename*=UTF-8''");
    for piece in utf8_percent_encode(file_name, ATTR_CHAR_ESCAPES) {
        out.extend_from_slice(piece.as_bytes());
    }
    out
}

/// The file name a `Content-Disposition` value carries: `filename*` first (UTF-8 only),
/// then `filename=` read as raw UTF-8, lossily as a last resort.
pub fn file_name(value: &[u8]) -> Option<String> {
    let params = parameters(value);
    let star = params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(b"filename*"));
    if let Some((_, v)) = star
        && let Some(name) = decode_ext_value(v)
    {
        return Some(name);
    }
    let plain = params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(b"filename"))?;
    Some(String::from_utf8_lossy(&plain.1).into_owned())
}

/// `UTF-8'lang'pct-encoded` → the decoded name.
fn decode_ext_value(v: &[u8]) -> Option<String> {
    let v = std::str::from_utf8(v).ok()?;
    let mut parts = v.splitn(3, '\'');
    let charset = parts.next()?;
    let _lang = parts.next()?;
    let encoded = parts.next()?;
    if !charset.eq_ignore_ascii_case("utf-8") {
        return None;
    }
    percent_decode_str(encoded)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// `; key=value` pairs after the disposition type, with quoted strings unescaped.
fn parameters(value: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    let mut i = value
        .iter()
        .position(|&b| b == b';')
        .map_or(value.len(), |p| p + 1);
    while i < value.len() {
        while i < value.len() && matches!(value[i], b' ' | b'\t' | b';') {
            i += 1;
        }
        let key_start = i;
        while i < value.len() && value[i] != b'=' && value[i] != b';' {
            i += 1;
        }
        let key = trim(&value[key_start..i]).to_vec();
        if i >= value.len() || value[i] == b';' {
            continue;
        }
        i += 1; // '='
        while i < value.len() && matches!(value[i], b' ' | b'\t') {
            i += 1;
        }
        let mut val = Vec::new();
        if i < value.len() && value[i] == b'"' {
            i += 1;
            while i < value.len() && value[i] != b'"' {
                if value[i] == b'\\' && i + 1 < value.len() {
                    i += 1;
                }
                val.push(value[i]);
                i += 1;
            }
            i += 1; // closing quote
            while i < value.len() && value[i] != b';' {
                i += 1;
            }
        } else {
            let start = i;
            while i < value.len() && value[i] != b';' {
                i += 1;
            }
            val = trim(&value[start..i]).to_vec();
        }
        out.push((key, val));
    }
    out
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t'))
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !matches!(c, b' ' | b'\t'))
        .map_or(start, |p| p + 1);
    &b[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_both_forms() {
        let v = attachment("架构图 v2.png");
        assert_eq!(
            String::from_utf8(v).unwrap(),
            "attachment; filename=\"架构图 v2.png\"; filename*=UTF-8''%E6%9E%B6%E6%9E%84%E5%9B%BE%20v2.png"
        );
        assert_eq!(
            String::from_utf8(attachment("a\"b\\c\nd")).unwrap(),
            "attachment; filename=\"a\\\"b\\\\c_d\"; filename*=UTF-8''a%22b%5Cc%0Ad"
        );
    }

    #[test]
    fn reads_what_it_writes() {
        for name in [
            "架构图.png",
            "a\"b\\c",
            "semi;colon.txt",
            "x y",
            "",
            "a\u{7}b",
            "'quote'",
        ] {
            assert_eq!(file_name(&attachment(name)).as_deref(), Some(name));
        }
    }

    #[test]
    fn reads_other_servers() {
        assert_eq!(
            file_name(b"attachment; filename=plain.txt").as_deref(),
            Some("plain.txt")
        );
        assert_eq!(
            file_name("attachment; filename=\"架构图.png\"".as_bytes()).as_deref(),
            Some("架构图.png")
        );
        assert_eq!(
            file_name(b"attachment; FILENAME*=utf-8'en'%C3%A9.txt; filename=\"e.txt\"").as_deref(),
            Some("é.txt")
        );
        assert_eq!(
            file_name(b"attachment; filename*=ISO-8859-1''%E9.txt; filename=\"e.txt\"").as_deref(),
            Some("e.txt")
        );
        assert_eq!(
            file_name(b"attachment; filename=\"\xff.txt\"").as_deref(),
            Some("\u{fffd}.txt")
        );
        assert_eq!(file_name(b"attachment"), None);
        assert_eq!(file_name(b"inline; foo=bar"), None);
    }

    proptest::proptest! {
        /// Any name comes back from `filename*` exactly, and from `filename=` alone (all
        /// the Python SDK reads) with only its control characters changed; the value is
        /// always a legal header value (no control bytes but tab).
        #[test]
        fn any_name_survives_both_forms(name in "\\PC*|[\\x00-\\x7f]{0,12}|.{0,12}") {
            let v = attachment(&name);
            proptest::prop_assert!(
                v.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f)),
                "not a header value: {:?}", v
            );
            proptest::prop_assert_eq!(file_name(&v), Some(name.clone()));
            let star = v.windows(12).rposition(|w| w == b"; filename*=").unwrap();
            let plain: String = name.chars().map(|c| if c.is_control() { '_' } else { c }).collect();
            proptest::prop_assert_eq!(file_name(&v[..star]), Some(plain));
        }

        #[test]
        fn reading_any_value_never_panics(v in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80)) {
            let _ = file_name(&v);
        }
    }
}

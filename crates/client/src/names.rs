//! A safe local file name from whatever name a server sends.

/// The longest name written, in bytes (most file systems allow 255).
const MAX_BYTES: usize = 200;

/// Names Windows reserves (kept out everywhere, so files can move between systems).
const RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// `name` made safe to create inside an output folder: no path separators or `..`, no
/// control characters, not empty, not reserved, at most 200 bytes (cut on a character
/// boundary, keeping the extension). `fallback` is used when nothing is left.
pub fn safe_file_name(name: &str, fallback: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    out = out.trim_matches(|c: char| c == ' ' || c == '.').to_owned();
    if out.is_empty() {
        out = fallback.to_owned();
    }
    let stem = out.split('.').next().unwrap_or("").to_ascii_uppercase();
    if RESERVED.contains(&stem.as_str()) {
        out = format!("_{out}");
    }
    if out.len() > MAX_BYTES {
        let ext = out
            .rfind('.')
            .map(|i| out[i..].to_owned())
            .filter(|e| e.len() <= 16)
            .unwrap_or_default();
        let mut cut = MAX_BYTES - ext.len();
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out = format!("{}{ext}", &out[..cut]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names() {
        assert_eq!(safe_file_name("架构图.png", "f"), "架构图.png");
        assert_eq!(safe_file_name("../../x", "f"), "_.._x");
        assert_eq!(safe_file_name("a/b", "f"), "a_b");
        assert_eq!(safe_file_name("..", "f"), "f");
        assert_eq!(safe_file_name("", "f"), "f");
        assert_eq!(safe_file_name("CON", "f"), "_CON");
        assert_eq!(safe_file_name("con.txt", "f"), "_con.txt");
        assert_eq!(safe_file_name("a\nb\u{0}c", "f"), "a_b_c");
        let long = format!("{}.pdf", "字".repeat(1000));
        let safe = safe_file_name(&long, "f");
        assert!(
            safe.len() <= 200 && safe.ends_with(".pdf"),
            "{}",
            safe.len()
        );
        assert!(!safe_file_name("x".repeat(1000).as_str(), "f").is_empty());
    }
}

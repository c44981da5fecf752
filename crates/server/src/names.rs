//! New ids in Feishu's forms, and MIME types guessed from file names.

use rand::distr::{Alphanumeric, SampleString};

/// A new media token, in Feishu's form (`boxcn` + 22 letters and digits).
pub fn new_file_token() -> String {
    format!("boxcn{}", Alphanumeric.sample_string(&mut rand::rng(), 22))
}

/// A new chunked-upload id: 32 hex digits.
pub fn new_upload_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// The MIME type of a file name, `application/octet-stream` when unknown.
pub fn guess_mime(file_name: &str) -> String {
    mime_guess::from_path(file_name)
        .first_raw()
        .unwrap_or("application/octet-stream")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let t = new_file_token();
        assert!(t.starts_with("boxcn") && t.len() == 27, "{t}");
        assert_ne!(new_upload_id(), new_upload_id());
        assert_eq!(guess_mime("a.PNG"), "image/png");
        assert_eq!(guess_mime("noext"), "application/octet-stream");
    }
}

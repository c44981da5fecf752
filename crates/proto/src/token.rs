//! Access tokens, told apart by their prefix as Feishu's gateway does.

/// What a bearer token claims to be, from its form alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// `t-…`: a tenant access token (an app acting inside one tenant).
    Tenant,
    /// `u-…`, or the newer `eyJ…` form: a user access token.
    User,
    /// `a-…`: an app access token; the media API does not accept it.
    App,
}

impl TokenKind {
    /// The kind of a token, or `None` for a token of no known form (99991671).
    pub fn of(token: &str) -> Option<Self> {
        if token.starts_with("t-") {
            Some(Self::Tenant)
        } else if token.starts_with("u-") || token.starts_with("eyJ") {
            Some(Self::User)
        } else if token.starts_with("a-") {
            Some(Self::App)
        } else {
            None
        }
    }
}

/// The token of an `Authorization` value: `Bearer <token>`, the scheme matched without
/// regard to case (RFC 9110 §11.1). `None` when the value is not of that form.
pub fn bearer(value: &[u8]) -> Option<&str> {
    // What every client sends: `Bearer ` and a token of visible ASCII, read in one pass
    // (the general reading below took three, ~570 instructions a request: callgrind).
    if let Some((scheme, token)) = value.split_at_checked(7)
        && scheme.eq_ignore_ascii_case(b"bearer ")
        && !token.is_empty()
        && token.iter().all(|b| b.is_ascii_graphic())
    {
        return std::str::from_utf8(token).ok();
    }
    if !value.is_ascii() {
        return bearer_unicode(std::str::from_utf8(value).ok()?);
    }
    // Every request reads a token, and real ones are ASCII: read on bytes, as
    // `bearer_unicode` reads them (whitespace is `char::is_whitespace`'s ASCII part).
    let value = trim_white(value);
    let space = value.iter().position(|b| *b == b' ')?;
    let (scheme, token) = (&value[..space], trim_white(&value[space + 1..]));
    if !scheme.eq_ignore_ascii_case(b"bearer") || token.is_empty() || token.iter().any(is_white) {
        return None;
    }
    std::str::from_utf8(token).ok()
}

/// [`bearer`] for a value with non-ASCII bytes.
fn bearer_unicode(value: &str) -> Option<&str> {
    let value = value.trim();
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty() && !token.contains(char::is_whitespace)).then_some(token)
}

/// The ASCII characters `char::is_whitespace` takes.
fn is_white(b: &u8) -> bool {
    matches!(b, b' ' | b'\t'..=b'\r')
}

fn trim_white(mut v: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = v
        && is_white(first)
    {
        v = rest;
    }
    while let [rest @ .., last] = v
        && is_white(last)
    {
        v = rest;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_prefix() {
        assert_eq!(TokenKind::of("t-abc"), Some(TokenKind::Tenant));
        assert_eq!(TokenKind::of("u-abc"), Some(TokenKind::User));
        assert_eq!(TokenKind::of("eyJhbGciOi"), Some(TokenKind::User));
        assert_eq!(TokenKind::of("a-abc"), Some(TokenKind::App));
        assert_eq!(TokenKind::of("abc"), None);
        assert_eq!(TokenKind::of(""), None);
    }

    #[test]
    fn bearer_values() {
        assert_eq!(bearer(b"Bearer t-1"), Some("t-1"));
        assert_eq!(bearer(b"bearer   t-1 "), Some("t-1"));
        assert_eq!(bearer(b"Bearer"), None);
        assert_eq!(bearer(b"Bearer "), None);
        assert_eq!(bearer(b"Basic abc"), None);
        assert_eq!(bearer(b"t-1"), None);
        assert_eq!(bearer(b"Bearer a b"), None);
        assert_eq!(bearer(&[0xff, 0xfe]), None);
        assert_eq!(bearer(b"Bearer a\x0bb"), None);
        assert_eq!(bearer("Bearer a\u{a0}b".as_bytes()), None);
        assert_eq!(bearer("Bearer t-\u{e9}".as_bytes()), Some("t-\u{e9}"));
        assert_eq!(bearer(b"\x0b\tBearer \x0c t-1\r\n"), Some("t-1"));
        assert_eq!(bearer(b" \t "), None);
        assert_eq!(bearer("\u{a0}Bearer t-1\u{3000}".as_bytes()), Some("t-1"));
    }

    proptest::proptest! {
        /// The ASCII reading is the Unicode one.
        #[test]
        fn ascii_reads_as_unicode(v in "[ -~\t-\r]{0,40}") {
            proptest::prop_assert_eq!(bearer(v.as_bytes()), bearer_unicode(&v));
        }

        /// And so does the one-pass reading of the common form.
        #[test]
        fn the_common_form_reads_as_unicode(v in "[Bb][Ee][Aa][Rr][Ee][Rr][ \t]{0,2}[ -~\t-\r]{0,40}") {
            proptest::prop_assert_eq!(bearer(v.as_bytes()), bearer_unicode(&v));
        }
    }
}

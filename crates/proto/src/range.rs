//! The `Range` header (RFC 9110 §14), parsed once into a typed value.
//!
//! [`parse`] reads the header without knowing the representation; [`resolve`] then
//! decides, for a given length, what to send. The server's choices where the RFC leaves
//! room are marked \[ours\] in the wire contract:
//! - a `bytes=` value that does not parse answers 416 (not "ignore the header");
//! - overlapping and adjacent ranges are coalesced (and so sorted);
//! - more than [`MAX_RANGES`] ranges, or ranges adding up to more than the
//!   representation, get the whole representation with 200.

/// The most ranges one request may ask for before the server sends the whole file.
pub const MAX_RANGES: usize = 16;

/// One `range-spec` of the header, before the length is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeSpec {
    /// `first-last`, both inclusive.
    FromTo(u64, u64),
    /// `first-`: from `first` to the end.
    From(u64),
    /// `-n`: the last `n` bytes.
    Suffix(u64),
}

/// A satisfiable range, both ends inclusive; `start <= end` always holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

impl ByteRange {
    /// How many bytes the range covers.
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    /// Never true; here for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// `bytes a-b/total`, the `Content-Range` value for this range.
    pub fn content_range(&self, total: u64) -> ContentRange {
        let mut value = ContentRange {
            bytes: [0; CONTENT_RANGE_MAX],
            len: 0,
        };
        value.push(b"bytes ");
        value.push_decimal(self.start);
        value.push(b"-");
        value.push_decimal(self.end);
        value.push(b"/");
        value.push_decimal(total);
        value
    }
}

/// `"bytes " + 3 numbers of up to 20 digits + "-" + "/"`.
const CONTENT_RANGE_MAX: usize = 6 + 3 * 20 + 2;

/// A `Content-Range` value, written in place: every ranged answer makes one, and going
/// through `format!` was a tenth of the server's own work on a small 206 (callgrind,
/// bench B's request).
#[derive(Clone, Copy)]
pub struct ContentRange {
    bytes: [u8; CONTENT_RANGE_MAX],
    len: usize,
}

impl ContentRange {
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).expect("ASCII written by push")
    }

    /// The value's ASCII bytes, for a header value (which checks them itself).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn push(&mut self, ascii: &[u8]) {
        self.bytes[self.len..self.len + ascii.len()].copy_from_slice(ascii);
        self.len += ascii.len();
    }

    fn push_decimal(&mut self, n: u64) {
        self.len += crate::decimal::write(n, &mut self.bytes[self.len..]);
    }
}

impl std::fmt::Display for ContentRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for ContentRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

/// A header that names the `bytes` unit but whose value does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeParseError;

impl std::fmt::Display for RangeParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("malformed bytes range")
    }
}

impl std::error::Error for RangeParseError {}

/// Reads a `Range` header value.
///
/// `Ok(None)`: a unit other than `bytes`, which the server ignores (RFC 9110 §14.2).
/// `Err`: `bytes=` followed by something that is not a list of range specs.
pub fn parse(value: &[u8]) -> Result<Option<Vec<RangeSpec>>, RangeParseError> {
    let value = std::str::from_utf8(value).map_err(|_| RangeParseError)?;
    let Some((unit, set)) = value.trim().split_once('=') else {
        // No `=` at all: not a byte range of any unit we know.
        return if value.trim().to_ascii_lowercase().starts_with("bytes") {
            Err(RangeParseError)
        } else {
            Ok(None)
        };
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return Ok(None);
    }
    let specs = specs(set).collect::<Result<Vec<_>, _>>()?;
    if specs.is_empty() {
        return Err(RangeParseError);
    }
    Ok(Some(specs))
}

/// The specs of a `range-set`. The list rule (RFC 9110 §5.6.1) allows empty elements;
/// they are skipped.
fn specs(set: &str) -> impl Iterator<Item = Result<RangeSpec, RangeParseError>> {
    set.split(',')
        .map(|element| element.trim_matches([' ', '\t']))
        .filter(|element| !element.is_empty())
        .map(parse_spec)
}

fn parse_spec(spec: &str) -> Result<RangeSpec, RangeParseError> {
    let (first, last) = spec.split_once('-').ok_or(RangeParseError)?;
    match (first.is_empty(), last.is_empty()) {
        (true, true) => Err(RangeParseError),
        (true, false) => Ok(RangeSpec::Suffix(digits(last)?)),
        (false, true) => Ok(RangeSpec::From(digits(first)?)),
        (false, false) => {
            let (first, last) = (digits(first)?, digits(last)?);
            if last < first {
                // RFC 9110 §14.1.1: such a spec is invalid.
                return Err(RangeParseError);
            }
            Ok(RangeSpec::FromTo(first, last))
        }
    }
}

/// A run of ASCII digits. Numbers past `u64::MAX` saturate: no file is that large, so a
/// huge last-pos clamps like any other and a huge first-pos is unsatisfiable.
fn digits(s: &str) -> Result<u64, RangeParseError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RangeParseError);
    }
    Ok(s.bytes().fold(0u64, |n, b| {
        n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

impl RangeSpec {
    /// The bytes this spec selects from a representation of `size` bytes, if any.
    pub fn satisfiable(self, size: u64) -> Option<ByteRange> {
        if size == 0 {
            return None;
        }
        let last = size - 1;
        match self {
            RangeSpec::FromTo(first, end) if first <= last => Some(ByteRange {
                start: first,
                end: end.min(last),
            }),
            RangeSpec::From(first) if first <= last => Some(ByteRange {
                start: first,
                end: last,
            }),
            RangeSpec::Suffix(n) if n > 0 => Some(ByteRange {
                start: size.saturating_sub(n),
                end: last,
            }),
            _ => None,
        }
    }
}

/// What to send for a request, once the length is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeDecision {
    /// 200 with the whole representation.
    Full,
    /// 206 with one range.
    Single(ByteRange),
    /// 206 `multipart/byteranges`; at least two ranges, sorted, none overlapping or touching.
    Multi(Vec<ByteRange>),
    /// 416 with `Content-Range: bytes */size`.
    Unsatisfiable,
}

/// Decides what to send for the `Range` header `value` (absent: `None`) on `size` bytes.
pub fn resolve(value: Option<&[u8]>, size: u64) -> RangeDecision {
    let Some(value) = value else {
        return RangeDecision::Full;
    };
    // One spec, what nearly every client sends, is decided without making a list.
    if !value.contains(&b',')
        && let Some(set) = value
            .strip_prefix(b"bytes=")
            .and_then(|set| std::str::from_utf8(set).ok())
    {
        let mut one = specs(set);
        return match (one.next(), one.next()) {
            (Some(Ok(spec)), None) => spec
                .satisfiable(size)
                .map_or(RangeDecision::Unsatisfiable, RangeDecision::Single),
            // Not one well-formed spec: `parse`'s reading (unit, spaces, errors) decides.
            _ => resolve_parsed(parse(value), size),
        };
    }
    resolve_parsed(parse(value), size)
}

fn resolve_parsed(
    parsed: Result<Option<Vec<RangeSpec>>, RangeParseError>,
    size: u64,
) -> RangeDecision {
    match parsed {
        Ok(None) => RangeDecision::Full,
        Err(RangeParseError) => RangeDecision::Unsatisfiable,
        Ok(Some(specs)) => resolve_specs(&specs, size),
    }
}

/// [`resolve`] for specs already parsed.
pub fn resolve_specs(specs: &[RangeSpec], size: u64) -> RangeDecision {
    if specs.len() > MAX_RANGES {
        return RangeDecision::Full;
    }
    let mut ranges: Vec<ByteRange> = specs.iter().filter_map(|s| s.satisfiable(size)).collect();
    if ranges.is_empty() {
        return RangeDecision::Unsatisfiable;
    }
    let asked: u64 = ranges
        .iter()
        .fold(0u64, |sum, r| sum.saturating_add(r.len()));
    if ranges.len() > 1 && asked > size {
        return RangeDecision::Full;
    }
    ranges.sort_by_key(|r| r.start);
    let mut merged: Vec<ByteRange> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match merged.last_mut() {
            // Overlapping or adjacent: one part serves both.
            Some(prev) if r.start <= prev.end.saturating_add(1) => prev.end = prev.end.max(r.end),
            _ => merged.push(r),
        }
    }
    if merged.len() == 1 {
        RangeDecision::Single(merged[0])
    } else {
        RangeDecision::Multi(merged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn r(start: u64, end: u64) -> ByteRange {
        ByteRange { start, end }
    }

    #[test]
    fn parses_specs() {
        assert_eq!(
            parse(b"bytes=0-1024"),
            Ok(Some(vec![RangeSpec::FromTo(0, 1024)]))
        );
        assert_eq!(parse(b"Bytes=5-"), Ok(Some(vec![RangeSpec::From(5)])));
        assert_eq!(parse(b"bytes=-7"), Ok(Some(vec![RangeSpec::Suffix(7)])));
        assert_eq!(
            parse(b"bytes=0-1, 4-5 ,,-3"),
            Ok(Some(vec![
                RangeSpec::FromTo(0, 1),
                RangeSpec::FromTo(4, 5),
                RangeSpec::Suffix(3)
            ]))
        );
        assert_eq!(parse(b"items=0-1"), Ok(None));
        assert_eq!(parse(b"none"), Ok(None));
        for bad in [
            &b"bytes="[..],
            b"bytes=-",
            b"bytes=a-b",
            b"bytes=5-1",
            b"bytes=0-1-2",
            b"bytes=+1-2",
            b"bytes=1",
            b"bytes",
            b"bytes=0x10-",
            b"bytes=,",
            b"bytes=\xff-1",
        ] {
            assert_eq!(
                parse(bad),
                Err(RangeParseError),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn content_range_values() {
        assert_eq!(r(0, 0).content_range(1).as_str(), "bytes 0-0/1");
        assert_eq!(
            r(4096, 8191).content_range(300_000).to_string(),
            "bytes 4096-8191/300000"
        );
        let max = u64::MAX;
        assert_eq!(
            r(max - 1, max).content_range(max).as_str(),
            format!("bytes {}-{max}/{max}", max - 1)
        );
    }

    #[test]
    fn huge_numbers_saturate() {
        assert_eq!(
            resolve(Some(b"bytes=0-99999999999999999999999"), 10),
            RangeDecision::Single(r(0, 9))
        );
        assert_eq!(
            resolve(Some(b"bytes=99999999999999999999999-"), 10),
            RangeDecision::Unsatisfiable
        );
    }

    #[test]
    fn resolves_against_length() {
        let d = |h: &str, size| resolve(Some(h.as_bytes()), size);
        assert_eq!(d("bytes=0-1024", 10_000), RangeDecision::Single(r(0, 1024)));
        assert_eq!(d("bytes=5-100", 10), RangeDecision::Single(r(5, 9)));
        assert_eq!(d("bytes=-3", 10), RangeDecision::Single(r(7, 9)));
        assert_eq!(d("bytes=-30", 10), RangeDecision::Single(r(0, 9)));
        assert_eq!(d("bytes=-0", 10), RangeDecision::Unsatisfiable);
        assert_eq!(d("bytes=10-", 10), RangeDecision::Unsatisfiable);
        assert_eq!(d("bytes=0-0", 0), RangeDecision::Unsatisfiable);
        assert_eq!(d("bytes=-1", 0), RangeDecision::Unsatisfiable);
        assert_eq!(
            d("bytes=0-1,3-4", 10),
            RangeDecision::Multi(vec![r(0, 1), r(3, 4)])
        );
        assert_eq!(
            d("bytes=3-4,0-1", 10),
            RangeDecision::Multi(vec![r(0, 1), r(3, 4)])
        );
        assert_eq!(d("bytes=0-2,2-4", 10), RangeDecision::Single(r(0, 4)));
        assert_eq!(d("bytes=0-1,2-3", 10), RangeDecision::Single(r(0, 3)));
        assert_eq!(d("bytes=0-1,20-30", 10), RangeDecision::Single(r(0, 1)));
        assert_eq!(d("bytes=0-,0-", 10), RangeDecision::Full);
        assert_eq!(d("bytes=x", 10), RangeDecision::Unsatisfiable);
        assert_eq!(resolve(None, 10), RangeDecision::Full);
        let many = format!(
            "bytes={}",
            (0..17)
                .map(|i| format!("{i}-{i}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert_eq!(d(&many, 100), RangeDecision::Full);
        let sixteen = format!(
            "bytes={}",
            (0..16)
                .map(|i| format!("{}-{}", i * 2, i * 2))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert!(matches!(d(&sixteen, 100), RangeDecision::Multi(v) if v.len() == 16));
    }

    /// The model: a set of byte offsets, built the slow and obvious way.
    fn model(specs: &[RangeSpec], size: u64) -> Option<std::collections::BTreeSet<u64>> {
        let mut set = std::collections::BTreeSet::new();
        let mut any = false;
        for s in specs {
            let (a, b) = match *s {
                RangeSpec::FromTo(a, b) => (a, b.min(size.saturating_sub(1))),
                RangeSpec::From(a) => (a, size.saturating_sub(1)),
                RangeSpec::Suffix(n) => (size.saturating_sub(n), size.saturating_sub(1)),
            };
            let ok = size > 0 && a < size && !matches!(s, RangeSpec::Suffix(0));
            if ok {
                any = true;
                set.extend(a..=b);
            }
        }
        any.then_some(set)
    }

    fn spec() -> impl Strategy<Value = RangeSpec> {
        prop_oneof![
            (0u64..80, 0u64..80).prop_map(|(a, b)| RangeSpec::FromTo(a.min(b), a.max(b))),
            (0u64..80).prop_map(RangeSpec::From),
            (0u64..80).prop_map(RangeSpec::Suffix),
        ]
    }

    fn render(s: &RangeSpec) -> String {
        match s {
            RangeSpec::FromTo(a, b) => format!("{a}-{b}"),
            RangeSpec::From(a) => format!("{a}-"),
            RangeSpec::Suffix(n) => format!("-{n}"),
        }
    }

    proptest! {
        /// The one-spec path of `resolve` reads every value as `parse` does.
        #[test]
        fn the_one_spec_path_agrees_with_parse(
            value in "(bytes|Bytes|items)?[=]?[ \t]?[-]?[0-9]{0,3}[-]?[0-9]{0,3}[ \t\u{a0}x]?",
            size in 0u64..1000,
        ) {
            prop_assert_eq!(
                resolve(Some(value.as_bytes()), size),
                resolve_parsed(parse(value.as_bytes()), size),
                "{:?}", value
            );
        }

        #[test]
        fn resolve_covers_exactly_what_the_model_selects(
            specs in proptest::collection::vec(spec(), 1..6),
            size in 0u64..64,
        ) {
            let header = format!("bytes={}", specs.iter().map(render).collect::<Vec<_>>().join(","));
            prop_assert_eq!(parse(header.as_bytes()), Ok(Some(specs.clone())));
            let decision = resolve(Some(header.as_bytes()), size);
            match (model(&specs, size), decision) {
                (None, RangeDecision::Unsatisfiable) => {}
                (Some(_), RangeDecision::Full) => {
                    let asked: u64 = specs.iter().filter_map(|s| s.satisfiable(size)).map(|r| r.len()).sum();
                    prop_assert!(asked > size, "full answer although {} <= {}", asked, size);
                }
                (Some(want), RangeDecision::Single(got)) => {
                    prop_assert_eq!(want, (got.start..=got.end).collect());
                }
                (Some(want), RangeDecision::Multi(got)) => {
                    for w in got.windows(2) {
                        prop_assert!(w[0].end + 1 < w[1].start, "parts touch or overlap");
                    }
                    let covered: std::collections::BTreeSet<u64> =
                        got.iter().flat_map(|r| r.start..=r.end).collect();
                    prop_assert_eq!(want, covered);
                }
                (m, d) => prop_assert!(false, "model {:?} vs decision {:?}", m, d),
            }
        }

        #[test]
        fn content_range_is_what_format_writes(start: u64, end: u64, total: u64) {
            let value = ByteRange { start, end }.content_range(total);
            prop_assert_eq!(value.as_str(), format!("bytes {start}-{end}/{total}"));
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = resolve(Some(&bytes), 100);
        }
    }
}

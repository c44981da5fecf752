//! Unsigned numbers as the ASCII digits headers carry, written on the stack: the server
//! writes a few per answer (`Content-Length`, `Content-Range`), and `fmt` machinery
//! took ~350 instructions for each (callgrind, bench B's request).

/// The decimal digits of one `u64`.
#[derive(Clone, Copy)]
pub struct Decimal {
    digits: [u8; 20],
    len: u8,
}

impl Decimal {
    pub fn of(n: u64) -> Self {
        let mut digits = [0u8; 20];
        let len = write(n, &mut digits) as u8;
        Self { digits, len }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.digits[..usize::from(self.len)]
    }
}

/// Writes `n`'s digits at the start of `out` (which must have room: 20 bytes hold any
/// `u64`), the last first, and says how many: a header value written in place (a
/// `Content-Range`) takes them without a copy.
pub fn write(mut n: u64, out: &mut [u8]) -> usize {
    let len = n.checked_ilog10().map_or(1, |d| d as usize + 1);
    for digit in out[..len].iter_mut().rev() {
        *digit = b'0' + (n % 10) as u8;
        n /= 10;
    }
    len
}

#[cfg(test)]
mod tests {
    use super::Decimal;
    use proptest::prelude::*;

    #[test]
    fn edges() {
        assert_eq!(Decimal::of(0).as_bytes(), b"0");
        assert_eq!(Decimal::of(10).as_bytes(), b"10");
        assert_eq!(
            Decimal::of(u64::MAX).as_bytes(),
            u64::MAX.to_string().as_bytes()
        );
    }

    proptest! {
        #[test]
        fn as_fmt_writes_it(n: u64) {
            let (ours, fmt) = (Decimal::of(n), n.to_string());
            prop_assert_eq!(ours.as_bytes(), fmt.as_bytes());
        }
    }
}

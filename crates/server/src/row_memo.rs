//! [`RowMemo`]: what was derived from a shared row, kept per row.
//!
//! The metadata cache hands out its rows as `Arc`s, and a changed row is a new `Arc`.
//! So a value derived from a row (a media's rendered answer headers) can be kept by the
//! row's address and is current exactly while the row is the same allocation. Each slot
//! holds its row's `Arc` too: an address cannot be freed and reused by another row
//! while a slot is keyed by it.
//!
//! Direct-mapped, like a CPU cache: a fixed number of slots, one place per address, a
//! newcomer evicts whoever was there. No key to hash or copy, one uncontended lock, and
//! memory bounded by the slot count whatever the traffic.

use std::sync::{Arc, Mutex};

/// A row and what was derived from it (`None`: the row was seen once, and nothing was
/// kept for it yet; see [`RowMemo::get_if_seen`]).
type Slot<R, V> = Mutex<Option<(Arc<R>, Option<Arc<V>>)>>;

pub struct RowMemo<R, V> {
    slots: Box<[Slot<R, V>]>,
    /// `64 - log2(slots)`: the top bits of the address's hash pick the slot.
    shift: u32,
}

impl<R, V> RowMemo<R, V> {
    /// A memo of `slots` slots (rounded up to a power of two).
    pub fn new(slots: usize) -> Self {
        let slots = slots.max(2).next_power_of_two();
        Self {
            slots: (0..slots).map(|_| Mutex::new(None)).collect(),
            shift: 64 - slots.trailing_zeros(),
        }
    }

    /// The value kept for `row`, or `make`'s, kept from now on.
    pub fn get_or(&self, row: &Arc<R>, make: impl FnOnce(&R) -> V) -> Arc<V> {
        self.get(row, true, make).expect("made when missing")
    }

    /// [`RowMemo::get_or`] for a row seen before: the first time a row is asked for, it is
    /// only noted (no value made, `None`), and the value is made and kept the next time.
    /// For callers that can do without the value once: drawn from 100 000 media (bench
    /// B100k), nearly every row is asked for once, and making and dropping its value was
    /// the costlier part of its answer.
    pub fn get_if_seen(&self, row: &Arc<R>, make: impl FnOnce(&R) -> V) -> Option<Arc<V>> {
        self.get(row, false, make)
    }

    fn get(&self, row: &Arc<R>, first_too: bool, make: impl FnOnce(&R) -> V) -> Option<Arc<V>> {
        let slot = &self.slots[self.slot_of(row)];
        let seen = match &*lock(slot) {
            Some((kept, v)) if Arc::ptr_eq(kept, row) => match v {
                Some(v) => return Some(v.clone()),
                None => true,
            },
            _ => false,
        };
        if !seen && !first_too {
            // The evicted pair is dropped after the lock is let go.
            let _evicted = lock(slot).replace((row.clone(), None));
            return None;
        }
        let v = Arc::new(make(row));
        let _evicted = lock(slot).replace((row.clone(), Some(v.clone())));
        Some(v)
    }

    fn slot_of(&self, row: &Arc<R>) -> usize {
        // Fibonacci hashing: allocations are aligned, so the low bits say little.
        let addr = Arc::as_ptr(row) as usize as u64;
        (addr.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }
}

/// A slot whose holder panicked is still a valid slot: its pair was written whole.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::RowMemo;
    use std::cell::Cell;
    use std::sync::Arc;

    #[test]
    fn a_row_is_derived_once_and_a_new_row_again_or_noted_first() {
        let memo = RowMemo::new(64);
        let made = Cell::new(0);
        let make = |r: &String| {
            made.set(made.get() + 1);
            r.len()
        };
        let a = Arc::new("abc".to_owned());
        assert_eq!(*memo.get_or(&a, make), 3);
        assert_eq!(*memo.get_or(&a, make), 3);
        assert_eq!(made.get(), 1, "the same row is not derived twice");
        // An equal row that is another allocation (a changed, re-read row) misses.
        let b = Arc::new("abc".to_owned());
        memo.get_or(&b, make);
        assert_eq!(made.get(), 2);

        // `get_if_seen`: a row is only noted the first time, made the second, kept after.
        let memo = RowMemo::new(64);
        made.set(0);
        assert!(memo.get_if_seen(&a, make).is_none());
        assert_eq!(made.get(), 0);
        assert_eq!(memo.get_if_seen(&a, make).as_deref(), Some(&3));
        assert_eq!(memo.get_if_seen(&a, make).as_deref(), Some(&3));
        assert_eq!(*memo.get_or(&a, make), 3);
        assert_eq!(made.get(), 1, "made the second time, kept after");
        // A noted row is made at once by `get_or`.
        let c = Arc::new("abcd".to_owned());
        assert!(memo.get_if_seen(&c, make).is_none());
        assert_eq!(*memo.get_or(&c, make), 4);
        assert_eq!(made.get(), 2);
    }

    #[test]
    fn memory_is_bounded_by_the_slots() {
        let memo = RowMemo::new(8);
        let rows: Vec<_> = (0..1000).map(Arc::new).collect();
        for r in &rows {
            assert_eq!(*memo.get_or(r, |n| n * 2), **r * 2);
        }
        let kept = rows.iter().filter(|r| Arc::strong_count(r) > 1).count();
        assert!(kept <= 8, "{kept} rows kept by 8 slots");
        assert!(kept >= 1);
    }
}

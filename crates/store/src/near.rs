//! [`Near`]: each thread's few slots in front of the shared cache of [`crate::cache`],
//! for the rows every download reads again (its token, app and document).
//!
//! A read of the shared cache takes its shard's read lock and clones the row's `Arc`:
//! both are writes to cache lines the other worker thread writes too when it reads the
//! same hot row, so those lines moved between the cores on every read
//! (`quick_cache::sync::Cache::get` was 3.9% of the server's CPU under bench B, the most
//! of any function of ours). A thread's slots, and the copies of rows it read twice,
//! are its own.
//!
//! A slot is good while its map's generation is the one read before the value was
//! taken from the shared cache; every drop bumps the generation before and after it
//! removes (see `Map::drop_key`), so a value read during a drop is never kept past it.

use crate::model::{AccessToken, App, Document, Media, User};
use std::cell::RefCell;
use std::sync::Arc;

/// Slots per thread and kind: enough for the hot rows (one app's token, its app, a few
/// documents), few enough that what they keep alive stays small (at most this many rows
/// per worker thread and kind, beside the shared cache's budget).
const SLOTS: usize = 64;

struct Slot<V> {
    map: u64,
    generation: u64,
    value: Arc<V>,
    /// `value` is this thread's own copy, not the shared cache's `Arc`: handing out
    /// clones of the shared one moved its count's line between the cores as well.
    own: bool,
}

pub(crate) struct Slots<V> {
    slots: Vec<Option<Slot<V>>>,
}

impl<V> Slots<V> {
    pub(crate) fn new() -> Self {
        Self {
            slots: (0..SLOTS).map(|_| None).collect(),
        }
    }
}

/// The kinds that have slots: each its own thread-local (a `thread_local!` in a generic
/// function would be one for every kind).
pub(crate) trait Near: Clone + Sized + 'static {
    fn with_slots<R>(f: impl FnOnce(&mut Slots<Self>) -> R) -> R;

    /// The key the cache keeps this row by.
    fn key(&self) -> &str;

    /// This thread's value for `key` in map `map`, if it was taken at `generation`. A
    /// row found a second time becomes this thread's own copy: a row read once copies
    /// nothing, a hot row is copied once per thread and generation.
    fn near(map: u64, generation: u64, key: &str) -> Option<Arc<Self>> {
        Self::with_slots(|s| {
            let slot = s.slots[slot_of(map, key)].as_mut()?;
            if slot.map != map || slot.generation != generation || slot.value.key() != key {
                return None;
            }
            if !slot.own {
                slot.value = Arc::new((*slot.value).clone());
                slot.own = true;
            }
            Some(slot.value.clone())
        })
    }

    /// Keeps the shared `value`, as read from map `map` at `generation`.
    fn keep(map: u64, generation: u64, value: &Arc<Self>) {
        let evicted = Self::with_slots(|s| {
            s.slots[slot_of(map, value.key())].replace(Slot {
                map,
                generation,
                value: value.clone(),
                own: false,
            })
        });
        // Dropped outside the borrow.
        drop(evicted);
    }
}

macro_rules! near {
    ($($t:ty: $key:ident),*) => {$(
        impl Near for $t {
            fn with_slots<R>(f: impl FnOnce(&mut Slots<Self>) -> R) -> R {
                thread_local! {
                    static SLOTS: RefCell<Slots<$t>> = RefCell::new(Slots::new());
                }
                SLOTS.with(|s| f(&mut s.borrow_mut()))
            }

            fn key(&self) -> &str {
                &self.$key
            }
        }
    )*};
}
near!(App: app_id, User: user_id, AccessToken: hash, Document: token, Media: file_token);

/// A slot by the key's bytes, eight at a time (FxHash's mix), and the map.
fn slot_of(map: u64, key: &str) -> usize {
    const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    let mut h = map.wrapping_mul(K);
    let mut chunks = key.as_bytes().chunks_exact(8);
    for c in &mut chunks {
        let word = u64::from_le_bytes(c.try_into().expect("eight bytes"));
        h = (h.rotate_left(5) ^ word).wrapping_mul(K);
    }
    for b in chunks.remainder() {
        h = (h.rotate_left(5) ^ u64::from(*b)).wrapping_mul(K);
    }
    // The top bits are the best mixed.
    (h >> (64 - SLOTS.trailing_zeros())) as usize
}

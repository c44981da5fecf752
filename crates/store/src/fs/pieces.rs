//! Reused, page-aligned buffers of [`PIECE`] bytes, the unit in which chunked uploads are
//! written, read back and hashed.
//!
//! Aligned, because a piece is written with `O_DIRECT` where the filesystem allows it
//! (see [`super::parts`]): the kernel then takes the bytes straight from the buffer
//! instead of copying them into the page cache, which was the largest single cost of a
//! chunked upload (35% of the server's CPU time). Direct I/O needs the buffer's address,
//! the file offset and the length to be multiples of the device's block size; [`ALIGN`]
//! covers every block size in use.
//!
//! Reused, because allocating and freeing a megabyte per piece made glibc raise its mmap
//! threshold and then keep the freed buffers in its per-thread arenas: 40 MiB stayed
//! resident after one chunked upload of 1 GiB (bench D).

use std::sync::{Mutex, PoisonError};

/// The size of a piece.
pub(super) const PIECE: usize = 1024 * 1024;
/// The alignment of a piece's first byte, and of the offsets and lengths written directly.
pub(super) const ALIGN: usize = 4096;

/// Idle pieces, kept for the next request.
static IDLE: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
/// At most this many idle pieces are kept (their memory stays resident).
const IDLE_KEPT: usize = 16;

/// A buffer of [`PIECE`] bytes whose first byte is [`ALIGN`]-aligned, with a fill level.
/// Goes back to the idle list when dropped.
pub(super) struct Piece {
    /// `PIECE + ALIGN` bytes: the piece is the aligned window `start..start + PIECE`.
    /// A `Vec`'s heap buffer does not move when the `Vec` does, so `start` stays right.
    raw: Vec<u8>,
    start: usize,
    len: usize,
}

impl Piece {
    /// An empty piece, reused when one is idle.
    pub(super) fn take() -> Self {
        let raw = IDLE
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_else(|| vec![0; PIECE + ALIGN]);
        let start = raw.as_ptr().align_offset(ALIGN);
        assert!(
            start + PIECE <= raw.len(),
            "a piece's window fits its buffer"
        );
        Self { raw, start, len: 0 }
    }

    /// The bytes filled so far.
    pub(super) fn filled(&self) -> &[u8] {
        &self.raw[self.start..self.start + self.len]
    }

    /// The room left, to read into; [`Piece::advance`] then counts what was read.
    pub(super) fn spare(&mut self) -> &mut [u8] {
        &mut self.raw[self.start + self.len..self.start + PIECE]
    }

    pub(super) fn advance(&mut self, n: usize) {
        self.len = (self.len + n).min(PIECE);
    }

    /// The first `n` bytes (at most a piece), as filled, to be read into whole.
    pub(super) fn fill(&mut self, n: usize) -> &mut [u8] {
        self.len = n.min(PIECE);
        &mut self.raw[self.start..self.start + self.len]
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_full(&self) -> bool {
        self.len == PIECE
    }
}

impl Drop for Piece {
    fn drop(&mut self) {
        let mut idle = IDLE.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < IDLE_KEPT {
            idle.push(std::mem::take(&mut self.raw));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_are_aligned_and_keep_their_fill() {
        let mut p = Piece::take();
        assert_eq!(p.spare().as_ptr().align_offset(ALIGN), 0);
        assert_eq!(p.spare().len(), PIECE);
        p.spare()[..3].copy_from_slice(b"abc");
        p.advance(3);
        assert_eq!(p.filled(), b"abc");
        assert!(!p.is_full());
        p.advance(PIECE);
        assert!(p.is_full());
        assert_eq!(p.fill(5).len(), 5);
        assert_eq!(p.len(), 5);
        // A piece that comes back from the idle list is aligned again.
        drop(p);
        let q = Piece::take();
        assert_eq!(q.filled().as_ptr().align_offset(ALIGN), 0);
        assert_eq!(q.len(), 0);
    }
}

//! Uploads are written a piece at a time: reused, page-aligned buffers of [`PIECE`]
//! bytes ([`Piece`]), written with `O_DIRECT` where the filesystem allows it
//! ([`DirectFile`]), each while the next one is read from the network ([`write_pieces`]).
//!
//! Direct, because the kernel then takes the bytes straight from the buffer instead of
//! copying them into the page cache, which was the largest single cost of a chunked
//! upload (35% of the server's CPU time), and because the bytes reach the disk while the
//! upload goes on instead of all at once in the final fsync. Direct I/O needs the buffer's
//! address, the file offset and the length to be multiples of the device's block size;
//! [`ALIGN`] covers every block size in use.
//!
//! Reused, because allocating and freeing a megabyte per piece made glibc raise its mmap
//! threshold and then keep the freed buffers in its per-thread arenas: 40 MiB stayed
//! resident after one chunked upload of 1 GiB (bench D).

use crate::blob::Intake;
use crate::error::StoreResult;
use std::fs::File;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::io::AsyncRead;

/// The size of a piece.
pub(super) const PIECE: usize = 1024 * 1024;
/// The alignment of a piece's first byte, and of the offsets and lengths written directly.
pub(super) const ALIGN: usize = 4096;

/// At most this many full-size pieces exist at once, in all uploads together; past it a
/// piece is [`SMALL_PIECE`] long. So uploads take 16 MiB of pieces, plus 32 KiB per
/// request past that (two pieces each: the one filling and the one being written), and
/// no request waits for memory: one that waited, holding
/// back its body, could be held up by a few senders that trickle theirs. 200 chunked
/// uploads of a 4 MiB block at once (bench U) took 176 MiB with a full piece each, 62
/// MiB now (37 MiB when the requests past 4 waited instead, which let 4 slow senders
/// stall every upload).
const BIG_MAX: usize = 16;
static BIG_OUT: AtomicUsize = AtomicUsize::new(0);
/// The size of a piece when the full-size ones are all out (still aligned for O_DIRECT).
pub(super) const SMALL_PIECE: usize = 16 * 1024;

/// Idle pieces, kept for the next request.
static IDLE: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
/// At most this many idle pieces are kept (their memory stays resident).
const IDLE_KEPT: usize = 16;

/// A buffer of [`PIECE`] bytes (or [`SMALL_PIECE`], see [`BIG_MAX`]) whose first byte
/// is [`ALIGN`]-aligned, with a fill level. A full-size one goes back to the idle list
/// when dropped.
pub(super) struct Piece {
    /// `cap + ALIGN` bytes: the piece is the aligned window `start..start + cap`.
    /// A `Vec`'s heap buffer does not move when the `Vec` does, so `start` stays right.
    raw: Vec<u8>,
    start: usize,
    len: usize,
    cap: usize,
}

impl Piece {
    /// An empty piece: full-size (reused when one is idle) while fewer than [`BIG_MAX`]
    /// are out, else small.
    pub(super) fn take() -> Self {
        let big = BIG_OUT
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < BIG_MAX).then_some(n + 1)
            })
            .is_ok();
        let (raw, cap) = if big {
            let raw = IDLE
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop()
                .unwrap_or_else(|| vec![0; PIECE + ALIGN]);
            (raw, PIECE)
        } else {
            (vec![0; SMALL_PIECE + ALIGN], SMALL_PIECE)
        };
        let start = raw.as_ptr().align_offset(ALIGN);
        assert!(start + cap <= raw.len(), "a piece's window fits its buffer");
        Self {
            raw,
            start,
            len: 0,
            cap,
        }
    }

    /// How many bytes it holds when full.
    pub(super) fn capacity(&self) -> usize {
        self.cap
    }

    /// The bytes filled so far.
    pub(super) fn filled(&self) -> &[u8] {
        &self.raw[self.start..self.start + self.len]
    }

    /// The room left, to read into; [`Piece::advance`] then counts what was read.
    pub(super) fn spare(&mut self) -> &mut [u8] {
        &mut self.raw[self.start + self.len..self.start + self.cap]
    }

    pub(super) fn advance(&mut self, n: usize) {
        self.len = (self.len + n).min(self.cap);
    }

    /// The first `n` bytes (at most its capacity), as filled, to be read into whole.
    pub(super) fn fill(&mut self, n: usize) -> &mut [u8] {
        self.len = n.min(self.cap);
        &mut self.raw[self.start..self.start + self.len]
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_full(&self) -> bool {
        self.len == self.cap
    }
}

impl Drop for Piece {
    fn drop(&mut self) {
        if self.cap != PIECE {
            return;
        }
        BIG_OUT.fetch_sub(1, Ordering::AcqRel);
        let mut idle = IDLE.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < IDLE_KEPT {
            idle.push(std::mem::take(&mut self.raw));
        }
    }
}

/// A file opened twice: as usual, and with `O_DIRECT` where the filesystem allows it.
pub(super) struct DirectFile {
    /// Reads, syncs, and the writes that cannot go direct.
    pub(super) file: File,
    direct: Option<File>,
    /// Cleared when a direct write is refused, so later writes go through `file`.
    direct_ok: AtomicBool,
}

impl DirectFile {
    /// Opens `path` for reading and writing with `options` (create, create_new…).
    pub(super) fn open(path: &Path, options: &std::fs::OpenOptions) -> std::io::Result<Self> {
        let file = options.open(path)?;
        // Some filesystems refuse O_DIRECT: then every write goes through the page cache.
        let direct = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32)
            .open(path)
            .ok();
        Ok(Self {
            file,
            direct_ok: AtomicBool::new(direct.is_some()),
            direct,
        })
    }

    /// Writes `buf` at `at`: its aligned part directly when `buf` and `at` are aligned,
    /// the rest through the page cache.
    pub(super) fn write_at(&self, buf: &[u8], at: u64) -> std::io::Result<()> {
        let mut done = 0;
        if let Some(direct) = &self.direct
            && self.direct_ok.load(Ordering::Relaxed)
            && at.is_multiple_of(ALIGN as u64)
            && buf.as_ptr().align_offset(ALIGN) == 0
        {
            let aligned = buf.len() - buf.len() % ALIGN;
            match direct.write_all_at(&buf[..aligned], at) {
                Ok(()) => done = aligned,
                // Refused (a filesystem that takes O_DIRECT at open but not for this
                // write): whatever part went out is written again below.
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) => {
                    tracing::warn!(error = %e, "direct writes refused; writing through the page cache");
                    self.direct_ok.store(false, Ordering::Relaxed);
                }
                Err(e) => return Err(e),
            }
        }
        self.file.write_all_at(&buf[done..], at + done as u64)
    }
}

/// Where [`write_pieces`] writes.
pub(super) trait PieceSink: Send + Sync + 'static {
    fn write_piece(&self, buf: &[u8], at: u64) -> std::io::Result<()>;
}

impl PieceSink for DirectFile {
    fn write_piece(&self, buf: &[u8], at: u64) -> std::io::Result<()> {
        self.write_at(buf, at)
    }
}

/// Reads `data` through `intake` into pieces and writes them into `sink` from `offset`
/// on, each piece while the next one is read; `written` gets every piece back once it
/// has landed. A clone of `hold` goes with every write, so that what it guards is
/// released only when the last write has landed, even if this future is dropped halfway.
/// Returns only when no write is in flight.
pub(super) async fn write_pieces<S: PieceSink, H: Clone + Send + 'static>(
    sink: &Arc<S>,
    data: &mut (dyn AsyncRead + Send + Unpin),
    intake: &mut Intake,
    offset: u64,
    hold: &H,
    mut written: impl FnMut(Piece),
) -> StoreResult<()> {
    let mut piece = Piece::take();
    let mut writing: Option<tokio::task::JoinHandle<std::io::Result<Piece>>> = None;
    let mut at = offset;
    let read: StoreResult<()> = loop {
        let n = match intake.read_into(data, piece.spare()).await {
            Ok(n) => n,
            Err(e) => break Err(e),
        };
        piece.advance(n);
        let done = n == 0;
        if piece.is_full() || (done && piece.len() > 0) {
            if let Some(w) = writing.take() {
                match landed(w).await {
                    Ok(p) => written(p),
                    Err(e) => break Err(e),
                }
            }
            let (sink, hold) = (sink.clone(), hold.clone());
            let full = std::mem::replace(&mut piece, Piece::take());
            let from = at;
            at += full.len() as u64;
            writing = Some(tokio::task::spawn_blocking(move || {
                let _hold = hold;
                sink.write_piece(full.filled(), from).map(|()| full)
            }));
        }
        if done {
            break Ok(());
        }
    };
    if let Some(w) = writing.take() {
        let p = landed(w).await;
        if read.is_ok() {
            written(p?);
        }
    }
    read
}

/// The piece a write task wrote, once it has landed.
async fn landed(task: tokio::task::JoinHandle<std::io::Result<Piece>>) -> StoreResult<Piece> {
    Ok(super::joined(task).await??)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::StoreError;

    #[test]
    fn past_the_budget_pieces_are_small() {
        let big: Vec<Piece> = (0..BIG_MAX + 4).map(|_| Piece::take()).collect();
        let small = big.iter().filter(|p| p.capacity() == SMALL_PIECE).count();
        assert!(small >= 4, "{small} small of {}", big.len());
        assert!(
            big.iter()
                .all(|p| p.filled().as_ptr().align_offset(ALIGN) == 0)
        );
        drop(big);
        assert!(BIG_OUT.load(Ordering::Acquire) <= BIG_MAX);
    }

    #[test]
    fn pieces_are_aligned_and_keep_their_fill() {
        let mut p = Piece::take();
        assert_eq!(p.spare().as_ptr().align_offset(ALIGN), 0);
        assert_eq!(p.spare().len(), p.capacity());
        p.spare()[..3].copy_from_slice(b"abc");
        p.advance(3);
        assert_eq!(p.filled(), b"abc");
        assert!(!p.is_full());
        p.advance(p.capacity());
        assert!(p.is_full());
        assert_eq!(p.fill(5).len(), 5);
        assert_eq!(p.len(), 5);
        // A piece that comes back from the idle list is aligned again.
        drop(p);
        let q = Piece::take();
        assert_eq!(q.filled().as_ptr().align_offset(ALIGN), 0);
        assert_eq!(q.len(), 0);
    }

    fn direct_file(dir: &tempfile::TempDir) -> (std::path::PathBuf, DirectFile) {
        let path = dir.path().join("f");
        let file = DirectFile::open(
            &path,
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true),
        )
        .unwrap();
        (path, file)
    }

    #[test]
    fn aligned_and_unaligned_writes_land_where_they_were_sent() {
        let dir = tempfile::tempdir().unwrap();
        let (path, file) = direct_file(&dir);
        let mut a = Piece::take();
        let n = ALIGN * 2 + 100; // an aligned part that goes direct, and a tail
        for (i, b) in a.fill(n).iter_mut().enumerate() {
            *b = (i % 251) as u8;
        }
        file.write_at(a.filled(), 0).unwrap();
        // Unaligned offset, unaligned buffer: through the page cache.
        file.write_at(b"xyz", n as u64 + 7).unwrap();
        let back = std::fs::read(&path).unwrap();
        assert_eq!(&back[..n], a.filled());
        assert_eq!(&back[n..n + 7], &[0; 7]);
        assert_eq!(&back[n + 7..], b"xyz");
    }

    /// Hands out `data` a few bytes at a time, then fails if `fail` says so.
    struct Trickle {
        data: Vec<u8>,
        at: usize,
        fail: bool,
    }

    impl AsyncRead for Trickle {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            let n = (self.data.len() - self.at)
                .min(buf.remaining())
                .min(300_000);
            if n == 0 && self.fail {
                return std::task::Poll::Ready(Err(std::io::Error::other("cut")));
            }
            let at = self.at;
            buf.put_slice(&self.data[at..at + n]);
            self.at += n;
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn a_stream_is_written_in_pieces_from_its_offset() {
        let dir = tempfile::tempdir().unwrap();
        let (path, file) = direct_file(&dir);
        let file = Arc::new(file);
        let data: Vec<u8> = (0..PIECE * 2 + PIECE / 2)
            .map(|i| (i % 253) as u8)
            .collect();
        let mut src = Trickle {
            data: data.clone(),
            at: 0,
            fail: false,
        };
        let mut intake = Intake::with_hash(u64::MAX, false);
        let hold = Arc::new(());
        let mut lens = Vec::new();
        let offset = PIECE as u64;
        write_pieces(&file, &mut src, &mut intake, offset, &hold, |p| {
            lens.push((p.len(), p.capacity()))
        })
        .await
        .unwrap();
        // Full pieces, then the rest (small ones when other tests hold the big ones).
        let (last, full) = lens.split_last().unwrap();
        assert!(full.iter().all(|(len, cap)| len == cap), "{lens:?}");
        assert!(last.0 <= last.1 && last.0 > 0, "{lens:?}");
        assert_eq!(lens.iter().map(|l| l.0).sum::<usize>(), data.len());
        assert_eq!(Arc::strong_count(&hold), 1, "no write is still in flight");
        let back = std::fs::read(&path).unwrap();
        assert_eq!(&back[PIECE..], &data[..]);
    }

    #[tokio::test]
    async fn a_failing_stream_returns_only_when_its_writes_have_landed() {
        let dir = tempfile::tempdir().unwrap();
        let (_, file) = direct_file(&dir);
        let file = Arc::new(file);
        let mut src = Trickle {
            data: vec![1; PIECE + 10],
            at: 0,
            fail: true,
        };
        let mut intake = Intake::with_hash(u64::MAX, false);
        let hold = Arc::new(());
        let got = write_pieces(&file, &mut src, &mut intake, 0, &hold, drop).await;
        assert!(matches!(got, Err(StoreError::Source(_))), "{got:?}");
        assert_eq!(Arc::strong_count(&hold), 1, "no write is still in flight");
        // Over the limit: the intake's error, after the same wait.
        let mut src = Trickle {
            data: vec![1; PIECE * 2],
            at: 0,
            fail: false,
        };
        let mut intake = Intake::with_hash(PIECE as u64 + 1, false);
        let got = write_pieces(&file, &mut src, &mut intake, 0, &hold, drop).await;
        assert!(matches!(got, Err(StoreError::TooLarge(_))), "{got:?}");
        assert_eq!(Arc::strong_count(&hold), 1);
    }
}

//! Chunked uploads on the filesystem: `<root>/parts/<upload_id>/`.
//!
//! Every block is written once, in place, into one file per upload (`data`, block `seq`
//! at the offset the caller gives). A marker file `<seq>` holding `"<offset> <len>"` says
//! that the block arrived whole and is durable: it is written only after the data is
//! fsynced, and removed (durably) before an arrived block is overwritten by a new copy.
//! Blocks are written directly, piece by piece ([`super::pieces`]), and hashed in order
//! in the background: from their pieces, which a request keeps (up to a block, within
//! [`HELD_MAX`] for all requests together) and hands over when the block has arrived, or
//! read back from the data file when they are gone (too many kept, or after a restart).
//! So assembly
//! has almost nothing left to read: it seals the upload (a `sealed` file: no block may be
//! written after that, even after a restart, because the data file becomes the blob's
//! inode) and hard-links the data file into `tmp/` as the staged blob.
//!
//! Why not one file per block, concatenated at the end: that wrote every byte twice and
//! hashed the whole file inside `upload_finish`, 4.6 s of a 6.1 s upload of 1 GiB.

use super::pieces::{DirectFile, Piece, PieceSink, write_pieces};
use super::{TempGuard, blocking, sync_dir_blocking};
use crate::blob::{BlobInfo, Intake, StagedPart, is_valid_upload_id};
use crate::error::{StoreError, StoreResult};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::io::AsyncRead;

/// The file every block of an upload is written into.
const DATA: &str = "data";
/// Present once the upload is being assembled: its blocks are final.
const SEALED: &str = "sealed";
/// A block is held in memory for the rolling hash only up to this many pieces (4 MiB, the
/// block size of the wire contract); a larger one is read back from the data file.
const HOLD_PIECES: usize = 4;
/// At most this many pieces are kept, in all uploads together, by requests writing their
/// blocks and for blocks waiting for the rolling hash; beyond that, a block's pieces are
/// let go and the block is read back. With `pieces::BIG_MAX`, this bounds uploads'
/// memory whatever the number of requests.
const HELD_MAX: usize = 16;
/// The pieces held now, in all uploads.
static HELD: AtomicUsize = AtomicUsize::new(0);
/// An arrived block keeps its pieces only if it is at most this many blocks ahead of the
/// rolling hash: blocks sent far out of order (last first, say) would otherwise take the
/// whole allowance for the length of their upload.
const HOLD_AHEAD: u64 = 8;

/// The uploads in progress, each opened once and shared by its requests.
pub(super) struct Parts {
    dir: PathBuf,
    tmp: PathBuf,
    open: Mutex<HashMap<String, Arc<Upload>>>,
}

struct Upload {
    dir: PathBuf,
    data: DirectFile,
    state: Mutex<State>,
    /// The running hash of blocks `0..next`; whoever holds the lock advances it.
    rolling: Mutex<Rolling>,
    /// `rolling.next`, readable without waiting for the hasher.
    hashed: AtomicU64,
    /// One writer per block at a time: two requests sending the same `seq` at once take
    /// turns instead of interleaving their bytes.
    writers: Mutex<HashMap<u64, Arc<tokio::sync::Mutex<()>>>>,
    write_one: Mutex<()>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Block {
    offset: u64,
    len: u64,
}

#[derive(Default)]
struct State {
    /// Blocks that arrived whole and durable (their markers are written).
    blocks: BTreeMap<u64, Block>,
    /// The bytes of arrived blocks not hashed yet, kept from their writing so that the
    /// rolling hash need not read them back (from the disk, when written directly).
    held: BTreeMap<u64, HeldBlock>,
    /// Bumped whenever an arrived block is taken back to be replaced, so that the
    /// rolling hash, which may have read it, starts over.
    generation: u64,
    sealed: bool,
}

struct Rolling {
    next: u64,
    /// The offset up to which the data is hashed.
    end: u64,
    hasher: blake3::Hasher,
    generation: u64,
}

/// A block's pieces, held for the rolling hash; counted in [`HELD`] while they live.
#[derive(Default)]
struct HeldBlock(Vec<Piece>);

impl HeldBlock {
    /// Adds `piece` if the global allowance has room for it; else drops it and says so.
    fn push(&mut self, piece: Piece) -> bool {
        let room = HELD
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held < HELD_MAX).then_some(held + 1)
            })
            .is_ok();
        if room {
            self.0.push(piece);
        }
        room
    }

    fn len(&self) -> u64 {
        self.0.iter().map(|p| p.len() as u64).sum()
    }
}

impl Drop for HeldBlock {
    fn drop(&mut self) {
        HELD.fetch_sub(self.0.len(), Ordering::AcqRel);
    }
}

impl Rolling {
    fn new(generation: u64) -> Self {
        Self {
            next: 0,
            end: 0,
            hasher: blake3::Hasher::new(),
            generation,
        }
    }
}

/// Locks a mutex whose data stays consistent even if a holder panicked (every update
/// under these locks is a single assignment or insert).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn closed(id: &str) -> StoreError {
    StoreError::UploadClosed(id.to_owned())
}

/// Writes into the data file one thread at a time: concurrent writers of one file would
/// spin on its inode lock in the kernel; here they sleep.
impl PieceSink for Upload {
    fn write_piece(&self, buf: &[u8], at: u64) -> std::io::Result<()> {
        let _one = lock(&self.write_one);
        self.data.write_at(buf, at)
    }
}

impl Upload {
    /// Opens the upload in `dir`, reading its markers; `None` if it does not exist and
    /// `create` is false.
    fn open(dir: PathBuf, create: bool) -> std::io::Result<Option<Self>> {
        if !create && !dir.is_dir() {
            return Ok(None);
        }
        std::fs::create_dir_all(&dir)?;
        let data = DirectFile::open(
            &dir.join(DATA),
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false),
        )?;
        let mut state = State {
            sealed: dir.join(SEALED).exists(),
            ..State::default()
        };
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Ok(seq) = name.parse::<u64>() {
                if let Some(block) = read_marker(&entry.path())? {
                    state.blocks.insert(seq, block);
                }
            } else if name.ends_with(".tmp") {
                // A marker whose write a crash interrupted: its block never arrived.
                std::fs::remove_file(entry.path())?;
            }
        }
        Ok(Some(Self {
            dir,
            data,
            state: Mutex::new(state),
            rolling: Mutex::new(Rolling::new(0)),
            hashed: AtomicU64::new(0),
            writers: Mutex::default(),
            write_one: Mutex::default(),
        }))
    }

    fn writer(&self, seq: u64) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.writers).entry(seq).or_default().clone()
    }

    /// Fails if the upload is sealed; else returns the block `seq` has, if any.
    fn writable(&self, id: &str, seq: u64) -> StoreResult<Option<Block>> {
        let s = lock(&self.state);
        if s.sealed {
            return Err(closed(id));
        }
        Ok(s.blocks.get(&seq).copied())
    }

    /// Records an arrived block (its marker is durable), with its bytes if they are still
    /// in memory, and hashes on in the background.
    fn arrived(self: &Arc<Self>, seq: u64, block: Block, pieces: Option<HeldBlock>) {
        {
            let mut s = lock(&self.state);
            s.blocks.insert(seq, block);
            let near = seq < self.hashed.load(Ordering::Acquire) + HOLD_AHEAD;
            match pieces.filter(|_| near) {
                Some(held) => s.held.insert(seq, held),
                None => s.held.remove(&seq),
            };
        }
        let up = self.clone();
        tokio::task::spawn_blocking(move || {
            // Busy means another thread is advancing; it (or the assembly) hashes this block.
            if let Ok(mut r) = up.rolling.try_lock()
                && let Err(e) = up.advance(&mut r)
            {
                tracing::warn!(dir = %up.dir.display(), error = %e, "hashing arrived blocks");
            }
        });
    }

    /// Hashes, in order, the blocks that arrived after those already hashed: from
    /// memory where their pieces are held, else read back from the data file.
    fn advance(&self, r: &mut Rolling) -> std::io::Result<()> {
        loop {
            let (block, held, generation) = {
                let mut s = lock(&self.state);
                let held = s.held.remove(&r.next);
                (s.blocks.get(&r.next).copied(), held, s.generation)
            };
            if generation != r.generation {
                *r = Rolling::new(generation);
                self.hashed.store(0, Ordering::Release);
                continue;
            }
            let Some(block) = block.filter(|b| b.offset == r.end) else {
                return Ok(());
            };
            // A clone of the hasher takes the block piece by piece; it replaces the
            // running one only if the block was not replaced meanwhile.
            let mut hasher = r.hasher.clone();
            match held.filter(|h| h.len() == block.len) {
                Some(held) => {
                    for piece in &held.0 {
                        hasher.update(piece.filled());
                    }
                }
                None => {
                    let mut piece = Piece::take();
                    let mut at = block.offset;
                    while at < block.offset + block.len {
                        let n =
                            (block.offset + block.len - at).min(piece.capacity() as u64) as usize;
                        self.data.file.read_exact_at(piece.fill(n), at)?;
                        hasher.update(piece.filled());
                        at += n as u64;
                    }
                }
            }
            if lock(&self.state).generation != r.generation {
                continue; // replaced while it was read: start over
            }
            r.hasher = hasher;
            r.next += 1;
            r.end += block.len;
            self.hashed.store(r.next, Ordering::Release);
        }
    }
}

fn read_marker(path: &Path) -> std::io::Result<Option<Block>> {
    let text = std::fs::read_to_string(path)?;
    let mut it = text.split_whitespace().map(str::parse::<u64>);
    Ok(match (it.next(), it.next()) {
        (Some(Ok(offset)), Some(Ok(len))) => Some(Block { offset, len }),
        _ => None,
    })
}

/// Writes the marker of block `seq` atomically and durably.
fn write_marker(dir: &Path, seq: u64, block: Block) -> std::io::Result<()> {
    let tmp = dir.join(format!("{seq}.tmp"));
    std::fs::write(&tmp, format!("{} {}", block.offset, block.len))?;
    File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, dir.join(seq.to_string()))?;
    sync_dir_blocking(dir)
}

/// Removes the marker of block `seq`, durably, before its bytes are overwritten.
fn remove_marker(dir: &Path, seq: u64) -> std::io::Result<()> {
    match std::fs::remove_file(dir.join(seq.to_string())) {
        Ok(()) => sync_dir_blocking(dir),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

impl Parts {
    pub(super) fn new(dir: PathBuf, tmp: PathBuf) -> Self {
        Self {
            dir,
            tmp,
            open: Mutex::default(),
        }
    }

    fn upload_dir(&self, id: &str) -> StoreResult<PathBuf> {
        if !is_valid_upload_id(id) {
            return Err(StoreError::BlobMissing(id.into()));
        }
        Ok(self.dir.join(id))
    }

    /// Upload `id`, opened on first use; created if `create`, else `None` when absent.
    async fn upload(&self, id: &str, create: bool) -> StoreResult<Option<Arc<Upload>>> {
        if let Some(up) = lock(&self.open).get(id) {
            return Ok(Some(up.clone()));
        }
        let dir = self.upload_dir(id)?;
        let Some(up) = blocking(move || Upload::open(dir, create)).await?? else {
            return Ok(None);
        };
        let mut open = lock(&self.open);
        Ok(Some(
            open.entry(id.to_owned()).or_insert(Arc::new(up)).clone(),
        ))
    }

    async fn existing(&self, id: &str) -> StoreResult<Arc<Upload>> {
        self.upload(id, false)
            .await?
            .ok_or_else(|| StoreError::BlobMissing(id.into()))
    }

    /// Writes block `seq` straight into the data file when it has not arrived before.
    /// `None` when it has: a replacement goes through a temp file so that the arrived
    /// block stays whole until the new one has arrived whole.
    pub(super) async fn stage_in_place(
        &self,
        id: &str,
        seq: u64,
        offset: u64,
        data: &mut (dyn AsyncRead + Send + Unpin),
        max: u64,
    ) -> StoreResult<Option<Box<dyn StagedPart>>> {
        let up = self.existing_or_new(id).await?;
        // Shared with every write in flight, so that the turn ends only when the last of
        // them has landed, even if this request is dropped halfway.
        let turn = Arc::new(up.writer(seq).lock_owned().await);
        if up.writable(id, seq)?.is_some() {
            return Ok(None);
        }
        // Read straight into the pieces that are written: one copy of each byte in user
        // space. The written pieces are kept, up to a block, for the rolling hash.
        let mut intake = Intake::with_hash(max, false);
        let mut kept = Some(HeldBlock::default());
        write_pieces(&up, data, &mut intake, offset, &turn, |written| {
            kept = kept
                .take()
                .filter(|k| k.0.len() < HOLD_PIECES)
                .and_then(|mut k| k.push(written).then_some(k));
        })
        .await?;
        let size = intake.finish().size;
        let syncer = up.clone();
        blocking(move || syncer.data.file.sync_data()).await??;
        Ok(Some(Box::new(StagedInPlace {
            info: BlobInfo {
                digest: String::new(),
                size,
            },
            up,
            seq,
            offset,
            pieces: kept,
            _turn: turn,
        })))
    }

    async fn existing_or_new(&self, id: &str) -> StoreResult<Arc<Upload>> {
        self.upload(id, true)
            .await?
            .ok_or_else(|| StoreError::Backend(format!("upload {id} could not be created")))
    }

    /// Copies a block staged in the temp file `tmp` into place, replacing the block that
    /// arrived before under that number, if any.
    pub(super) async fn commit_copy(
        &self,
        tmp: &Path,
        id: &str,
        seq: u64,
        offset: u64,
        len: u64,
    ) -> StoreResult<()> {
        let up = self.existing_or_new(id).await?;
        let _turn = up.writer(seq).lock_owned().await;
        let had = {
            let mut s = lock(&up.state);
            if s.sealed {
                return Err(closed(id));
            }
            s.held.remove(&seq);
            let had = s.blocks.remove(&seq).is_some();
            if had {
                s.generation += 1;
            }
            had
        };
        let (writer, tmp) = (up.clone(), tmp.to_owned());
        let block = Block { offset, len };
        blocking(move || -> std::io::Result<()> {
            if had {
                remove_marker(&writer.dir, seq)?;
            }
            let src = File::open(&tmp)?;
            let mut piece = Piece::take();
            let mut at = offset;
            loop {
                let n = (offset + len - at).min(piece.capacity() as u64) as usize;
                if n == 0 {
                    break;
                }
                src.read_exact_at(piece.fill(n), at - offset)?;
                writer.write_piece(piece.filled(), at)?;
                at += n as u64;
            }
            writer.data.file.sync_data()?;
            write_marker(&writer.dir, seq, block)
        })
        .await??;
        up.arrived(seq, block, None);
        Ok(())
    }

    /// Seals upload `id` and links its data file (blocks `0..block_num`, which must tile
    /// it) into `tmp/`, hashing what the background has not hashed yet.
    pub(super) async fn assemble(
        &self,
        id: &str,
        block_num: u64,
    ) -> StoreResult<(BlobInfo, TempGuard)> {
        // An empty upload has no blocks, so nothing made its directory yet.
        let up = self.existing_or_new(id).await?;
        lock(&up.state).sealed = true;
        let link = self
            .tmp
            .join(format!("{}.part", hex::encode(rand::random::<[u8; 16]>())));
        let sealer = up.clone();
        let linked = link.clone();
        let assembled = blocking(move || -> StoreResult<BlobInfo> {
            let up = sealer;
            let mut r = lock(&up.rolling);
            up.advance(&mut r)?;
            let s = lock(&up.state);
            if r.next < block_num || s.blocks.range(block_num..).next().is_some() {
                return Err(StoreError::BlobMissing(format!(
                    "upload {} has blocks {:?}, not 0..{block_num} end to end",
                    up.dir.display(),
                    s.blocks.keys().collect::<Vec<_>>()
                )));
            }
            let size = r.end;
            // A rejected last block may have been written past the end.
            up.data.file.set_len(size)?;
            up.data.file.sync_all()?;
            // From here on the data file may become a blob's inode: never write it again.
            File::create(up.dir.join(SEALED))?.sync_all()?;
            sync_dir_blocking(&up.dir)?;
            std::fs::hard_link(up.dir.join(DATA), &linked)?;
            Ok(BlobInfo {
                digest: r.hasher.finalize().to_hex().to_string(),
                size,
            })
        })
        .await?;
        match assembled {
            Ok(info) => Ok((info, TempGuard(Some(link)))),
            Err(e) => {
                let _ = std::fs::remove_file(&link);
                if !up.dir.join(SEALED).exists() {
                    lock(&up.state).sealed = false;
                }
                Err(e)
            }
        }
    }

    pub(super) async fn sizes(&self, id: &str) -> StoreResult<BTreeMap<u64, u64>> {
        let Some(up) = self.upload(id, false).await? else {
            return Ok(BTreeMap::new());
        };
        let s = lock(&up.state);
        Ok(s.blocks.iter().map(|(seq, b)| (*seq, b.len)).collect())
    }

    pub(super) async fn read(&self, id: &str, seq: u64) -> StoreResult<bytes::Bytes> {
        let up = self.existing(id).await?;
        let block = lock(&up.state)
            .blocks
            .get(&seq)
            .copied()
            .ok_or_else(|| StoreError::BlobMissing(format!("{id}/{seq}")))?;
        blocking(move || -> std::io::Result<bytes::Bytes> {
            let mut buf = vec![0u8; block.len as usize];
            up.data.file.read_exact_at(&mut buf, block.offset)?;
            Ok(buf.into())
        })
        .await?
        .map_err(Into::into)
    }

    pub(super) async fn discard(&self, id: &str) -> StoreResult<()> {
        let dir = self.upload_dir(id)?;
        lock(&self.open).remove(id);
        match tokio::fs::remove_dir_all(dir).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn ids(&self) -> StoreResult<Vec<String>> {
        let mut ids = Vec::new();
        let mut dir = tokio::fs::read_dir(&self.dir).await?;
        while let Some(d) = dir.next_entry().await? {
            if let Some(name) = d.file_name().to_str() {
                ids.push(name.to_owned());
            }
        }
        Ok(ids)
    }
}

/// A block written in place and fsynced, not yet marked as arrived. Holds the block's
/// writer turn until committed or dropped.
struct StagedInPlace {
    info: BlobInfo,
    up: Arc<Upload>,
    seq: u64,
    offset: u64,
    /// The block's bytes, while they are still in memory.
    pieces: Option<HeldBlock>,
    _turn: Arc<tokio::sync::OwnedMutexGuard<()>>,
}

#[async_trait]
impl StagedPart for StagedInPlace {
    fn size(&self) -> u64 {
        self.info.size
    }

    async fn commit(self: Box<Self>, upload_id: &str, seq: u64, offset: u64) -> StoreResult<()> {
        if (seq, offset) != (self.seq, self.offset) || !self.up.dir.ends_with(upload_id) {
            return Err(StoreError::Backend(format!(
                "block {}@{} staged in place cannot be committed as {upload_id}/{seq}@{offset}",
                self.seq, self.offset
            )));
        }
        let block = Block {
            offset,
            len: self.info.size,
        };
        let dir = self.up.dir.clone();
        blocking(move || write_marker(&dir, seq, block)).await??;
        self.up.arrived(seq, block, self.pieces);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn blocks_far_ahead_of_the_hash_are_not_held() {
        let dir = tempfile::tempdir().unwrap();
        let parts = Parts::new(dir.path().join("parts"), dir.path().to_owned());
        let block = 4096u64;
        let n = 20u64;
        let data: Vec<u8> = (0..block * n).map(|i| (i % 251) as u8).collect();
        let send = |seq: u64| {
            let parts = &parts;
            let bytes = &data[(seq * block) as usize..((seq + 1) * block) as usize];
            async move {
                let staged = parts
                    .stage_in_place("up", seq, seq * block, &mut &bytes[..], block)
                    .await
                    .unwrap()
                    .expect("a new block");
                staged.commit("up", seq, seq * block).await.unwrap();
            }
        };
        // Last first: block 0 is the one the hash waits for.
        for seq in (1..n).rev() {
            send(seq).await;
        }
        let up = parts.existing("up").await.unwrap();
        let held: Vec<u64> = lock(&up.state).held.keys().copied().collect();
        assert_eq!(
            held,
            (1..HOLD_AHEAD).collect::<Vec<_>>(),
            "only the near ones"
        );
        send(0).await;
        let (info, _link) = parts.assemble("up", n).await.unwrap();
        assert_eq!(info.digest, crate::blob::digest_of(&data));
        assert!(lock(&up.state).held.is_empty());
    }
}

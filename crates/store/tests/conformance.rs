//! Every backend runs the one conformance suite.

use feishu_media_store::conformance::{blob_suite, meta_suite};
use feishu_media_store::fs::FsBlobs;
use feishu_media_store::memory::{MemoryBlobs, MemoryMeta};
use feishu_media_store::sql::SqliteMeta;
use feishu_media_store::{BlobStore, MetaStore, PartStore};

#[tokio::test]
async fn memory_meta() {
    meta_suite(&MemoryMeta::new()).await;
}

#[tokio::test]
async fn memory_blobs() {
    blob_suite(&MemoryBlobs::new()).await;
}

#[tokio::test]
async fn sqlite_meta() {
    let dir = tempfile::tempdir().unwrap();
    meta_suite(&SqliteMeta::open(&dir.path().join("meta.db")).await.unwrap()).await;
}

#[tokio::test]
async fn fs_blobs() {
    let dir = tempfile::tempdir().unwrap();
    blob_suite(&FsBlobs::open(dir.path()).await.unwrap()).await;
}

#[tokio::test]
async fn sqlite_and_files_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("meta.db");
    let key = {
        let meta = SqliteMeta::open(&db).await.unwrap();
        let blobs = FsBlobs::open(dir.path()).await.unwrap();
        let info = blobs.put(&mut &b"kept"[..]).await.unwrap();
        meta.apply(&feishu_media_store::Batch {
            users: vec![feishu_media_store::User {
                user_id: "ou".into(),
                tenant_key: "t".into(),
                name: None,
            }],
            ..Default::default()
        })
        .await
        .unwrap();
        info.digest
    };
    let meta = SqliteMeta::open(&db).await.unwrap();
    assert!(meta.user("ou").await.unwrap().is_some());
    let blobs = FsBlobs::open(dir.path()).await.unwrap();
    assert_eq!(blobs.size(&key).await.unwrap(), Some(4));
}

/// Blocks of a chunked upload are written in place; what a restart keeps is exactly what
/// was committed, and an assembled upload stays closed (its data file is the blob's).
#[tokio::test]
async fn chunked_uploads_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    async fn put(
        blobs: &FsBlobs,
        seq: u64,
        bytes: &[u8],
    ) -> Result<(), feishu_media_store::StoreError> {
        blobs
            .stage_part("up1", seq, seq * 3, &mut &bytes[..], 3)
            .await?
            .commit("up1", seq, seq * 3)
            .await
    }
    {
        let blobs = FsBlobs::open(dir.path()).await.unwrap();
        put(&blobs, 0, b"abc").await.unwrap();
        // Written but not committed when the process died: not arrived.
        let half = blobs
            .stage_part("up1", 1, 3, &mut &b"xyz"[..], 3)
            .await
            .unwrap();
        std::mem::forget(half);
        // A marker whose write was cut short.
        std::fs::write(dir.path().join("parts/up1/1.tmp"), b"3 3").unwrap();
    }
    let blobs = FsBlobs::open(dir.path()).await.unwrap();
    assert_eq!(
        blobs
            .part_sizes("up1")
            .await
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        vec![(0, 3)]
    );
    assert!(!dir.path().join("parts/up1/1.tmp").exists());
    put(&blobs, 1, b"def").await.unwrap();
    let info = blobs
        .assemble("up1", 2)
        .await
        .unwrap()
        .commit()
        .await
        .unwrap();
    assert_eq!(info.size, 6);
    drop(blobs);
    let blobs = FsBlobs::open(dir.path()).await.unwrap();
    assert!(matches!(
        put(&blobs, 0, b"ABC").await,
        Err(feishu_media_store::StoreError::UploadClosed(_))
    ));
    let chunks: Vec<bytes::Bytes> = futures_util::TryStreamExt::try_collect(
        blobs.get(&info.digest, 0, 6).await.unwrap().into_stream(),
    )
    .await
    .unwrap();
    assert_eq!(chunks.concat(), b"abcdef");
}

#[tokio::test]
async fn leftover_temp_files_are_swept_on_open() {
    let dir = tempfile::tempdir().unwrap();
    drop(FsBlobs::open(dir.path()).await.unwrap());
    std::fs::write(dir.path().join("tmp/crashed.part"), b"half").unwrap();
    FsBlobs::open(dir.path()).await.unwrap();
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0
    );
}

#[tokio::test]
async fn cached_sqlite_meta() {
    let dir = tempfile::tempdir().unwrap();
    let inner = SqliteMeta::open(&dir.path().join("meta.db")).await.unwrap();
    meta_suite(&feishu_media_store::cache::CachedMeta::new(inner)).await;
}

/// The cache answers from memory what it read, and forgets it on a write.
#[tokio::test]
async fn cached_rows_are_in_memory_until_written() {
    use feishu_media_store::{Batch, Media};
    let cached = feishu_media_store::cache::CachedMeta::new(MemoryMeta::new());
    let mut m = feishu_media_store::conformance::media("boxM", &"c".repeat(64));
    let batch = |m: &Media| Batch {
        media: vec![m.clone()],
        ..Default::default()
    };
    cached.apply(&batch(&m)).await.unwrap();
    assert!(cached.media_in_memory("boxM").is_none(), "nothing read yet");
    cached.media_shared("boxM").await.unwrap();
    assert_eq!(cached.media_in_memory("boxM").as_deref(), Some(&m));
    m.size = 2;
    cached.apply(&batch(&m)).await.unwrap();
    assert!(
        cached.media_in_memory("boxM").is_none(),
        "a write forgets it"
    );
}

#[tokio::test]
async fn cached_memory_meta() {
    meta_suite(&feishu_media_store::cache::CachedMeta::new(
        MemoryMeta::new(),
    ))
    .await;
}

/// PostgreSQL and S3: the same suites on real engines (a private cluster and an s3s-fs
/// server that checks signatures, both on free loopback ports).
mod engines {
    use feishu_media_engines::{TestPostgres, TestS3};
    use feishu_media_store::conformance::{blob_suite, meta_suite};
    use feishu_media_store::s3::S3Blobs;
    use feishu_media_store::sql::PostgresMeta;

    #[tokio::test]
    async fn postgres_meta() {
        let pg = TestPostgres::start();
        let url = pg.database("conformance");
        meta_suite(&PostgresMeta::open(&url).await.unwrap()).await;
        let cached =
            feishu_media_store::cache::CachedMeta::new(PostgresMeta::open(&url).await.unwrap());
        cached.wipe().await.unwrap();
        meta_suite(&cached).await;
    }

    #[tokio::test]
    async fn s3_blobs() {
        let s3 = TestS3::start();
        let blobs = S3Blobs::open(&s3.url(), Some(s3.credentials()))
            .await
            .unwrap();
        blob_suite(&blobs).await;
    }

    /// Real 4 MiB blocks: the digest merged from their chaining values is the bytes
    /// ranges across blocks read right, a staged blob of several blocks too, and
    /// `upload_finish` wrote no block again (the blocks are where they arrived).
    #[tokio::test]
    async fn s3_blocks_of_four_mib() {
        use feishu_media_store::{BlobStore, PartStore};
        const B: u64 = 4 * 1024 * 1024;
        // As long as the server's upload ids (object names have a length to keep to).
        const ID: &str = "5af31fa57afe5f1b062efc57112be31b";
        let s3 = TestS3::start();
        let blobs = S3Blobs::open(&s3.url(), Some(s3.credentials()))
            .await
            .unwrap();
        let len = 5 * B + 1234;
        let data: Vec<u8> = (0..len).map(|i| (i * 31 % 253) as u8).collect();
        for seq in (0..6u64).rev() {
            let bytes = &data[(seq * B) as usize..len.min((seq + 1) * B) as usize];
            blobs
                .stage_part(ID, seq, seq * B, &mut &bytes[..], B)
                .await
                .unwrap()
                .commit(ID, seq, seq * B)
                .await
                .unwrap();
        }
        // The block objects, as s3s-fs keeps them: a file per block, `<seq>/<tag>`.
        let block_files = || -> Vec<std::path::PathBuf> {
            let root = s3.bucket_dir().join(format!("parts/{ID}"));
            let Ok(seqs) = std::fs::read_dir(&root) else {
                return Vec::new();
            };
            seqs.flat_map(|d| std::fs::read_dir(d.unwrap().path()).into_iter().flatten())
                .map(|f| f.unwrap().path())
                .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
                .collect()
        };
        let before = block_files();
        assert_eq!(before.len(), 6, "{before:?}");
        let info = blobs.assemble(ID, 6).await.unwrap().commit().await.unwrap();
        assert_eq!(info.digest, blake3::hash(&data).to_hex().as_str());
        assert_eq!(info.size, len);
        for path in &before {
            assert!(path.exists(), "{path:?} stays");
        }
        let read = |start: u64, end: u64| {
            let blobs = blobs.clone();
            let digest = info.digest.clone();
            async move {
                let chunks: Vec<bytes::Bytes> = futures_util::TryStreamExt::try_collect(
                    blobs.get(&digest, start, end).await.unwrap().into_stream(),
                )
                .await
                .unwrap();
                chunks.concat()
            }
        };
        for (start, end) in [
            (0, len),
            (B - 10, B + 10),
            (3 * B, 5 * B + 5),
            (len - 1, len),
        ] {
            assert_eq!(read(start, end).await, &data[start as usize..end as usize]);
        }
        blobs.discard_parts(ID).await.unwrap();
        assert_eq!(
            read(B - 3, B + 3).await,
            &data[(B - 3) as usize..(B + 3) as usize]
        );

        // Through stage (a seed's file): 9 MiB, several blocks, one index.
        let staged = blobs.put(&mut &data[..(9 << 20)]).await.unwrap();
        assert_eq!(
            staged.digest,
            blake3::hash(&data[..9 << 20]).to_hex().as_str()
        );
        assert_eq!(blobs.size(&staged.digest).await.unwrap(), Some(9 << 20));
        assert!(
            feishu_media_store::blob::all_keys(&blobs)
                .await
                .unwrap()
                .contains(&staged.digest)
        );
        blobs.delete(&staged.digest).await.unwrap();
        assert_eq!(blobs.size(&staged.digest).await.unwrap(), None);
        blobs.delete(&info.digest).await.unwrap();
        assert!(
            feishu_media_store::blob::all_keys(&blobs)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(block_files().is_empty(), "{:?}", block_files());
    }

    #[tokio::test]
    async fn s3_refuses_wrong_credentials() {
        let s3 = TestS3::start();
        let wrong = Some((s3.credentials().0, "not-the-secret".to_owned()));
        let e = S3Blobs::open(&s3.url(), wrong)
            .await
            .err()
            .expect("refused");
        assert!(e.to_string().contains("s3://media"), "{e}");
        assert!(!e.to_string().contains("not-the-secret"), "{e}");
    }

    use feishu_media_store::MetaStore;
}

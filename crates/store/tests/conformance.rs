//! Every backend runs the one conformance suite.

use feishu_media_store::conformance::{blob_suite, meta_suite};
use feishu_media_store::fs::FsBlobs;
use feishu_media_store::memory::{MemoryBlobs, MemoryMeta};
use feishu_media_store::sqlite::SqliteMeta;
use feishu_media_store::{BlobStore, MetaStore};

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
            .commit_part("up1", seq, seq * 3)
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

#[tokio::test]
async fn cached_memory_meta() {
    meta_suite(&feishu_media_store::cache::CachedMeta::new(
        MemoryMeta::new(),
    ))
    .await;
}

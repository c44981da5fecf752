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
        info.sha256
    };
    let meta = SqliteMeta::open(&db).await.unwrap();
    assert!(meta.user("ou").await.unwrap().is_some());
    let blobs = FsBlobs::open(dir.path()).await.unwrap();
    assert_eq!(blobs.size(&key).await.unwrap(), Some(4));
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

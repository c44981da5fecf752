//! The one suite every backend passes. A new backend is done when its tests call these
//! functions and they pass.

use crate::blob::{BlobInfo, BlobStore, PartStore};
use crate::meta::{Batch, MetaStore, PageRequest};
use crate::model::*;
use futures_util::TryStreamExt;

fn app(id: &str) -> App {
    App {
        app_id: id.into(),
        app_secret: format!("{id}-secret"),
        tenant_key: "acme".into(),
        scopes: vec!["drive:drive:readonly".into()],
        rate_limit: Some(RateLimit::default()),
        redirect_uris: vec!["http://127.0.0.1:3000/callback".into()],
    }
}

fn token(hash: &str, kind: StoredTokenKind, issued: i64, expires: i64) -> AccessToken {
    AccessToken {
        hash: hash.into(),
        kind,
        app_id: "cli_a".into(),
        tenant_key: "acme".into(),
        user_id: (kind == StoredTokenKind::User).then(|| "ou_a".into()),
        scopes: (kind == StoredTokenKind::User).then(|| vec!["docs:doc:readonly".into()]),
        issued_at_ms: issued,
        expires_at_ms: expires,
    }
}

fn document() -> Document {
    Document {
        token: "bascnX".into(),
        doc_type: DocType::Bitable,
        tenant_key: "acme".into(),
        owner: Some(Principal::User("ou_a".into())),
        advanced_permission: true,
        members: vec![
            Member {
                principal: Principal::App("cli_a".into()),
                role: Role::View,
            },
            Member {
                principal: Principal::App("cli_a".into()),
                role: Role::Edit,
            },
        ],
        content: Content {
            title: Some("报表 \"Q3\"".into()),
            tables: vec![Table {
                table_id: "tblA".into(),
                name: "表".into(),
                fields: vec![Field {
                    field_id: "fldA".into(),
                    name: "附件".into(),
                    kind: FieldKind::Attachment,
                }],
                records: vec![Record {
                    record_id: "recA".into(),
                    fields: [("名称".to_owned(), serde_json::json!("Q3"))].into(),
                }],
            }],
            ..Default::default()
        },
    }
}

/// A media row with every field set (public: the cache's own tests use it).
pub fn media(token: &str, digest: &str) -> Media {
    Media {
        file_token: token.into(),
        document: "bascnX".into(),
        parent_type: ParentType::BitableFile,
        parent_node: None,
        file_name: "架构图 \"v2\".png".into(),
        mime_type: "image/png".into(),
        size: 5,
        digest: digest.into(),
        bitable: Some(BitableLocation {
            table_id: "tbl".into(),
            field_id: "fld".into(),
            record_id: "rec".into(),
        }),
        uploader: Some(Principal::App("cli_a".into())),
        deleted: false,
        created_at_ms: 1_700_000_000_000,
        modified_at_ms: 1_700_000_000_123,
    }
}

/// Every metadata rule: round trips, replacement, atomic batches, token lookups.
pub async fn meta_suite(store: &dyn MetaStore) {
    store.ping().await.expect("ping");
    assert_eq!(store.app("cli_a").await.unwrap(), None);
    assert_eq!(store.media("nope").await.unwrap(), None);

    let users = vec![User {
        user_id: "ou_a".into(),
        tenant_key: "acme".into(),
        name: Some("A".into()),
    }];
    let mut unlimited = app("cli_b");
    unlimited.rate_limit = None;
    let batch = Batch {
        apps: vec![app("cli_a"), unlimited.clone()],
        users: users.clone(),
        tokens: vec![
            token("h1", StoredTokenKind::Tenant, 100, 200),
            token("h2", StoredTokenKind::Tenant, 300, 400),
            token("h3", StoredTokenKind::User, 500, 600),
        ],
        documents: vec![document()],
        media: vec![media("boxA", &"a".repeat(64))],
    };
    store.apply(&batch).await.expect("apply");

    assert_eq!(store.app("cli_a").await.unwrap(), Some(app("cli_a")));
    assert_eq!(
        store.app("cli_b").await.unwrap(),
        Some(unlimited),
        "no limits stays no limits"
    );
    assert_eq!(store.user("ou_a").await.unwrap(), Some(users[0].clone()));
    assert_eq!(
        store.token("h3").await.unwrap(),
        Some(token("h3", StoredTokenKind::User, 500, 600))
    );
    assert_eq!(store.document("bascnX").await.unwrap(), Some(document()));
    assert_eq!(
        store.media("boxA").await.unwrap(),
        Some(media("boxA", &"a".repeat(64)))
    );

    // The shared reads of the download path answer the same rows.
    assert_eq!(
        store.app_shared("cli_a").await.unwrap().as_deref(),
        Some(&app("cli_a"))
    );
    assert_eq!(
        store.token_shared("h1").await.unwrap().as_deref(),
        Some(&token("h1", StoredTokenKind::Tenant, 100, 200))
    );
    assert_eq!(
        store.document_shared("bascnX").await.unwrap().as_deref(),
        Some(&document())
    );
    assert_eq!(
        store.media_shared("boxA").await.unwrap().as_deref(),
        Some(&media("boxA", &"a".repeat(64)))
    );
    assert_eq!(store.media_shared("nope").await.unwrap(), None);

    let latest = store
        .latest_token("cli_a", StoredTokenKind::Tenant)
        .await
        .unwrap();
    assert_eq!(latest.map(|t| t.hash), Some("h2".into()));
    assert_eq!(
        store
            .latest_token("cli_a", StoredTokenKind::App)
            .await
            .unwrap(),
        None
    );

    in_memory_is_current(store).await;
    // Replacing an object replaces it whole (members included).
    let mut doc = document();
    doc.members.clear();
    doc.advanced_permission = false;
    let mut m = media("boxA", &"b".repeat(64));
    m.deleted = true;
    m.size = u64::from(u32::MAX) * 4;
    store
        .apply(&Batch {
            documents: vec![doc.clone()],
            media: vec![m.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
    // Before any read: what memory holds must be the new rows already.
    in_memory_is_current(store).await;
    assert_eq!(store.document("bascnX").await.unwrap(), Some(doc.clone()));
    assert_eq!(
        store.media("boxA").await.unwrap(),
        Some(m.clone()),
        "sizes over 4 GiB survive"
    );
    // A shared row read before the change is not handed out after it.
    assert_eq!(
        store.document_shared("bascnX").await.unwrap().as_deref(),
        Some(&doc)
    );
    assert_eq!(
        store.media_shared("boxA").await.unwrap().as_deref(),
        Some(&m)
    );

    // Expired issued tokens are purged; user tokens stay, expired or not.
    assert_eq!(store.purge_expired_tokens(350).await.unwrap(), 1);
    assert_eq!(store.token("h1").await.unwrap(), None);
    assert_eq!(store.token_shared("h1").await.unwrap(), None);
    assert!(store.token("h2").await.unwrap().is_some());
    assert_eq!(store.purge_expired_tokens(10_000).await.unwrap(), 1);
    assert!(store.token("h3").await.unwrap().is_some());

    assert_eq!(store.list_media().await.unwrap().len(), 1);
    upload_sessions(store).await;
    listings_and_deletes(store).await;
    deleted_principals_take_their_tokens_and_roles(store).await;
    day_counts(store).await;
    document_media(store).await;
    media_many(store).await;
    grants(store).await;
}

/// Many media at once, in the order asked: more tokens than one SQL read binds, absent
/// ones, a token asked twice, one no store can hold.
async fn media_many(store: &dyn MetaStore) {
    let stored: Vec<Media> = (0..1203)
        .map(|i| media(&format!("boxMany{i:05}"), &format!("{i:064x}")))
        .collect();
    store
        .apply(&Batch {
            media: stored.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    // Backwards, every third one absent, the first asked again at the end.
    let mut asked: Vec<String> = Vec::new();
    let mut want: Vec<Option<Media>> = Vec::new();
    for (i, m) in stored.iter().enumerate().rev() {
        if i % 3 == 0 {
            asked.push(format!("boxNone{i:05}"));
            want.push(None);
        }
        asked.push(m.file_token.clone());
        want.push(Some(m.clone()));
    }
    asked.extend(["nope\0".to_owned(), stored[0].file_token.clone()]);
    want.extend([None, Some(stored[0].clone())]);
    assert_eq!(store.media_many(&asked).await.unwrap(), want);
    // Asked again (a cache now answers part of it from memory), the same.
    assert_eq!(store.media_many(&asked).await.unwrap(), want);
    assert!(store.media_many(&[]).await.unwrap().is_empty());
}

/// A document's media, oldest first; another document's are not among them.
async fn document_media(store: &dyn MetaStore) {
    let mut docs = vec![document(), document()];
    docs[1].token = "doxcnY".into();
    docs[1].doc_type = DocType::Docx;
    docs[1].content = Content {
        blocks: vec![Block {
            block_id: "blkA".into(),
            kind: BlockKind::Image {
                file_token: "boxM2".into(),
                width: Some(640),
                height: None,
            },
        }],
        ..Default::default()
    };
    let mut m1 = media("boxM1", &"c".repeat(64));
    m1.created_at_ms = 20;
    let mut m2 = media("boxM2", &"d".repeat(64));
    m2.created_at_ms = 10;
    let mut other = media("boxM3", &"e".repeat(64));
    other.document = "doxcnY".into();
    store
        .apply(&Batch {
            documents: docs.clone(),
            media: vec![m1.clone(), m2.clone(), other.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        store.document("doxcnY").await.unwrap(),
        Some(docs[1].clone())
    );
    let got = store.document_media("bascnX").await.unwrap();
    let tokens: Vec<_> = got.iter().map(|m| m.file_token.as_str()).collect();
    assert!(
        tokens.ends_with(&["boxM2", "boxM1"]) && !tokens.contains(&"boxM3"),
        "{tokens:?}"
    );
    assert_eq!(store.document_media("doxcnY").await.unwrap(), vec![other]);
    assert!(store.document_media("nope\0").await.unwrap().is_empty());
}

fn grant(hash: &str, user: &str, expires: i64) -> Grant {
    Grant {
        hash: hash.into(),
        kind: GrantKind::Code,
        app_id: "cli_g".into(),
        tenant_key: "acme".into(),
        user_id: user.into(),
        scopes: vec!["docx:document:readonly".into(), "offline_access".into()],
        redirect_uri: Some("http://127.0.0.1:3000/cb?x=1".into()),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
        challenge_method: Some("S256".into()),
        issued_at_ms: 100,
        expires_at_ms: expires,
        used_at_ms: None,
    }
}

/// OAuth grants are spent once (of racing spends one wins), die with their user or
/// app, and are purged once expired.
async fn grants(store: &dyn MetaStore) {
    assert_eq!(store.spend_grant("g-none", 1).await.unwrap(), None);
    store.put_grant(&grant("g1", "ou_g", 1_000)).await.unwrap();
    let mut refresh = grant("g2", "ou_g", 5_000);
    refresh.kind = GrantKind::Refresh;
    refresh.redirect_uri = None;
    refresh.code_challenge = None;
    refresh.challenge_method = None;
    store.put_grant(&refresh).await.unwrap();
    store.put_grant(&grant("g3", "ou_h", 1_000)).await.unwrap();

    let (a, b) = tokio::join!(store.spend_grant("g1", 150), store.spend_grant("g1", 151));
    let (a, b) = (a.unwrap().unwrap(), b.unwrap().unwrap());
    let fresh = [&a, &b].iter().filter(|g| g.used_at_ms.is_none()).count();
    assert_eq!(fresh, 1, "one of two racing spends wins: {a:?} {b:?}");
    let winner = if a.used_at_ms.is_none() { &a } else { &b };
    assert_eq!(winner, &grant("g1", "ou_g", 1_000), "read back whole");
    let again = store.spend_grant("g1", 200).await.unwrap().unwrap();
    assert!(matches!(again.used_at_ms, Some(150 | 151)), "{again:?}");
    assert_eq!(store.spend_grant("g2", 300).await.unwrap(), Some(refresh));

    // g1 and g3 expire at 1 000; g2 (spent) at 5 000.
    assert_eq!(store.purge_expired_tokens(2_000).await.unwrap(), 2);
    assert_eq!(store.spend_grant("g3", 2_000).await.unwrap(), None);
    assert!(store.spend_grant("g2", 2_000).await.unwrap().is_some());

    store.put_grant(&grant("g4", "ou_g", 9_000)).await.unwrap();
    store.put_grant(&grant("g5", "ou_h", 9_000)).await.unwrap();
    store.delete_user("ou_g").await.unwrap();
    assert_eq!(
        store.spend_grant("g4", 1).await.unwrap(),
        None,
        "died with its user"
    );
    assert_eq!(store.spend_grant("g2", 1).await.unwrap(), None);
    assert!(store.spend_grant("g5", 1).await.unwrap().is_some());
    store.put_grant(&grant("g6", "ou_h", 9_000)).await.unwrap();
    store.delete_app("cli_g").await.unwrap();
    assert_eq!(
        store.spend_grant("g6", 1).await.unwrap(),
        None,
        "died with its app"
    );
}

/// Deleting an app or a user ends its tokens and its roles; others keep theirs.
async fn deleted_principals_take_their_tokens_and_roles(store: &dyn MetaStore) {
    let user = |id: &str| User {
        user_id: id.into(),
        tenant_key: "acme".into(),
        name: None,
    };
    let mut user_token = token("hu", StoredTokenKind::User, 1, 2);
    user_token.app_id = "cli_b".into();
    user_token.user_id = Some("ou_a".into());
    let mut other_user_token = token("hv", StoredTokenKind::User, 1, 2);
    other_user_token.app_id = "cli_b".into();
    other_user_token.user_id = Some("ou_b".into());
    let mut doc = document();
    doc.owner = Some(Principal::User("ou_a".into()));
    doc.members = vec![
        Member {
            principal: Principal::App("cli_a".into()),
            role: Role::Edit,
        },
        Member {
            principal: Principal::User("ou_b".into()),
            role: Role::View,
        },
    ];
    store
        .apply(&Batch {
            apps: vec![app("cli_a"), app("cli_b")],
            users: vec![user("ou_a"), user("ou_b")],
            tokens: vec![
                token("ha", StoredTokenKind::Tenant, 1, 2),
                user_token,
                other_user_token,
            ],
            documents: vec![doc.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(store.token("ha").await.unwrap().is_some(), "cached, too");
    assert!(store.document("bascnX").await.unwrap().is_some());

    assert!(store.delete_app("cli_a").await.unwrap());
    assert_eq!(store.token("ha").await.unwrap(), None, "its token");
    let d = store.document("bascnX").await.unwrap().unwrap();
    assert_eq!(d.role_of(&Principal::App("cli_a".into())), None, "its role");
    assert_eq!(
        d.role_of(&Principal::User("ou_a".into())),
        Some(Role::Manage)
    );

    assert!(store.delete_user("ou_a").await.unwrap());
    assert_eq!(store.token("hu").await.unwrap(), None, "its token");
    assert!(store.token("hv").await.unwrap().is_some(), "not another's");
    let d = store.document("bascnX").await.unwrap().unwrap();
    assert_eq!(d.owner, None, "no owner any more");
    assert_eq!(d.role_of(&Principal::User("ou_b".into())), Some(Role::View));

    // Re-created, they start with nothing.
    store
        .apply(&Batch {
            apps: vec![app("cli_a")],
            users: vec![user("ou_a")],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(store.token("ha").await.unwrap(), None);
    let d = store.document("bascnX").await.unwrap().unwrap();
    assert_eq!(d.role_of(&Principal::App("cli_a".into())), None);
    store.wipe().await.unwrap();
}

/// Listings are complete and ordered; deletes say whether something went; wipe empties.
async fn listings_and_deletes(store: &dyn MetaStore) {
    let apps: Vec<String> = store
        .list_apps()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.app_id)
        .collect();
    assert_eq!(apps, ["cli_a", "cli_b"]);
    assert_eq!(store.list_users().await.unwrap().len(), 1);
    assert_eq!(store.list_documents().await.unwrap().len(), 1);
    let users: Vec<String> = store
        .list_tokens(StoredTokenKind::User)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.hash)
        .collect();
    assert_eq!(users, ["h3"]);
    let media: Vec<String> = store
        .list_media()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.file_token)
        .collect();
    assert_eq!(media, ["boxA", "boxFinished"], "ordered by token");

    // Pages: in key order, each after the last key of the one before, the last says so.
    let first = store.page_apps(PageRequest::first(1)).await.unwrap();
    assert_eq!(first.items.len(), 1);
    assert_eq!(first.items[0].app_id, "cli_a");
    assert_eq!(first.next.as_deref(), Some("cli_a"));
    let second = store
        .page_apps(PageRequest {
            after: first.next,
            size: 1,
        })
        .await
        .unwrap();
    assert_eq!(second.items[0].app_id, "cli_b");
    assert_eq!(second.next, None, "the last page");
    let whole = store.page_media(PageRequest::first(10)).await.unwrap();
    assert_eq!((whole.items.len(), whole.next), (2, None));
    let after = store
        .page_media(PageRequest {
            after: Some("boxB".into()),
            size: 10,
        })
        .await
        .unwrap();
    assert_eq!(
        after.items[0].file_token, "boxFinished",
        "after any key, even one not stored"
    );
    let tokens = store
        .page_tokens(StoredTokenKind::User, PageRequest::first(5))
        .await
        .unwrap();
    assert_eq!(tokens.items.len(), 1, "user tokens only");
    assert_eq!(
        store
            .page_documents(PageRequest::first(5))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(
        store
            .page_users(PageRequest::first(5))
            .await
            .unwrap()
            .items
            .len(),
        1
    );

    assert!(store.delete_app("cli_b").await.unwrap());
    assert!(!store.delete_app("cli_b").await.unwrap());
    assert_eq!(store.app("cli_b").await.unwrap(), None);
    assert!(store.delete_token("h3").await.unwrap());
    assert!(store.delete_media("boxFinished").await.unwrap());
    assert!(store.delete_document("bascnX").await.unwrap());
    assert!(store.delete_user("ou_a").await.unwrap());
    assert!(!store.delete_user("ou_a").await.unwrap());
    in_memory_is_current(store).await;

    store.put_upload(&session("upW", 1)).await.unwrap();
    store.wipe().await.unwrap();
    assert!(store.list_apps().await.unwrap().is_empty());
    assert!(store.list_media().await.unwrap().is_empty());
    assert_eq!(store.upload("upW").await.unwrap(), None);
    assert_eq!(store.token("h2").await.unwrap(), None);
}

/// A row handed out from memory ([`MetaStore::media_in_memory`] and its siblings) is
/// the one a read returns now, never an older one. (Memory is asked first: a read would
/// refill it.)
async fn in_memory_is_current(store: &dyn MetaStore) {
    for key in ["cli_a", "cli_b"] {
        if let Some(hit) = store.app_in_memory(key) {
            assert_eq!(
                Some(&*hit),
                store.app(key).await.unwrap().as_ref(),
                "app {key}"
            );
        }
    }
    for key in ["h1", "h2", "h3"] {
        if let Some(hit) = store.token_in_memory(key) {
            assert_eq!(
                Some(&*hit),
                store.token(key).await.unwrap().as_ref(),
                "token {key}"
            );
        }
    }
    if let Some(hit) = store.document_in_memory("bascnX") {
        let now = store.document("bascnX").await.unwrap();
        assert_eq!(Some(&*hit), now.as_ref(), "document");
    }
    for key in ["boxA", "boxFinished"] {
        if let Some(hit) = store.media_in_memory(key) {
            assert_eq!(
                Some(&*hit),
                store.media(key).await.unwrap().as_ref(),
                "media {key}"
            );
        }
    }
}

/// Daily request counts: saved, read back, older days dropped.
async fn day_counts(store: &dyn MetaStore) {
    assert_eq!(store.day_count("k", 10).await.unwrap(), 0);
    store
        .save_day_counts(&[("k".into(), 10, 42), ("j".into(), 10, 1)])
        .await
        .unwrap();
    assert_eq!(store.day_count("k", 10).await.unwrap(), 42);
    store
        .save_day_counts(&[("k".into(), 10, 43)])
        .await
        .unwrap();
    assert_eq!(store.day_count("k", 10).await.unwrap(), 43);
    store.save_day_counts(&[("k".into(), 11, 1)]).await.unwrap();
    assert_eq!(
        store.day_count("k", 10).await.unwrap(),
        0,
        "older days are dropped"
    );
    assert_eq!(store.day_count("k", 11).await.unwrap(), 1);
}

fn session(id: &str, expires: i64) -> UploadSession {
    UploadSession {
        upload_id: id.into(),
        app_id: "cli_a".into(),
        tenant_key: "acme".into(),
        principal: Principal::User("ou_a".into()),
        file_name: "big.bin".into(),
        parent_type: ParentType::DocxFile,
        parent_node: Some("blk".into()),
        document: "doxA".into(),
        size: 9_000_000_000,
        block_num: 2146,
        created_at_ms: 1,
        expires_at_ms: expires,
        file_token: None,
    }
}

/// Sessions: round trip, expiry listing, and finish as one transaction.
async fn upload_sessions(store: &dyn MetaStore) {
    assert_eq!(store.upload("up1").await.unwrap(), None);
    store.put_upload(&session("up1", 100)).await.unwrap();
    store.put_upload(&session("up2", 300)).await.unwrap();
    assert_eq!(
        store.upload("up1").await.unwrap(),
        Some(session("up1", 100))
    );
    assert_eq!(
        store.expired_uploads(200).await.unwrap(),
        vec!["up1".to_owned()]
    );
    // Open at 50: both; at 200: up2 only; another app: none.
    assert_eq!(
        store.open_uploads("cli_a", 50).await.unwrap(),
        (2, 18_000_000_000)
    );
    assert_eq!(
        store.open_uploads("cli_a", 200).await.unwrap(),
        (1, 9_000_000_000)
    );
    assert_eq!(store.open_uploads("cli_b", 50).await.unwrap(), (0, 0));
    // Listed by id, a page at a time.
    let page = store.page_uploads(PageRequest::first(1)).await.unwrap();
    assert_eq!(page.items, vec![session("up1", 100)]);
    assert_eq!(page.next.as_deref(), Some("up1"));
    let rest = store
        .page_uploads(PageRequest {
            after: page.next,
            size: 10,
        })
        .await
        .unwrap();
    assert_eq!(rest.items, vec![session("up2", 300)]);
    assert_eq!(rest.next, None);

    let m = media("boxFinished", &"c".repeat(64));
    assert!(store.finish_upload("up2", &m).await.unwrap());
    let finished = store
        .upload("up2")
        .await
        .unwrap()
        .expect("kept until it expires");
    assert_eq!(finished.file_token.as_deref(), Some("boxFinished"));
    assert_eq!(
        store.open_uploads("cli_a", 200).await.unwrap(),
        (0, 0),
        "a finished upload is no longer open"
    );
    assert_eq!(store.media("boxFinished").await.unwrap(), Some(m.clone()));
    // A second finish of the same session writes nothing.
    let mut other = m.clone();
    other.file_token = "boxTwice".into();
    assert!(!store.finish_upload("up2", &other).await.unwrap());
    assert_eq!(store.media("boxTwice").await.unwrap(), None);
    assert_eq!(store.upload("up2").await.unwrap(), Some(finished));
    // Nor does finishing a session that does not exist.
    assert!(!store.finish_upload("up9", &other).await.unwrap());
    assert_eq!(store.media("boxTwice").await.unwrap(), None);

    store.delete_upload("up1").await.unwrap();
    store.delete_upload("up1").await.unwrap();
    assert_eq!(store.upload("up1").await.unwrap(), None);
}

/// Every blob rule: content addressing, ranges, dedup, missing blobs, bad keys.
pub async fn blob_suite(store: &dyn PartStore) {
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let info = store.put(&mut &data[..]).await.expect("put");
    assert_eq!(info.size, data.len() as u64);
    assert_eq!(info.digest, digest_hex(&data));
    assert_eq!(
        store.size(&info.digest).await.unwrap(),
        Some(data.len() as u64)
    );

    let read = |start: u64, end: u64| read_range(store, &info.digest, start, end);
    assert_eq!(read(0, data.len() as u64).await, data);
    assert_eq!(read(1000, 1010).await, data[1000..1010]);
    assert_eq!(read(299_999, 300_000).await, data[299_999..]);
    assert_eq!(read(5, 5).await, Vec::<u8>::new());

    // The same bytes again: same key, still readable.
    let again = store.put(&mut &data[..]).await.unwrap();
    assert_eq!(again, info);
    assert_eq!(read(0, 3).await, data[..3]);

    // Empty blobs exist too.
    let empty = store.put(&mut &b""[..]).await.unwrap();
    assert_eq!(empty.size, 0);
    assert_eq!(store.size(&empty.digest).await.unwrap(), Some(0));

    // Missing and malformed keys are errors or absences, never panics or path escapes.
    for key in [
        "0".repeat(64),
        "../etc/passwd".into(),
        String::new(),
        "A".repeat(64),
    ] {
        assert!(
            matches!(
                store.get(&key, 0, 1).await,
                Err(crate::StoreError::BlobMissing(_))
            ),
            "{key}"
        );
        assert_eq!(store.size(&key).await.unwrap(), None);
        store.delete(&key).await.unwrap();
    }

    assert!(
        crate::blob::all_keys(store)
            .await
            .unwrap()
            .contains(&info.digest)
    );
    store.delete(&info.digest).await.unwrap();
    assert_eq!(store.size(&info.digest).await.unwrap(), None);
    assert!(store.get(&info.digest, 0, 1).await.is_err());
    assert!(
        !crate::blob::all_keys(store)
            .await
            .unwrap()
            .contains(&info.digest)
    );

    staging(store).await;
    parts(store).await;
    parts_in_place(store).await;
}

/// A reader that yields some bytes, then fails like a client that went away.
struct Broken(usize);

impl tokio::io::AsyncRead for Broken {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.0 == 0 {
            return std::task::Poll::Ready(Err(std::io::Error::other("connection reset")));
        }
        let n = self.0.min(buf.remaining());
        buf.put_slice(&vec![7u8; n]);
        self.0 -= n;
        std::task::Poll::Ready(Ok(()))
    }
}

/// Staged bytes are invisible until committed, and gone when dropped.
async fn staging(store: &dyn PartStore) {
    let staged = store.stage(&mut &b"staged bytes"[..], 100).await.unwrap();
    let key = staged.info().digest.clone();
    assert_eq!(staged.info().size, 12);
    assert_eq!(
        store.size(&key).await.unwrap(),
        None,
        "not visible before commit"
    );
    drop(staged);
    assert_eq!(
        store.size(&key).await.unwrap(),
        None,
        "dropped means discarded"
    );
    let info = store
        .stage(&mut &b"staged bytes"[..], 100)
        .await
        .unwrap()
        .commit()
        .await
        .unwrap();
    assert_eq!(info.digest, key);
    assert_eq!(store.size(&key).await.unwrap(), Some(12));

    assert!(matches!(
        store.stage(&mut &[1u8; 101][..], 100).await,
        Err(crate::StoreError::TooLarge(100))
    ));
    assert!(
        store.stage(&mut &[1u8; 100][..], 100).await.is_ok(),
        "exactly the limit is fine"
    );
    assert!(matches!(
        store.stage(&mut Broken(1000), 1 << 20).await,
        Err(crate::StoreError::Source(_))
    ));
}

/// Blocks of chunked uploads: replace, list, assemble in order, discard.
async fn parts(store: &dyn PartStore) {
    assert!(store.part_sizes("up9").await.unwrap().is_empty());
    for (seq, offset, bytes) in [
        (1u64, 6, &b"world"[..]),
        (0, 0, b"HELLO "),
        (0, 0, b"hello "),
    ] {
        // Blocks may be staged without a hash; they assemble all the same.
        store
            .stage_block(&mut &bytes[..], 100)
            .await
            .unwrap()
            .commit("up9", seq, offset)
            .await
            .unwrap();
    }
    assert!(matches!(
        store.stage_block(&mut &[0u8; 101][..], 100).await,
        Err(crate::StoreError::TooLarge(100))
    ));
    let sizes = store.part_sizes("up9").await.unwrap();
    assert_eq!(
        sizes.into_iter().collect::<Vec<_>>(),
        vec![(0, 6), (1, 5)],
        "a repeated seq replaces"
    );
    assert!(
        store
            .part_uploads()
            .await
            .unwrap()
            .contains(&"up9".to_owned())
    );
    assert!(
        store.assemble("up9", 3).await.is_err(),
        "a missing block fails the assembly"
    );
    assert_eq!(read_part(store, "up9", 1).await, b"world");
    let info = assembles_to(store, "up9", 2, b"hello world").await;
    let late = store.stage_block(&mut &b"HELLO "[..], 100).await.unwrap();
    assert!(
        matches!(
            late.commit("up9", 0, 0).await,
            Err(crate::StoreError::UploadClosed(_))
        ),
        "an assembled upload takes no more blocks"
    );
    assert_eq!(
        read_blob(store, &info).await,
        b"hello world",
        "nor do its blocks change the blob"
    );
    store.discard_parts("up9").await.unwrap();
    store.discard_parts("up9").await.unwrap();
    assert!(store.part_sizes("up9").await.unwrap().is_empty());
    assert!(
        !store
            .part_uploads()
            .await
            .unwrap()
            .contains(&"up9".to_owned())
    );
    // Ids that could escape a directory are refused, never used.
    assert!(
        store.part_sizes("../blobs").await.is_err()
            || store.part_sizes("../blobs").await.unwrap().is_empty()
    );
}

/// Blocks whose place is known before their bytes (`stage_part`): new, replaced, a
/// replacement that fails, one never committed, one sent twice at once.
async fn parts_in_place(store: &dyn PartStore) {
    let put = |seq: u64, bytes: &'static [u8], max: u64| async move {
        store
            .stage_part("up7", seq, seq * 4, &mut &bytes[..], max)
            .await?
            .commit("up7", seq, seq * 4)
            .await
    };
    put(2, b"ij", 4).await.unwrap();
    put(0, b"abcd", 4).await.unwrap();
    put(1, b"oops", 4).await.unwrap();
    put(1, b"efgh", 4).await.unwrap();
    assert_eq!(
        read_part(store, "up7", 1).await,
        b"efgh",
        "a repeated seq replaces"
    );
    // A replacement that runs past its limit leaves the block that arrived whole.
    assert!(matches!(
        put(1, b"toolong", 4).await,
        Err(crate::StoreError::TooLarge(4))
    ));
    assert_eq!(read_part(store, "up7", 1).await, b"efgh");
    // A block staged but never committed has not arrived.
    drop(
        store
            .stage_part("up7", 3, 12, &mut &b"zz"[..], 4)
            .await
            .unwrap(),
    );
    assert_eq!(
        store
            .part_sizes("up7")
            .await
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        vec![(0, 4), (1, 4), (2, 2)]
    );
    // The same block sent twice at once: one copy or the other, never a mix, never
    // none (a race, so tried a few times, with other bytes and with the same ones).
    for _ in 0..8 {
        let (a, b) = tokio::join!(put(0, b"ABCD", 4), put(0, b"abcd", 4));
        a.unwrap();
        b.unwrap();
        let zero = read_part(store, "up7", 0).await;
        assert!(zero == b"ABCD" || zero == b"abcd", "{zero:?}");
        let (a, b) = tokio::join!(put(0, b"abcd", 4), put(0, b"abcd", 4));
        a.unwrap();
        b.unwrap();
        assert_eq!(read_part(store, "up7", 0).await, b"abcd");
    }
    put(0, b"abcd", 4).await.unwrap();
    let info = assembles_to(store, "up7", 3, b"abcdefghij").await;
    assert!(matches!(
        put(1, b"efgh", 4).await,
        Err(crate::StoreError::UploadClosed(_))
    ));
    store.discard_parts("up7").await.unwrap();
    assert_eq!(
        read_blob(store, &info).await,
        b"abcdefghij",
        "the blob outlives its upload"
    );
    // A blob long enough that a backend may hand it out as a file: every form of a
    // read gives exactly its bytes, ranges past the end are cut there.
    let long: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let info = store.put(&mut &long[..]).await.unwrap();
    for (start, end) in [
        (0, 300_000),
        (1, 299_999),
        (100_000, 200_000),
        (299_990, 400_000),
    ] {
        let want = &long[start as usize..(end as usize).min(long.len())];
        if let crate::Payload::File(f) = store.get(&info.digest, start, end).await.unwrap() {
            use std::os::unix::fs::FileExt;
            let mut bytes = vec![0; f.len as usize];
            f.file.read_exact_at(&mut bytes, f.offset).unwrap();
            assert_eq!(bytes, want, "file range {start}..{end}");
        }
        assert_eq!(read_range(store, &info.digest, start, end).await, want);
    }
    // Short reads of a blob not yet read (a new one each: a first read may keep it in
    // memory): the whole of it, one byte less, past its end, and from further in.
    for (i, (start, end)) in [
        (0, 1000),
        (0, 999),
        (0, 5000),
        (0, 0),
        (10, 20),
        (990, 2000),
    ]
    .into_iter()
    .enumerate()
    {
        let short: Vec<u8> = (0..1000u32).map(|b| (b as usize * 7 + i) as u8).collect();
        let info = store.put(&mut &short[..]).await.unwrap();
        let want = &short[start as usize..(end as usize).min(short.len())];
        assert_eq!(
            read_range(store, &info.digest, start, end).await,
            want,
            "first read {start}..{end}"
        );
        assert_eq!(read_blob(store, &info).await, short, "then the whole of it");
    }
    assert!(
        store.get(&"0".repeat(64), 0, 10).await.is_err(),
        "no such blob"
    );
}

async fn read_part(store: &dyn PartStore, upload_id: &str, seq: u64) -> Vec<u8> {
    concat(store.part(upload_id, seq).await.unwrap()).await
}

async fn read_blob(store: &dyn BlobStore, info: &BlobInfo) -> Vec<u8> {
    read_range(store, &info.digest, 0, info.size).await
}

async fn read_range(store: &dyn BlobStore, key: &str, start: u64, end: u64) -> Vec<u8> {
    concat(store.get(key, start, end).await.unwrap().into_stream()).await
}

/// All the bytes of a stream.
async fn concat(stream: crate::blob::ByteStream) -> Vec<u8> {
    let chunks: Vec<bytes::Bytes> = stream.try_collect().await.unwrap();
    chunks.concat()
}

/// Assembles upload `id` from `block_num` blocks, commits it, and checks the blob's bytes
/// and digest.
async fn assembles_to(store: &dyn PartStore, id: &str, block_num: u64, want: &[u8]) -> BlobInfo {
    let info = store
        .assemble(id, block_num)
        .await
        .unwrap()
        .commit()
        .await
        .unwrap();
    assert_eq!(read_blob(store, &info).await, want);
    assert_eq!(info.digest, digest_hex(want));
    info
}

fn digest_hex(bytes: &[u8]) -> String {
    crate::blob::digest_of(bytes)
}

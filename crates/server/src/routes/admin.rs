//! The admin API under `/_admin/v1/`: off unless an admin token is configured, and then
//! only with `Authorization: Bearer <admin token>`.

use super::json::Limited;
use crate::error::{ApiError, json_response};
use crate::faults::parse_rules;
use crate::seed::{
    self, AppSpec, DocumentSpec, Manifest, MediaSpec, MemberSpec, UserSpec, UserTokenSpec,
};
use crate::services::admin;
use crate::state::AppState;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use axum::routing::{delete, get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use feishu_media_proto::ErrorCode;
use feishu_media_proto::envelope::SuccessEnvelope;
use feishu_media_store::{
    Batch, Member, Page, PageRequest, Principal, Role, StoreResult, StoredTokenKind,
};
use serde::de::DeserializeOwned;
use std::future::Future;

/// The admin API's routes, under `/_admin/v1`. The authentication layer has checked
/// the admin token (and answered 404 while the admin API is off) before any of them runs.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/seed", post(seed_manifest))
        .route("/reset", post(reset))
        .route(
            "/faults",
            get(faults_list).put(faults_set).delete(faults_clear),
        )
        .route("/requests", get(requests))
        .route("/usage", get(usage))
        .route("/uploads", get(uploads))
        .route("/apps", get(list::<Apps>).post(put::<Apps>))
        .route(
            "/apps/{id}",
            get(get_one::<Apps>)
                .put(put_id::<Apps>)
                .delete(delete_one::<Apps>),
        )
        .route("/users", get(list::<Users>).post(put::<Users>))
        .route(
            "/users/{id}",
            get(get_one::<Users>)
                .put(put_id::<Users>)
                .delete(delete_one::<Users>),
        )
        .route("/user_tokens", get(user_tokens_list).post(user_token_put))
        .route("/user_tokens/{token}", delete(user_token_delete))
        .route("/documents", get(list::<Documents>).post(put::<Documents>))
        .route(
            "/documents/{id}",
            get(get_one::<Documents>)
                .put(put_id::<Documents>)
                .delete(delete_one::<Documents>),
        )
        .route("/documents/{id}/members", post(member_add))
        .route("/documents/{id}/members/{principal}", delete(member_remove))
        .route("/media", get(list::<Medias>).post(put::<Medias>))
        .route(
            "/media/{id}",
            get(get_one::<Medias>)
                .put(put_id::<Medias>)
                .delete(delete_one::<Medias>),
        )
        .route("/media/{id}/delete", post(media_soft_delete))
        .route("/media/{id}/undelete", post(media_undelete))
        .route("/media/{id}/link", post(media_link))
}

fn ok(data: &impl serde::Serialize) -> Response {
    json_response(StatusCode::OK, &SuccessEnvelope::new(data))
}

/// The longest admin request body: a manifest with its media inline (`content_base64`).
pub const ADMIN_MAX: usize = 64 * 1024 * 1024;

fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    super::json::parse(bytes).map_err(ApiError::params)
}

fn missing(what: &str, id: &str) -> ApiError {
    ApiError::new(ErrorCode::AdminNotFound).hint(format!("no {what} {id:?}"))
}

fn found<T: serde::Serialize>(what: &str, id: &str, v: Option<T>) -> Result<Response, ApiError> {
    v.map(|v| ok(&v)).ok_or_else(|| missing(what, id))
}

fn same_id(path_id: &str, body_id: &str) -> Result<(), ApiError> {
    if path_id == body_id {
        Ok(())
    } else {
        Err(ApiError::params(format!(
            "the path names {path_id:?}, the body {body_id:?}"
        )))
    }
}

/// Applies one object through the manifest rules; a fault is reported at the object's
/// own path (`members[0].role`, not `documents[0].members[0].role`).
async fn apply_one(state: &AppState, manifest: Manifest, prefix: &str) -> Result<(), ApiError> {
    match seed::apply(state, &manifest, state.config.fixtures_dir.as_deref()).await {
        Ok(_) => Ok(()),
        Err(mut e) => {
            if let Some(rest) = e.path.strip_prefix(prefix) {
                e.path = rest.trim_start_matches('.').to_owned();
                if e.path.is_empty() {
                    e.path = "$".into();
                }
            }
            Err(admin::refused(e))
        }
    }
}

// --- world ----------------------------------------------------------------------------

async fn seed_manifest(
    State(state): State<AppState>,
    Limited(bytes): Limited<ADMIN_MAX>,
) -> Result<Response, ApiError> {
    let manifest = seed::parse(&bytes).map_err(admin::refused)?;
    Ok(ok(&admin::apply(&state, &manifest).await?))
}

async fn reset(State(state): State<AppState>) -> Result<Response, ApiError> {
    Ok(ok(&admin::reset(&state).await?))
}

async fn faults_list(State(state): State<AppState>) -> Response {
    ok(&state.faults.list())
}

async fn faults_set(
    State(state): State<AppState>,
    Limited(bytes): Limited<ADMIN_MAX>,
) -> Result<Response, ApiError> {
    let rules = parse_rules(&bytes).map_err(|e| ApiError::params(e.to_string()))?;
    state.faults.set(rules);
    Ok(ok(&state.faults.list()))
}

async fn faults_clear(State(state): State<AppState>) -> Response {
    state.faults.set(Vec::new());
    ok(&state.faults.list())
}

async fn requests(State(state): State<AppState>, parts: Parts) -> Result<Response, ApiError> {
    let limit = match crate::gateway::query_param(&parts.uri, "limit") {
        None => 100,
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| ApiError::params(format!("limit must be a number, not {v:?}")))?,
    };
    Ok(ok(&state
        .requests
        .latest(limit.min(crate::request_log::CAPACITY))))
}

/// Today's requests of every app against each limit it has: `[{app_id, tenant_key,
/// endpoint, today, per_second, per_day}]`, endpoints used today only.
async fn usage(State(state): State<AppState>) -> Result<Response, ApiError> {
    use feishu_media_proto::endpoint::{ENDPOINTS, Limit};
    let mut out = Vec::new();
    for app in state.meta.list_apps().await? {
        let Some(limit) = app.rate_limit else {
            continue;
        };
        for row in ENDPOINTS {
            let Limit::PerApp { times, .. } = row.limit else {
                continue;
            };
            let key = crate::limits::Limits::key(&app.app_id, &app.tenant_key, row.name);
            let today = state.limits.today(state.meta.as_ref(), &key).await?;
            if today > 0 {
                out.push(serde_json::json!({
                    "app_id": app.app_id, "tenant_key": app.tenant_key, "endpoint": row.name,
                    "today": today, "per_second": limit.per_second.saturating_mul(times),
                    "per_day": limit.per_day,
                }));
            }
        }
    }
    Ok(ok(&out))
}

/// Chunked uploads in progress (and finished ones until they expire), a page at a time:
/// each session with the blocks received so far and their bytes.
async fn uploads(State(state): State<AppState>, parts: Parts) -> Result<Response, ApiError> {
    let page = state.meta.page_uploads(page_request(&parts)?).await?;
    let mut items = Vec::with_capacity(page.items.len());
    for u in page.items {
        let blocks = state.parts.part_sizes(&u.upload_id).await?;
        let mut v = serde_json::to_value(&u).map_err(ApiError::internal)?;
        v["blocks_received"] = serde_json::json!(blocks.len());
        v["bytes_received"] = serde_json::json!(blocks.values().sum::<u64>());
        items.push(v);
    }
    Ok(ok(&Listed::from(Page {
        items,
        next: page.next,
    })))
}

// --- user tokens ----------------------------------------------------------------------

async fn user_tokens_list(
    State(state): State<AppState>,
    parts: Parts,
) -> Result<Response, ApiError> {
    let page = page_request(&parts)?;
    let tokens = state.meta.page_tokens(StoredTokenKind::User, page).await?;
    Ok(ok(&Listed::from(tokens)))
}

/// Listings page as Feishu's do: `page_size` (1 to 1000, default 100) and the
/// `page_token` the previous page answered.
const PAGE_SIZE: usize = 100;
const PAGE_SIZE_MAX: usize = 1000;

fn page_request(parts: &Parts) -> Result<PageRequest, ApiError> {
    let size = match crate::gateway::query_param(&parts.uri, "page_size") {
        None => PAGE_SIZE,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=PAGE_SIZE_MAX).contains(n))
            .ok_or_else(|| {
                ApiError::params(format!("page_size must be 1 to {PAGE_SIZE_MAX}, not {v:?}"))
            })?,
    };
    let after =
        match crate::gateway::query_param(&parts.uri, "page_token").filter(|t| !t.is_empty()) {
            None => None,
            Some(t) => Some(
                URL_SAFE_NO_PAD
                    .decode(&t)
                    .ok()
                    .and_then(|k| String::from_utf8(k).ok())
                    .ok_or_else(|| ApiError::params("page_token is not one this server gave"))?,
            ),
        };
    Ok(PageRequest { after, size })
}

/// One page as the admin API answers it.
#[derive(serde::Serialize)]
struct Listed<T> {
    items: Vec<T>,
    has_more: bool,
    /// Where the next page starts; only while `has_more`.
    #[serde(skip_serializing_if = "Option::is_none")]
    page_token: Option<String>,
}

impl<T> From<Page<T>> for Listed<T> {
    fn from(p: Page<T>) -> Self {
        Self {
            items: p.items,
            has_more: p.next.is_some(),
            page_token: p.next.map(|k| URL_SAFE_NO_PAD.encode(k)),
        }
    }
}

async fn user_token_put(
    State(state): State<AppState>,
    Limited(bytes): Limited<ADMIN_MAX>,
) -> Result<Response, ApiError> {
    let spec: UserTokenSpec = body(&bytes)?;
    let hash = crate::secret::token_hash(&spec.token);
    apply_one(
        &state,
        Manifest {
            user_tokens: vec![spec],
            ..Default::default()
        },
        "user_tokens[0]",
    )
    .await?;
    found("user token", &hash, state.meta.token(&hash).await?)
}

async fn user_token_delete(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let hash = crate::secret::token_hash(&token);
    let is_user = state
        .meta
        .token(&hash)
        .await?
        .is_some_and(|t| t.kind == StoredTokenKind::User);
    if !is_user || !state.meta.delete_token(&hash).await? {
        return Err(missing("user token", &token));
    }
    Ok(ok(&serde_json::json!({})))
}

// --- document members -----------------------------------------------------------------

async fn member_add(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Limited(bytes): Limited<ADMIN_MAX>,
) -> Result<Response, ApiError> {
    let spec: MemberSpec = body(&bytes)?;
    let mut doc = state
        .meta
        .document(&id)
        .await?
        .ok_or_else(|| missing("document", &id))?;
    let principal = Principal::parse(&spec.principal).ok_or_else(|| {
        ApiError::params(format!(
            "principal: {:?} is not app:<app_id> or user:<user_id>",
            spec.principal
        ))
    })?;
    let known = match &principal {
        Principal::App(a) => state.meta.app(a).await?.is_some(),
        Principal::User(u) => state.meta.user(u).await?.is_some(),
    };
    if !known {
        return Err(ApiError::params(format!(
            "principal: no app or user {:?}",
            spec.principal
        )));
    }
    let role = Role::parse(&spec.role).ok_or_else(|| {
        ApiError::params(format!(
            "role: {:?} is not one of view, edit, manage",
            spec.role
        ))
    })?;
    doc.members.retain(|m| m.principal != principal);
    doc.members.push(Member { principal, role });
    state
        .meta
        .apply(&Batch {
            documents: vec![doc.clone()],
            ..Default::default()
        })
        .await?;
    Ok(ok(&doc))
}

async fn member_remove(
    State(state): State<AppState>,
    Path((id, principal)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let mut doc = state
        .meta
        .document(&id)
        .await?
        .ok_or_else(|| missing("document", &id))?;
    let before = doc.members.len();
    doc.members.retain(|m| m.principal.to_string() != principal);
    if doc.members.len() == before {
        return Err(missing("member", &principal));
    }
    state
        .meta
        .apply(&Batch {
            documents: vec![doc.clone()],
            ..Default::default()
        })
        .await?;
    Ok(ok(&doc))
}

// --- media soft delete ------------------------------------------------------------------

async fn set_deleted(state: &AppState, id: &str, deleted: bool) -> Result<Response, ApiError> {
    let mut m = state
        .meta
        .media(id)
        .await?
        .ok_or_else(|| missing("media", id))?;
    m.deleted = deleted;
    state
        .meta
        .apply(&Batch {
            media: vec![m.clone()],
            ..Default::default()
        })
        .await?;
    Ok(ok(&m))
}

async fn media_soft_delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    set_deleted(&state, &id, true).await
}

/// A temporary download link to a media, as `batch_get_tmp_download_url` would sign it
/// (the console's thumbnails, previews and downloads): `{url, expires_at}`.
async fn media_link(
    State(state): State<AppState>,
    Path(id): Path<String>,
    parts: Parts,
) -> Result<Response, ApiError> {
    let media = state
        .meta
        .media(&id)
        .await?
        .ok_or_else(|| missing("media", &id))?;
    let expires_at = state.clock.unix_secs() + state.config.tmp_url_ttl.as_secs();
    let code = crate::services::links::sign(&state.secret, &media.file_token, expires_at);
    let base =
        crate::services::links::public_base(state.config.public_url.as_deref(), &parts.headers);
    Ok(ok(&serde_json::json!({
        "url": format!("{base}{}?code={code}", feishu_media_proto::endpoint::TMP_LINK),
        "expires_at": expires_at,
    })))
}

async fn media_undelete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    set_deleted(&state, &id, false).await
}

// --- objects of one kind: apps, users, documents, media -----------------------------------

/// One kind of object of the admin API: how it is listed, found, written and deleted.
/// Writes go through the manifest's rules, so the admin API and `--seed` share a schema.
trait Kind: Send + Sync + 'static {
    /// Singular, for messages ("app").
    const NAME: &'static str;
    /// Its list in a manifest, for error paths ("apps").
    const LIST: &'static str;
    type Spec: DeserializeOwned + Send;
    type Stored: serde::Serialize + Send;
    fn id(spec: &Self::Spec) -> &str;
    fn manifest(spec: Self::Spec) -> Manifest;
    fn page(
        state: &AppState,
        page: PageRequest,
    ) -> impl Future<Output = StoreResult<Page<Self::Stored>>> + Send;
    fn get(
        state: &AppState,
        id: &str,
    ) -> impl Future<Output = StoreResult<Option<Self::Stored>>> + Send;
    fn delete(state: &AppState, id: &str) -> impl Future<Output = Result<bool, ApiError>> + Send;
}

struct Apps;
struct Users;
struct Documents;
struct Medias;

impl Kind for Apps {
    const NAME: &'static str = "app";
    const LIST: &'static str = "apps";
    type Spec = AppSpec;
    type Stored = feishu_media_store::App;
    fn id(spec: &AppSpec) -> &str {
        &spec.app_id
    }
    fn manifest(spec: AppSpec) -> Manifest {
        Manifest {
            apps: vec![spec],
            ..Default::default()
        }
    }
    async fn page(state: &AppState, page: PageRequest) -> StoreResult<Page<Self::Stored>> {
        state.meta.page_apps(page).await
    }
    async fn get(state: &AppState, id: &str) -> StoreResult<Option<Self::Stored>> {
        state.meta.app(id).await
    }
    async fn delete(state: &AppState, id: &str) -> Result<bool, ApiError> {
        Ok(state.meta.delete_app(id).await?)
    }
}

impl Kind for Users {
    const NAME: &'static str = "user";
    const LIST: &'static str = "users";
    type Spec = UserSpec;
    type Stored = feishu_media_store::User;
    fn id(spec: &UserSpec) -> &str {
        &spec.user_id
    }
    fn manifest(spec: UserSpec) -> Manifest {
        Manifest {
            users: vec![spec],
            ..Default::default()
        }
    }
    async fn page(state: &AppState, page: PageRequest) -> StoreResult<Page<Self::Stored>> {
        state.meta.page_users(page).await
    }
    async fn get(state: &AppState, id: &str) -> StoreResult<Option<Self::Stored>> {
        state.meta.user(id).await
    }
    async fn delete(state: &AppState, id: &str) -> Result<bool, ApiError> {
        Ok(state.meta.delete_user(id).await?)
    }
}

impl Kind for Documents {
    const NAME: &'static str = "document";
    const LIST: &'static str = "documents";
    type Spec = DocumentSpec;
    type Stored = feishu_media_store::Document;
    fn id(spec: &DocumentSpec) -> &str {
        &spec.token
    }
    fn manifest(spec: DocumentSpec) -> Manifest {
        Manifest {
            documents: vec![spec],
            ..Default::default()
        }
    }
    async fn page(state: &AppState, page: PageRequest) -> StoreResult<Page<Self::Stored>> {
        state.meta.page_documents(page).await
    }
    async fn get(state: &AppState, id: &str) -> StoreResult<Option<Self::Stored>> {
        state.meta.document(id).await
    }
    /// A document that still holds media is not deleted from under them. A drive file
    /// goes with its bytes (a media of its own token), which nothing else holds.
    async fn delete(state: &AppState, id: &str) -> Result<bool, ApiError> {
        let held = state.meta.document_media(id).await?;
        let holding = held
            .iter()
            .filter(|m| m.parent_type != feishu_media_store::ParentType::Explorer)
            .count();
        if holding > 0 {
            return Err(ApiError::params(format!(
                "document {id:?} holds {holding} media: delete them first"
            )));
        }
        for m in held {
            state.meta.delete_media(&m.file_token).await?;
        }
        Ok(state.meta.delete_document(id).await?)
    }
}

impl Kind for Medias {
    const NAME: &'static str = "media";
    const LIST: &'static str = "media";
    type Spec = MediaSpec;
    type Stored = feishu_media_store::Media;
    fn id(spec: &MediaSpec) -> &str {
        &spec.file_token
    }
    fn manifest(spec: MediaSpec) -> Manifest {
        Manifest {
            media: vec![spec],
            ..Default::default()
        }
    }
    async fn page(state: &AppState, page: PageRequest) -> StoreResult<Page<Self::Stored>> {
        state.meta.page_media(page).await
    }
    async fn get(state: &AppState, id: &str) -> StoreResult<Option<Self::Stored>> {
        state.meta.media(id).await
    }
    /// The blob stays until the next start-up sweep: another media may share it.
    async fn delete(state: &AppState, id: &str) -> Result<bool, ApiError> {
        Ok(state.meta.delete_media(id).await?)
    }
}

async fn list<K: Kind>(State(state): State<AppState>, parts: Parts) -> Result<Response, ApiError> {
    let page = page_request(&parts)?;
    Ok(ok(&Listed::from(K::page(&state, page).await?)))
}

async fn get_one<K: Kind>(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    found(K::NAME, &id, K::get(&state, &id).await?)
}

/// Creates or replaces one object from its manifest form.
async fn put<K: Kind>(
    State(state): State<AppState>,
    Limited(bytes): Limited<ADMIN_MAX>,
) -> Result<Response, ApiError> {
    let spec: K::Spec = body(&bytes)?;
    let id = K::id(&spec).to_owned();
    apply_one(&state, K::manifest(spec), &format!("{}[0]", K::LIST)).await?;
    found(K::NAME, &id, K::get(&state, &id).await?)
}

/// [`put`] at the object's own path, which must agree with the body's id.
async fn put_id<K: Kind>(
    s: State<AppState>,
    Path(id): Path<String>,
    Limited(bytes): Limited<ADMIN_MAX>,
) -> Result<Response, ApiError> {
    same_id(&id, K::id(&body::<K::Spec>(&bytes)?))?;
    put::<K>(s, Limited(bytes)).await
}

async fn delete_one<K: Kind>(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if !K::delete(&state, &id).await? {
        return Err(missing(K::NAME, &id));
    }
    Ok(ok(&serde_json::json!({})))
}

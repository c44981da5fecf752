//! The seed manifest (`../shared/spec/seed-manifest.md`): parsed, validated as a whole,
//! then applied as one batch. A manifest that breaks any rule changes nothing, and the
//! error names the JSON path of the first fault.
//!
//! Loading is idempotent: an object whose id exists is replaced by the file's
//! description, keeping what the file cannot say (a media's dates while its bytes stay
//! the same, a user token's issue time).

pub mod content;
pub mod manifest;

pub use manifest::*;

use crate::names::guess_mime;
use crate::state::AppState;
use base64::Engine;
use feishu_media_proto::parent::ParentType;
use feishu_media_proto::token::TokenKind;
use feishu_media_store::*;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Reads, validates and applies the manifest file at `path`. Media `path`s are taken
/// relative to the manifest's own folder.
pub async fn load_file(state: &AppState, path: &Path) -> Result<SeedReport, SeedError> {
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|e| SeedError::at("$", format!("cannot read {}: {e}", path.display())))?;
    let manifest = parse(&bytes)?;
    // A bare file name's parent is "": its fixtures are in the current folder.
    let base = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    load_startup(state, manifest, base).await
}

/// Applies a manifest and remembers it as a start-up manifest, which the admin API's
/// reset loads again.
pub async fn load_startup(
    state: &AppState,
    manifest: Manifest,
    base: PathBuf,
) -> Result<SeedReport, SeedError> {
    let report = apply(state, &manifest, Some(&base)).await?;
    state
        .startup
        .write()
        .expect("not poisoned")
        .push((manifest, base));
    Ok(report)
}

/// Where a media's bytes come from, once checked.
enum Source {
    /// A fixture, and its digest when validation took it.
    File(PathBuf, Option<String>),
    Bytes(Vec<u8>),
}

/// A media (or a drive file's bytes) checked and ready to write.
struct Planned {
    file_token: String,
    document: String,
    parent_type: ParentType,
    parent_node: Option<String>,
    file_name: String,
    mime_type: String,
    bitable: Option<BitableLocation>,
    deleted: bool,
    source: Source,
    /// The media of this token already stored, as validation read it.
    stored: Option<Media>,
}

/// The one source of bytes among `path`, `content_text` and `content_base64` of the
/// object at `at`.
/// A file's digest is taken with the checks when `hash` (the media is stored already,
/// so an unchanged re-seed compares digests instead of writing the bytes again).
async fn source(
    files: Option<&Path>,
    at: String,
    (path, text, b64): (&Option<String>, &Option<String>, &Option<String>),
    hash: bool,
) -> Result<Source, SeedError> {
    match (path, text, b64) {
        (Some(path), None, None) => {
            let (path, digest) = fixture(files, path, format!("{at}.path"), hash).await?;
            Ok(Source::File(path, digest))
        }
        (None, Some(text), None) => Ok(Source::Bytes(text.clone().into_bytes())),
        (None, None, Some(b64)) => Ok(Source::Bytes(
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| {
                    SeedError::at(format!("{at}.content_base64"), format!("not base64: {e}"))
                })?,
        )),
        _ => Err(SeedError::at(
            at,
            "give exactly one of path, content_text, content_base64",
        )),
    }
}

/// Whether `source` holds the bytes of blob `digest`, which is still stored.
async fn unchanged(state: &AppState, source: &Source, digest: &str) -> Result<bool, SeedError> {
    let internal = |e: StoreError| SeedError::at("$", format!("storage: {e}"));
    let ours = match source {
        Source::Bytes(bytes) => blob::digest_of(bytes),
        Source::File(_, Some(digest)) => digest.clone(),
        Source::File(path, None) => {
            let path = path.clone();
            tokio::task::spawn_blocking(move || digest_of_file(&path))
                .await
                .map_err(|e| SeedError::at("$", format!("hashing a fixture: {e}")))?
                .map_err(|e| SeedError::at("$", format!("cannot read a fixture: {e}")))?
        }
    };
    Ok(ours == digest && state.blobs.size(digest).await.map_err(internal)?.is_some())
}

/// A file token as Feishu's look: 1 to 64 letters and digits.
fn token_shape(path: String, token: &str) -> Result<(), SeedError> {
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_alphanumeric()) || token.len() > 64 {
        return Err(SeedError::at(
            path,
            "a file token is 1 to 64 letters and digits, like Feishu's",
        ));
    }
    Ok(())
}

fn digest_of_file(path: &Path) -> std::io::Result<String> {
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(std::fs::File::open(path)?)?;
    Ok(hasher.finalize().to_hex().to_string())
}

/// A fixture to check: where the manifest names it, its path, and whether to take its
/// digest too.
struct FixtureCheck {
    at: String,
    path: String,
    hash: bool,
}

type Fixture = Result<(PathBuf, Option<String>), SeedError>;

/// The files `checks` name inside `files`, which they must not leave, each with its
/// digest if asked, in one trip to the blocking pool (a manifest may name 100 000).
async fn fixtures(
    files: Option<&Path>,
    checks: Vec<FixtureCheck>,
) -> Result<Vec<Fixture>, SeedError> {
    let Some(dir) = files else {
        let refused = |c: FixtureCheck| {
            Err(SeedError::at(
                c.at,
                "the admin API reads no files: send content_base64 or content_text \
                 (or start the server with --fixtures-dir)",
            ))
        };
        return Ok(checks.into_iter().map(refused).collect());
    };
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || {
        let root = std::fs::canonicalize(&dir).map_err(|e| format!("{}: {e}", dir.display()));
        let mut folders = Folders::default();
        checks
            .into_iter()
            .map(|c| match &root {
                Ok(root) => fixture_in(root, c, &mut folders),
                Err(why) => Err(SeedError::at(c.at, why.clone())),
            })
            .collect()
    })
    .await
    .map_err(|e| SeedError::at("$", format!("checking fixtures: {e}")))
}

/// One fixture, checked: see [`fixtures`].
async fn fixture(files: Option<&Path>, path: &str, at: String, hash: bool) -> Fixture {
    let check = FixtureCheck {
        at,
        path: path.to_owned(),
        hash,
    };
    fixtures(files, vec![check])
        .await?
        .pop()
        .expect("one answer per check")
}

/// The canonical form of each folder fixtures were found in, for one batch of checks:
/// a catalogue keeps thousands of files in a few folders, and canonicalizing each file's
/// whole path (a `readlink` per component) took a fifth of an unchanged re-seed.
#[derive(Default)]
struct Folders(HashMap<PathBuf, PathBuf>);

impl Folders {
    /// `root.join(path)` with every symbolic link followed, and whether it is a file.
    fn resolve(&mut self, root: &Path, path: &str) -> std::io::Result<(PathBuf, bool)> {
        let joined = root.join(path);
        // Read from the text: `Path` drops a `.` that a real lookup would not (`a.bin/.`).
        let plain = path.split('/').all(|part| !matches!(part, "" | "." | ".."));
        let (Some(folder), Some(name), true) = (joined.parent(), joined.file_name(), plain) else {
            // `.`, `..`, a leading, doubled or trailing `/`: the whole path, the slow way.
            return canonical_file(&joined);
        };
        let folder = match self.0.get(folder) {
            Some(canonical) => canonical.clone(),
            None => {
                let canonical = std::fs::canonicalize(folder)?;
                self.0.insert(folder.to_owned(), canonical.clone());
                canonical
            }
        };
        let full = folder.join(name);
        let meta = std::fs::symlink_metadata(&full)?;
        if meta.file_type().is_symlink() {
            return canonical_file(&full);
        }
        Ok((full, meta.is_file()))
    }
}

/// `path` with every link followed, and whether it is a file.
fn canonical_file(path: &Path) -> std::io::Result<(PathBuf, bool)> {
    let full = std::fs::canonicalize(path)?;
    let is_file = std::fs::metadata(&full)?.is_file();
    Ok((full, is_file))
}

/// The file `c` names inside `root` (canonical), which it must not leave.
fn fixture_in(root: &Path, c: FixtureCheck, folders: &mut Folders) -> Fixture {
    let FixtureCheck { at, path, hash } = c;
    // Resolved with every symbolic link followed, so a link cannot lead out either.
    let (full, is_file) = folders.resolve(root, &path).map_err(|_| {
        SeedError::at(
            at.clone(),
            format!("no file {path:?} in {}", root.display()),
        )
    })?;
    if !full.starts_with(root) {
        return Err(SeedError::at(
            at,
            format!(
                "{path:?} is outside {}, the only folder read",
                root.display()
            ),
        ));
    }
    if !is_file {
        return Err(SeedError::at(at, format!("{path:?} is not a file")));
    }
    // A file that cannot be read is found at the write, which reads it again.
    let digest = if hash {
        digest_of_file(&full).ok()
    } else {
        None
    };
    Ok((full, digest))
}

/// How many media have their blobs compared or written at once: the writes wait on the
/// disk, not on this thread.
const SEED_CONCURRENCY: usize = 32;

/// How many media are looked up and checked per trip to the database and to the
/// blocking pool while a manifest is validated (nothing is written then).
const PLAN_CHUNK: usize = 500;

pub(crate) fn non_empty(path: String, value: &str) -> Result<(), SeedError> {
    if value.is_empty() {
        Err(SeedError::at(path, "must not be empty"))
    } else {
        Ok(())
    }
}

pub(crate) fn unique<'a>(
    seen: &mut HashSet<&'a str>,
    path: String,
    id: &'a str,
    what: &str,
) -> Result<(), SeedError> {
    if seen.insert(id) {
        Ok(())
    } else {
        Err(SeedError::at(path, format!("duplicate {what} {id:?}")))
    }
}

/// Validates everything, then writes blobs, then all metadata in one batch.
///
/// `files` is the folder media `path`s are read from, and the only one: a path that
/// leaves it (`..`, an absolute path, a symbolic link out) is refused. `None` reads no
/// files at all (the admin API, unless the server was given `--fixtures-dir`).
pub async fn apply(
    state: &AppState,
    m: &Manifest,
    files: Option<&Path>,
) -> Result<SeedReport, SeedError> {
    let internal = |e: StoreError| SeedError::at("$", format!("storage: {e}"));
    let now = state.clock.unix_ms();

    // Apps and users: what the rest may refer to, from this file or already stored.
    let mut apps: HashMap<&str, &AppSpec> = HashMap::new();
    for (i, a) in m.apps.iter().enumerate() {
        let p = |k: &str| format!("apps[{i}].{k}");
        non_empty(p("app_id"), &a.app_id)?;
        non_empty(p("app_secret"), &a.app_secret)?;
        non_empty(p("tenant_key"), &a.tenant_key)?;
        if let Some(Some(l)) = a.rate_limit
            && (l.per_second == 0 || l.per_day == 0)
        {
            return Err(SeedError::at(
                p("rate_limit"),
                "limits must be at least 1 (null switches them off)",
            ));
        }
        for (j, uri) in a.redirect_uris.iter().enumerate() {
            if !(uri.starts_with("http://") || uri.starts_with("https://")) || uri.contains('#') {
                return Err(SeedError::at(
                    format!("apps[{i}].redirect_uris[{j}]"),
                    "an absolute http:// or https:// URL without a fragment",
                ));
            }
        }
        if apps.insert(&a.app_id, a).is_some() {
            return Err(SeedError::at(
                p("app_id"),
                format!("duplicate app {:?}", a.app_id),
            ));
        }
    }
    let mut users: HashMap<&str, &UserSpec> = HashMap::new();
    for (i, u) in m.users.iter().enumerate() {
        non_empty(format!("users[{i}].user_id"), &u.user_id)?;
        non_empty(format!("users[{i}].tenant_key"), &u.tenant_key)?;
        if users.insert(&u.user_id, u).is_some() {
            return Err(SeedError::at(
                format!("users[{i}].user_id"),
                format!("duplicate user {:?}", u.user_id),
            ));
        }
    }
    let app_tenant = async |id: &str| -> Result<Option<String>, SeedError> {
        match apps.get(id) {
            Some(a) => Ok(Some(a.tenant_key.clone())),
            None => Ok(state
                .meta
                .app(id)
                .await
                .map_err(internal)?
                .map(|a| a.tenant_key)),
        }
    };
    let user_tenant = async |id: &str| -> Result<Option<String>, SeedError> {
        match users.get(id) {
            Some(u) => Ok(Some(u.tenant_key.clone())),
            None => Ok(state
                .meta
                .user(id)
                .await
                .map_err(internal)?
                .map(|u| u.tenant_key)),
        }
    };
    let principal = async |path: String, s: &str| -> Result<Principal, SeedError> {
        let p = Principal::parse(s).ok_or_else(|| {
            SeedError::at(
                path.clone(),
                format!("{s:?} is not app:<app_id> or user:<user_id>"),
            )
        })?;
        let known = match &p {
            Principal::App(id) => app_tenant(id).await?.is_some(),
            Principal::User(id) => user_tenant(id).await?.is_some(),
        };
        if !known {
            return Err(SeedError::at(path, format!("no app or user {s:?}")));
        }
        Ok(p)
    };

    let mut batch = Batch::default();
    let mut seen = HashSet::new();
    for (i, t) in m.user_tokens.iter().enumerate() {
        let p = |k: &str| format!("user_tokens[{i}].{k}");
        unique(&mut seen, p("token"), &t.token, "token")?;
        if TokenKind::of(&t.token) != Some(TokenKind::User) {
            return Err(SeedError::at(
                p("token"),
                "a user token starts with u- (or is of the eyJ… form)",
            ));
        }
        if app_tenant(&t.app_id).await?.is_none() {
            return Err(SeedError::at(p("app_id"), format!("no app {:?}", t.app_id)));
        }
        let tenant_key = user_tenant(&t.user_id)
            .await?
            .ok_or_else(|| SeedError::at(p("user_id"), format!("no user {:?}", t.user_id)))?;
        let hash = crate::secret::token_hash(&t.token);
        let issued_at_ms = match state.meta.token(&hash).await.map_err(internal)? {
            Some(old) if old.app_id == t.app_id && old.user_id.as_deref() == Some(&t.user_id) => {
                old.issued_at_ms
            }
            _ => now,
        };
        let expires_in = t.expires_in.unwrap_or(7200);
        batch.tokens.push(AccessToken {
            hash,
            kind: StoredTokenKind::User,
            app_id: t.app_id.clone(),
            tenant_key,
            user_id: Some(t.user_id.clone()),
            scopes: Some(t.scopes.clone()),
            issued_at_ms,
            expires_at_ms: issued_at_ms.saturating_add(expires_in.saturating_mul(1000)),
        });
    }

    // Where every media the documents' content names lives: this file's media, then
    // the stored ones.
    let mut homes: content::MediaHomes = m
        .media
        .iter()
        .map(|md| (md.file_token.clone(), md.document.clone()))
        .collect();
    for d in &m.documents {
        for token in content::named_tokens(d) {
            if !homes.contains_key(&token)
                && let Some(stored) = state.meta.media(&token).await.map_err(internal)?
            {
                homes.insert(token, stored.document);
            }
        }
    }

    let mut doc_types: HashMap<&str, DocType> = HashMap::new();
    let mut planned = Vec::new();
    for (i, d) in m.documents.iter().enumerate() {
        let p = |k: &str| format!("documents[{i}].{k}");
        non_empty(p("token"), &d.token)?;
        non_empty(p("tenant_key"), &d.tenant_key)?;
        let doc_type = DocType::parse(&d.doc_type).ok_or_else(|| {
            SeedError::at(
                p("type"),
                format!(
                    "{:?} is not one of docx, doc, sheet, bitable, file",
                    d.doc_type
                ),
            )
        })?;
        let content = content::content(i, d, doc_type, &homes)?;
        let bytes = [&d.path, &d.content_text, &d.content_base64]
            .iter()
            .any(|s| s.is_some());
        if doc_type == DocType::File {
            let file_name = d
                .file_name
                .clone()
                .ok_or_else(|| SeedError::at(p("file_name"), "required for a drive file"))?;
            non_empty(p("file_name"), &file_name)?;
            token_shape(p("token"), &d.token)?;
            let stored = state.meta.media(&d.token).await.map_err(internal)?;
            if stored
                .as_ref()
                .is_some_and(|old| old.parent_type != ParentType::Explorer)
            {
                return Err(SeedError::at(
                    p("token"),
                    format!("{:?} is a media's token", d.token),
                ));
            }
            let source = source(
                files,
                format!("documents[{i}]"),
                (&d.path, &d.content_text, &d.content_base64),
                stored.is_some(),
            )
            .await?;
            planned.push(Planned {
                file_token: d.token.clone(),
                document: d.token.clone(),
                parent_type: ParentType::Explorer,
                parent_node: None,
                mime_type: d
                    .mime_type
                    .clone()
                    .unwrap_or_else(|| guess_mime(&file_name)),
                file_name,
                bitable: None,
                deleted: false,
                source,
                stored,
            });
        } else if bytes || d.file_name.is_some() || d.mime_type.is_some() {
            return Err(SeedError::at(
                format!("documents[{i}]"),
                "only a drive file (type file) has file_name, mime_type and bytes",
            ));
        }
        if doc_types.insert(&d.token, doc_type).is_some() {
            return Err(SeedError::at(
                p("token"),
                format!("duplicate document {:?}", d.token),
            ));
        }
        let advanced_permission = d.advanced_permission.unwrap_or(false);
        if advanced_permission && doc_type != DocType::Bitable {
            return Err(SeedError::at(
                p("advanced_permission"),
                "only bitables have advanced permissions",
            ));
        }
        let owner = match &d.owner {
            Some(o) => Some(principal(p("owner"), o).await?),
            None => None,
        };
        let mut members = Vec::with_capacity(d.members.len());
        for (j, mb) in d.members.iter().enumerate() {
            let mp = |k: &str| format!("documents[{i}].members[{j}].{k}");
            let principal = principal(mp("principal"), &mb.principal).await?;
            let role = Role::parse(&mb.role).ok_or_else(|| {
                SeedError::at(
                    mp("role"),
                    format!("{:?} is not one of view, edit, manage", mb.role),
                )
            })?;
            members.push(Member { principal, role });
        }
        batch.documents.push(Document {
            token: d.token.clone(),
            doc_type,
            tenant_key: d.tenant_key.clone(),
            owner,
            advanced_permission,
            members,
            content,
        });
    }

    let files_tokens: Vec<String> = planned.iter().map(|f| f.file_token.clone()).collect();
    let mut seen: HashSet<&str> = files_tokens.iter().map(String::as_str).collect();
    for (i, md) in m.media.iter().enumerate() {
        let p = |k: &str| format!("media[{i}].{k}");
        token_shape(p("file_token"), &md.file_token)?;
        unique(
            &mut seen,
            p("file_token"),
            &md.file_token,
            "media or drive file",
        )?;
    }
    // The checks that read the store or the disk, several media at a time; the first
    // failure in manifest order is the one reported, as if they ran one by one.
    let doc_types = &doc_types;
    // `stored` and `fixture` come from the lookups of the whole chunk (below).
    let plan = async |i: usize,
                      md: &MediaSpec,
                      stored: Option<Media>,
                      fixture: Option<Fixture>|
           -> Result<Planned, SeedError> {
        let p = |k: &str| format!("media[{i}].{k}");
        if stored
            .as_ref()
            .is_some_and(|old| old.parent_type == ParentType::Explorer)
        {
            return Err(SeedError::at(
                p("file_token"),
                format!("{:?} is a drive file's token", md.file_token),
            ));
        }
        let doc_type = match doc_types.get(md.document.as_str()) {
            Some(t) => *t,
            None => state
                .meta
                .document(&md.document)
                .await
                .map_err(internal)?
                .map(|d| d.doc_type)
                .ok_or_else(|| {
                    SeedError::at(p("document"), format!("no document {:?}", md.document))
                })?,
        };
        let parent_type = ParentType::parse(&md.parent_type).filter(|p| p.is_media());
        let parent = parent_type.and_then(ParentType::doc_type).ok_or_else(|| {
            SeedError::at(
                p("parent_type"),
                format!(
                    "{:?} is not a parent type of media in a document",
                    md.parent_type
                ),
            )
        })?;
        if parent != doc_type {
            return Err(SeedError::at(
                p("parent_type"),
                format!(
                    "{} belongs in a {}, but {} is a {}",
                    md.parent_type,
                    parent.as_str(),
                    md.document,
                    doc_type.as_str()
                ),
            ));
        }
        match (&md.bitable, doc_type) {
            (None, DocType::Bitable) => {
                return Err(SeedError::at(
                    p("bitable"),
                    "required for media in a bitable",
                ));
            }
            (Some(_), t) if t != DocType::Bitable => {
                return Err(SeedError::at(
                    p("bitable"),
                    "only media in a bitable have a table location",
                ));
            }
            _ => {}
        }
        let source = match fixture {
            Some(found) => {
                let (path, digest) = found?;
                Source::File(path, digest)
            }
            None => {
                source(
                    files,
                    format!("media[{i}]"),
                    (&md.path, &md.content_text, &md.content_base64),
                    stored.is_some(),
                )
                .await?
            }
        };
        Ok(Planned {
            file_token: md.file_token.clone(),
            document: md.document.clone(),
            parent_type: parent_type.expect("checked above"),
            parent_node: md.parent_node.clone(),
            file_name: md.file_name.clone(),
            mime_type: md
                .mime_type
                .clone()
                .unwrap_or_else(|| guess_mime(&md.file_name)),
            bitable: md.bitable.clone(),
            deleted: md.deleted.unwrap_or(false),
            source,
            stored,
        })
    };
    // Each chunk's stored media in one read, its fixtures in one blocking trip (a media
    // whose bytes are only a `path`; the others say why in `source`). The next chunk is
    // read while this one's fixtures are checked: the database and the files then keep
    // both cores busy, where one after the other they kept one.
    let chunks: Vec<&[manifest::MediaSpec]> = m.media.chunks(PLAN_CHUNK).collect();
    let stored_of = async |chunk: Option<&&[manifest::MediaSpec]>| {
        let tokens: Vec<String> = chunk
            .into_iter()
            .flat_map(|c| c.iter())
            .map(|md| md.file_token.clone())
            .collect();
        state.meta.media_many(&tokens).await.map_err(internal)
    };
    let mut stored_next = stored_of(chunks.first()).await?;
    for (n, chunk) in chunks.iter().enumerate() {
        let at = n * PLAN_CHUNK;
        let mut stored = std::mem::take(&mut stored_next);
        let checks: Vec<(usize, FixtureCheck)> = chunk
            .iter()
            .enumerate()
            .filter_map(
                |(k, md)| match (&md.path, &md.content_text, &md.content_base64) {
                    (Some(path), None, None) => Some((
                        k,
                        FixtureCheck {
                            at: format!("media[{}].path", at + k),
                            path: path.clone(),
                            hash: stored[k].is_some(),
                        },
                    )),
                    _ => None,
                },
            )
            .collect();
        let (which, checks): (Vec<usize>, Vec<FixtureCheck>) = checks.into_iter().unzip();
        let mut found: Vec<Option<Fixture>> = (0..chunk.len()).map(|_| None).collect();
        let (checked, next) = tokio::join!(fixtures(files, checks), stored_of(chunks.get(n + 1)));
        stored_next = next?;
        for (k, f) in which.into_iter().zip(checked?) {
            found[k] = Some(f);
        }
        let checked = futures_util::future::join_all(
            chunk
                .iter()
                .enumerate()
                .map(|(k, md)| plan(at + k, md, stored[k].take(), found[k].take())),
        )
        .await;
        for p in checked {
            planned.push(p?);
        }
    }

    // Everything is valid: write the bytes (several at a time), then all metadata at once.
    let declared_media = planned.len();
    let write = async |md: Planned| -> Result<Option<Media>, SeedError> {
        let old = md.stored;
        // Bytes the media already has are hashed, not written again: an unchanged
        // re-seed reads its fixtures and writes no blob.
        let kept = match &old {
            Some(o) => match unchanged(state, &md.source, &o.digest).await? {
                true => Some(blob::BlobInfo {
                    digest: o.digest.clone(),
                    size: o.size,
                }),
                false => None,
            },
            None => None,
        };
        let info = match (kept, md.source) {
            (Some(info), _) => info,
            (None, Source::File(path, _)) => {
                let mut f = tokio::fs::File::open(&path).await.map_err(|e| {
                    SeedError::at("$", format!("cannot read {}: {e}", path.display()))
                })?;
                state.blobs.put(&mut f).await.map_err(internal)?
            }
            (None, Source::Bytes(bytes)) => {
                state.blobs.put(&mut &bytes[..]).await.map_err(internal)?
            }
        };
        let created_at_ms = old.as_ref().map_or(now, |o| o.created_at_ms);
        let modified_at_ms = match &old {
            Some(o) if o.digest == info.digest => o.modified_at_ms,
            _ => now,
        };
        let media = Media {
            file_token: md.file_token,
            document: md.document,
            parent_type: md.parent_type,
            parent_node: md.parent_node,
            file_name: md.file_name,
            mime_type: md.mime_type,
            size: info.size,
            digest: info.digest,
            bitable: md.bitable,
            uploader: None,
            deleted: md.deleted,
            created_at_ms,
            modified_at_ms,
        };
        // A media stored exactly so is not written again (nor its cache entry dropped).
        Ok((old.as_ref() != Some(&media)).then_some(media))
    };
    let mut planned = planned.into_iter().peekable();
    while planned.peek().is_some() {
        let chunk: Vec<Planned> = planned.by_ref().take(SEED_CONCURRENCY).collect();
        for written in futures_util::future::join_all(chunk.into_iter().map(write)).await {
            batch.media.extend(written?);
        }
    }
    batch.apps = m
        .apps
        .iter()
        .map(|a| App {
            app_id: a.app_id.clone(),
            app_secret: a.app_secret.clone(),
            tenant_key: a.tenant_key.clone(),
            scopes: a.scopes.clone(),
            rate_limit: a.rate_limit.unwrap_or(Some(RateLimit::default())),
            redirect_uris: a.redirect_uris.clone(),
        })
        .collect();
    batch.users = m
        .users
        .iter()
        .map(|u| User {
            user_id: u.user_id.clone(),
            tenant_key: u.tenant_key.clone(),
            name: u.name.clone(),
        })
        .collect();
    state.meta.apply(&batch).await.map_err(internal)?;
    Ok(SeedReport {
        apps: batch.apps.len(),
        users: batch.users.len(),
        user_tokens: batch.tokens.len(),
        documents: batch.documents.len(),
        media: declared_media,
    })
}

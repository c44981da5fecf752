//! Uploads (wire contract §4): the target document and its permission, multipart
//! bodies read as a stream, and media creation once the bytes are durable.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Body;
use feishu_media_proto::ErrorCode;
use feishu_media_proto::envelope::PermissionViolation;
use feishu_media_proto::upload::{Adler32, UploadExtra, file_name_problem, parse_checksum};
use feishu_media_store::{
    Batch, BlobInfo, DocType, Media, Principal, Role, StagedBlob, StoreError, UploadSession, now_ms,
};
use futures_util::TryStreamExt;
use std::collections::HashMap;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

/// Where an upload goes.
#[derive(Debug, Clone)]
pub struct Target {
    /// The document token; empty for `ccm_import_open`.
    pub document: String,
    pub parent_node: Option<String>,
}

/// Resolves `parent_type` / `parent_node` / `extra` to a document and checks that the
/// caller may edit it.
pub async fn resolve_target(
    state: &AppState,
    caller: &Caller,
    parent_type: &str,
    parent_node: Option<&str>,
    extra: Option<&str>,
) -> Result<Target, ApiError> {
    let node = parent_node.map(str::to_owned);
    let (document, doc_type) = match parent_type {
        "ccm_import_open" => {
            return Ok(Target {
                document: String::new(),
                parent_node: node,
            });
        }
        "docx_image" | "docx_file" => {
            if node.is_none() {
                return Err(ApiError::params("parent_node (the block id) is required"));
            }
            let extra = extra.ok_or_else(|| {
                ApiError::params("extra {\"drive_route_token\":\"<document token>\"} is required for docx uploads")
            })?;
            let extra: UploadExtra = serde_json::from_str(extra).map_err(|e| {
                ApiError::params(format!(
                    "extra must be {{\"drive_route_token\":\"…\"}}: {e}"
                ))
            })?;
            (extra.drive_route_token, DocType::Docx)
        }
        "sheet_image" | "sheet_file" => (required_node(&node)?, DocType::Sheet),
        "bitable_image" | "bitable_file" => (required_node(&node)?, DocType::Bitable),
        "doc_image" | "doc_file" => (required_node(&node)?, DocType::Doc),
        other => return Err(ApiError::params(format!("unknown parent_type {other:?}"))),
    };
    let doc = state
        .meta
        .document(&document)
        .await?
        .filter(|d| d.doc_type == doc_type)
        .ok_or_else(|| ApiError::new(ErrorCode::ParentNodeNotExist))?;
    if doc.tenant_key != caller.tenant_key {
        return Err(
            ApiError::new(ErrorCode::Forbidden).hint("the document belongs to another tenant")
        );
    }
    if doc.role_of(&caller.principal) < Some(Role::Edit) {
        return Err(ApiError::new(ErrorCode::Forbidden)
            .hint(format!(
                "{} needs edit permission on the document {}",
                caller.principal, doc.token
            ))
            .violation(PermissionViolation::document(&doc.token)));
    }
    Ok(Target {
        document: doc.token,
        parent_node: node,
    })
}

fn required_node(node: &Option<String>) -> Result<String, ApiError> {
    node.clone()
        .ok_or_else(|| ApiError::params("parent_node is required"))
}

/// A new media token, in Feishu's form (`boxcn` + 22 letters and digits).
pub fn new_file_token() -> String {
    use rand::distr::{Alphanumeric, SampleString};
    format!("boxcn{}", Alphanumeric.sample_string(&mut rand::rng(), 22))
}

/// A new media for bytes just stored (its MIME type guessed from the name).
fn new_media(
    target: Target,
    parent_type: &str,
    file_name: &str,
    uploader: &Principal,
    info: BlobInfo,
) -> Media {
    let now = now_ms();
    Media {
        file_token: new_file_token(),
        document: target.document,
        parent_type: parent_type.to_owned(),
        parent_node: target.parent_node,
        file_name: file_name.to_owned(),
        mime_type: crate::seed::guess_mime(file_name),
        size: info.size,
        digest: info.digest,
        bitable: None,
        uploader: Some(uploader.clone()),
        deleted: false,
        created_at_ms: now,
        modified_at_ms: now,
    }
}

/// Commits the staged bytes, then the media: a token exists only once both are durable.
pub async fn create_media(
    state: &AppState,
    caller: &Caller,
    target: Target,
    parent_type: &str,
    file_name: &str,
    staged: Box<dyn StagedBlob>,
) -> Result<Media, ApiError> {
    let info = staged.commit().await?;
    let media = new_media(target, parent_type, file_name, &caller.principal, info);
    state
        .meta
        .apply(&Batch {
            media: vec![media.clone()],
            ..Default::default()
        })
        .await?;
    Ok(media)
}

/// The media a finished chunked upload becomes.
pub fn media_for_session(s: &UploadSession, info: BlobInfo) -> Media {
    let target = Target {
        document: s.document.clone(),
        parent_node: s.parent_node.clone(),
    };
    new_media(target, &s.parent_type, &s.file_name, &s.principal, info)
}

/// The checks shared by whole files and blocks: the declared size, then the checksum.
pub fn check_received(
    fields: &Fields,
    received: u64,
    adler: u32,
    expected_len: Option<u64>,
) -> Result<(), ApiError> {
    let declared = fields.number("size")?;
    if declared != received || expected_len.is_some_and(|want| want != received) {
        return Err(ApiError::new(ErrorCode::SizeMismatch)
            .hint(format!("size says {declared}, {received} bytes arrived")));
    }
    if let Some(checksum) = fields.get("checksum") {
        let want = parse_checksum(checksum).ok_or_else(|| {
            ApiError::new(ErrorCode::ChecksumInvalid)
                .hint("checksum must be the Adler-32 as a decimal number")
        })?;
        if want != adler {
            return Err(ApiError::new(ErrorCode::ChecksumInvalid).hint(format!(
                "checksum says {want}, the bytes have Adler-32 {adler}"
            )));
        }
    }
    Ok(())
}

/// The text fields of a multipart form, empty values counting as absent.
#[derive(Debug, Default)]
pub struct Fields(HashMap<String, String>);

impl Fields {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name)
            .ok_or_else(|| ApiError::params(format!("field {name} is required")))
    }

    pub fn number(&self, name: &str) -> Result<u64, ApiError> {
        let v = self.required(name)?;
        v.trim().parse().map_err(|_| {
            ApiError::params(format!(
                "field {name} must be a non-negative integer, not {v:?}"
            ))
        })
    }

    pub fn file_name(&self) -> Result<&str, ApiError> {
        let name = self.required("file_name")?;
        match file_name_problem(name) {
            Some(why) => Err(ApiError::new(ErrorCode::FileNameInvalid).hint(why)),
            None => Ok(name),
        }
    }
}

/// The longest text field accepted; `extra` is the longest the SDKs send.
const FIELD_MAX: usize = 64 * 1024;

/// A `multipart/form-data` body read as it arrives: text fields into memory, up to the
/// `file` part, which the caller then streams wherever it belongs (knowing the fields
/// that came before it), then the rest. Fields may come in any order.
pub struct FormReader {
    multipart: multer::Multipart<'static>,
    fields: HashMap<String, String>,
    file_seen: bool,
}

/// The `file` part of a form, read as it arrives, its Adler-32 computed on the way.
pub struct FilePart {
    reader: AdlerRead<Box<dyn AsyncRead + Send + Unpin>>,
}

impl FilePart {
    pub fn reader(&mut self) -> &mut (dyn AsyncRead + Send + Unpin) {
        &mut self.reader
    }

    /// The Adler-32 of the bytes read so far (all of them once staged).
    pub fn adler(&self) -> u32 {
        self.reader.adler.finish()
    }
}

fn bad_body(e: multer::Error) -> ApiError {
    ApiError::params(format!("malformed multipart body: {e}"))
}

impl FormReader {
    pub fn new(content_type: Option<&str>, body: Body) -> Result<Self, ApiError> {
        let boundary = content_type
            .and_then(|ct| multer::parse_boundary(ct).ok())
            .ok_or_else(|| {
                ApiError::params("the body must be multipart/form-data with a boundary")
            })?;
        Ok(Self {
            multipart: multer::Multipart::new(body.into_data_stream(), boundary),
            fields: HashMap::new(),
            file_seen: false,
        })
    }

    /// Reads text fields up to the `file` part and returns it; `None` at the end of the
    /// body. The part must be read (or dropped) before the reader is used again.
    pub async fn next_file(&mut self) -> Result<Option<FilePart>, ApiError> {
        while let Some(mut field) = self.multipart.next_field().await.map_err(bad_body)? {
            let name = field.name().unwrap_or_default().to_owned();
            if name == "file" {
                if std::mem::replace(&mut self.file_seen, true) {
                    return Err(ApiError::params("more than one file part"));
                }
                let stream = field.map_err(std::io::Error::other);
                return Ok(Some(FilePart {
                    reader: AdlerRead {
                        inner: Box::new(tokio_util::io::StreamReader::new(stream)),
                        adler: Adler32::new(),
                    },
                }));
            }
            let mut text = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(bad_body)? {
                text.extend_from_slice(&chunk);
                if text.len() > FIELD_MAX {
                    return Err(ApiError::params(format!(
                        "field {name} is longer than {FIELD_MAX} bytes"
                    )));
                }
            }
            let text = String::from_utf8(text)
                .map_err(|_| ApiError::params(format!("field {name} is not UTF-8")))?;
            // A field given twice could say one thing before the file and another after.
            if self.fields.insert(name.clone(), text).is_some() {
                return Err(ApiError::params(format!("field {name} is given twice")));
            }
        }
        Ok(None)
    }

    /// The text fields read so far.
    pub fn fields(&self) -> Fields {
        Fields(self.fields.clone())
    }

    /// Reads the rest of the body (text fields only: a second file part is an error).
    pub async fn finish(mut self) -> Result<Fields, ApiError> {
        if self.next_file().await?.is_some() {
            return Err(ApiError::params("a file part where none is expected"));
        }
        Ok(Fields(self.fields))
    }
}

/// Maps a staging failure of the file part: too large is `too_large`, a body that ended
/// early is the client's, anything else the store's.
pub fn staging_error(too_large: ErrorCode) -> impl Fn(StoreError) -> ApiError {
    move |e| match e {
        StoreError::TooLarge(max) => {
            ApiError::new(too_large).hint(format!("the file part is larger than {max} bytes"))
        }
        StoreError::Source(why) => ApiError::params(format!("the file part ended early: {why}")),
        StoreError::UploadClosed(_) => ApiError::new(ErrorCode::UploadIdExpired)
            .hint("this upload is finished; it takes no more blocks"),
        other => ApiError::internal(other),
    }
}

/// Computes the Adler-32 of what passes through.
struct AdlerRead<R> {
    inner: R,
    adler: Adler32,
}

impl<R: AsyncRead + Unpin> AsyncRead for AdlerRead<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let Self { inner, adler } = &mut *self;
        let before = buf.filled().len();
        let poll = Pin::new(inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = poll {
            adler.update(&buf.filled()[before..]);
        }
        poll
    }
}

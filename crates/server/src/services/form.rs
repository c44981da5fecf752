//! `multipart/form-data` upload bodies read as they arrive: text fields into memory, the
//! `file` part streamed (its Adler-32 computed on the way) to wherever it belongs.

use crate::error::ApiError;
use axum::body::Body;
use feishu_media_proto::ErrorCode;
use feishu_media_proto::upload::{Adler32, file_name_problem};
use futures_util::TryStreamExt;
use std::collections::HashMap;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

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
    /// Parts read so far, file included.
    parts: usize,
    limits: FormLimits,
}

/// What one endpoint's forms may hold.
#[derive(Debug, Clone, Copy)]
pub struct FormLimits {
    /// The whole body, boundaries and text fields included.
    pub body_max: u64,
    /// The answer to a body over `body_max`.
    pub too_large: ErrorCode,
}

/// The room a form's text fields and boundaries get beside its file part: the SDKs'
/// fields (`file_name`, `parent_type`, `parent_node`, `size`, `checksum`, `extra`) are a
/// few hundred bytes; 1 MiB leaves room for long `extra`s and names.
pub const FORM_ALLOWANCE: u64 = 1024 * 1024;

/// The most parts a form may have (the SDKs send at most seven).
pub const PARTS_MAX: usize = 32;

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

impl FormReader {
    /// A reader of `body`, refused at once when its declared `content_length` is over the
    /// limit, and stopped as soon as more than the limit arrives.
    pub fn new(
        content_type: Option<&str>,
        content_length: Option<u64>,
        body: Body,
        limits: FormLimits,
    ) -> Result<Self, ApiError> {
        if content_length.is_some_and(|n| n > limits.body_max) {
            return Err(too_large(limits));
        }
        let boundary = content_type
            .and_then(|ct| multer::parse_boundary(ct).ok())
            .ok_or_else(|| {
                ApiError::params("the body must be multipart/form-data with a boundary")
            })?;
        let constraints = multer::Constraints::new()
            .size_limit(multer::SizeLimit::new().whole_stream(limits.body_max));
        Ok(Self {
            multipart: multer::Multipart::with_constraints(
                body.into_data_stream(),
                boundary,
                constraints,
            ),
            fields: HashMap::new(),
            file_seen: false,
            parts: 0,
            limits,
        })
    }

    fn bad_body(&self, e: multer::Error) -> ApiError {
        match e {
            multer::Error::StreamSizeExceeded { .. } => too_large(self.limits),
            e => ApiError::params(format!("malformed multipart body: {e}")),
        }
    }

    /// Reads text fields up to the `file` part and returns it; `None` at the end of the
    /// body. The part must be read (or dropped) before the reader is used again.
    pub async fn next_file(&mut self) -> Result<Option<FilePart>, ApiError> {
        loop {
            let next = self.multipart.next_field().await;
            let Some(mut field) = next.map_err(|e| self.bad_body(e))? else {
                break;
            };
            self.parts += 1;
            if self.parts > PARTS_MAX {
                return Err(ApiError::params(format!(
                    "the form has more than {PARTS_MAX} parts"
                )));
            }
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
            loop {
                let chunk = field.chunk().await;
                let Some(chunk) = chunk.map_err(|e| self.bad_body(e))? else {
                    break;
                };
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

fn too_large(limits: FormLimits) -> ApiError {
    ApiError::new(limits.too_large).hint(format!(
        "the body is larger than {} bytes, the most this call takes",
        limits.body_max
    ))
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

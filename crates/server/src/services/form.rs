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

//! [`ServedBody`]: the body of every answer. A body that is a range of a blob file says
//! so in its type, so the connection front can send it with `sendfile(2)`, and anything
//! that changes a body (the fault layer's cut) replaces the variant instead of having to
//! remember to strip a side channel.

use axum::body::Body;
use bytes::Bytes;
use feishu_media_store::{FileRange, Payload};
use http_body::{Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An answer's body.
pub enum ServedBody {
    /// Bytes in memory (`None` once sent).
    Bytes(Option<Bytes>),
    /// A range of a blob file. The front sends it with `sendfile(2)`; anything else
    /// (hyper, a cut) reads it in chunks.
    File(FileBody),
    /// Any other body (JSON answers, multipart ranges, streams).
    Body(Body),
    /// A body paced as a slow link (a fault rule's): the head goes out at once and each
    /// piece as it comes, never gathered with the next.
    Paced(Body),
}

/// A [`FileRange`] and how far it has been read as a body.
pub struct FileBody {
    range: FileRange,
    /// The next offset to read; `range.offset` until the body is first polled.
    at: u64,
    reading: Option<Pin<Box<dyn Future<Output = std::io::Result<Bytes>> + Send>>>,
}

/// Chunks of a [`FileBody`] read as a body.
const FILE_CHUNK: u64 = 128 * 1024;

impl ServedBody {
    pub fn empty() -> Self {
        Self::Bytes(None)
    }

    /// The body of a blob's bytes, in the form the store gave them.
    pub fn from_payload(payload: Payload) -> Self {
        match payload {
            Payload::Bytes(b) => Self::Bytes(Some(b)),
            Payload::File(range) => Self::File(FileBody {
                at: range.offset,
                range,
                reading: None,
            }),
            Payload::Stream(s) => Self::Body(Body::from_stream(s)),
        }
    }

    /// The file range this body is, if it is one and nothing of it was read yet: what
    /// the front may hand to `sendfile(2)` instead of polling the body.
    pub fn unread_file(&self) -> Option<&FileRange> {
        match self {
            Self::File(f) if f.at == f.range.offset && f.reading.is_none() => Some(&f.range),
            _ => None,
        }
    }

    /// The bytes of a body held in memory whole (`Err`: any other body, given back).
    pub fn into_bytes(self) -> Result<Bytes, Self> {
        match self {
            Self::Bytes(b) => Ok(b.unwrap_or_default()),
            other => Err(other),
        }
    }

    /// The first `limit` bytes of this body, then a failure, so the connection is closed
    /// mid-body as a flaky network would (the `Content-Length` promised more). A fault
    /// rule's `cut_after_bytes`.
    pub fn cut(self, limit: u64) -> Self {
        use futures_util::StreamExt;
        let allowed = Body::new(self)
            .into_data_stream()
            .scan(limit, |left, chunk| {
                let out = match chunk {
                    _ if *left == 0 => None,
                    Err(e) => Some(Err(std::io::Error::other(e))),
                    Ok(chunk) => {
                        let keep = chunk.slice(..chunk.len().min(*left as usize));
                        *left -= keep.len() as u64;
                        Some(Ok(keep))
                    }
                };
                std::future::ready(out)
            });
        // Then the break: after a pause, so what was allowed is on the wire first (a body
        // that failed at once could take the unsent head and bytes down with it).
        let tail = futures_util::stream::once(async {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            Err(std::io::Error::other("cut by a fault rule"))
        });
        Self::Body(Body::from_stream(allowed.chain(tail)))
    }
}

/// At most this much of a shaped body goes out in one piece: the pacing is even at a
/// granularity far below what a client measures.
const SHAPED_PIECE: u64 = 16 * 1024;

impl ServedBody {
    /// This body as a slow link would carry it: nothing for `first_byte_ms`, then at
    /// most `bytes_per_s` on average, in pieces spaced so that by any moment no more than
    /// the rate allows has left. A fault rule's `first_byte_ms` and `bandwidth_bytes_per_s`.
    pub fn shaped(self, first_byte_ms: Option<u64>, bytes_per_s: Option<u64>) -> Self {
        use futures_util::StreamExt;
        let rate = bytes_per_s.filter(|r| *r > 0);
        let piece = rate.map_or(u64::MAX, |r| (r / 20).clamp(1, SHAPED_PIECE)) as usize;
        let wait = std::time::Duration::from_millis(first_byte_ms.unwrap_or(0));
        // (started, bytes sent): the schedule every piece is held to.
        let state: Option<(tokio::time::Instant, u64)> = None;
        let pieces = Body::new(self).into_data_stream().flat_map(move |chunk| {
            let parts: Vec<Result<Bytes, BoxError>> = match chunk {
                Err(e) => vec![Err(e.into())],
                Ok(c) => (0..c.len())
                    .step_by(piece.max(1))
                    .map(|i| Ok(c.slice(i..(i + piece).min(c.len()))))
                    .collect(),
            };
            futures_util::stream::iter(parts)
        });
        let paced = pieces.scan(state, move |state, piece| {
            let first = state.is_none();
            let (started, sent) = state.get_or_insert((tokio::time::Instant::now() + wait, 0));
            let due = match (&piece, rate) {
                (Ok(p), Some(r)) => {
                    *sent += p.len() as u64;
                    // The moment the rate allows `sent` bytes out.
                    Some(*started + std::time::Duration::from_secs_f64(*sent as f64 / r as f64))
                }
                _ if first => Some(*started),
                _ => None,
            };
            async move {
                if let Some(due) = due {
                    tokio::time::sleep_until(due).await;
                }
                Some(piece)
            }
        });
        Self::Paced(Body::from_stream(paced))
    }

    /// Whether each piece must go out as it comes (see [`ServedBody::Paced`]).
    pub fn is_paced(&self) -> bool {
        matches!(self, Self::Paced(_))
    }
}

impl From<Body> for ServedBody {
    fn from(body: Body) -> Self {
        Self::Body(body)
    }
}

impl http_body::Body for ServedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            Self::Bytes(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Self::Body(b) | Self::Paced(b) => Pin::new(b).poll_frame(cx).map_err(Into::into),
            Self::File(f) => {
                let end = f.range.offset + f.range.len;
                if f.at >= end {
                    return Poll::Ready(None);
                }
                let reading = f.reading.get_or_insert_with(|| {
                    let range = f.range.clone();
                    let at = f.at;
                    Box::pin(async move { range.read_chunk(at, FILE_CHUNK).await })
                });
                let chunk = std::task::ready!(reading.as_mut().poll(cx));
                f.reading = None;
                Poll::Ready(Some(match chunk {
                    Ok(chunk) => {
                        f.at += chunk.len() as u64;
                        Ok(Frame::data(chunk))
                    }
                    Err(e) => Err(e.into()),
                }))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Bytes(b) => b.is_none(),
            Self::Body(b) | Self::Paced(b) => b.is_end_stream(),
            Self::File(f) => f.at >= f.range.offset + f.range.len,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Bytes(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Self::Body(b) | Self::Paced(b) => b.size_hint(),
            Self::File(f) => SizeHint::with_exact(f.range.offset + f.range.len - f.at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::TryStreamExt;
    use std::io::Write;

    async fn collect(body: ServedBody) -> Vec<u8> {
        let chunks: Vec<Bytes> = Body::new(body)
            .into_data_stream()
            .try_collect()
            .await
            .unwrap();
        chunks.concat()
    }

    fn file_body(bytes: &[u8], offset: u64, len: u64) -> ServedBody {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        ServedBody::from_payload(Payload::File(FileRange {
            file: std::sync::Arc::new(f),
            offset,
            len,
        }))
    }

    #[tokio::test]
    async fn a_file_body_read_as_a_body_gives_its_range() {
        let bytes: Vec<u8> = (0..400_000u32).map(|i| (i % 251) as u8).collect();
        let body = file_body(&bytes, 1000, 300_000);
        assert!(body.unread_file().is_some());
        assert_eq!(http_body::Body::size_hint(&body).exact(), Some(300_000));
        assert_eq!(collect(body).await, &bytes[1000..301_000]);
    }

    #[tokio::test]
    async fn a_cut_body_is_no_file_any_more() {
        let bytes = vec![7u8; 200_000];
        let cut = file_body(&bytes, 0, 200_000).cut(1000);
        assert!(
            cut.unread_file().is_none(),
            "the front must not send the file"
        );
        let got: Vec<Result<Bytes, _>> = Body::new(cut).into_data_stream().collect_vec().await;
        let sent: usize = got
            .iter()
            .filter_map(|c| c.as_ref().ok())
            .map(Bytes::len)
            .sum();
        assert_eq!(sent, 1000);
        assert!(got.last().unwrap().is_err(), "then the connection breaks");
    }

    trait CollectVec: futures_util::Stream + Sized {
        async fn collect_vec(self) -> Vec<Self::Item> {
            futures_util::StreamExt::collect(self).await
        }
    }
    impl<S: futures_util::Stream> CollectVec for S {}
}

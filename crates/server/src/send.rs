//! An answer's bytes onto a connection, after the front wrote its head: a body in memory
//! in the head's own write (`writev`), a file range straight from the page cache
//! (`sendfile(2)`, corked when large), anything else as it comes. The front's general
//! answers and its plain downloads (`crate::plain`) both end here.

use crate::body::ServedBody;
use axum::body::Body;
use feishu_media_store::FileRange;
use futures_util::StreamExt;
use std::io;
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::TcpStream;

/// Bodies up to this size go out in the same write as the head.
pub const COALESCE_MAX: usize = 64 * 1024;
/// File bodies larger than this are sent corked (see [`send_with_head`]).
const CORK_MIN: u64 = 1 << 20;

/// Sends `out` (a whole response head, perhaps with a body's first bytes already after
/// it), then `body`: `length` bytes, or chunked.
pub async fn send_with_head(
    stream: &mut TcpStream,
    mut out: Vec<u8>,
    body: ServedBody,
    length: Option<u64>,
    chunked: bool,
) -> io::Result<()> {
    // A file range goes from the page cache to the socket. Other bodies are written; a
    // small one goes out in the head's write: one segment, one wake-up of the client.
    if let Some(file) = body.unread_file()
        && length == Some(file.len)
    {
        // A large file goes out corked (nginx's `tcp_nopush`), so that each time the
        // socket's buffer fills and `sendfile` returns early, its last segment waits to be
        // filled instead of leaving short. Uncorked, one 1 GiB stream took a quarter more
        // server CPU than nginx's (perf stat) and ran at 0.8× its speed (bench A); corked,
        // at 1.1–1.2×. At 300 KB (bench C) the two syscalls gained nothing measurable.
        let cork = file.len > CORK_MIN;
        if cork {
            let _ = rustix::net::sockopt::set_tcp_cork(&*stream, true);
        }
        send_more(stream, &out).await?;
        let sent = send_file(stream, file).await;
        if cork {
            let _ = rustix::net::sockopt::set_tcp_cork(&*stream, false);
        }
        return sent;
    }
    // A body in memory goes out in the head's write (`writev`): one segment, one wake-up
    // of the client, and no copy of it into the head's buffer (nor a buffer big enough).
    let body = match body.into_bytes() {
        Ok(bytes) => {
            write_two(stream, &out, &bytes).await?;
            return all_sent(length, bytes.len() as u64);
        }
        Err(body) => body,
    };
    // A paced body (a slow link) sends its head now and every piece as it comes.
    let paced = body.is_paced();
    if paced {
        stream.write_all(&out).await?;
        out.clear();
    }
    let mut sent = 0u64;
    let mut data = Body::new(body).into_data_stream();
    while let Some(chunk) = data.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => {
                // What was gathered goes out first, then the close says the rest is lost.
                stream.write_all(&out).await?;
                return Err(io::Error::other(e));
            }
        };
        if chunk.is_empty() {
            continue;
        }
        sent += chunk.len() as u64;
        if chunked {
            out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            out.extend_from_slice(&chunk);
            out.extend_from_slice(b"\r\n");
        } else if out.len() + chunk.len() <= COALESCE_MAX {
            out.extend_from_slice(&chunk);
        } else {
            stream.write_all(&out).await?;
            out.clear();
            stream.write_all(&chunk).await?;
            continue;
        }
        if out.len() >= COALESCE_MAX || paced {
            stream.write_all(&out).await?;
            out.clear();
        }
    }
    if chunked {
        out.extend_from_slice(b"0\r\n\r\n");
    }
    stream.write_all(&out).await?;
    all_sent(length, sent)
}

/// An error when the body gave other than the `length` promised: only closing the
/// connection tells the client.
fn all_sent(length: Option<u64>, sent: u64) -> io::Result<()> {
    match length {
        Some(n) if n != sent => Err(io::Error::other(format!(
            "body ended after {sent} of {n} bytes"
        ))),
        _ => Ok(()),
    }
}

/// Writes `head` then `body`, gathered into as few writes as the socket takes.
async fn write_two(stream: &mut TcpStream, mut head: &[u8], mut body: &[u8]) -> io::Result<()> {
    while !head.is_empty() {
        let n = stream
            .write_vectored(&[io::IoSlice::new(head), io::IoSlice::new(body)])
            .await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        if n < head.len() {
            head = &head[n..];
        } else {
            body = &body[n - head.len()..];
            head = &[];
        }
    }
    stream.write_all(body).await
}

/// Writes `bytes` with `MSG_MORE`, so that the kernel sends them in the same segments as
/// the body that follows instead of alone (the client would wake up for a head only).
async fn send_more(stream: &TcpStream, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        let sent = stream
            .async_io(Interest::WRITABLE, || {
                rustix::net::send(stream, bytes, rustix::net::SendFlags::MORE)
                    .map_err(io::Error::from)
            })
            .await?;
        bytes = &bytes[sent..];
    }
    Ok(())
}

/// Sends `file.len` bytes of the file from `file.offset` straight from the page cache.
async fn send_file(stream: &mut TcpStream, file: &FileRange) -> io::Result<()> {
    let mut offset = file.offset;
    let end = file.offset + file.len;
    while offset < end {
        let want = usize::try_from(end - offset)
            .unwrap_or(usize::MAX)
            .min(1 << 30);
        let sent = stream
            .async_io(Interest::WRITABLE, || {
                rustix::fs::sendfile(&*stream, &*file.file, Some(&mut offset), want)
                    .map_err(io::Error::from)
            })
            .await?;
        if sent == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file is shorter than its answer",
            ));
        }
    }
    Ok(())
}

//! The wire: one request and one response per TCP connection, each a frame of
//! a 4-byte big-endian length and a JSON body. A browser opens a connection
//! per request, as a browser's fetch may; a stalled or severed connection then
//! costs one request, never the framing of the next.
//!
//! A v2 stream (`/v2/realtime/stream`) keeps its connection: the server
//! writes `StreamWire` frames, each a pushed frame or the one answer that
//! ends it, and the client writes one `StreamAck` per frame it consumed.

use serde::{de::DeserializeOwned, Serialize};
use std::io;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// What the server writes on a stream connection.
#[derive(serde::Serialize, serde::Deserialize)]
pub enum StreamWire {
    Frame(crate::frames::Frame),
    /// An answer instead of a stream (a refusal): the connection ends.
    Answer(crate::http::Response),
}

/// What the client writes back on a stream: it consumed a frame.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct StreamAck;

/// Whether `path` opens a v2 stream.
pub fn is_stream(path: &str) -> bool {
    path.starts_with("/v2/realtime/stream")
}

/// Frames larger than this are refused rather than allocated.
const MAX_FRAME_BYTES: u32 = 64 * 1024 * 1024;

pub async fn write_frame<W: AsyncWrite + Unpin, T: Serialize>(
    w: &mut W,
    value: &T,
) -> io::Result<()> {
    let bytes = serde_json::to_vec(value).map_err(io::Error::other)?;
    w.write_u32(bytes.len() as u32).await?;
    w.write_all(&bytes).await?;
    w.flush().await
}

pub async fn read_frame<R: AsyncRead + Unpin, T: DeserializeOwned>(r: &mut R) -> io::Result<T> {
    let len = r.read_u32().await?;
    if len > MAX_FRAME_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes"),
        ));
    }
    let mut buf = vec![0u8; len as usize];
    r.read_exact(&mut buf).await?;
    serde_json::from_slice(&buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

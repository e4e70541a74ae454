//! One SPDY stream as a byte pipe: `AsyncRead` yields the peer's DATA until its FIN,
//! `AsyncWrite` sends DATA frames within the peer's flow-control window, and shutdown sends
//! FIN (half-close: the peer's direction stays open). Reading returns window to the peer.

use crate::frame::{Frame, RstStatus};
use crate::headers::Headers;
use crate::state::{End, MAX_BUFFERED, MAX_CHUNK, Outgoing, STREAM_WINDOW, Shared, State, WRITE_QUEUE_LIMIT};
use bytes::{Buf, Bytes};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A stream of a [`crate::Session`]. Dropping it before both sides finished resets it
/// (RST_STREAM CANCEL).
pub struct Stream {
    id: u32,
    shared: Arc<Shared>,
    headers: Headers,
    reply_headers: Headers,
}

impl Stream {
    pub(crate) fn new(id: u32, shared: Arc<Shared>, headers: Headers, reply_headers: Headers) -> Self {
        Self { id, shared, headers, reply_headers }
    }

    pub(crate) fn set_reply_headers(&mut self, headers: Headers) {
        self.reply_headers = headers;
    }

    /// The stream id (odd if the client opened it, even if the server did).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The SYN_STREAM headers: the peer's for an accepted stream, ours for an opened one.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The peer's SYN_REPLY headers for a stream this side opened (empty otherwise).
    pub fn reply_headers(&self) -> &Headers {
        &self.reply_headers
    }

    /// Whether the peer reset the stream, and why.
    pub fn peer_reset(&self) -> Option<RstStatus> {
        self.shared.lock().streams.get(&self.id).and_then(|s| s.reset)
    }

    /// Abandons the stream in both directions (RST_STREAM CANCEL).
    pub fn reset(self) {
        let mut st = self.shared.lock();
        if let Some(stream) = st.streams.get_mut(&self.id)
            && stream.reset.is_none()
        {
            stream.reset = Some(RstStatus::Cancel);
            if st.ended.is_none() {
                st.send(Frame::RstStream { stream_id: self.id, status: RstStatus::Cancel });
            }
        }
        // Drop sees the stream as reset and sends nothing more.
    }

    fn poll_written(&self, st: &mut State, cx: &Context<'_>) -> Poll<io::Result<()>> {
        let ended = st.ended.clone();
        let Some(stream) = st.streams.get_mut(&self.id) else { return Poll::Ready(Ok(())) };
        if stream.pending_frames == 0 || stream.reset.is_some() {
            return Poll::Ready(Ok(()));
        }
        if let Some(end) = ended {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, end.describe())));
        }
        stream.write_waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream").field("id", &self.id).field("headers", &self.headers).finish()
    }
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let shared = &self.shared;
        let mut guard = shared.lock();
        let st = &mut *guard;
        let Some(stream) = st.streams.get_mut(&self.id) else { return Poll::Ready(Ok(())) };
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        if let Some(chunk) = stream.buf.front_mut() {
            let n = chunk.len().min(buf.remaining());
            buf.put_slice(&chunk[..n]);
            chunk.advance(n);
            if chunk.is_empty() {
                stream.buf.pop_front();
            }
            stream.buffered -= n;
            stream.unacked += n as u32;
            if !stream.fin_received && stream.unacked >= STREAM_WINDOW / 2 {
                let delta = std::mem::take(&mut stream.unacked);
                let _ = st.out.send(Outgoing::Frame(Frame::WindowUpdate { stream_id: self.id, delta }));
            }
            if st.stalled == Some(self.id) && stream.buffered <= MAX_BUFFERED {
                shared.reader_wake.notify_one();
            }
            return Poll::Ready(Ok(()));
        }
        if stream.fin_received {
            return Poll::Ready(Ok(()));
        }
        if let Some(status) = stream.reset {
            let error = io::Error::new(io::ErrorKind::ConnectionReset, format!("stream reset ({status:?})"));
            return Poll::Ready(Err(error));
        }
        match &st.ended {
            Some(End::Failed(reason)) => Poll::Ready(Err(io::Error::other(reason.clone()))),
            Some(_) => Poll::Ready(Ok(())),
            None => {
                stream.read_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let mut guard = self.shared.lock();
        let st = &mut *guard;
        let Some(stream) = st.streams.get_mut(&self.id) else {
            return Poll::Ready(Err(io::ErrorKind::NotConnected.into()));
        };
        if let Some(status) = stream.reset {
            let error = io::Error::new(io::ErrorKind::BrokenPipe, format!("stream reset ({status:?})"));
            return Poll::Ready(Err(error));
        }
        if stream.local_closed {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, "stream already shut down for writing")));
        }
        if let Some(end) = &st.ended {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, end.describe())));
        }
        if st.queued_bytes >= WRITE_QUEUE_LIMIT {
            st.queue_waiters.push(cx.waker().clone());
            return Poll::Pending;
        }
        let mut n = data.len().min(MAX_CHUNK);
        if st.peer_flow_control {
            let window = stream.send_window.min(st.send_window);
            if window <= 0 {
                stream.write_waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            n = n.min(usize::try_from(window).unwrap_or(usize::MAX));
        }
        stream.send_window -= n as i64;
        st.send_window -= n as i64;
        stream.pending_frames += 1;
        st.queued_bytes += n;
        let data = Bytes::copy_from_slice(&data[..n]);
        let _ = st.out.send(Outgoing::Frame(Frame::Data { stream_id: self.id, fin: false, data }));
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut st = self.shared.lock();
        self.poll_written(&mut st, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut guard = self.shared.lock();
        let st = &mut *guard;
        if let Some(stream) = st.streams.get_mut(&self.id)
            && !stream.local_closed
        {
            if let Some(end) = &st.ended {
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, end.describe())));
            }
            stream.local_closed = true;
            stream.pending_frames += 1;
            let _ = st.out.send(Outgoing::Frame(Frame::Data { stream_id: self.id, fin: true, data: Bytes::new() }));
        }
        self.poll_written(st, cx)
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let mut guard = self.shared.lock();
        let st = &mut *guard;
        st.stream_handles -= 1;
        if let Some(stream) = st.streams.remove(&self.id) {
            let finished = stream.reset.is_some() || (stream.local_closed && stream.fin_received);
            if !finished && st.ended.is_none() {
                st.send(Frame::RstStream { stream_id: self.id, status: RstStatus::Cancel });
            }
            if st.stalled == Some(self.id) {
                self.shared.reader_wake.notify_one();
            }
        }
        self.shared.release(st);
    }
}

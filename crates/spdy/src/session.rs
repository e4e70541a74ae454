//! A SPDY session over one connection, in either role: the API server accepts kubectl's
//! streams as the server; the kubelet opens streams to the CRI streaming server as the
//! client. Two background tasks run the connection: the reader decodes frames and applies
//! them to the shared state, the writer is the only one to write, so frames never interleave.

use crate::Error;
use crate::frame::{Frame, FrameDecoder, FrameEncoder, GoAwayStatus, RstStatus};
use crate::headers::Headers;
use crate::state::{End, Flow, Outgoing, Shared};
use crate::stream::Stream;
use bytes::BytesMut;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// Bytes of encoded frames the writer gathers before writing them out together.
const WRITE_BATCH: usize = 256 << 10;

/// A SPDY/3.1 session. Clones share the session; it ends (with GOAWAY) on [`Session::close`],
/// or once every `Session` and [`Stream`] handle is dropped, or when the peer goes away.
pub struct Session {
    shared: Arc<Shared>,
}

impl Session {
    /// The server side of `io` (streams this side opens get even ids). Spawns the session's
    /// tasks, so it must be called within a Tokio runtime.
    pub fn server<T>(io: T) -> Self
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        Self::start(io, true)
    }

    /// The client side of `io` (streams this side opens get odd ids). Spawns the session's
    /// tasks, so it must be called within a Tokio runtime.
    pub fn client<T>(io: T) -> Self
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        Self::start(io, false)
    }

    fn start<T>(io: T, server: bool) -> Self
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::new(server, tx));
        let (read, write) = tokio::io::split(io);
        tokio::spawn(read_loop(shared.clone(), read));
        tokio::spawn(write_loop(shared.clone(), write, rx));
        Self { shared }
    }

    /// The next stream the peer opened (already answered with an empty SYN_REPLY), or
    /// `None` once the session has ended and every opened stream has been taken.
    pub async fn accept(&self) -> Option<Stream> {
        loop {
            let notified = self.shared.accept_ready.notified();
            {
                let mut guard = self.shared.lock();
                let st = &mut *guard;
                while let Some(id) = st.accept_queue.pop_front() {
                    if let Some(stream) = st.streams.get_mut(&id) {
                        let headers = std::mem::take(&mut stream.headers);
                        st.stream_handles += 1;
                        return Some(Stream::new(id, self.shared.clone(), headers, Headers::new()));
                    }
                }
                if st.ended.is_some() {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// Opens a stream with `headers` and waits for the peer's SYN_REPLY. Fails if the peer
    /// resets the stream, the session ends first, or `headers` holds a header SPDY forbids
    /// (`connection`, `host`, `keep-alive`, `proxy-connection`, `transfer-encoding`).
    /// Dropping the future before the reply resets the stream.
    pub async fn open(&self, headers: Headers) -> Result<Stream, Error> {
        let (id, reply) = self.shared.open(&headers)?;
        let mut stream = Stream::new(id, self.shared.clone(), headers, Headers::new());
        match reply.await {
            Ok(Ok(reply_headers)) => {
                stream.set_reply_headers(reply_headers);
                Ok(stream)
            }
            Ok(Err(error)) => Err(error),
            Err(_) => Err(self.ended_error()),
        }
    }

    /// Sends a PING and waits for the peer to echo it; returns the round-trip time.
    pub async fn ping(&self) -> Result<Duration, Error> {
        let start = Instant::now();
        let echo = self.shared.ping()?;
        echo.await.map_err(|_| self.ended_error())?;
        Ok(start.elapsed())
    }

    /// Sends GOAWAY, ends every stream (reads see end of file, writes fail) and waits until
    /// what was queued has been written and the connection's write side shut down.
    pub async fn close(&self) {
        {
            let mut st = self.shared.lock();
            self.shared.go_away(&mut st);
        }
        let mut done = self.shared.writer_done.subscribe();
        let _ = done.wait_for(|done| *done).await;
    }

    /// Resolves once the session has ended, for whatever reason.
    pub async fn closed(&self) {
        let mut ended = self.shared.ended_tx.subscribe();
        let _ = ended.wait_for(|ended| *ended).await;
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().ended.is_some()
    }

    fn ended_error(&self) -> Error {
        self.shared.lock().ended_error().unwrap_or_else(|| Error::SessionEnded("the session ended".into()))
    }
}

impl Clone for Session {
    fn clone(&self) -> Self {
        self.shared.lock().session_handles += 1;
        Self { shared: self.shared.clone() }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let mut guard = self.shared.lock();
        let st = &mut *guard;
        st.session_handles -= 1;
        if st.session_handles == 0 {
            // Nobody is left to accept queued streams: refuse them.
            for id in std::mem::take(&mut st.accept_queue) {
                if st.streams.remove(&id).is_some() && st.ended.is_none() {
                    st.send(Frame::RstStream { stream_id: id, status: RstStatus::RefusedStream });
                }
            }
            if st.stalled.is_some() {
                self.shared.reader_wake.notify_one();
            }
        }
        self.shared.release(st);
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.shared.lock();
        f.debug_struct("Session")
            .field("server", &st.server)
            .field("streams", &st.streams.len())
            .field("ended", &st.ended)
            .finish()
    }
}

/// Reads and dispatches frames until the session ends.
async fn read_loop<R: AsyncRead + Unpin>(shared: Arc<Shared>, mut io: R) {
    let mut decoder = FrameDecoder::new();
    let mut buf = BytesMut::with_capacity(64 << 10);
    loop {
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => match shared.dispatch(frame) {
                    Flow::Continue => {}
                    Flow::Stop => return,
                    Flow::Stall(id) => loop {
                        let drained = shared.reader_wake.notified();
                        if !shared.still_stalled(id) {
                            break;
                        }
                        drained.await;
                    },
                },
                Ok(None) => break,
                Err(error) => {
                    tracing::debug!(%error, "SPDY protocol error");
                    let mut st = shared.lock();
                    st.send(Frame::GoAway { last_good_stream_id: 0, status: GoAwayStatus::ProtocolError });
                    shared.end(&mut st, End::Failed(error.to_string()));
                    return;
                }
            }
        }
        let wake = shared.reader_wake.notified();
        if shared.lock().ended.is_some() {
            return;
        }
        tokio::select! {
            read = io.read_buf(&mut buf) => {
                let end = match read {
                    Ok(0) => End::PeerClosed,
                    Ok(_) => continue,
                    Err(error) => End::Failed(Error::Io(error).to_string()),
                };
                let mut st = shared.lock();
                shared.end(&mut st, end);
                return;
            }
            () = wake => {}
        }
    }
}

/// Writes queued frames in order, batching what is ready, until told to finish.
async fn write_loop<W: AsyncWrite + Unpin>(shared: Arc<Shared>, mut io: W, mut rx: mpsc::UnboundedReceiver<Outgoing>) {
    let mut encoder = FrameEncoder::new();
    let mut buf = BytesMut::new();
    let mut data_frames = Vec::new();
    let mut finish = false;
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(item) = next.take() {
            match item {
                Outgoing::Finish => finish = true,
                Outgoing::Frame(frame) => {
                    if let Frame::Data { stream_id, data, .. } = &frame {
                        data_frames.push((*stream_id, data.len()));
                    }
                    if let Err(error) = encoder.encode(&frame, &mut buf) {
                        let mut st = shared.lock();
                        shared.end(&mut st, End::Failed(error.to_string()));
                        finish = true;
                    }
                }
            }
            if !finish && buf.len() < WRITE_BATCH {
                next = rx.try_recv().ok();
            }
        }
        let result = async {
            io.write_all(&buf).await?;
            io.flush().await
        };
        if let Err(error) = result.await {
            let mut st = shared.lock();
            shared.end(&mut st, End::Failed(Error::Io(error).to_string()));
            finish = true;
        }
        buf.clear();
        shared.written(&data_frames);
        data_frames.clear();
        if finish {
            break;
        }
    }
    let _ = io.shutdown().await;
    shared.writer_done.send_replace(true);
}

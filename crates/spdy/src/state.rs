//! The state one session shares between its reader task, its writer task and the user's
//! `Session` and `Stream` handles: the stream table, flow-control windows, pending pings and
//! the accept queue, behind one mutex that is never held across an await. Opening streams,
//! pings, ending the session and the writer's accounting live here; how each incoming frame
//! changes the state is in `dispatch.rs`.

use crate::Error;
use crate::frame::{DEFAULT_WINDOW, Frame, GoAwayStatus, RstStatus, Setting};
use crate::headers::Headers;
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use tokio::sync::{Notify, mpsc, oneshot, watch};

/// The receive window this side advertises for each stream (SETTINGS INITIAL_WINDOW_SIZE).
pub(crate) const STREAM_WINDOW: u32 = DEFAULT_WINDOW;
/// The session-level receive window this side opens at the start (SPDY/3.1).
pub(crate) const SESSION_WINDOW: u32 = 16 << 20;
/// The largest DATA frame this side sends.
pub(crate) const MAX_CHUNK: usize = 32 << 10;
/// DATA bytes queued for the writer beyond which stream writes wait.
pub(crate) const WRITE_QUEUE_LIMIT: usize = 1 << 20;
/// Unread bytes one stream may hold before the reader stops reading the connection (only
/// reached with peers that ignore flow control, as Go's spdystream does).
pub(crate) const MAX_BUFFERED: usize = 1 << 20;

/// Wakes the task parked in `slot`, if any.
pub(crate) fn wake(slot: &mut Option<Waker>) {
    if let Some(waker) = slot.take() {
        waker.wake();
    }
}

/// What the writer task is asked to do.
pub(crate) enum Outgoing {
    Frame(Frame),
    /// Write what is queued, shut the connection's write side down and stop.
    Finish,
}

/// Why a session ended.
#[derive(Clone, Debug)]
pub(crate) enum End {
    GoneAway,
    PeerClosed,
    Closed,
    Failed(String),
}

impl End {
    pub(crate) fn describe(&self) -> String {
        match self {
            End::GoneAway => "the peer sent GOAWAY".into(),
            End::PeerClosed => "the peer closed the connection".into(),
            End::Closed => "the session was closed".into(),
            End::Failed(reason) => reason.clone(),
        }
    }
}

/// One stream's state.
pub(crate) struct StreamState {
    /// The SYN_STREAM headers of a peer-opened stream until `accept` hands them out.
    pub(crate) headers: Headers,
    pub(crate) buf: VecDeque<Bytes>,
    pub(crate) buffered: usize,
    pub(crate) fin_received: bool,
    pub(crate) local_closed: bool,
    pub(crate) reset: Option<RstStatus>,
    pub(crate) reply: Option<oneshot::Sender<Result<Headers, Error>>>,
    pub(crate) send_window: i64,
    /// Bytes the user read that have not been returned to the peer by WINDOW_UPDATE.
    pub(crate) unacked: u32,
    /// DATA frames of this stream queued but not yet written to the connection.
    pub(crate) pending_frames: usize,
    pub(crate) read_waker: Option<Waker>,
    pub(crate) write_waker: Option<Waker>,
}

impl StreamState {
    pub(crate) fn new(send_window: i64) -> Self {
        Self {
            headers: Headers::new(),
            buf: VecDeque::new(),
            buffered: 0,
            fin_received: false,
            local_closed: false,
            reset: None,
            reply: None,
            send_window,
            unacked: 0,
            pending_frames: 0,
            read_waker: None,
            write_waker: None,
        }
    }

    pub(crate) fn wake(&mut self) {
        wake(&mut self.read_waker);
        wake(&mut self.write_waker);
    }
}

pub(crate) struct State {
    pub(crate) server: bool,
    pub(crate) out: mpsc::UnboundedSender<Outgoing>,
    pub(crate) streams: HashMap<u32, StreamState>,
    pub(crate) accept_queue: VecDeque<u32>,
    next_stream_id: u32,
    pub(crate) last_peer_stream_id: u32,
    next_ping_id: u32,
    pub(crate) pings: HashMap<u32, oneshot::Sender<()>>,
    pub(crate) session_handles: usize,
    pub(crate) stream_handles: usize,
    pub(crate) ended: Option<End>,
    pub(crate) goaway_sent: bool,
    /// Whether the peer does flow control (it sent SETTINGS or WINDOW_UPDATE); until then
    /// its windows are not enforced, because Go's spdystream never reopens them.
    pub(crate) peer_flow_control: bool,
    pub(crate) peer_initial_window: i64,
    pub(crate) send_window: i64,
    pub(crate) received_unacked: u32,
    pub(crate) queued_bytes: usize,
    pub(crate) queue_waiters: Vec<Waker>,
    /// The stream whose full buffer made the reader pause.
    pub(crate) stalled: Option<u32>,
}

impl State {
    pub(crate) fn send(&self, frame: Frame) {
        // Fails only once the writer has stopped, when nothing can be sent anyway.
        let _ = self.out.send(Outgoing::Frame(frame));
    }

    pub(crate) fn ours(&self, id: u32) -> bool {
        id.is_multiple_of(2) == self.server
    }

    pub(crate) fn ended_error(&self) -> Option<Error> {
        self.ended.as_ref().map(|end| Error::SessionEnded(end.describe()))
    }
}

/// What the reader does after dispatching a frame.
pub(crate) enum Flow {
    Continue,
    /// Wait until this stream's buffer drains before reading more.
    Stall(u32),
    Stop,
}

pub(crate) struct Shared {
    state: Mutex<State>,
    pub(crate) accept_ready: Notify,
    pub(crate) reader_wake: Notify,
    pub(crate) ended_tx: watch::Sender<bool>,
    pub(crate) writer_done: watch::Sender<bool>,
}

impl Shared {
    pub(crate) fn new(server: bool, out: mpsc::UnboundedSender<Outgoing>) -> Self {
        let state = State {
            server,
            out,
            streams: HashMap::new(),
            accept_queue: VecDeque::new(),
            next_stream_id: if server { 2 } else { 1 },
            last_peer_stream_id: 0,
            next_ping_id: if server { 2 } else { 1 },
            pings: HashMap::new(),
            session_handles: 1,
            stream_handles: 0,
            ended: None,
            goaway_sent: false,
            peer_flow_control: false,
            peer_initial_window: i64::from(DEFAULT_WINDOW),
            send_window: i64::from(DEFAULT_WINDOW),
            received_unacked: 0,
            queued_bytes: 0,
            queue_waiters: Vec::new(),
            stalled: None,
        };
        state.send(Frame::Settings {
            clear: false,
            settings: vec![Setting { flags: 0, id: Setting::INITIAL_WINDOW_SIZE, value: STREAM_WINDOW }],
        });
        state.send(Frame::WindowUpdate { stream_id: 0, delta: SESSION_WINDOW - DEFAULT_WINDOW });
        Self {
            state: Mutex::new(state),
            accept_ready: Notify::new(),
            reader_wake: Notify::new(),
            ended_tx: watch::Sender::new(false),
            writer_done: watch::Sender::new(false),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Ends the session once: wakes every waiter and tells the writer to finish.
    pub(crate) fn end(&self, st: &mut State, end: End) {
        if st.ended.is_some() {
            return;
        }
        tracing::debug!(reason = %end.describe(), "SPDY session ended");
        let error = end.describe();
        st.ended = Some(end);
        for stream in st.streams.values_mut() {
            if let Some(reply) = stream.reply.take() {
                let _ = reply.send(Err(Error::SessionEnded(error.clone())));
            }
            stream.wake();
        }
        st.pings.clear();
        st.queue_waiters.drain(..).for_each(Waker::wake);
        let _ = st.out.send(Outgoing::Finish);
        self.accept_ready.notify_waiters();
        self.reader_wake.notify_one();
        self.ended_tx.send_replace(true);
    }

    /// Sends GOAWAY (once) and ends the session.
    pub(crate) fn go_away(&self, st: &mut State) {
        if st.ended.is_none() && !st.goaway_sent {
            st.goaway_sent = true;
            st.send(Frame::GoAway { last_good_stream_id: st.last_peer_stream_id, status: GoAwayStatus::Ok });
        }
        self.end(st, End::Closed);
    }

    /// Closes the session once neither a `Session` nor a `Stream` handle is left.
    pub(crate) fn release(&self, st: &mut State) {
        if st.session_handles == 0 && st.stream_handles == 0 {
            self.go_away(st);
        }
    }

    /// Registers a stream this side opens and sends its SYN_STREAM.
    pub(crate) fn open(&self, headers: &Headers) -> Result<(u32, oneshot::Receiver<Result<Headers, Error>>), Error> {
        if let Some(name) = headers.forbidden() {
            return Err(Error::ForbiddenHeader(name.to_owned()));
        }
        let mut st = self.lock();
        if let Some(error) = st.ended_error() {
            return Err(error);
        }
        let id = st.next_stream_id;
        if id > 0x7fff_ffff {
            return Err(Error::StreamIdsExhausted);
        }
        st.next_stream_id += 2;
        let (tx, rx) = oneshot::channel();
        let mut stream = StreamState::new(st.peer_initial_window);
        stream.reply = Some(tx);
        st.streams.insert(id, stream);
        st.stream_handles += 1;
        st.send(Frame::SynStream {
            stream_id: id,
            associated_stream_id: 0,
            priority: 0,
            slot: 0,
            fin: false,
            unidirectional: false,
            headers: headers.clone(),
        });
        Ok((id, rx))
    }

    /// Registers a ping and sends it.
    pub(crate) fn ping(&self) -> Result<oneshot::Receiver<()>, Error> {
        let mut st = self.lock();
        if let Some(error) = st.ended_error() {
            return Err(error);
        }
        let id = st.next_ping_id;
        st.next_ping_id = if id > 0x7fff_fffd { id % 2 + 2 } else { id + 2 };
        let (tx, rx) = oneshot::channel();
        st.pings.insert(id, tx);
        st.send(Frame::Ping { id });
        Ok(rx)
    }

    /// Accounts for DATA frames the writer has put on the connection.
    pub(crate) fn written(&self, frames: &[(u32, usize)]) {
        let mut guard = self.lock();
        let st = &mut *guard;
        for &(id, len) in frames {
            st.queued_bytes = st.queued_bytes.saturating_sub(len);
            if let Some(stream) = st.streams.get_mut(&id) {
                stream.pending_frames -= 1;
                if stream.pending_frames == 0 {
                    wake(&mut stream.write_waker);
                }
            }
        }
        if st.queued_bytes < WRITE_QUEUE_LIMIT {
            st.queue_waiters.drain(..).for_each(Waker::wake);
        }
    }
}

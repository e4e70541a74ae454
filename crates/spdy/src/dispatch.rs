//! How a session reacts to each frame the peer sends: new streams are registered, queued
//! for `accept` and answered with SYN_REPLY; replies, resets, FINs and window updates
//! change the stream they name; pings are echoed or complete our own; GOAWAY ends the
//! session; DATA is buffered for the stream's reader, pausing the reader task when a peer
//! that ignores flow control overfills a stream.

use crate::Error;
use crate::frame::{Frame, RstStatus, Setting};
use crate::headers::Headers;
use crate::state::{End, Flow, MAX_BUFFERED, SESSION_WINDOW, Shared, State, StreamState, wake};
use bytes::Bytes;

impl Shared {
    /// Applies one frame from the peer.
    pub(crate) fn dispatch(&self, frame: Frame) -> Flow {
        let mut guard = self.lock();
        let st = &mut *guard;
        if st.ended.is_some() {
            return Flow::Stop;
        }
        match frame {
            Frame::SynStream { stream_id, fin, unidirectional, headers, .. } => {
                if st.ours(stream_id) || stream_id <= st.last_peer_stream_id {
                    st.send(Frame::RstStream { stream_id, status: RstStatus::ProtocolError });
                    return Flow::Continue;
                }
                st.last_peer_stream_id = stream_id;
                if st.goaway_sent || st.session_handles == 0 {
                    st.send(Frame::RstStream { stream_id, status: RstStatus::RefusedStream });
                    return Flow::Continue;
                }
                let mut stream = StreamState::new(st.peer_initial_window);
                stream.headers = headers;
                stream.fin_received = fin;
                stream.local_closed = unidirectional;
                st.streams.insert(stream_id, stream);
                if !unidirectional {
                    // Kubernetes' clients wait for this before using the stream.
                    st.send(Frame::SynReply { stream_id, fin: false, headers: Headers::new() });
                }
                st.accept_queue.push_back(stream_id);
                self.accept_ready.notify_one();
            }
            Frame::SynReply { stream_id, fin, headers } => {
                if let Some(stream) = st.streams.get_mut(&stream_id) {
                    if let Some(reply) = stream.reply.take() {
                        let _ = reply.send(Ok(headers));
                    }
                    if fin {
                        stream.fin_received = true;
                        stream.wake();
                    }
                }
            }
            Frame::Headers { stream_id, fin, .. } => {
                if let Some(stream) = st.streams.get_mut(&stream_id).filter(|_| fin) {
                    stream.fin_received = true;
                    stream.wake();
                }
            }
            Frame::RstStream { stream_id, status } => {
                if let Some(stream) = st.streams.get_mut(&stream_id) {
                    stream.reset = Some(status);
                    stream.local_closed = true;
                    if let Some(reply) = stream.reply.take() {
                        let _ = reply.send(Err(Error::StreamReset { id: stream_id, status }));
                    }
                    stream.wake();
                }
            }
            Frame::Settings { settings, .. } => {
                st.peer_flow_control = true;
                for setting in settings.iter().filter(|s| s.id == Setting::INITIAL_WINDOW_SIZE) {
                    let delta = i64::from(setting.value) - st.peer_initial_window;
                    st.peer_initial_window = i64::from(setting.value);
                    for stream in st.streams.values_mut() {
                        stream.send_window += delta;
                        wake(&mut stream.write_waker);
                    }
                }
            }
            Frame::WindowUpdate { stream_id: 0, delta } => {
                st.peer_flow_control = true;
                st.send_window += i64::from(delta);
                st.streams.values_mut().for_each(|s| wake(&mut s.write_waker));
            }
            Frame::WindowUpdate { stream_id, delta } => {
                st.peer_flow_control = true;
                if let Some(stream) = st.streams.get_mut(&stream_id) {
                    stream.send_window += i64::from(delta);
                    wake(&mut stream.write_waker);
                }
            }
            Frame::Ping { id } => {
                if !st.ours(id) {
                    st.send(Frame::Ping { id });
                } else if let Some(waiter) = st.pings.remove(&id) {
                    let _ = waiter.send(());
                }
            }
            Frame::GoAway { .. } => {
                self.end(st, End::GoneAway);
                return Flow::Stop;
            }
            Frame::Data { stream_id, fin, data } => return self.data(st, stream_id, fin, data),
        }
        Flow::Continue
    }

    fn data(&self, st: &mut State, stream_id: u32, fin: bool, data: Bytes) -> Flow {
        // The session window is returned on receipt: per-stream windows already bound
        // what a flow-controlling peer can make this side buffer.
        st.received_unacked = st.received_unacked.saturating_add(data.len() as u32);
        if st.received_unacked >= SESSION_WINDOW / 2 {
            st.send(Frame::WindowUpdate { stream_id: 0, delta: st.received_unacked });
            st.received_unacked = 0;
        }
        let Some(stream) = st.streams.get_mut(&stream_id) else { return Flow::Continue };
        if stream.reset.is_some() || stream.fin_received {
            return Flow::Continue;
        }
        if !data.is_empty() {
            stream.buffered += data.len();
            stream.buf.push_back(data);
        }
        stream.fin_received = fin;
        wake(&mut stream.read_waker);
        if stream.buffered > MAX_BUFFERED {
            st.stalled = Some(stream_id);
            return Flow::Stall(stream_id);
        }
        Flow::Continue
    }

    /// Whether the reader must keep waiting for `stream_id` to drain.
    pub(crate) fn still_stalled(&self, stream_id: u32) -> bool {
        let mut st = self.lock();
        let full = st.ended.is_none() && st.streams.get(&stream_id).is_some_and(|s| s.buffered > MAX_BUFFERED);
        if !full {
            st.stalled = None;
        }
        full
    }
}

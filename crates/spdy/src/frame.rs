//! SPDY/3 frames and their wire format: the eight control frames Kubernetes' peers use
//! (SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE) and
//! DATA. Every frame starts with 8 bytes: a control bit, then either version and type
//! (control) or the stream id (data), then 8 bits of flags and a 24-bit payload length.
//! Header-carrying frames go through the connection's stateful header compression, so one
//! encoder serves everything a side sends and one decoder everything it receives.

use crate::Error;
use crate::headers::{HeaderCompressor, HeaderDecompressor, Headers};
use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The protocol version this crate speaks.
pub const VERSION: u16 = 3;
/// The largest payload one frame can carry (24-bit length).
pub const MAX_PAYLOAD: usize = (1 << 24) - 1;
/// Flow-control window of a new stream (and, in SPDY/3.1, of the session) until SETTINGS
/// or WINDOW_UPDATE says otherwise.
pub const DEFAULT_WINDOW: u32 = 65_536;

const TYPE_SYN_STREAM: u16 = 1;
const TYPE_SYN_REPLY: u16 = 2;
const TYPE_RST_STREAM: u16 = 3;
const TYPE_SETTINGS: u16 = 4;
const TYPE_PING: u16 = 6;
const TYPE_GOAWAY: u16 = 7;
const TYPE_HEADERS: u16 = 8;
const TYPE_WINDOW_UPDATE: u16 = 9;

const FLAG_FIN: u8 = 0x01;
const FLAG_UNIDIRECTIONAL: u8 = 0x02;
const FLAG_CLEAR_SETTINGS: u8 = 0x01;
const STREAM_ID_MASK: u32 = 0x7fff_ffff;

/// Why a stream was reset (RST_STREAM's status code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RstStatus {
    ProtocolError,
    InvalidStream,
    RefusedStream,
    UnsupportedVersion,
    Cancel,
    InternalError,
    FlowControlError,
    StreamInUse,
    StreamAlreadyClosed,
    InvalidCredentials,
    FrameTooLarge,
    /// A code SPDY/3 does not define.
    Other(u32),
}

const RST_CODES: [RstStatus; 11] = [
    RstStatus::ProtocolError,
    RstStatus::InvalidStream,
    RstStatus::RefusedStream,
    RstStatus::UnsupportedVersion,
    RstStatus::Cancel,
    RstStatus::InternalError,
    RstStatus::FlowControlError,
    RstStatus::StreamInUse,
    RstStatus::StreamAlreadyClosed,
    RstStatus::InvalidCredentials,
    RstStatus::FrameTooLarge,
];

impl RstStatus {
    /// The wire code (1 = PROTOCOL_ERROR … 11 = FRAME_TOO_LARGE).
    pub fn code(self) -> u32 {
        match self {
            RstStatus::Other(code) => code,
            known => RST_CODES.iter().position(|s| *s == known).map_or(0, |i| i as u32 + 1),
        }
    }

    /// The status for a wire code.
    pub fn from_code(code: u32) -> Self {
        code.checked_sub(1).and_then(|i| RST_CODES.get(i as usize).copied()).unwrap_or(RstStatus::Other(code))
    }
}

/// Why a session is going away (GOAWAY's status code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GoAwayStatus {
    Ok,
    ProtocolError,
    InternalError,
    /// A code SPDY/3 does not define.
    Other(u32),
}

impl GoAwayStatus {
    /// The wire code.
    pub fn code(self) -> u32 {
        match self {
            GoAwayStatus::Ok => 0,
            GoAwayStatus::ProtocolError => 1,
            GoAwayStatus::InternalError => 2,
            GoAwayStatus::Other(code) => code,
        }
    }

    /// The status for a wire code.
    pub fn from_code(code: u32) -> Self {
        match code {
            0 => GoAwayStatus::Ok,
            1 => GoAwayStatus::ProtocolError,
            2 => GoAwayStatus::InternalError,
            other => GoAwayStatus::Other(other),
        }
    }
}

/// One entry of a SETTINGS frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setting {
    /// FLAG_SETTINGS_PERSIST_VALUE (1) or FLAG_SETTINGS_PERSISTED (2), usually 0.
    pub flags: u8,
    /// The setting's 24-bit id, e.g. [`Setting::INITIAL_WINDOW_SIZE`].
    pub id: u32,
    pub value: u32,
}

impl Setting {
    pub const MAX_CONCURRENT_STREAMS: u32 = 4;
    pub const INITIAL_WINDOW_SIZE: u32 = 7;
}

/// A SPDY/3 frame in memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// Opens a stream; FIN means the opener sends nothing more, UNIDIRECTIONAL that the
    /// recipient may not send at all.
    SynStream {
        stream_id: u32,
        associated_stream_id: u32,
        /// 0 (highest) to 7.
        priority: u8,
        slot: u8,
        fin: bool,
        unidirectional: bool,
        headers: Headers,
    },
    /// Accepts a stream the peer opened.
    SynReply {
        stream_id: u32,
        fin: bool,
        headers: Headers,
    },
    /// Ends a stream abnormally.
    RstStream {
        stream_id: u32,
        status: RstStatus,
    },
    Settings {
        clear: bool,
        settings: Vec<Setting>,
    },
    /// Answered by echoing the same id; the client uses odd ids, the server even.
    Ping {
        id: u32,
    },
    /// The sender accepts no new streams; `last_good_stream_id` is the last it processed.
    GoAway {
        last_good_stream_id: u32,
        status: GoAwayStatus,
    },
    /// More headers on an open stream.
    Headers {
        stream_id: u32,
        fin: bool,
        headers: Headers,
    },
    /// Adds `delta` bytes to a stream's send window (stream 0: the session's, SPDY/3.1).
    WindowUpdate {
        stream_id: u32,
        delta: u32,
    },
    /// Stream payload; FIN half-closes the sender's side.
    Data {
        stream_id: u32,
        fin: bool,
        data: Bytes,
    },
}

/// Writes frames, compressing header blocks on this side's one zlib stream.
#[derive(Default)]
pub struct FrameEncoder {
    headers: HeaderCompressor,
}

impl FrameEncoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `frame`'s wire form to `dst`.
    pub fn encode(&mut self, frame: &Frame, dst: &mut BytesMut) -> Result<(), Error> {
        let mut payload = Vec::new();
        let (kind, flags) = match frame {
            Frame::Data { stream_id, fin, data } => {
                if data.len() > MAX_PAYLOAD {
                    return Err(Error::FrameTooLarge(data.len()));
                }
                dst.reserve(8 + data.len());
                dst.put_u32(stream_id & STREAM_ID_MASK);
                dst.put_u32(u32::from(flag(*fin, FLAG_FIN)) << 24 | data.len() as u32);
                dst.put_slice(data);
                return Ok(());
            }
            Frame::SynStream { stream_id, associated_stream_id, priority, slot, fin, unidirectional, headers } => {
                payload.put_u32(stream_id & STREAM_ID_MASK);
                payload.put_u32(associated_stream_id & STREAM_ID_MASK);
                payload.put_u8((priority & 0x07) << 5);
                payload.put_u8(*slot);
                self.headers.compress(headers, &mut payload)?;
                (TYPE_SYN_STREAM, flag(*fin, FLAG_FIN) | flag(*unidirectional, FLAG_UNIDIRECTIONAL))
            }
            Frame::SynReply { stream_id, fin, headers } => {
                payload.put_u32(stream_id & STREAM_ID_MASK);
                self.headers.compress(headers, &mut payload)?;
                (TYPE_SYN_REPLY, flag(*fin, FLAG_FIN))
            }
            Frame::RstStream { stream_id, status } => {
                payload.put_u32(stream_id & STREAM_ID_MASK);
                payload.put_u32(status.code());
                (TYPE_RST_STREAM, 0)
            }
            Frame::Settings { clear, settings } => {
                payload.put_u32(settings.len() as u32);
                for s in settings {
                    payload.put_u32(u32::from(s.flags) << 24 | (s.id & 0x00ff_ffff));
                    payload.put_u32(s.value);
                }
                (TYPE_SETTINGS, flag(*clear, FLAG_CLEAR_SETTINGS))
            }
            Frame::Ping { id } => {
                payload.put_u32(*id);
                (TYPE_PING, 0)
            }
            Frame::GoAway { last_good_stream_id, status } => {
                payload.put_u32(last_good_stream_id & STREAM_ID_MASK);
                payload.put_u32(status.code());
                (TYPE_GOAWAY, 0)
            }
            Frame::Headers { stream_id, fin, headers } => {
                payload.put_u32(stream_id & STREAM_ID_MASK);
                self.headers.compress(headers, &mut payload)?;
                (TYPE_HEADERS, flag(*fin, FLAG_FIN))
            }
            Frame::WindowUpdate { stream_id, delta } => {
                payload.put_u32(stream_id & STREAM_ID_MASK);
                payload.put_u32(delta & STREAM_ID_MASK);
                (TYPE_WINDOW_UPDATE, 0)
            }
        };
        if payload.len() > MAX_PAYLOAD {
            return Err(Error::FrameTooLarge(payload.len()));
        }
        dst.reserve(8 + payload.len());
        dst.put_u16(0x8000 | VERSION);
        dst.put_u16(kind);
        dst.put_u32(u32::from(flags) << 24 | payload.len() as u32);
        dst.put_slice(&payload);
        Ok(())
    }
}

fn flag(set: bool, bit: u8) -> u8 {
    if set { bit } else { 0 }
}

/// Reads frames, inflating header blocks on the peer's one zlib stream.
#[derive(Default)]
pub struct FrameDecoder {
    headers: HeaderDecompressor,
}

impl FrameDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the next complete frame off the front of `src`; `None` until one has fully
    /// arrived. Control frames of unknown types are consumed and skipped.
    pub fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, Error> {
        loop {
            let Some(head) = src.first_chunk::<8>() else { return Ok(None) };
            let first = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
            let flags = head[4];
            let len = u32::from_be_bytes([0, head[5], head[6], head[7]]) as usize;
            if src.len() < 8 + len {
                src.reserve(8 + len - src.len());
                return Ok(None);
            }
            src.advance(8);
            let payload = src.split_to(len).freeze();
            if first & 0x8000_0000 == 0 {
                let stream_id = first & STREAM_ID_MASK;
                if stream_id == 0 {
                    return Err(malformed("DATA", "stream id 0"));
                }
                return Ok(Some(Frame::Data { stream_id, fin: flags & FLAG_FIN != 0, data: payload }));
            }
            let version = ((first >> 16) & 0x7fff) as u16;
            if version != VERSION {
                return Err(Error::UnsupportedVersion(version));
            }
            if let Some(frame) = self.control((first & 0xffff) as u16, flags, payload)? {
                return Ok(Some(frame));
            }
        }
    }

    fn control(&mut self, kind: u16, flags: u8, mut p: Bytes) -> Result<Option<Frame>, Error> {
        let fin = flags & FLAG_FIN != 0;
        let frame = match kind {
            TYPE_SYN_STREAM => {
                need(&p, 10, "SYN_STREAM")?;
                let stream_id = stream_id(&mut p, "SYN_STREAM")?;
                let associated_stream_id = p.get_u32() & STREAM_ID_MASK;
                let priority = p.get_u8() >> 5;
                let slot = p.get_u8();
                let headers = self.headers.decompress(&p)?;
                let unidirectional = flags & FLAG_UNIDIRECTIONAL != 0;
                Frame::SynStream { stream_id, associated_stream_id, priority, slot, fin, unidirectional, headers }
            }
            TYPE_SYN_REPLY | TYPE_HEADERS => {
                let name = if kind == TYPE_HEADERS { "HEADERS" } else { "SYN_REPLY" };
                need(&p, 4, name)?;
                let stream_id = stream_id(&mut p, name)?;
                let headers = self.headers.decompress(&p)?;
                if kind == TYPE_HEADERS {
                    Frame::Headers { stream_id, fin, headers }
                } else {
                    Frame::SynReply { stream_id, fin, headers }
                }
            }
            TYPE_RST_STREAM => {
                exact(&p, 8, "RST_STREAM")?;
                let stream_id = stream_id(&mut p, "RST_STREAM")?;
                let code = p.get_u32();
                if code == 0 {
                    return Err(malformed("RST_STREAM", "status 0"));
                }
                Frame::RstStream { stream_id, status: RstStatus::from_code(code) }
            }
            TYPE_SETTINGS => {
                need(&p, 4, "SETTINGS")?;
                let count = p.get_u32() as usize;
                if p.len() != count.saturating_mul(8) {
                    return Err(malformed("SETTINGS", "length does not match the entry count"));
                }
                let settings = (0..count)
                    .map(|_| {
                        let word = p.get_u32();
                        Setting { flags: (word >> 24) as u8, id: word & 0x00ff_ffff, value: p.get_u32() }
                    })
                    .collect();
                Frame::Settings { clear: flags & FLAG_CLEAR_SETTINGS != 0, settings }
            }
            TYPE_PING => {
                exact(&p, 4, "PING")?;
                Frame::Ping { id: p.get_u32() }
            }
            TYPE_GOAWAY => {
                exact(&p, 8, "GOAWAY")?;
                let last_good_stream_id = p.get_u32() & STREAM_ID_MASK;
                Frame::GoAway { last_good_stream_id, status: GoAwayStatus::from_code(p.get_u32()) }
            }
            TYPE_WINDOW_UPDATE => {
                exact(&p, 8, "WINDOW_UPDATE")?;
                let stream_id = p.get_u32() & STREAM_ID_MASK;
                Frame::WindowUpdate { stream_id, delta: p.get_u32() & STREAM_ID_MASK }
            }
            other => {
                tracing::debug!(frame_type = other, "skipping unknown SPDY control frame");
                return Ok(None);
            }
        };
        Ok(Some(frame))
    }
}

fn malformed(frame: &'static str, reason: &'static str) -> Error {
    Error::MalformedFrame { frame, reason }
}

fn need(p: &Bytes, len: usize, frame: &'static str) -> Result<(), Error> {
    if p.len() < len { Err(malformed(frame, "payload too short")) } else { Ok(()) }
}

fn exact(p: &Bytes, len: usize, frame: &'static str) -> Result<(), Error> {
    if p.len() != len { Err(malformed(frame, "payload has the wrong length")) } else { Ok(()) }
}

fn stream_id(p: &mut Bytes, frame: &'static str) -> Result<u32, Error> {
    let id = p.get_u32() & STREAM_ID_MASK;
    if id == 0 { Err(malformed(frame, "stream id 0")) } else { Ok(id) }
}

#[cfg(test)]
mod tests;

//! What can fail in this crate, one variant per failure, each saying what went wrong: the
//! codec (malformed frames, header blocks, zlib), the session (ended, stream refused or
//! reset), and the caller's input (connection-specific headers SPDY forbids).

use crate::frame::RstStatus;

/// An error from the SPDY codec or a session.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading from or writing to the underlying connection failed.
    #[error("SPDY connection I/O failed: {0}")]
    Io(#[from] std::io::Error),
    /// A control frame carried a version other than 3.
    #[error("control frame of SPDY version {0} received; only SPDY/3 is spoken")]
    UnsupportedVersion(u16),
    /// A frame's fixed fields were inconsistent (wrong length, zero stream id, …).
    #[error("malformed {frame} frame: {reason}")]
    MalformedFrame { frame: &'static str, reason: &'static str },
    /// A frame payload does not fit SPDY's 24-bit length field.
    #[error("frame payload of {0} bytes exceeds SPDY's 24-bit length limit")]
    FrameTooLarge(usize),
    /// zlib refused to compress a header block.
    #[error("compressing a SPDY header block failed: {0}")]
    Compress(String),
    /// zlib refused to inflate a header block (corrupt data or wrong dictionary).
    #[error("decompressing a SPDY header block failed: {0}")]
    Decompress(String),
    /// An inflated header block did not follow the name/value block format.
    #[error("malformed SPDY header block: {0}")]
    MalformedHeaderBlock(&'static str),
    /// An inflated header block grew past the limit this crate accepts.
    #[error("SPDY header block exceeds {0} bytes once decompressed")]
    HeaderBlockTooLarge(usize),
    /// The caller passed a header SPDY forbids (Go's framer rejects the whole frame).
    #[error("header {0:?} is connection-specific and not allowed in a SPDY header block")]
    ForbiddenHeader(String),
    /// The peer answered a new stream with RST_STREAM instead of SYN_REPLY.
    #[error("stream {id} was reset by the peer ({status:?})")]
    StreamReset { id: u32, status: RstStatus },
    /// The session ended (GOAWAY, connection closed, I/O failure or local close).
    #[error("SPDY session ended: {0}")]
    SessionEnded(String),
    /// All 2^30 stream ids of this side have been used.
    #[error("no stream ids left on this SPDY session")]
    StreamIdsExhausted,
}

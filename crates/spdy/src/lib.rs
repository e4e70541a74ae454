//! SPDY/3.1 as Kubernetes speaks it: `kubectl exec`, `attach` and `port-forward` upgrade an
//! HTTP request to `SPDY/3.1` and multiplex their streams (stdin, stdout, stderr, error,
//! resize; or data and error per forwarded connection) over it, and the CRI streaming
//! server speaks the same to the kubelet. Upstream does this with Go's spdystream; this
//! crate is the same protocol in both roles:
//!
//! - [`frame`]: the wire format of every frame type, with a stateful encoder and decoder;
//! - [`headers`]: header blocks and their zlib compression with SPDY/3's dictionary;
//! - [`Session`] and [`Stream`]: a multiplexed connection over any Tokio byte stream, with
//!   automatic SYN_REPLY to accepted streams, PING answers, SPDY/3.1 flow control and GOAWAY.
//!
//! The HTTP upgrade (`Upgrade: SPDY/3.1`, `X-Stream-Protocol-Version`, the 101 response) is
//! the caller's; hand the upgraded connection to [`Session::server`] or [`Session::client`].
//!
//! Interoperating with Go's spdystream (kubectl, the CRI streaming server):
//! - it never sends SETTINGS or WINDOW_UPDATE and ignores ours, so this side enforces the
//!   peer's windows only once the peer has sent one of those frames (a peer built on this
//!   crate does at once); otherwise it writes freely, and a peer that overfills a stream
//!   makes the reader pause the connection (TCP back-pressure) until the stream is read;
//! - header names arrive lower-cased (`streamtype`, `port`, `requestid`); [`Headers::get`]
//!   compares case-insensitively; `host`, `connection` and the like must not be sent;
//! - every accepted stream is answered at once with an empty SYN_REPLY, which is what
//!   kubectl's `CreateStream` waits for; data arriving before `accept` is buffered;
//! - GOAWAY from the peer ends the session (reads see end of file), as spdystream stops
//!   reading the connection once it receives one.

pub mod dictionary;
mod dispatch;
mod error;
pub mod frame;
pub mod headers;
mod session;
mod state;
mod stream;

pub use error::Error;
pub use frame::{GoAwayStatus, RstStatus};
pub use headers::Headers;
pub use session::Session;
pub use stream::Stream;

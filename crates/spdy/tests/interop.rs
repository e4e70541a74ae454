//! A session against a peer written frame by frame that behaves as Go's spdystream does for
//! kubectl and the CRI streaming server: it never sends SETTINGS or WINDOW_UPDATE, ignores
//! this side's windows, expects a SYN_REPLY before it uses a stream, and echoes pings.

use bytes::{Bytes, BytesMut};
use spdy::frame::{Frame, FrameDecoder, FrameEncoder};
use spdy::{Headers, Session};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf};
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(20);

struct RawReader {
    io: ReadHalf<DuplexStream>,
    decoder: FrameDecoder,
    buf: BytesMut,
}

impl RawReader {
    async fn next(&mut self) -> Frame {
        loop {
            if let Some(frame) = self.decoder.decode(&mut self.buf).unwrap() {
                return frame;
            }
            let n = timeout(LIMIT, self.io.read_buf(&mut self.buf)).await.unwrap().unwrap();
            assert!(n > 0, "the session closed the connection");
        }
    }

    /// The next frame that is not flow-control bookkeeping.
    async fn next_significant(&mut self) -> Frame {
        loop {
            match self.next().await {
                Frame::Settings { .. } | Frame::WindowUpdate { .. } => {}
                frame => return frame,
            }
        }
    }
}

struct RawWriter {
    io: WriteHalf<DuplexStream>,
    encoder: FrameEncoder,
}

impl RawWriter {
    async fn send(&mut self, frame: Frame) {
        let mut buf = BytesMut::new();
        self.encoder.encode(&frame, &mut buf).unwrap();
        self.io.write_all(&buf).await.unwrap();
    }
}

fn raw(io: DuplexStream) -> (RawReader, RawWriter) {
    let (read, write) = tokio::io::split(io);
    (
        RawReader { io: read, decoder: FrameDecoder::new(), buf: BytesMut::new() },
        RawWriter { io: write, encoder: FrameEncoder::new() },
    )
}

fn syn(stream_id: u32, headers: Headers) -> Frame {
    Frame::SynStream {
        stream_id,
        associated_stream_id: 0,
        priority: 0,
        slot: 0,
        fin: false,
        unidirectional: false,
        headers,
    }
}

/// kubectl's side of an exec, against the server session.
#[tokio::test]
async fn serves_a_client_that_ignores_flow_control() {
    let (ours, theirs) = tokio::io::duplex(64 << 10);
    let session = Session::server(ours);
    let (mut rx, mut tx) = raw(theirs);

    // The session announces its windows first.
    assert!(matches!(rx.next().await, Frame::Settings { .. }));
    assert!(matches!(rx.next().await, Frame::WindowUpdate { stream_id: 0, .. }));

    tx.send(syn(1, Headers::new().with("streamtype", "error"))).await;
    tx.send(syn(3, Headers::new().with("streamtype", "stdout"))).await;
    tx.send(syn(5, Headers::new().with("streamtype", "stdin"))).await;
    for id in [1, 3, 5] {
        assert_eq!(rx.next_significant().await, Frame::SynReply { stream_id: id, fin: false, headers: Headers::new() });
    }
    let mut error = session.accept().await.unwrap();
    let mut stdout = session.accept().await.unwrap();
    let mut stdin = session.accept().await.unwrap();
    assert_eq!(error.headers().get("streamType"), Some("error"));
    assert_eq!(stdout.headers().get("streamtype"), Some("stdout"));

    // 300 KiB of output although the peer never returns window.
    let output = vec![b'o'; 300 << 10];
    let app = tokio::spawn(async move {
        stdout.write_all(&output).await.unwrap();
        stdout.shutdown().await.unwrap();
        error.write_all(br#"{"metadata":{},"status":"Success"}"#).await.unwrap();
        error.shutdown().await.unwrap();
        (stdout, error)
    });
    let (mut received, mut status, mut fins) = (0usize, Vec::new(), 0);
    while fins < 2 {
        match rx.next_significant().await {
            Frame::Data { stream_id: 3, data, fin } => {
                received += data.len();
                fins += usize::from(fin);
            }
            Frame::Data { stream_id: 1, data, fin } => {
                status.extend_from_slice(&data);
                fins += usize::from(fin);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(received, 300 << 10);
    assert_eq!(status, br#"{"metadata":{},"status":"Success"}"#);
    let _handles = app.await.unwrap();

    // 3 MB of stdin sent without regard to windows, read only once it has all been sent:
    // the session buffers, then pushes back on the connection, and loses nothing.
    let input: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    let expected = input.clone();
    let feeder = tokio::spawn(async move {
        for chunk in input.chunks(16 << 10) {
            tx.send(Frame::Data { stream_id: 5, fin: false, data: Bytes::copy_from_slice(chunk) }).await;
        }
        tx.send(Frame::Data { stream_id: 5, fin: true, data: Bytes::new() }).await;
        tx.send(Frame::Ping { id: 1 }).await;
        tx
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut got = Vec::new();
    timeout(LIMIT, stdin.read_to_end(&mut got)).await.unwrap().unwrap();
    assert!(got == expected, "stdin: {} bytes arrived", got.len());
    let mut tx = feeder.await.unwrap();

    // The ping is echoed; WINDOW_UPDATEs for stream 5 were sent as it was read.
    let mut updates = 0;
    loop {
        match rx.next().await {
            Frame::WindowUpdate { stream_id: 5, .. } => updates += 1,
            Frame::WindowUpdate { .. } | Frame::Settings { .. } => {}
            Frame::Ping { id: 1 } => break,
            Frame::RstStream { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(updates > 10, "window returned as stdin was read ({updates} updates)");

    tx.send(Frame::GoAway { last_good_stream_id: 0, status: spdy::GoAwayStatus::Ok }).await;
    timeout(LIMIT, session.closed()).await.unwrap();
}

/// The kubelet's side towards the CRI streaming server, against a raw server.
#[tokio::test]
async fn opens_streams_on_a_server_that_ignores_flow_control() {
    let (ours, theirs) = tokio::io::duplex(64 << 10);
    let session = Session::client(ours);
    let (mut rx, mut tx) = raw(theirs);
    let opener = tokio::spawn(async move {
        let mut stream = session.open(Headers::new().with("streamType", "data").with("port", "80")).await.unwrap();
        stream.write_all(&vec![b'd'; 200 << 10]).await.unwrap();
        stream.shutdown().await.unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        let rtt = session.ping().await.unwrap();
        (answer, rtt, session, stream)
    });
    let Frame::SynStream { stream_id, headers, .. } = rx.next_significant().await else {
        panic!("expected SYN_STREAM")
    };
    assert_eq!(stream_id, 1);
    assert_eq!(headers.get("streamtype"), Some("data"));
    assert_eq!(headers.get("port"), Some("80"));
    tx.send(Frame::SynReply { stream_id: 1, fin: false, headers: Headers::new() }).await;
    let mut received = 0;
    loop {
        match rx.next_significant().await {
            Frame::Data { stream_id: 1, data, fin } => {
                received += data.len();
                if fin {
                    break;
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(received, 200 << 10, "all data arrived without WINDOW_UPDATE from the peer");
    tx.send(Frame::Data { stream_id: 1, fin: true, data: Bytes::from_static(b"pong") }).await;
    let Frame::Ping { id } = rx.next_significant().await else { panic!("expected PING") };
    assert_eq!(id % 2, 1, "client pings are odd");
    tx.send(Frame::Ping { id }).await;
    let (answer, _rtt, session, stream) = timeout(LIMIT, opener).await.unwrap().unwrap();
    assert_eq!(answer, b"pong");
    drop(stream);
    drop(session);
    // Dropping the last handles sends RST for nothing (both sides finished) and GOAWAY.
    assert!(matches!(rx.next_significant().await, Frame::GoAway { last_good_stream_id: 0, .. }));
}

/// A stream the peer refuses fails `open` with the reset's status.
#[tokio::test]
async fn a_refused_stream_fails_open() {
    let (ours, theirs) = tokio::io::duplex(64 << 10);
    let session = Session::client(ours);
    let (mut rx, mut tx) = raw(theirs);
    let opener = tokio::spawn(async move { session.open(Headers::new()).await });
    assert!(matches!(rx.next_significant().await, Frame::SynStream { stream_id: 1, .. }));
    tx.send(Frame::RstStream { stream_id: 1, status: spdy::RstStatus::RefusedStream }).await;
    let err = timeout(LIMIT, opener).await.unwrap().unwrap().unwrap_err();
    assert!(matches!(err, spdy::Error::StreamReset { id: 1, status: spdy::RstStatus::RefusedStream }), "{err}");
}

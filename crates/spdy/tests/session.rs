//! Sessions end to end: a client and a server `Session` over an in-memory pipe exchange
//! streams both ways, half-close, move megabytes under flow control, ping and go away.

use spdy::{Error, Headers, RstStatus, Session};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(20);

fn pair() -> (Session, Session) {
    let (a, b) = tokio::io::duplex(64 << 10);
    (Session::client(a), Session::server(b))
}

fn kind(name: &str) -> Headers {
    Headers::new().with("streamType", name).with("x-stream-protocol-version", "v4.channel.k8s.io")
}

async fn read_all(stream: &mut spdy::Stream) -> Vec<u8> {
    let mut out = Vec::new();
    timeout(LIMIT, stream.read_to_end(&mut out)).await.expect("read timed out").expect("read failed");
    out
}

#[tokio::test]
async fn streams_flow_both_ways() {
    let (client, server) = pair();
    let echo = tokio::spawn(async move {
        let mut seen = Vec::new();
        for _ in 0..3 {
            let mut stream = server.accept().await.expect("a stream");
            assert_eq!(stream.id() % 2, 1, "client streams are odd");
            let name = stream.headers().get("streamtype").unwrap().to_owned();
            let body = read_all(&mut stream).await;
            stream.write_all(format!("{name}:").as_bytes()).await.unwrap();
            stream.write_all(&body).await.unwrap();
            stream.shutdown().await.unwrap();
            seen.push(name);
        }
        // Now the server opens one towards the client.
        let mut pushed = server.open(Headers::new().with("purpose", "push")).await.unwrap();
        assert_eq!(pushed.id() % 2, 0, "server streams are even");
        pushed.write_all(b"from the server").await.unwrap();
        pushed.shutdown().await.unwrap();
        assert_eq!(read_all(&mut pushed).await, b"thanks");
        (seen, server)
    });

    let mut streams = Vec::new();
    for name in ["error", "stdin", "stdout"] {
        let mut stream = client.open(kind(name)).await.unwrap();
        stream.write_all(name.repeat(3).as_bytes()).await.unwrap();
        stream.shutdown().await.unwrap();
        streams.push((name, stream));
    }
    for (name, mut stream) in streams {
        assert_eq!(read_all(&mut stream).await, format!("{name}:{}", name.repeat(3)).into_bytes());
    }
    let mut pushed = timeout(LIMIT, client.accept()).await.unwrap().expect("the server's stream");
    assert_eq!(pushed.headers().get("purpose"), Some("push"));
    assert_eq!(read_all(&mut pushed).await, b"from the server");
    pushed.write_all(b"thanks").await.unwrap();
    pushed.shutdown().await.unwrap();
    let (seen, _server) = echo.await.unwrap();
    assert_eq!(seen, ["error", "stdin", "stdout"]);
}

#[tokio::test]
async fn half_close_leaves_the_other_direction_open() {
    let (client, server) = pair();
    let mut ours = client.open(kind("stdin")).await.unwrap();
    let mut theirs = server.accept().await.unwrap();
    ours.write_all(b"request").await.unwrap();
    ours.shutdown().await.unwrap();
    assert_eq!(read_all(&mut theirs).await, b"request", "EOF after the peer's FIN");
    // The reader saw EOF yet can still answer, several times.
    for part in ["re", "sp", "onse"] {
        theirs.write_all(part.as_bytes()).await.unwrap();
        theirs.flush().await.unwrap();
    }
    let mut first = [0u8; 2];
    ours.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"re");
    theirs.shutdown().await.unwrap();
    assert_eq!(read_all(&mut ours).await, b"sponse");
    assert!(ours.write_all(b"late").await.is_err(), "no writes after our own shutdown");
}

#[tokio::test]
async fn five_megabytes_arrive_intact_under_flow_control() {
    let (client, server) = pair();
    let payload: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
    let expected = payload.clone();
    let receiver = tokio::spawn(async move {
        let mut stream = server.accept().await.unwrap();
        let got = read_all(&mut stream).await;
        // And back again, server to client.
        stream.write_all(&got).await.unwrap();
        stream.shutdown().await.unwrap();
        (got, server, stream)
    });
    let mut stream = client.open(kind("stdin")).await.unwrap();
    let (mut read, mut write) = tokio::io::split(stream);
    let sender = tokio::spawn(async move {
        write.write_all(&payload).await.unwrap();
        write.shutdown().await.unwrap();
        write
    });
    let mut echoed = Vec::new();
    timeout(LIMIT, read.read_to_end(&mut echoed)).await.unwrap().unwrap();
    let write = sender.await.unwrap();
    let (got, _server, _theirs) = receiver.await.unwrap();
    assert!(got == expected, "server received {} bytes, not the 5 MB sent", got.len());
    assert!(echoed == expected, "client received {} bytes back", echoed.len());
    stream = read.unsplit(write);
    drop(stream);
}

#[tokio::test]
async fn a_reader_that_does_not_read_stops_the_writer_at_the_window() {
    let (client, server) = pair();
    let mut stream = client.open(kind("stdin")).await.unwrap();
    let mut theirs = server.accept().await.unwrap();
    let writer = tokio::spawn(async move {
        let chunk = [7u8; 1024];
        let mut sent = 0usize;
        let counter = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = counter.clone();
        let progress = tokio::spawn(async move {
            for _ in 0..200 {
                stream.write_all(&chunk).await.unwrap();
                sent += chunk.len();
                counter.store(sent, std::sync::atomic::Ordering::SeqCst);
            }
            stream.shutdown().await.unwrap();
            stream
        });
        (seen, progress)
    });
    let (seen, progress) = writer.await.unwrap();
    let sent = || seen.load(std::sync::atomic::Ordering::SeqCst);
    timeout(LIMIT, async {
        while sent() < 60_000 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the writer should fill the window");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(sent() <= 65_536, "the writer went past the 64 KiB window: {}", sent());
    // Reading reopens the window and everything arrives.
    assert_eq!(read_all(&mut theirs).await.len(), 200 * 1024);
    let _stream = progress.await.unwrap();
}

#[tokio::test]
async fn pings_are_answered_both_ways() {
    let (client, server) = pair();
    let rtt = timeout(LIMIT, client.ping()).await.unwrap().unwrap();
    assert!(rtt < LIMIT);
    timeout(LIMIT, server.ping()).await.unwrap().unwrap();
    for _ in 0..5 {
        timeout(LIMIT, client.ping()).await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn reset_reaches_the_peer() {
    let (client, server) = pair();
    let mut ours = client.open(kind("stdout")).await.unwrap();
    let mut theirs = server.accept().await.unwrap();
    theirs.write_all(b"partial").await.unwrap();
    theirs.flush().await.unwrap();
    theirs.reset();
    let mut got = [0u8; 7];
    ours.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"partial", "data sent before the reset is delivered");
    let err = timeout(LIMIT, ours.read_u8()).await.unwrap().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
    assert_eq!(ours.peer_reset(), Some(RstStatus::Cancel));
    assert!(ours.write_all(b"x").await.is_err());
}

#[tokio::test]
async fn forbidden_headers_are_refused_locally() {
    let (client, _server) = pair();
    let err = client.open(Headers::new().with("Host", "example")).await.unwrap_err();
    assert!(matches!(err, Error::ForbiddenHeader(ref name) if name == "host"), "{err}");
}

#[tokio::test]
async fn close_sends_goaway_and_ends_both_sides() {
    let (client, server) = pair();
    let mut ours = client.open(kind("stdout")).await.unwrap();
    let mut theirs = server.accept().await.unwrap();
    theirs.write_all(b"last words").await.unwrap();
    timeout(LIMIT, server.close()).await.unwrap();
    assert!(server.is_closed());
    timeout(LIMIT, client.closed()).await.unwrap();
    assert_eq!(read_all(&mut ours).await, b"last words", "queued data precedes GOAWAY");
    assert!(client.accept().await.is_none());
    assert!(matches!(client.open(kind("stdin")).await, Err(Error::SessionEnded(_))));
    assert!(client.ping().await.is_err());
    assert!(theirs.write_all(b"more").await.is_err());
}

#[tokio::test]
async fn dropping_every_handle_goes_away() {
    let (client, server) = pair();
    let stream = client.open(kind("stdin")).await.unwrap();
    let accepted = server.accept().await.unwrap();
    drop(client);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!server.is_closed(), "a live stream keeps the client session up");
    drop(stream);
    timeout(LIMIT, server.closed()).await.unwrap();
    drop(accepted);
}

#[tokio::test]
async fn peer_disconnect_ends_the_session() {
    let (a, b) = tokio::io::duplex(1024);
    let server = Session::server(b);
    drop(a);
    timeout(LIMIT, server.closed()).await.unwrap();
    assert!(server.accept().await.is_none());
}

#[test]
fn handles_can_move_between_tasks() {
    fn assert_send_sync<T: Send + Sync + Unpin + 'static>() {}
    assert_send_sync::<Session>();
    assert_send_sync::<spdy::Stream>();
}

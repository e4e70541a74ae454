//! exec and attach over WebSocket `v5.channel.k8s.io` (what kubectl speaks) translated to
//! SPDY `v4.channel.k8s.io` (what the kubelet and containerd speak), as upstream's API
//! server's StreamTranslator does. WebSocket binary messages carry a channel byte: 0
//! stdin, 1 stdout, 2 stderr, 3 the final `Status`, 4 terminal resizes, 255 a close
//! signal (`[255, 0]` ends stdin). On SPDY each is a stream named by its `streamType`
//! header; the error stream carries the final `Status` (empty means success).

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use spdy::{Headers, Session, Stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const ERROR: u8 = 3;
const RESIZE: u8 = 4;
const CLOSE: u8 = 255;

/// Which streams the client asked for.
#[derive(Clone, Copy, Debug)]
pub struct Streams {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

async fn open(session: &Session, kind: &str) -> Option<Stream> {
    match session.open(Headers::new().with("streamType", kind)).await {
        Ok(stream) => Some(stream),
        Err(error) => {
            tracing::debug!(%error, kind, "opening a SPDY stream to the kubelet failed");
            None
        }
    }
}

/// The `Status` to send on channel 3 for what the error stream carried.
pub fn final_status(error_stream: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(error_stream);
    let text = text.trim();
    if text.is_empty() {
        return br#"{"metadata":{},"status":"Success"}"#.to_vec();
    }
    if text.starts_with('{') {
        return text.as_bytes().to_vec();
    }
    serde_json::to_vec(
        &serde_json::json!({"metadata": {}, "status": "Failure", "message": text, "reason": "InternalError"}),
    )
    .unwrap_or_default()
}

/// Translate between the client's WebSocket and a SPDY connection to the kubelet, until
/// the command ends or either side goes away.
pub async fn translate<W, B>(websocket: WebSocketStream<W>, backend: B, streams: Streams)
where
    W: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    B: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let session = Session::client(backend);
    let Some(mut error) = open(&session, "error").await else { return };
    let stdin = if streams.stdin { open(&session, "stdin").await } else { None };
    let stdout = if streams.stdout { open(&session, "stdout").await } else { None };
    let stderr = if streams.stderr { open(&session, "stderr").await } else { None };
    let resize = if streams.tty { open(&session, "resize").await } else { None };

    let (mut ws_out, mut ws_in) = websocket.split();
    // Everything toward the client goes through one queue, so frames never interleave.
    let (to_client, mut outgoing) = mpsc::channel::<Message>(64);
    let writer = tokio::spawn(async move {
        while let Some(message) = outgoing.recv().await {
            let close = matches!(message, Message::Close(_));
            if ws_out.send(message).await.is_err() || close {
                break;
            }
        }
    });

    // Client → kubelet: stdin, resizes, the close signal.
    let reader = tokio::spawn(async move {
        let (mut stdin, mut resize) = (stdin, resize);
        while let Some(Ok(message)) = ws_in.next().await {
            let Message::Binary(data) = message else {
                if matches!(message, Message::Close(_)) {
                    break;
                }
                continue;
            };
            let Some((&channel, payload)) = data.split_first() else { continue };
            match channel {
                STDIN => {
                    if let Some(stream) = stdin.as_mut()
                        && stream.write_all(payload).await.is_err()
                    {
                        stdin = None;
                    }
                }
                RESIZE => {
                    if let Some(stream) = resize.as_mut() {
                        let _ = stream.write_all(payload).await;
                    }
                }
                CLOSE if payload.first() == Some(&STDIN) => {
                    if let Some(mut stream) = stdin.take() {
                        let _ = stream.shutdown().await;
                    }
                }
                _ => {}
            }
        }
        if let Some(mut stream) = stdin.take() {
            let _ = stream.shutdown().await;
        }
    });

    // Kubelet → client: stdout and stderr until they end, then the final status.
    let copy = |stream: Option<Stream>, channel: u8| {
        let to_client = to_client.clone();
        async move {
            let Some(mut stream) = stream else { return };
            let mut buffer = vec![0u8; 32 * 1024];
            loop {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let mut frame = Vec::with_capacity(n + 1);
                        frame.push(channel);
                        frame.extend_from_slice(&buffer[..n]);
                        if to_client.send(Message::Binary(Bytes::from(frame))).await.is_err() {
                            break;
                        }
                    }
                }
            }
        }
    };
    let mut status = Vec::new();
    let (_, _, _) = tokio::join!(copy(stdout, STDOUT), copy(stderr, STDERR), error.read_to_end(&mut status));
    let mut frame = vec![ERROR];
    frame.extend(final_status(&status));
    let _ = to_client.send(Message::Binary(Bytes::from(frame))).await;
    // A normal closure: kubectl takes a close without a code as a failed stream.
    let normal = CloseFrame { code: CloseCode::Normal, reason: "".into() };
    let _ = to_client.send(Message::Close(Some(normal))).await;
    drop(to_client);
    let _ = writer.await;
    reader.abort();
    session.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_stream_becomes_the_final_status() {
        assert_eq!(final_status(b""), br#"{"metadata":{},"status":"Success"}"#);
        let failure = br#"{"metadata":{},"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}"#;
        assert_eq!(final_status(failure), failure.to_vec());
        let text: serde_json::Value = serde_json::from_slice(&final_status(b"boom")).unwrap();
        assert_eq!(text["message"], "boom");
    }
}

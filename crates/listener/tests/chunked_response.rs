//! A response held as many chunks, larger than the socket buffers, reaches a slow reader intact and in order.

use bytes::Bytes;
use futures::FutureExt;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket};
use weft_listener::{
    Chunks, Completion, Handler, Mute, RequestBudget, SecurityProtocol, Session, SessionLimits, serve,
};

/// Answers every request with the same many-chunk frame.
struct Big(Chunks);

impl Handler for Big {
    type Close = String;

    async fn handle(&self, _: &Session, _: Bytes) -> Result<Completion<String>, String> {
        let frame = self.0.clone();
        Ok(async move { Ok(Some(frame)) }.boxed())
    }
}

/// A frame like a fetch response: a size prefix, then 16-byte headers each followed by a 16 KiB body.
fn big_frame(batches: usize) -> (Chunks, Vec<u8>) {
    let mut chunks = Chunks::new();
    let body_len = batches * (16 + 16 * 1024);
    chunks.push(Bytes::copy_from_slice(&(body_len as i32).to_be_bytes()));
    for b in 0..batches {
        chunks.push(Bytes::from(vec![b as u8; 16]));
        chunks.push(Bytes::from((0..16 * 1024).map(|i| (i * 7 + b) as u8).collect::<Vec<_>>()));
    }
    let whole = chunks.to_bytes().to_vec();
    (chunks, whole)
}

#[tokio::test]
async fn many_chunk_response_larger_than_the_socket_buffer_arrives_intact_to_a_slow_reader() {
    let (frame, expected) = big_frame(512); // 8 MiB
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (socket, peer) = listener.accept().await.unwrap();
        let session = Session {
            peer,
            listener: "PLAINTEXT".into(),
            protocol: SecurityProtocol::Plaintext,
            principal: None,
            mute: Mute::default(),
        };
        let limits = SessionLimits {
            max_frame_bytes: 1024,
            max_inflight: 2,
            idle: Duration::from_secs(30),
            frame_read: Duration::from_secs(30),
        };
        let budget = RequestBudget::new(1 << 20);
        let (_stop, stop) = tokio::sync::watch::channel(false);
        serve(&Big(frame), session, socket.into_split(), limits, &budget, stop).await;
    });
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut client = socket.connect(addr).await.unwrap();
    // Two pipelined requests: both responses come back whole and in order.
    for _ in 0..2 {
        client.write_all(&[0, 0, 0, 4, 1, 2, 3, 4]).await.unwrap();
    }
    let mut got = Vec::new();
    let mut buf = vec![0u8; 3000];
    let mut reads = 0u32;
    while got.len() < 2 * expected.len() {
        let n = client.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed after {} bytes", got.len());
        got.extend_from_slice(&buf[..n]);
        reads += 1;
        if reads.is_multiple_of(64) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    assert_eq!(got.len(), 2 * expected.len());
    assert!(got[..expected.len()] == expected[..], "first response differs");
    assert!(got[expected.len()..] == expected[..], "second response differs");
    drop(client);
    tokio::time::timeout(Duration::from_secs(10), server).await.unwrap().unwrap();
}

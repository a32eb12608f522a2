//! The peer listener and client over real sockets, on an in-memory store: whole objects and ranges are
//! served from the cache or the store; keys that are not data objects, bad ranges and missing objects are
//! refused; a peer that is gone is reported as unreachable and then rests.

use bytes::Bytes;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use weft_peer::{PeerClient, PeerClientOptions, ServerLimits};
use weft_storage::{ObjectStorage, Peer, PeerFailure, keys};

struct Served {
    storage: ObjectStorage,
    addr: SocketAddr,
    _stop: watch::Sender<bool>,
}

async fn served() -> Served {
    let storage = ObjectStorage::open("memory://", 1 << 20).expect("store");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = watch::channel(false);
    let limits = ServerLimits { max_connections: 4, header_timeout: Duration::from_secs(2) };
    tokio::spawn(weft_peer::serve(storage.clone(), listener, limits, Default::default(), stopped));
    Served { storage, addr, _stop: stop }
}

fn client() -> PeerClient {
    PeerClient::new(PeerClientOptions::with_timeout(Duration::from_secs(2)), None).expect("client")
}

fn peer(addr: SocketAddr) -> Peer {
    Peer { node_id: 1, endpoint: addr.to_string() }
}

/// The status line of a raw request.
async fn raw(addr: SocketAddr, request: &str) -> String {
    let mut socket = tokio::net::TcpStream::connect(addr).await.expect("connect");
    socket.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).lines().next().unwrap_or_default().to_string()
}

#[tokio::test]
async fn whole_objects_and_ranges_are_served() {
    let s = served().await;
    let key = keys::segment_key(1_700_000_000_000, 7);
    s.storage.put_durable(&key, Bytes::from_static(b"hello world")).await.expect("put");
    let c = client();
    assert_eq!(&c.read(&peer(s.addr), &key, None).await.expect("whole")[..], b"hello world");
    assert_eq!(&c.read(&peer(s.addr), &key, Some(6..11)).await.expect("range")[..], b"world");
    assert_eq!(&c.read(&peer(s.addr), &key, Some(3..3)).await.expect("empty")[..], b"");
    // Not cached here: read from the store once, then from the cache.
    let merged = keys::merged_key(1_700_000_000_000, 8);
    s.storage.put_durable(&merged, Bytes::from_static(b"abc")).await.expect("put");
    s.storage.cache().remove(&merged);
    assert_eq!(&c.read(&peer(s.addr), &merged, None).await.expect("whole")[..], b"abc");
    assert!(s.storage.cache().get(&merged).is_some(), "a whole object read for a peer is cached");
}

#[tokio::test]
async fn bad_keys_ranges_and_missing_objects_are_refused() {
    let s = served().await;
    let key = keys::segment_key(1_700_000_000_000, 7);
    s.storage.put_durable(&key, Bytes::from_static(b"hello")).await.expect("put");
    let c = client();
    let missing = keys::segment_key(1_700_000_000_000, 8);
    assert_eq!(c.read(&peer(s.addr), &missing, None).await, Err(PeerFailure::Status(404)));
    assert_eq!(c.read(&peer(s.addr), &key, Some(3..9)).await, Err(PeerFailure::Status(416)));
    assert_eq!(c.read(&peer(s.addr), "v1/probes/x.probe", None).await, Err(PeerFailure::Status(400)));
    let get = |path: &str, extra: &str| format!("GET {path} HTTP/1.1\r\nhost: x\r\n{extra}connection: close\r\n\r\n");
    let traversal = "/v1/objects/v1/segments/../../etc/passwd";
    assert!(raw(s.addr, &get(traversal, "")).await.contains(" 400 "));
    let encoded = "/v1/objects/v1%2Fsegments%2F..%2F1700000000000-0000000000000007.seg";
    assert!(raw(s.addr, &get(encoded, "")).await.contains(" 400 "));
    let path = format!("/v1/objects/{key}");
    assert!(raw(s.addr, &get(&path, "range: bytes=0-1,3-4\r\n")).await.contains(" 400 "));
    assert!(raw(s.addr, &get(&path, "range: bytes=-2\r\n")).await.contains(" 400 "));
    assert!(raw(s.addr, &get(&path, "")).await.contains(" 200 "));
    assert!(
        raw(s.addr, &format!("DELETE {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")).await.contains(" 405 ")
    );
    assert!(raw(s.addr, &get("/metrics", "")).await.contains(" 404 "));
}

#[tokio::test]
async fn a_peer_that_is_gone_is_unreachable_and_then_rests() {
    let gone = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let c = client();
    let key = keys::segment_key(1_700_000_000_000, 7);
    assert!(matches!(c.read(&peer(gone), &key, None).await, Err(PeerFailure::Unreachable(_))));
    assert_eq!(c.read(&peer(gone), &key, None).await, Err(PeerFailure::CoolingDown));
}

#[tokio::test]
async fn a_peer_that_never_answers_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let held = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.expect("accept");
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(socket);
    });
    let c = PeerClient::new(PeerClientOptions::with_timeout(Duration::from_millis(300)), None).expect("client");
    let key = keys::segment_key(1_700_000_000_000, 7);
    assert_eq!(c.read(&peer(addr), &key, None).await, Err(PeerFailure::Timeout));
    held.abort();
}

//! The bounded listener over real sockets: each request carries its connection; at the connection limit a
//! further connection waits until one closes; shutdown stops the loop.

use axum::routing::get;
use axum::{Extension, Router};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use weft_http::{Connection, HttpLimits};

async fn served(max_connections: usize) -> (std::net::SocketAddr, watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let app = Router::new().route(
        "/who",
        get(|Extension(c): Extension<Connection>| async move { format!("{} {} {}", c.listener, c.peer, c.tls) }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = watch::channel(false);
    let limits = HttpLimits { name: "test", max_connections, header_timeout: Duration::from_secs(5), tls: None };
    (addr, stop, tokio::spawn(weft_http::serve(listener, app, limits, stopped)))
}

/// Sends a GET on `socket` and reads until the body arrives (or 2 s pass): the answer so far.
async fn ask(socket: &mut TcpStream) -> String {
    socket.write_all(b"GET /who HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while !String::from_utf8_lossy(&answer).contains(" false") {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    String::from_utf8_lossy(&answer).to_string()
}

#[tokio::test]
async fn requests_carry_their_connection_and_the_limit_holds_until_one_closes() {
    let (addr, stop, task) = served(1).await;
    let mut first = TcpStream::connect(addr).await.unwrap();
    let local = first.local_addr().unwrap();
    assert!(ask(&mut first).await.ends_with(&format!("test {local} false")));
    // The second connection sits in the backlog: no answer while the first is open.
    let mut second = TcpStream::connect(addr).await.unwrap();
    assert!(!ask(&mut second).await.contains("200 OK"), "served beyond the limit");
    drop(first);
    let mut answer = String::new();
    let mut buf = [0u8; 1024];
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while !answer.contains(" false") {
            match second.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.push_str(&String::from_utf8_lossy(&buf[..n])),
            }
        }
    })
    .await;
    assert!(answer.contains("200 OK"), "served once the first closed: {answer:?}");
    stop.send_replace(true);
    tokio::time::timeout(Duration::from_secs(5), task).await.expect("the loop ends at shutdown").unwrap();
}

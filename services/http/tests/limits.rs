//! The server's limits against real sockets: slow clients are cut off while others are
//! served, and over the connection cap new clients wait until a connection closes.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use axum::{Router, body::Bytes, extract::ConnectInfo, http::StatusCode, routing::get};
use ptrack_http::Limits;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use tokio_util::sync::{CancellationToken, DropGuard};

/// The server on a free port; it stops when the guard is dropped.
async fn start(limits: Limits) -> (SocketAddr, DropGuard, tokio::task::JoinHandle<()>) {
    let app = Router::new()
        .route("/", get(|| async { "ok" }))
        .route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
        )
        .route(
            "/upload",
            axum::routing::post(
                |body: Result<Bytes, axum::extract::rejection::BytesRejection>| async move {
                    match body {
                        Ok(body) => (StatusCode::OK, format!("{} bytes", body.len())),
                        Err(rejection) => (StatusCode::BAD_REQUEST, rejection.body_text()),
                    }
                },
            ),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let stopped = stop.clone().cancelled_owned();
    let server = tokio::spawn(async move {
        ptrack_http::serve(listener, app, limits, stopped)
            .await
            .unwrap()
    });
    (addr, stop.drop_guard(), server)
}

/// One `GET` on its own connection; the status line and body.
async fn get_once(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

/// Reads until the server closes the connection; what it sent and when it closed.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(limit, stream.read_to_end(&mut answer)).await;
    assert!(
        read.is_ok(),
        "the server kept the connection open for {limit:?}"
    );
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}

fn limits(header_ms: u64, body_ms: u64, max_connections: usize) -> Limits {
    Limits {
        header_timeout: Duration::from_millis(header_ms),
        body_timeout: Duration::from_millis(body_ms),
        max_connections,
    }
}

#[tokio::test]
async fn half_sent_headers_are_cut_off_while_others_are_served() {
    let (addr, _stop, _server) = start(limits(500, 10_000, 100)).await;
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n")
        .await
        .unwrap();
    // While the slow client holds its connection, others are answered at once.
    for _ in 0..3 {
        let started = Instant::now();
        let answer = get_once(addr, "/").await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(started.elapsed() < Duration::from_millis(400));
    }
    let (answer, after) = read_until_closed(&mut slow, Duration::from_secs(5)).await;
    assert!(
        !answer.contains(" 200 "),
        "the slow client got an answer: {answer}"
    );
    assert!(
        after < Duration::from_secs(2),
        "cut off only after {after:?} (header timeout 500 ms)"
    );

    // A client that connects and sends nothing at all is cut off the same way.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let (answer, after) = read_until_closed(&mut silent, Duration::from_secs(5)).await;
    assert!(!answer.contains(" 200 "), "{answer}");
    assert!(
        after >= Duration::from_millis(400),
        "cut off too early: {after:?}"
    );

    // So is a keep-alive connection left idle after its request.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let (answer, after) = read_until_closed(&mut idle, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        after < Duration::from_secs(2),
        "idle for {after:?} before it was closed"
    );
}

#[tokio::test]
async fn a_trickling_body_is_cut_off_while_others_are_served() {
    let (addr, _stop, _server) = start(limits(5_000, 800, 100)).await;
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n")
        .await
        .unwrap();
    let trickle = tokio::spawn(async move {
        let started = Instant::now();
        // A byte every 100 ms: each read succeeds, the whole body never arrives in time.
        for _ in 0..100 {
            if slow.write_all(b"x").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            if started.elapsed() > Duration::from_secs(1) {
                break;
            }
        }
        let (answer, _) = read_until_closed(&mut slow, Duration::from_secs(5)).await;
        (answer, started.elapsed())
    });
    let answer = get_once(addr, "/").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // A quick body is read whole.
    let mut quick = TcpStream::connect(addr).await.unwrap();
    quick
        .write_all(b"POST /upload HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello")
        .await
        .unwrap();
    let (answer, _) = read_until_closed(&mut quick, Duration::from_secs(5)).await;
    assert!(answer.contains("5 bytes"), "{answer}");

    let (answer, after) = trickle.await.unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 400"),
        "the trickling body was not refused: {answer:?}"
    );
    assert!(answer.contains("not received in time"), "{answer}");
    assert!(
        after < Duration::from_secs(3),
        "cut off only after {after:?}"
    );
}

#[tokio::test]
async fn over_the_connection_cap_new_clients_wait_until_one_closes() {
    let (addr, _stop, _server) = start(limits(10_000, 10_000, 2)).await;
    // Two keep-alive connections, each served once and held open.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 256];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        held.push(stream);
    }
    // A third client is not served while both are open...
    let third = tokio::spawn(async move {
        let started = Instant::now();
        let answer = get_once(addr, "/peer").await;
        (answer, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !third.is_finished(),
        "a third connection was served over a cap of 2"
    );
    // ...and is as soon as one closes; the held one still works meanwhile.
    let mut first = held.remove(0);
    first
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (answer, _) = read_until_closed(&mut first, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(first);
    let (answer, waited) = tokio::time::timeout(Duration::from_secs(5), third)
        .await
        .expect("the waiting client was never served")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(waited >= Duration::from_millis(500), "{waited:?}");
    // The handler saw the client's own address.
    assert!(
        answer.ends_with("127.0.0.1") || answer.contains("127.0.0.1:"),
        "{answer}"
    );
}

#[tokio::test]
async fn shutdown_waits_for_the_request_in_flight_then_returns() {
    let (addr, stop, server) = start(limits(10_000, 10_000, 10)).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nab")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(stop);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!server.is_finished(), "stopped with a request in flight");
    stream.write_all(b"cd").await.unwrap();
    let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(answer.contains("4 bytes"), "{answer}");
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server did not return after its last connection closed")
        .unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "still accepting");
}

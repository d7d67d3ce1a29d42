//! Senders that stop in the middle of a body: they hold the bytes they sent, never a
//! turn that other writes wait for, and their bytes are bounded together.

use std::time::{Duration, Instant};

use harbinger::ingest::proto::SeriesSample;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::server::*;

/// Opens a write that declares `declared` bytes of body, sends `sent` of them and stops.
async fn stall(server: &Server, declared: usize, sent: usize) -> TcpStream {
    let address = server.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /api/v1/write HTTP/1.1\r\nhost: {address}\r\ncontent-type: {V1}\r\n\
         content-encoding: snappy\r\ncontent-length: {declared}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&vec![0u8; sent]).await.unwrap();
    stream.flush().await.unwrap();
    stream
}

/// The status line the server finally answers on a stalled connection.
async fn status_line(mut stream: TcpStream) -> String {
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    text.lines().next().unwrap_or_default().to_owned()
}

/// The only turn (`max_concurrent_writes: 1`) is not taken by a sender that stalls
/// mid-body: a write meanwhile is answered 204 at once, and the stalled one 503 at
/// `read_timeout` (503, so that Prometheus retries it).
#[tokio::test]
async fn a_stalled_body_holds_no_turn() {
    let server = start(
        "read_timeout: 8s\ningest:\n  max_concurrent_writes: 1\n",
        false,
    )
    .await;
    let stalled = stall(&server, 1000, 10).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = Instant::now();
    let body = v1_body(&[SeriesSample::new(UP, now_ms(), 1.0)]);
    let answer = server.post(Some(V1), None, body).await;
    assert_eq!(answer.status, 204, "{}", answer.body);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the write waited {:?} behind a stalled body",
        started.elapsed()
    );
    assert_eq!(server.handle.active_series(), 1);

    assert_eq!(
        status_line(stalled).await,
        "HTTP/1.1 503 Service Unavailable"
    );
    let timeouts = "harbinger_requests_rejected_total{reason=\"body_timeout\"}";
    assert_eq!(server.metric(timeouts).await, 1.0);
}

/// The bytes of bodies being read are bounded together (`max_concurrent_writes ×
/// max_body_bytes`, here 1 KiB): when stalled senders hold them all, another write
/// waits 10 s for room, then is answered 503 without being written; once the stalled
/// bodies time out, their bytes are free again.
#[tokio::test]
async fn stalled_bodies_hold_at_most_their_budget() {
    let yaml = "read_timeout: 15s\ningest:\n  max_concurrent_writes: 1\n  max_body_bytes: 1KiB\n";
    let server = start(yaml, false).await;
    let stalled = stall(&server, 1024, 1000).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let body = v1_body(&[SeriesSample::new(UP, now_ms(), 1.0)]);
    assert!(body.len() > 24, "the body must not fit in the room left");
    let answer = server.post(Some(V1), None, body.clone()).await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert!(answer.body.contains("overloaded"), "{}", answer.body);
    assert_eq!(server.handle.active_series(), 0);

    assert_eq!(
        status_line(stalled).await,
        "HTTP/1.1 503 Service Unavailable"
    );
    let answer = server.post(Some(V1), None, body).await;
    assert_eq!(answer.status, 204, "{}", answer.body);
    assert_eq!(server.handle.active_series(), 1);
}

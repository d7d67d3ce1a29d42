//! `POST /api/v1/write` as a sender sees it: every status code and header the receiver
//! answers, each refusal checked to leave the registry unchanged. The app runs in-process
//! on port 0 and is spoken to over real HTTP.

#[path = "http_write/refusals.rs"]
mod refusals;
#[path = "http_write/server.rs"]
mod server;
#[path = "http_write/stalls.rs"]
mod stalls;

use harbinger::ingest::proto::{self, SeriesSample, v2};
use harbinger::pipeline::PipelineEvent;

use server::*;

#[tokio::test]
async fn v1_and_v2_are_accepted_and_v2_reports_what_was_written() {
    let server = start("", false).await;
    let answer = server
        .post(None, None, v1_body(&[SeriesSample::new(UP, 1000, 1.0)]))
        .await;
    assert_eq!(answer.status, 204, "{}", answer.body);
    assert_eq!(
        written(&answer),
        None,
        "1.0 answers carry no written headers"
    );

    // Same label set through 2.0: the same series. 1000 was seen, 500 is older.
    let answer = server
        .post(
            Some(V2),
            Some("snappy"),
            v2_body(&[1, 2, 3, 4], &[500, 1000, 2000, 3000]),
        )
        .await;
    // The duplicate of 1000 counts as written (the sender retried data harbinger holds);
    // the older sample does not, so this is a partial write: the rest is written, and
    // 2.0 forbids a 2xx answer.
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(
        answer
            .body
            .contains("1 samples not newer than their series' latest"),
        "{}",
        answer.body
    );
    assert_eq!(written(&answer), Some([3, 0, 0]));
    assert_eq!(server.handle.active_series(), 1);
    assert_eq!(
        server
            .metric("harbinger_samples_dropped_total{reason=\"out_of_order\"}")
            .await,
        1.0
    );
    assert_eq!(
        server
            .metric("harbinger_samples_dropped_total{reason=\"duplicate\"}")
            .await,
        1.0
    );
    assert_eq!(server.metric("harbinger_samples_received_total").await, 5.0);

    let series = server.get("/api/v1/series?metric=up").await;
    let json: serde_json::Value = serde_json::from_str(&series.body).unwrap();
    assert_eq!(json["data"][0]["labels"]["job"], "node");
    assert_eq!(json["data"][0]["timestamp_ms"], 3000);
}

/// The 2.0 spec's partial write, both ways: valid series are written and invalid ones
/// refused, the answer is 400 naming the first refused series, and the written-count
/// headers count exactly what was written; a request with nothing wrong is 204.
#[tokio::test]
async fn a_v2_partial_write_writes_the_valid_series_and_counts_them_exactly() {
    let server = start("", false).await;
    let request = |timeseries| {
        proto::encode_snappy(&v2::Request {
            symbols: SYMBOLS.map(String::from).to_vec(),
            timeseries,
        })
    };
    let answer = server
        .post(
            Some(V2),
            None,
            request(vec![
                v2_series(&[1, 2, 3, 4], &[10, 20], vec![]),
                // No __name__.
                v2_series(&[3, 4], &[10], vec![]),
                // A histogram whose count (4) is not its buckets' (3).
                v2_series(&[1, 5], &[], vec![histogram(4)]),
                // Samples and histograms in one series.
                v2_series(&[1, 5, 3, 4], &[10], vec![histogram(3)]),
            ]),
        )
        .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(written(&answer), Some([2, 0, 0]));
    assert_eq!(
        answer.body.trim(),
        "not written: 2 samples, 2 histograms, 0 exemplars (the rest was written); 3 series \
         refused, the first: series 1: no __name__ label"
    );
    assert_eq!(server.handle.active_series(), 1);
    let series = server.get("/api/v1/series?metric=up").await;
    let json: serde_json::Value = serde_json::from_str(&series.body).unwrap();
    assert_eq!(json["data"][0]["timestamp_ms"], 20);
    assert_eq!(
        server
            .metric("harbinger_samples_dropped_total{reason=\"invalid_series\"}")
            .await,
        2.0
    );
    assert_eq!(
        server
            .metric("harbinger_requests_rejected_total{reason=\"no_metric_name\"}")
            .await,
        1.0
    );

    // The histogram alone, named: its problem is the first.
    let answer = server
        .post(
            Some(V2),
            None,
            request(vec![v2_series(&[1, 5], &[], vec![histogram(4)])]),
        )
        .await;
    assert_eq!(answer.status, 400);
    assert!(
        answer.body.contains(
            "series 0: histogram 0: 3 observations in the zero and other buckets, but the \
             count is 4"
        ),
        "{}",
        answer.body
    );
    assert_eq!(written(&answer), Some([0, 0, 0]));

    // Nothing wrong: 204, everything counted.
    let answer = server
        .post(
            Some(V2),
            None,
            request(vec![
                v2_series(&[1, 2, 3, 4], &[30], vec![]),
                v2_series(&[1, 5], &[], vec![histogram(3)]),
            ]),
        )
        .await;
    assert_eq!(answer.status, 204, "{}", answer.body);
    assert_eq!(written(&answer), Some([1, 1, 0]));
}

#[tokio::test]
async fn a_full_queue_answers_503_and_keeps_nothing() {
    let mut server = start("ingest:\n  queue_capacity: 1\n", true).await;
    assert_eq!(
        server
            .post(Some(V1), None, v1_body(&[SeriesSample::new(UP, 1, 1.0)]))
            .await
            .status,
        204
    );
    let before = server.handle.registry_digest();
    let answer = server
        .post(Some(V2), None, v2_body(&[1, 2, 3, 4], &[2]))
        .await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert!(answer.body.contains("queue is full"));
    assert_eq!(written(&answer), Some([0, 0, 0]));
    assert_eq!(server.handle.registry_digest(), before);

    // The pipeline takes the first batch: the retried request now goes through.
    let events = server.events.as_mut().unwrap();
    match events.recv().await.unwrap() {
        PipelineEvent::Samples(samples) => assert_eq!(samples.len(), 1),
        other => panic!("unexpected event {other:?}"),
    }
    assert_eq!(
        server
            .post(Some(V2), None, v2_body(&[1, 2, 3, 4], &[2]))
            .await
            .status,
        204
    );
}

#[tokio::test]
async fn bearer_and_basic_auth_guard_the_write_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "t0ken\n").unwrap();
    let server = start(
        &format!(
            "write_auth:\n  bearer:\n    token_file: {}\n",
            token.display()
        ),
        false,
    )
    .await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/write", server.url);
    for auth in [None, Some("Bearer wrong"), Some("Basic dDBrZW4=")] {
        let mut request = client
            .post(&url)
            .body(v1_body(&[SeriesSample::new(UP, 1, 1.0)]));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{auth:?}");
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
    }
    assert_eq!(server.handle.active_series(), 0);
    let ok = client
        .post(&url)
        .bearer_auth("t0ken")
        .body(v1_body(&[SeriesSample::new(UP, 1, 1.0)]))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 204);

    // SAFETY of the test: the variable name is unique to this test.
    unsafe { std::env::set_var("HARBINGER_TEST_BASIC_PASSWORD", "pw") };
    let basic = start("write_auth:\n  basic:\n    username: prom\n    password_env: HARBINGER_TEST_BASIC_PASSWORD\n", false).await;
    let url = format!("{}/api/v1/write", basic.url);
    let wrong = client
        .post(&url)
        .basic_auth("prom", Some("nope"))
        .body(v1_body(&[SeriesSample::new(UP, 1, 1.0)]))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let right = client
        .post(&url)
        .basic_auth("prom", Some("pw"))
        .body(v1_body(&[SeriesSample::new(UP, 1, 1.0)]))
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 204);
}

#[tokio::test]
async fn operational_endpoints_answer() {
    let server = start("", false).await;
    assert_eq!(server.get("/-/healthy").await.status, 200);
    assert_eq!(server.get("/-/ready").await.status, 200);
    let metrics = server.get("/metrics").await;
    for name in [
        "harbinger_samples_received_total",
        "harbinger_active_series",
        "harbinger_request_decode_seconds_bucket",
        "harbinger_queue_depth",
        "harbinger_active_series_limit_reached",
        "harbinger_build_info",
    ] {
        assert!(metrics.body.contains(name), "{name} missing from /metrics");
    }
}

#[tokio::test]
async fn shutdown_finishes_in_flight_requests_then_stops() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut server = start("shutdown_timeout: 10s\n", false).await;
    let body = v1_body(&[SeriesSample::new(UP, 1, 1.0)]);
    // A request whose body is still on its way when the signal comes.
    let address = server.url.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /api/v1/write HTTP/1.1\r\nhost: {address}\r\ncontent-type: {V1}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..body.len() / 2]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    server.stop.take().unwrap().send(()).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(
        !server.task.is_finished(),
        "stopped before the in-flight request"
    );
    assert!(
        tokio::net::TcpStream::connect(&address).await.is_err(),
        "still accepting new connections"
    );

    stream.write_all(&body[body.len() / 2..]).await.unwrap();
    let mut answer = vec![0; 256];
    let read = stream.read(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
    drop(stream);

    let finished = tokio::time::timeout(std::time::Duration::from_secs(5), &mut server.task).await;
    assert!(matches!(finished, Ok(Ok(Ok(())))), "{finished:?}");
    assert_eq!(server.handle.active_series(), 1);
    assert_eq!(server.handle.queued_batches(), 0, "queue not drained");
}

#[tokio::test]
async fn accepted_samples_reach_the_pipelines_signals_step_by_step() {
    let server = start("", false).await;
    let disk = |name: &'static str| -> [(&'static str, &'static str); 4] {
        [
            ("__name__", name),
            ("instance", "app-1"),
            ("job", "node"),
            ("mountpoint", "/data"),
        ]
    };
    let (avail, size) = (
        disk("node_filesystem_avail_bytes"),
        disk("node_filesystem_size_bytes"),
    );
    // A sender whose clock runs a day ahead: its sample is dropped, and does not move
    // the pipeline's step clock (which would stop every entity's steps for a day).
    let future = SeriesSample::new(&[("__name__", "node_load1")], now_ms() + 86_400_000, 1.0);
    assert_eq!(
        server.post(Some(V1), None, v1_body(&[future])).await.status,
        204
    );
    // Ten scrapes, 15 s apart, of a filesystem filling up, in the last few minutes; the
    // first on a step, so that the first step already sees the filesystem.
    let start = (now_ms() - 300_000) / 15_000 * 15_000;
    for scrape in 0..10i64 {
        let t = start + scrape * 15_000;
        let free = 400.0 - 10.0 * scrape as f64;
        let body = v1_body(&[
            SeriesSample::new(&avail[..], t, free),
            SeriesSample::new(&size[..], t, 1000.0),
        ]);
        assert_eq!(server.post(Some(V1), None, body).await.status, 204);
    }
    // The default pipeline steps every 15 s, one step behind the newest sample.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let steps = server.metric("harbinger_pipeline_steps_total").await;
        if steps >= 9.0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "only {steps} steps evaluated"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // One entity (the filesystem) for the disk signal; the other signals have no data.
    assert_eq!(
        server.metric("harbinger_pipeline_feature_states").await,
        1.0
    );
    assert_eq!(
        server
            .metric("harbinger_pipeline_evaluation_errors_total")
            .await,
        0.0
    );
    assert!(server.metric("harbinger_pipeline_feature_bytes").await > 0.0);
}

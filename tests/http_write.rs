//! `POST /api/v1/write` as a sender sees it: every status code and header the receiver
//! answers, each refusal checked to leave the registry unchanged. The app runs in-process
//! on port 0 and is spoken to over real HTTP.

use std::path::Path;

use harbinger::config::{Config, ValidConfig};
use harbinger::ingest::proto::{self, SeriesSample, v2};
use harbinger::pipeline::PipelineEvent;
use harbinger::server::{App, AppHandle, Role};
use reqwest::StatusCode;
use tokio::sync::{mpsc, oneshot};

const V1: &str = "application/x-protobuf;proto=prometheus.WriteRequest";
const V2: &str = "application/x-protobuf;proto=io.prometheus.write.v2.Request";

struct Server {
    url: String,
    handle: AppHandle,
    events: Option<mpsc::Receiver<PipelineEvent>>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _data_dir: tempfile::TempDir,
}

/// Starts the app on a free port; `own_queue` keeps the pipeline queue's receiving end
/// in the test (nothing consumes it unless the test does).
async fn start(yaml: &str, own_queue: bool) -> Server {
    let data_dir = tempfile::tempdir().unwrap();
    let mut config = Config::from_yaml(yaml).unwrap();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.data_dir = data_dir.path().to_owned();
    let valid: ValidConfig = config.validate(Path::new("test.yml")).unwrap();
    let mut app = App::build(valid, Role::All).await.unwrap();
    let events = if own_queue { app.take_events() } else { None };
    let url = format!("http://{}", app.local_addr());
    let handle = app.handle();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(app.run(async {
        let _ = stopped.await;
    }));
    Server {
        url,
        handle,
        events,
        stop: Some(stop),
        task,
        _data_dir: data_dir,
    }
}

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Server {
    async fn post(
        &self,
        content_type: Option<&str>,
        encoding: Option<&str>,
        body: Vec<u8>,
    ) -> Answer {
        let mut request = reqwest::Client::new().post(format!("{}/api/v1/write", self.url));
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        if let Some(encoding) = encoding {
            request = request.header("content-encoding", encoding);
        }
        answer(request.body(body).send().await.unwrap()).await
    }

    async fn get(&self, path: &str) -> Answer {
        answer(reqwest::get(format!("{}{path}", self.url)).await.unwrap()).await
    }

    async fn metric(&self, line_prefix: &str) -> f64 {
        let text = self.get("/metrics").await.body;
        text.lines()
            .find(|line| line.starts_with(line_prefix))
            .and_then(|line| line.rsplit(' ').next())
            .map_or(0.0, |value| value.parse().unwrap())
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    Answer {
        status: response.status(),
        headers: response.headers().clone(),
        body: response.text().await.unwrap(),
    }
}

fn written(answer: &Answer) -> Option<[u64; 3]> {
    let get = |kind: &str| {
        answer
            .headers
            .get(format!("x-prometheus-remote-write-{kind}-written"))
            .map(|v| v.to_str().unwrap().parse().unwrap())
    };
    Some([get("samples")?, get("histograms")?, get("exemplars")?])
}

/// One sample of the series `labels`.
fn sample<'a>(labels: &'a [(&'a str, &'a str)], timestamp_ms: i64, value: f64) -> SeriesSample<'a> {
    SeriesSample {
        labels,
        timestamp_ms,
        value,
    }
}

/// A snappy-compressed 1.0 request with one sample per series.
fn v1_body(series: &[SeriesSample]) -> Vec<u8> {
    proto::encode_snappy(&proto::v1_request(series))
}

/// A 2.0 request of one series over the symbols `["", "__name__", "up", "job", "node"]`.
fn v2_body(refs: &[u32], timestamps: &[i64]) -> Vec<u8> {
    proto::encode_snappy(&v2::Request {
        symbols: SYMBOLS[..5].iter().map(|s| s.to_string()).collect(),
        timeseries: vec![v2_series(refs, timestamps, vec![])],
    })
}

const UP: &[(&str, &str)] = &[("__name__", "up"), ("job", "node")];

/// A request the receiver must refuse, and how it answers.
struct Refusal {
    /// What is wrong with the request.
    name: &'static str,
    content_type: Option<&'static str>,
    encoding: Option<&'static str>,
    body: Vec<u8>,
    /// The status code of the answer.
    status: u16,
    /// Words the one-line error body contains.
    words: &'static str,
}

#[tokio::test]
async fn every_refusal_has_its_status_and_changes_nothing() {
    let server = start(
        "ingest:\n  max_body_bytes: 64KiB\n  max_decoded_bytes: 1MiB\n  max_labels_per_series: 4\n",
        false,
    )
    .await;
    assert_eq!(
        server
            .post(Some(V1), Some("snappy"), v1_body(&[sample(UP, 1, 1.0)]))
            .await
            .status,
        204
    );
    let before = server.handle.registry_digest();

    let huge_claim = vec![0xff, 0xff, 0xff, 0x7f];
    let five_labels: &[(&str, &str)] = &[
        ("__name__", "x"),
        ("a", ""),
        ("b", ""),
        ("c", ""),
        ("d", ""),
    ];
    let cases = vec![
        Refusal {
            name: "not snappy",
            content_type: Some(V1),
            encoding: Some("snappy"),
            body: b"plain bytes".to_vec(),
            status: 400,
            words: "snappy",
        },
        Refusal {
            name: "not protobuf",
            content_type: Some(V1),
            encoding: None,
            body: proto::snappy(&[0x0a, 0x7f]),
            status: 400,
            words: "protobuf: truncated",
        },
        Refusal {
            name: "unsorted labels",
            content_type: Some(V1),
            encoding: None,
            body: v1_body(&[
                sample(UP, 2, 1.0),
                sample(&[("job", "x"), ("__name__", "up")], 2, 1.0),
            ]),
            status: 400,
            words: "series 1: label \"__name__\": labels not sorted by name",
        },
        Refusal {
            name: "duplicate label",
            content_type: Some(V1),
            encoding: None,
            body: v1_body(&[sample(
                &[("__name__", "up"), ("job", "a"), ("job", "b")],
                2,
                1.0,
            )]),
            status: 400,
            words: "series 0: label \"job\": duplicate label name",
        },
        Refusal {
            name: "empty label name",
            content_type: Some(V1),
            encoding: None,
            body: v1_body(&[sample(&[("", "x"), ("__name__", "up")], 2, 1.0)]),
            status: 400,
            words: "series 0: label 0: empty label name",
        },
        Refusal {
            name: "too many labels",
            content_type: Some(V1),
            encoding: None,
            body: v1_body(&[sample(five_labels, 2, 1.0)]),
            status: 400,
            words: "series 0: 5 labels exceed the limit of 4 per series",
        },
        Refusal {
            name: "odd v2 refs",
            content_type: Some(V2),
            encoding: None,
            body: v2_body(&[1, 2, 3], &[2]),
            status: 400,
            words: "series 0: odd number of label refs (3)",
        },
        Refusal {
            name: "v2 ref out of range",
            content_type: Some(V2),
            encoding: None,
            body: v2_body(&[1, 2, 3, 9], &[2]),
            status: 400,
            words: "series 0: symbol ref 9 is out of range of the 5 symbols",
        },
        Refusal {
            name: "decoded size over the limit",
            content_type: Some(V1),
            encoding: None,
            body: huge_claim,
            status: 413,
            words: "exceeds the limit of 1048576 bytes",
        },
        Refusal {
            name: "body over the limit",
            content_type: Some(V1),
            encoding: None,
            body: vec![0; 65 * 1024],
            status: 413,
            words: "request body exceeds the limit of 65536 bytes",
        },
        Refusal {
            name: "gzip encoding",
            content_type: Some(V1),
            encoding: Some("gzip"),
            body: v1_body(&[sample(UP, 2, 1.0)]),
            status: 415,
            words: "content-encoding \"gzip\" is not accepted",
        },
        Refusal {
            name: "json",
            content_type: Some("application/json"),
            encoding: None,
            body: v1_body(&[sample(UP, 2, 1.0)]),
            status: 415,
            words: "expected application/x-protobuf",
        },
        Refusal {
            name: "unknown proto",
            content_type: Some("application/x-protobuf;proto=io.prometheus.write.v3.Request"),
            encoding: None,
            body: v1_body(&[sample(UP, 2, 1.0)]),
            status: 415,
            words: "unknown proto",
        },
    ];
    for Refusal {
        name,
        content_type,
        encoding,
        body,
        status,
        words,
    } in cases
    {
        let answer = server.post(content_type, encoding, body).await;
        assert_eq!(answer.status.as_u16(), status, "{name}: {}", answer.body);
        assert!(
            answer.body.contains(words),
            "{name}: {:?} lacks {words:?}",
            answer.body
        );
        assert_eq!(
            answer.body.lines().count(),
            1,
            "{name}: one-line error body"
        );
        let is_v2 = content_type == Some(V2);
        assert_eq!(
            written(&answer),
            is_v2.then_some([0, 0, 0]),
            "{name}: written headers"
        );
        assert_eq!(
            server.handle.registry_digest(),
            before,
            "{name} changed the registry"
        );
    }

    for method in [
        reqwest::Method::GET,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let response = reqwest::Client::new()
            .request(method.clone(), format!("{}/api/v1/write", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{method}");
        assert_eq!(response.headers()["allow"], "POST");
    }
    assert_eq!(server.handle.registry_digest(), before);
    assert_eq!(
        server
            .metric("harbinger_requests_total{code=\"415\"}")
            .await,
        3.0
    );
    assert_eq!(
        server
            .metric("harbinger_requests_rejected_total{reason=\"invalid_labels\"}")
            .await,
        3.0
    );
}

#[tokio::test]
async fn v1_and_v2_are_accepted_and_v2_reports_what_was_written() {
    let server = start("", false).await;
    let answer = server
        .post(None, None, v1_body(&[sample(UP, 1000, 1.0)]))
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

/// Symbols of the partial-write requests.
const SYMBOLS: [&str; 6] = ["", "__name__", "up", "job", "node", "h"];

fn v2_series(refs: &[u32], samples: &[i64], histograms: Vec<v2::Histogram>) -> v2::TimeSeries {
    v2::TimeSeries {
        labels_refs: refs.to_vec(),
        samples: samples
            .iter()
            .map(|&timestamp| v2::Sample {
                value: 1.0,
                timestamp,
                start_timestamp: 0,
            })
            .collect(),
        histograms,
        ..Default::default()
    }
}

/// An integer histogram of 3 observations in two positive buckets (1 and 2), whose
/// `count` field is given.
fn histogram(count: u64) -> v2::Histogram {
    v2::Histogram {
        count: Some(v2::histogram::Count::CountInt(count)),
        sum: 4.0,
        positive_spans: vec![v2::BucketSpan {
            offset: 0,
            length: 2,
        }],
        positive_deltas: vec![1, 1],
        timestamp: 10,
        ..Default::default()
    }
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
            .post(Some(V1), None, v1_body(&[sample(UP, 1, 1.0)]))
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
        let mut request = client.post(&url).body(v1_body(&[sample(UP, 1, 1.0)]));
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
        .body(v1_body(&[sample(UP, 1, 1.0)]))
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
        .body(v1_body(&[sample(UP, 1, 1.0)]))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let right = client
        .post(&url)
        .basic_auth("prom", Some("pw"))
        .body(v1_body(&[sample(UP, 1, 1.0)]))
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
    let body = v1_body(&[sample(UP, 1, 1.0)]);
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
    // Ten scrapes, 15 s apart, of a filesystem filling up.
    for scrape in 0..10i64 {
        let t = 1_800_000_000_000 + scrape * 15_000;
        let free = 400.0 - 10.0 * scrape as f64;
        let body = v1_body(&[sample(&avail[..], t, free), sample(&size[..], t, 1000.0)]);
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

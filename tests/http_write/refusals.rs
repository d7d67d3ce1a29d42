//! What the receiver refuses, whole or in part, and how it answers.

use harbinger::ingest::proto::{self, SeriesSample};

use super::server::*;

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
        "ingest:\n  max_body_bytes: 64KiB\n  max_decoded_bytes: 1MiB\n",
        false,
    )
    .await;
    assert_eq!(
        server
            .post(
                Some(V1),
                Some("snappy"),
                v1_body(&[SeriesSample::new(UP, 1, 1.0)])
            )
            .await
            .status,
        204
    );
    let before = server.handle.registry_digest();

    let huge_claim = vec![0xff, 0xff, 0xff, 0x7f];
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
            status: 400,
            words: "exceeds the limit of 1048576 bytes",
        },
        Refusal {
            name: "body over the limit",
            content_type: Some(V1),
            encoding: None,
            body: vec![0; 65 * 1024],
            status: 400,
            words: "request body exceeds the limit of 65536 bytes",
        },
        Refusal {
            name: "gzip encoding",
            content_type: Some(V1),
            encoding: Some("gzip"),
            body: v1_body(&[SeriesSample::new(UP, 2, 1.0)]),
            status: 415,
            words: "content-encoding \"gzip\" is not accepted",
        },
        Refusal {
            name: "json",
            content_type: Some("application/json"),
            encoding: None,
            body: v1_body(&[SeriesSample::new(UP, 2, 1.0)]),
            status: 415,
            words: "expected application/x-protobuf",
        },
        Refusal {
            name: "unknown proto",
            content_type: Some("application/x-protobuf;proto=io.prometheus.write.v3.Request"),
            encoding: None,
            body: v1_body(&[SeriesSample::new(UP, 2, 1.0)]),
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
            .metric("harbinger_requests_rejected_total{reason=\"too_large\"}")
            .await,
        2.0
    );
}

/// Remote write 1.0 has no partial write. As Prometheus's own receiver does, a request's
/// valid series are written and its invalid ones refused alone (204, the refused counted
/// and logged): one bad series, sent again with every scrape, must not lose every batch
/// it is in.
#[tokio::test]
async fn a_v1_request_keeps_its_valid_series_and_counts_the_refused_ones() {
    let server = start("ingest:\n  max_labels_per_series: 4\n", false).await;
    let five_labels: &[(&str, &str)] = &[
        ("__name__", "x"),
        ("a", "1"),
        ("b", "1"),
        ("c", "1"),
        ("d", "1"),
    ];
    let body = v1_body(&[
        SeriesSample::new(&[("job", "x"), ("__name__", "up")], 2, 1.0),
        SeriesSample::new(&[("__name__", "up"), ("job", "a"), ("job", "b")], 2, 1.0),
        SeriesSample::new(UP, 2, 1.0),
        SeriesSample::new(&[("", "x"), ("__name__", "up")], 2, 1.0),
        SeriesSample::new(five_labels, 2, 1.0),
    ]);
    let answer = server.post(Some(V1), Some("snappy"), body).await;
    assert_eq!(answer.status, 204, "{}", answer.body);
    assert_eq!(
        server.handle.active_series(),
        1,
        "the valid series is written"
    );
    let dropped = "harbinger_samples_dropped_total{reason=\"invalid_series\"}";
    assert_eq!(server.metric(dropped).await, 4.0);
}

/// A sample more than 10 minutes ahead of the server's clock is dropped and counted, as
/// Prometheus's own receiver refuses it; the rest of the request is written.
#[tokio::test]
async fn a_sample_from_the_future_is_dropped_and_counted() {
    let server = start("", false).await;
    let (now, day) = (now_ms(), 86_400_000);
    let body = v1_body(&[
        SeriesSample::new(UP, now, 1.0),
        SeriesSample::new(&[("__name__", "x")], now + day, 1.0),
    ]);
    assert_eq!(server.post(Some(V1), None, body).await.status, 204);
    let dropped = "harbinger_samples_dropped_total{reason=\"too_far_ahead\"}";
    assert_eq!(server.metric(dropped).await, 1.0);
    // 2.0: a partial write, which says why.
    let answer = server
        .post(Some(V2), None, v2_body(&[1, 2, 3, 4], &[now + day]))
        .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(
        (answer.body).contains("1 samples more than 10 minutes ahead of the server's clock"),
        "{}",
        answer.body
    );
    assert_eq!(written(&answer), Some([0, 0, 0]));
    assert_eq!(server.metric(dropped).await, 2.0);
}

/// A Content-Encoding that is not UTF-8 is an encoding nobody can read (415), not an
/// absent one (which would be taken for snappy).
#[tokio::test]
async fn an_unreadable_content_encoding_is_refused() {
    let server = start("", false).await;
    let encoding = reqwest::header::HeaderValue::from_bytes(b"snappy\xe9").unwrap();
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/write", server.url))
        .header("content-encoding", encoding)
        .body(v1_body(&[SeriesSample::new(UP, 2, 1.0)]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    assert_eq!(server.handle.active_series(), 0);
}

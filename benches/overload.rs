//! Bad input and overload against the real `harbinger serve`: snappy bombs, a label
//! bomb, a flood of new series past `max_active_series`, 10,000 connections that send
//! nothing (slowloris) and 1 GiB bodies. For each it prints what the server answered,
//! how long that took, its resident memory after and at its peak, and whether it still
//! answers a normal write with 204; it fails when an answer is not the documented one or
//! the server dies.
//!
//! Run: `cargo bench --bench overload`. Settings (environment): `OVERLOAD_CONNECTIONS`
//! (default 10000) silent connections; they need that many file descriptors in this
//! process and in the server's (`ulimit -n`).
//!
//! The server runs on defaults but for `read_header_timeout: 5s` (so that the silent
//! connections are seen closed within the run) and `max_active_series: 100000`. Its
//! memory is bounded by `ingest.max_concurrent_writes` (8) turns of at most
//! `max_body_bytes + max_decoded_bytes` (32 + 128 MiB) each, whatever the connections.

#[path = "support/server.rs"]
mod server;
#[path = "support/setting.rs"]
mod setting;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use harbinger::ingest::proto::v1::{Label, Sample, TimeSeries, WriteRequest};
use prost::Message;
use server::Server;
use setting::setting;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MAX_ACTIVE_SERIES: usize = 100_000;
const READ_HEADER_TIMEOUT: Duration = Duration::from_secs(5);
const MIB: usize = 1 << 20;

fn snappy(raw: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new()
        .compress_vec(raw)
        .expect("snappy compresses")
}

fn labels(pairs: impl IntoIterator<Item = (String, String)>) -> Vec<Label> {
    pairs
        .into_iter()
        .map(|(name, value)| Label { name, value })
        .collect()
}

fn series(name: &str, extra: Vec<Label>, t_ms: i64) -> TimeSeries {
    let mut all = labels([("__name__".to_owned(), name.to_owned())]);
    all.extend(extra);
    TimeSeries {
        labels: all,
        samples: vec![Sample {
            value: 1.0,
            timestamp: t_ms,
        }],
        ..TimeSeries::default()
    }
}

fn body(series: Vec<TimeSeries>) -> Vec<u8> {
    snappy(
        &WriteRequest {
            timeseries: series,
            ..WriteRequest::default()
        }
        .encode_to_vec(),
    )
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// What one attack got.
struct Outcome {
    attack: String,
    answers: BTreeMap<String, usize>,
    expected: &'static str,
    seconds: f64,
    rss_after: u64,
    peak: u64,
    normal_write: u16,
}

struct Bench {
    server: Server,
    http: reqwest::Client,
    outcomes: Vec<Outcome>,
}

/// A remote-write 1.0 request with `body`; its status, or the error.
async fn post(http: reqwest::Client, url: String, body: Vec<u8>) -> String {
    match http
        .post(url)
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", "snappy")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(body)
        .send()
        .await
    {
        Ok(response) => response.status().as_u16().to_string(),
        Err(error) => format!("error: {error}"),
    }
}

/// Runs `futures` at once, each on its own task, and collects their outputs.
async fn all<T: Send + 'static>(
    futures: impl Iterator<Item = impl std::future::Future<Output = T> + Send + 'static>,
) -> Vec<T> {
    let tasks: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::with_capacity(tasks.len());
    for task in tasks {
        outputs.push(task.await.expect("a bench task does not panic"));
    }
    outputs
}

impl Bench {
    async fn post(&self, body: Vec<u8>) -> String {
        post(self.http.clone(), self.server.url("/api/v1/write"), body).await
    }

    /// Sends `bodies`, `concurrency` at a time, and records the answers.
    async fn attack(
        &mut self,
        attack: &str,
        expected: &'static str,
        bodies: Vec<Vec<u8>>,
        concurrency: usize,
    ) {
        let started = Instant::now();
        let mut answers = BTreeMap::new();
        let mut bodies = bodies.into_iter();
        loop {
            let wave: Vec<Vec<u8>> = bodies.by_ref().take(concurrency).collect();
            if wave.is_empty() {
                break;
            }
            let (http, url) = (&self.http, self.server.url("/api/v1/write"));
            let sent = all(wave.into_iter().map(|b| post(http.clone(), url.clone(), b))).await;
            for answer in sent {
                *answers.entry(answer).or_default() += 1;
            }
        }
        self.record(attack, expected, answers, started).await;
    }

    async fn record(
        &mut self,
        attack: &str,
        expected: &'static str,
        answers: BTreeMap<String, usize>,
        started: Instant,
    ) {
        let seconds = started.elapsed().as_secs_f64();
        let normal_write = self
            .post(body(vec![series("overload_probe", Vec::new(), now_ms())]))
            .await
            .parse()
            .unwrap_or(0);
        assert!(self.server.alive(), "the server died during {attack}");
        self.outcomes.push(Outcome {
            attack: attack.to_owned(),
            answers,
            expected,
            seconds,
            rss_after: self.server.rss_bytes(),
            peak: self.server.peak_rss_bytes(),
            normal_write,
        });
    }

    /// `count` connections that send nothing: while they are open a normal write is
    /// still answered; then how many the server closed, and when.
    async fn silent_connections(&mut self, count: usize) {
        let started = Instant::now();
        let mut open = Vec::with_capacity(count);
        let mut refused = 0;
        for _ in 0..count {
            match TcpStream::connect(self.server.address).await {
                Ok(stream) => open.push(stream),
                Err(_) => refused += 1,
            }
        }
        let held = open.len();
        let rss_held = self.server.rss_bytes();
        let write_while_held = self
            .post(body(vec![series("overload_probe", Vec::new(), now_ms())]))
            .await;
        let closed = all(open.into_iter().map(|mut stream| async move {
            let mut byte = [0u8; 1];
            let waited = Instant::now();
            match tokio::time::timeout(READ_HEADER_TIMEOUT * 3, stream.read(&mut byte)).await {
                Ok(Ok(0)) | Ok(Err(_)) => Some(waited.elapsed()),
                _ => None,
            }
        }))
        .await;
        let closed: Vec<Duration> = closed.into_iter().flatten().collect();
        let latest = closed.iter().max().copied().unwrap_or_default();
        let mut answers = BTreeMap::new();
        answers.insert(
            format!("closed by the server ({latest:.1?} at most)"),
            closed.len(),
        );
        answers.insert("still open".to_owned(), held - closed.len());
        if refused > 0 {
            answers.insert("connect refused".to_owned(), refused);
        }
        answers.insert(format!("a write meanwhile: {write_while_held}"), 1);
        eprintln!(
            "{held} silent connections held: server RSS {:.1} MiB",
            rss_held as f64 / MIB as f64
        );
        self.record(
            &format!("{count} connections that send nothing"),
            "closed after read_header_timeout (5s); writes answered meanwhile",
            answers,
            started,
        )
        .await;
    }

    /// A body of `total` bytes written raw, declared by Content-Length or chunked; the
    /// answer, and how much was sent before it.
    async fn huge_body(&mut self, total: usize, chunked: bool) {
        let started = Instant::now();
        let mut stream = TcpStream::connect(self.server.address).await.unwrap();
        let framing = if chunked {
            "Transfer-Encoding: chunked".to_owned()
        } else {
            format!("Content-Length: {total}")
        };
        let head = format!(
            "POST /api/v1/write HTTP/1.1\r\nHost: bench\r\nContent-Type: application/x-protobuf\r\n\
             Content-Encoding: snappy\r\n{framing}\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let (mut reader, mut writer) = stream.into_split();
        let writing = tokio::spawn(async move {
            let chunk = vec![0xAAu8; MIB];
            let mut sent = 0;
            while sent < total {
                let written = if chunked {
                    let size = format!("{:x}\r\n", chunk.len());
                    writer.write_all(size.as_bytes()).await.is_ok()
                        && writer.write_all(&chunk).await.is_ok()
                        && writer.write_all(b"\r\n").await.is_ok()
                } else {
                    writer.write_all(&chunk).await.is_ok()
                };
                if !written {
                    break;
                }
                sent += chunk.len();
            }
            sent
        });
        let mut answer = vec![0u8; 512];
        let read = reader.read(&mut answer).await.unwrap_or(0);
        let status = String::from_utf8_lossy(&answer[..read])
            .split_whitespace()
            .nth(1)
            .unwrap_or("no answer")
            .to_owned();
        drop(reader);
        writing.abort();
        let sent = writing.await.unwrap_or(0);
        let mut answers = BTreeMap::new();
        answers.insert(status, 1);
        let how = if chunked { "chunked" } else { "Content-Length" };
        let sent = if sent > 0 {
            format!(" ({} MiB sent)", sent / MIB)
        } else {
            String::new()
        };
        self.record(&format!("1 GiB body, {how}{sent}"), "400", answers, started)
            .await;
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / MIB as f64)
}

fn main() {
    let connections = setting("OVERLOAD_CONNECTIONS", 10_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let server = Server::start("all", |_| {
        format!(
            "read_header_timeout: {}s\ningest:\n  max_active_series: {MAX_ACTIVE_SERIES}\n",
            READ_HEADER_TIMEOUT.as_secs()
        )
    });
    // Idle connections are dropped before the server's read_header_timeout closes them.
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_idle_timeout(READ_HEADER_TIMEOUT / 2)
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let mut bench = Bench {
        server,
        http,
        outcomes: Vec::new(),
    };
    runtime.block_on(async {
        let ready = Instant::now() + Duration::from_secs(30);
        while bench
            .http
            .get(bench.server.url("/-/ready"))
            .send()
            .await
            .is_err()
        {
            assert!(Instant::now() < ready, "the server did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bench
            .record("(idle, after start)", "-", BTreeMap::new(), Instant::now())
            .await;

        // A snappy header that claims 4 GiB: refused before any allocation.
        let mut claim = Vec::new();
        harbinger::ingest::put_varint(&mut claim, (4u64 << 30) - 1);
        claim.extend_from_slice(&[0u8; 64]);
        bench
            .attack(
                "snappy header claiming 4 GiB ×200",
                "400",
                vec![claim; 200],
                8,
            )
            .await;

        // 640 MiB of zeros in about 30 MiB: its header says so, refused.
        let zeros = snappy(&vec![0u8; 640 * MIB]);
        eprintln!("snappy bomb: {} MiB compressed", zeros.len() / MIB);
        bench
            .attack(
                "snappy bomb, 640 MiB in 30 MiB ×8",
                "400",
                vec![zeros.clone(); 8],
                4,
            )
            .await;
        // The same bomb with a header that lies (100 MiB, under max_decoded_bytes): the
        // decoder stops at the declared size.
        let header = zeros.iter().position(|b| b & 0x80 == 0).unwrap() + 1;
        let mut liar = Vec::new();
        harbinger::ingest::put_varint(&mut liar, 100 * MIB as u64);
        liar.extend_from_slice(&zeros[header..]);
        drop(zeros);
        bench
            .attack(
                "snappy bomb whose header says 100 MiB ×32, 16 at once",
                "400",
                vec![liar; 32],
                16,
            )
            .await;

        // 50,000 labels on one series, and a label value of 8 MiB.
        let many = labels((0..50_000).map(|i| (format!("l{i:05}"), "x".to_owned())));
        let wide = labels([("big".to_owned(), "x".repeat(8 * MIB))]);
        bench
            .attack(
                "label bomb: 50,000 labels, and an 8 MiB value ×10 each",
                "204",
                (0..20)
                    .map(|i| {
                        let extra = if i % 2 == 0 {
                            many.clone()
                        } else {
                            wide.clone()
                        };
                        body(vec![series("bomb", extra, now_ms())])
                    })
                    .collect(),
                4,
            )
            .await;

        // A million new series, ten times max_active_series.
        let t = now_ms();
        let flood: Vec<Vec<u8>> = (0..500)
            .map(|r| {
                body(
                    (0..2000)
                        .map(|i| {
                            let id = r * 2000 + i;
                            series(
                                "flood",
                                labels([("instance".to_owned(), format!("host{id}"))]),
                                t,
                            )
                        })
                        .collect(),
                )
            })
            .collect();
        bench
            .attack(
                "1,000,000 new series past max_active_series 100,000",
                "204 (past the cap: dropped and counted)",
                flood,
                8,
            )
            .await;

        bench.silent_connections(connections).await;
        bench.huge_body(1 << 30, false).await;
        bench.huge_body(1 << 30, true).await;
    });

    let exposition = runtime.block_on(async {
        bench
            .http
            .get(bench.server.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    let dropped: f64 = exposition
        .lines()
        .filter(|l| l.starts_with("harbinger_samples_dropped_total{reason=\"series_limit\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();

    println!();
    println!(
        "| attack | answers | expected | seconds | RSS after | peak RSS | a normal write after |"
    );
    println!("|---|---|---|--:|--:|--:|--:|");
    for o in &bench.outcomes {
        let answers: Vec<String> = o.answers.iter().map(|(a, n)| format!("{a}: {n}")).collect();
        println!(
            "| {} | {} | {} | {:.1} | {} | {} | {} |",
            o.attack,
            answers.join(", "),
            o.expected,
            o.seconds,
            mib(o.rss_after),
            mib(o.peak),
            o.normal_write
        );
    }
    println!();
    println!("samples dropped at the series cap: {dropped:.0}");
    let peak = bench.outcomes.iter().map(|o| o.peak).max().unwrap_or(0);
    println!("peak resident memory over the whole run: {}", mib(peak));
    for o in &bench.outcomes {
        assert_eq!(
            o.normal_write, 204,
            "{}: a normal write got {}",
            o.attack, o.normal_write
        );
        let expected = o.expected.split_whitespace().next().unwrap_or("-");
        if expected.chars().all(|c| c.is_ascii_digit()) {
            assert!(
                o.answers.keys().all(|a| a == expected),
                "{}: answers {:?}, documented {expected}",
                o.attack,
                o.answers
            );
        }
    }
}

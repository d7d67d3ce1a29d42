//! The app in-process on port 0, and the requests and answers the tests exchange with it.

use std::path::Path;

use harbinger::config::{Config, ValidConfig};
use harbinger::ingest::proto::{self, SeriesSample, v2};
use harbinger::pipeline::PipelineEvent;
use harbinger::server::{App, AppHandle, Role};
use reqwest::StatusCode;
use tokio::sync::{mpsc, oneshot};

pub const V1: &str = "application/x-protobuf;proto=prometheus.WriteRequest";
pub const V2: &str = "application/x-protobuf;proto=io.prometheus.write.v2.Request";

pub struct Server {
    pub url: String,
    pub handle: AppHandle,
    pub events: Option<mpsc::Receiver<PipelineEvent>>,
    pub stop: Option<oneshot::Sender<()>>,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
    pub _data_dir: tempfile::TempDir,
}

/// Starts the app on a free port; `own_queue` keeps the pipeline queue's receiving end
/// in the test (nothing consumes it unless the test does).
pub async fn start(yaml: &str, own_queue: bool) -> Server {
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

pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Server {
    pub async fn post(
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

    pub async fn get(&self, path: &str) -> Answer {
        answer(reqwest::get(format!("{}{path}", self.url)).await.unwrap()).await
    }

    pub async fn metric(&self, line_prefix: &str) -> f64 {
        let text = self.get("/metrics").await.body;
        text.lines()
            .find(|line| line.starts_with(line_prefix))
            .and_then(|line| line.rsplit(' ').next())
            .map_or(0.0, |value| value.parse().unwrap())
    }
}

pub async fn answer(response: reqwest::Response) -> Answer {
    Answer {
        status: response.status(),
        headers: response.headers().clone(),
        body: response.text().await.unwrap(),
    }
}

pub fn written(answer: &Answer) -> Option<[u64; 3]> {
    let get = |kind: &str| {
        answer
            .headers
            .get(format!("x-prometheus-remote-write-{kind}-written"))
            .map(|v| v.to_str().unwrap().parse().unwrap())
    };
    Some([get("samples")?, get("histograms")?, get("exemplars")?])
}

/// The wall clock, in milliseconds since the epoch.
pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.unwrap().as_millis() as i64
}

/// A snappy-compressed 1.0 request with one sample per series.
pub fn v1_body(series: &[SeriesSample]) -> Vec<u8> {
    proto::encode_snappy(&proto::v1_request(series))
}

/// A 2.0 request of one series over the symbols `["", "__name__", "up", "job", "node"]`.
pub fn v2_body(refs: &[u32], timestamps: &[i64]) -> Vec<u8> {
    proto::encode_snappy(&v2::Request {
        symbols: SYMBOLS[..5].iter().map(|s| s.to_string()).collect(),
        timeseries: vec![v2_series(refs, timestamps, vec![])],
    })
}

pub const UP: &[(&str, &str)] = &[("__name__", "up"), ("job", "node")];

/// Symbols of the partial-write requests.
pub const SYMBOLS: [&str; 6] = ["", "__name__", "up", "job", "node", "h"];

pub fn v2_series(refs: &[u32], samples: &[i64], histograms: Vec<v2::Histogram>) -> v2::TimeSeries {
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
pub fn histogram(count: u64) -> v2::Histogram {
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

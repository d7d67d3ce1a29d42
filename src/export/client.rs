//! Prometheus's HTTP API as the export uses it: `/api/v1/series` and `/api/v1/query_range`.
//!
//! In: a base URL, headers (a bearer token, a tenant), a timeout and a retry policy; then
//! selectors and time ranges. Out: label sets, and the points of one series as Prometheus
//! wrote them. Each request is retried as `retry` decides; an error names the endpoint,
//! what was asked and what Prometheus answered.

use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::dataset::format_seconds;

use super::error::{ApiProblem, ExportError};
use super::grid::Chunk;
use super::retry::RetryPolicy;
use super::series::Series;
use crate::retry::{Verdict, classify_status, error_chain};

/// How to reach Prometheus.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Sent with every request (e.g. `Authorization`, `X-Scope-OrgID`).
    pub headers: HeaderMap,
    /// For one attempt, from connecting to the end of the answer.
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

pub struct Client {
    http: reqwest::Client,
    /// Ends in `/`, so that joining `api/v1/...` keeps a path prefix (`/prometheus/`).
    base: Url,
    retry: RetryPolicy,
    /// A source of jitter for the backoff: hashing with a random seed.
    jitter: foldhash::fast::RandomState,
}

/// One point of a series: time, and the value as Prometheus wrote it (`NaN`, `+Inf`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub timestamp_ms: i64,
    pub value: String,
}

/// The envelope of every API answer.
#[derive(Deserialize)]
struct Answer<T> {
    status: String,
    data: Option<T>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct RangeData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<RangeSeries>,
}

#[derive(Deserialize)]
struct RangeSeries {
    metric: BTreeMap<String, String>,
    values: Vec<(f64, String)>,
}

impl Client {
    pub fn new(base: &str, options: ClientOptions) -> Result<Client, ExportError> {
        let invalid = |reason: String| ExportError::Api {
            url: base.to_owned(),
            request: "the Prometheus URL".to_owned(),
            problem: ApiProblem::Unexpected(reason),
        };
        let mut base_url = Url::parse(base).map_err(|e| invalid(e.to_string()))?;
        if !base_url.path().ends_with('/') {
            let path = format!("{}/", base_url.path());
            base_url.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .default_headers(options.headers)
            .timeout(options.timeout)
            .build()
            .map_err(|e| invalid(error_chain(&e)))?;
        Ok(Client {
            http,
            base: base_url,
            retry: options.retry,
            jitter: foldhash::fast::RandomState::default(),
        })
    }

    /// The series matching any of `matchers` with samples in `[start_ms, end_ms]`.
    pub async fn series(
        &self,
        matchers: &[String],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Series>, ExportError> {
        let mut params: Vec<(&str, String)> =
            matchers.iter().map(|m| ("match[]", m.clone())).collect();
        params.push(("start", format_seconds(start_ms)));
        params.push(("end", format_seconds(end_ms)));
        let request = format!(
            "series matching {} from {} to {}",
            matchers.join(" or "),
            format_seconds(start_ms),
            format_seconds(end_ms)
        );
        let (url, sets): (_, Vec<BTreeMap<String, String>>) =
            self.get("api/v1/series", &params, &request).await?;
        sets.into_iter()
            .map(|labels| {
                Series::from_labels(labels).ok_or_else(|| ExportError::Api {
                    url: url.clone(),
                    request: request.clone(),
                    problem: ApiProblem::Unexpected("a series without __name__".to_owned()),
                })
            })
            .collect()
    }

    /// The points of `series`, selected by `selector`, over `chunk` at `step_ms`. Empty
    /// when the series has no value at any of the chunk's points.
    pub async fn query_range(
        &self,
        series: &Series,
        selector: &str,
        chunk: Chunk,
        step_ms: i64,
    ) -> Result<Vec<Point>, ExportError> {
        let params = [
            ("query", selector.to_owned()),
            ("start", format_seconds(chunk.start_ms)),
            ("end", format_seconds(chunk.end_ms)),
            ("step", format_seconds(step_ms)),
        ];
        let request = format!(
            "query_range {selector} from {} to {}",
            format_seconds(chunk.start_ms),
            format_seconds(chunk.end_ms)
        );
        let (url, data): (_, RangeData) = self.get("api/v1/query_range", &params, &request).await?;
        let unexpected = |what: String| ExportError::Api {
            url: url.clone(),
            request: request.clone(),
            problem: ApiProblem::Unexpected(what),
        };
        if data.result_type != "matrix" {
            return Err(unexpected(format!("a {} result", data.result_type)));
        }
        let expected = series.label_set();
        let mut result = data.result.into_iter();
        let points = match (result.next(), result.next()) {
            (None, _) => Vec::new(),
            (Some(only), None) if only.metric == expected => only
                .values
                .into_iter()
                .map(|(seconds, value)| Point {
                    timestamp_ms: (seconds * 1000.0).round() as i64,
                    value,
                })
                .collect(),
            (Some(first), _) => {
                let shown: Vec<(String, String)> = first.metric.into_iter().collect();
                return Err(unexpected(format!(
                    "the selector matched {} besides or instead of the series",
                    crate::dataset::format_series(&shown)
                )));
            }
        };
        Ok(points)
    }

    /// GETs `endpoint` with `params`, retrying transient failures; returns the endpoint's
    /// URL (for messages) and the answer's `data`.
    async fn get<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        params: &[(&str, String)],
        request: &str,
    ) -> Result<(String, T), ExportError> {
        let mut url = self.base.join(endpoint).expect("a relative path joins");
        let endpoint_url = url.to_string();
        url.query_pairs_mut()
            .extend_pairs(params.iter().map(|(k, v)| (k, v.as_str())));
        let fail = |problem| ExportError::Api {
            url: endpoint_url.clone(),
            request: request.to_owned(),
            problem,
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= self.retry.max_attempts;
            let answer = match self.http.get(url.clone()).send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    response.bytes().await.map(|body| (status, body))
                }
                Err(error) => Err(error),
            };
            let (status, body) = match answer {
                Ok(answer) => answer,
                Err(error) if !last => {
                    self.pause(attempt, &endpoint_url, &error_chain(&error))
                        .await;
                    continue;
                }
                Err(error) => {
                    return Err(fail(ApiProblem::Unreachable {
                        attempts: attempt,
                        reason: error_chain(&error),
                    }));
                }
            };
            match classify_status(status) {
                Verdict::Done => {
                    let data = decode::<T>(&body).map_err(|e| fail(ApiProblem::Unexpected(e)))?;
                    tracing::debug!(url = %endpoint_url, request, attempt, "query answered");
                    return Ok((endpoint_url, data));
                }
                Verdict::Retry if !last => {
                    let message = format!("status {status}: {}", error_message(&body));
                    self.pause(attempt, &endpoint_url, &message).await;
                }
                Verdict::Retry => {
                    return Err(fail(ApiProblem::GaveUp {
                        attempts: attempt,
                        status,
                        message: error_message(&body),
                    }));
                }
                Verdict::Fail => {
                    return Err(fail(ApiProblem::Refused {
                        status,
                        message: error_message(&body),
                    }));
                }
            }
        }
    }

    async fn pause(&self, attempt: u32, url: &str, failure: &str) {
        let jitter = self.jitter.hash_one((attempt, std::time::Instant::now())) as f64;
        let jitter = jitter / u64::MAX as f64;
        let delay = self.retry.backoff.delay(attempt, jitter);
        tracing::warn!(
            url,
            attempt,
            failure,
            retry_in_ms = delay.as_millis() as u64,
            "Prometheus request failed, retrying"
        );
        tokio::time::sleep(delay).await;
    }
}

/// The `data` of a successful answer.
fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let answer: Answer<T> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    match (answer.status.as_str(), answer.data) {
        ("success", Some(data)) => Ok(data),
        _ => Err(format!(
            "status {:?}: {}",
            answer.status,
            answer.error.unwrap_or_default()
        )),
    }
}

/// What an error answer says: Prometheus's `errorType: error`, else the start of the body
/// (a proxy's page).
fn error_message(body: &[u8]) -> String {
    match serde_json::from_slice::<Answer<serde_json::Value>>(body) {
        Ok(Answer {
            error: Some(error),
            error_type,
            ..
        }) => match error_type {
            Some(kind) => format!("{kind}: {error}"),
            None => error,
        },
        _ => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            match text.char_indices().nth(200) {
                Some((end, _)) => format!("{}...", &text[..end]),
                None if text.is_empty() => "(empty body)".to_owned(),
                None => text.to_owned(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_are_prometheus_own_or_the_body() {
        let prometheus =
            br#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\""}"#;
        assert_eq!(
            error_message(prometheus),
            r#"bad_data: invalid parameter "query""#
        );
        assert_eq!(
            error_message(b"<html>Bad Gateway</html>\n"),
            "<html>Bad Gateway</html>"
        );
        assert_eq!(error_message(b""), "(empty body)");
        assert_eq!(error_message(&[b'x'; 300]).len(), 203);
    }
}

//! `POST /api/v1/write`: the remote-write receiver.
//!
//! In: an HTTP request. Out: a response (see `respond`), and on success the accepted
//! samples on the pipeline queue (role `all`) or in the Kafka topic (role `receiver`).
//! Order of work: authenticate, negotiate the protocol, read the body under its size
//! limit (outside the decoding turns: see `read_body`), take a turn, decode and validate
//! the body (pure, no shared state); then, in the role `all`, reserve a queue slot (503
//! when full; a queue already full answers 503 before the decoding) and only then apply
//! it to the registry, so that a rejected request changes nothing; as a receiver,
//! publish it and answer 204 once the broker has acknowledged every record (503 when it
//! cannot, for the sender to retry). A 2.0 request whose series were refused in part,
//! or whose samples were dropped, is a partial write: the rest is written, and the
//! answer is 400 with the written-count headers saying exactly what was.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tokio::sync::SemaphorePermit;
use tokio::sync::mpsc::error::TrySendError;

use parking_lot::Mutex;

/// How long a write waits for room to read its body, or for a turn to decode it, before
/// a 503.
const WAIT_FOR_A_TURN: Duration = Duration::from_secs(10);
use tokio::sync::mpsc;

use super::respond::{NotWritten, WriteError, Written, respond};
use super::{AppState, Ingest};
use crate::ingest::{Protocol, WriteBatch, negotiate};
use crate::pipeline::PipelineEvent;
use crate::registry::{MAX_AHEAD_MS, Registry};
use crate::telemetry::throttle::{LOGS, Say};
use crate::telemetry::{CodeLabels, DropReason};

thread_local! {
    /// Each worker thread decodes into its own batch, so that the decompression buffer
    /// and the span vectors are allocated once per thread, not once per request.
    static BATCH: RefCell<WriteBatch> = RefCell::new(WriteBatch::default());
}

pub async fn write(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    let v2 = is_v2(&headers);
    let result = receive(&state, &headers, body).await;
    match &result {
        Err(error) => {
            state.metrics.rejected(error.reason());
            log_refusal(error);
        }
        // Samples written, not an empty request (such as 1.0 metadata): writes work again.
        Ok(written) if written.samples > 0 => {
            for cause in LOGS.recovered("write:", Instant::now()) {
                tracing::info!(
                    cause = cause.cause,
                    refused = cause.total,
                    lasted_seconds = cause.lasted.as_secs(),
                    "write requests are accepted again"
                );
            }
        }
        Ok(_) => {}
    }
    let response = respond(&result, v2);
    let metrics = &state.metrics;
    metrics
        .requests
        .get_or_create(&CodeLabels {
            code: response.status().as_u16(),
        })
        .inc();
    metrics
        .request_seconds
        .observe(started.elapsed().as_secs_f64());
    response
}

/// A refused write is news once per reason, then a summary a minute until writes are
/// accepted again (a sender retrying a 503 or a misconfigured one would flood the log).
fn log_refusal(error: &WriteError) {
    let reason = error.reason();
    match LOGS.occurred(&format!("write:{reason}"), Instant::now()) {
        Say::First => tracing::warn!(reason, %error, "write request refused"),
        Say::Summary { held, total } => tracing::warn!(
            reason,
            %error,
            held,
            total,
            "write requests still refused ({held} more since the last line)"
        ),
        Say::Nothing => {}
    }
}

/// `POST /api/v1/write` to a worker: 404, saying where to send it.
pub async fn not_here(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let response = respond(&Err(WriteError::NotHere), is_v2(&headers));
    count_answer(&state, &response);
    response
}

/// Any method but POST: 405, counted like every other answer.
pub async fn method_not_allowed(State(state): State<Arc<AppState>>) -> Response {
    let response = (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::ALLOW, "POST")],
        "method not allowed: remote write uses POST\n",
    )
        .into_response();
    count_answer(&state, &response);
    response
}

fn count_answer(state: &AppState, response: &Response) {
    state
        .metrics
        .requests
        .get_or_create(&CodeLabels {
            code: response.status().as_u16(),
        })
        .inc();
}

/// Reads a body under `max_body_bytes`, frame by frame, each frame taking its bytes from
/// the budget shared by every body being read (`AppState::body_bytes`) as it arrives:
/// a sender that stops mid-body holds the bytes it sent, not a turn that others wait
/// for (VictoriaMetrics' `writeconcurrencylimiter.Reader` releases its slot around each
/// network read for the same reason). The permit gives the bytes back when dropped.
async fn read_body(
    state: &AppState,
    body: Body,
) -> Result<(Bytes, Option<SemaphorePermit<'_>>), WriteError> {
    let limit = state.max_body_bytes;
    let mut body = Limited::new(body, limit);
    let mut held: Option<SemaphorePermit<'_>> = None;
    let mut frames: Vec<Bytes> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| {
            if error.downcast_ref::<LengthLimitError>().is_some() {
                WriteError::BodyTooLarge { limit }
            } else {
                WriteError::BodyRead(error.to_string())
            }
        })?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        // Limited refuses a frame past `limit`, which the budget always covers.
        let size = u32::try_from(data.len()).map_err(|_| WriteError::BodyTooLarge { limit })?;
        let room = tokio::time::timeout(WAIT_FOR_A_TURN, state.body_bytes.acquire_many(size))
            .await
            .map_err(|_| WriteError::Busy)?
            .expect("the semaphore is never closed");
        match &mut held {
            Some(permit) => permit.merge(room),
            None => held = Some(room),
        }
        frames.push(data);
    }
    // One frame, the usual case, is not copied.
    let body = match frames.as_slice() {
        [one] => one.clone(),
        _ => Bytes::from(frames.concat()),
    };
    Ok((body, held))
}

/// Whether the request says it is remote write 2.0: its answer then carries the
/// written-count headers, whatever the answer.
fn is_v2(headers: &HeaderMap) -> bool {
    let content_type = header_text(headers, header::CONTENT_TYPE);
    negotiate(content_type.as_deref(), None) == Ok(Protocol::V2)
}

/// A header's value as text. Bytes that are not UTF-8 show as U+FFFD, so that a value
/// nobody can read is refused as unknown (415), not taken for an absent header.
fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<Cow<'_, str>> {
    (headers.get(name)).map(|value| String::from_utf8_lossy(value.as_bytes()))
}

async fn receive(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Written, WriteError> {
    if !state.auth.allows(headers) {
        return Err(WriteError::Unauthorized {
            challenge: state.auth.challenge(),
        });
    }
    let protocol = negotiate(
        header_text(headers, header::CONTENT_TYPE).as_deref(),
        header_text(headers, header::CONTENT_ENCODING).as_deref(),
    )?;
    let limit = state.max_body_bytes;
    let declared =
        header_text(headers, header::CONTENT_LENGTH).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length: usize| length > limit) {
        return Err(WriteError::BodyTooLarge { limit });
    }
    // Held until the answer: the body's bytes, then a turn to decode it.
    let (compressed, _bytes) = tokio::time::timeout(state.read_timeout, read_body(state, body))
        .await
        .map_err(|_| WriteError::BodyTimeout(state.read_timeout))??;
    let _turn = tokio::time::timeout(WAIT_FOR_A_TURN, state.write_turns.acquire())
        .await
        .map_err(|_| WriteError::Busy)?
        .expect("the semaphore is never closed");
    match &state.ingest {
        // A full queue refuses before the decoding, the dearest part, so that shedding
        // load costs little; the reservation after the decoding still decides.
        Ingest::Local { queue, .. } if queue.capacity() == 0 => Err(WriteError::Overloaded),
        Ingest::Local { registry, queue } => BATCH.with_borrow_mut(|batch| {
            decode(state, protocol, &compressed, batch)?;
            let (written, not_written) = apply(state, registry, queue, batch)?;
            answer(protocol, written, not_written)
        }),
        #[cfg(feature = "kafka")]
        Ingest::Kafka(publisher) => {
            let tenant = headers
                .get("x-scope-orgid")
                .map_or(&b""[..], |v| v.as_bytes());
            // Published whole: the workers drop what is too far ahead, and the answer
            // counts it as the local path does.
            let latest_allowed_ms = super::now_ms().saturating_add(MAX_AHEAD_MS);
            let (records, tally, rejected, ahead) = BATCH.with_borrow_mut(|batch| {
                decode(state, protocol, &compressed, batch)?;
                let records = publisher.records(batch, tenant)?;
                let ahead = batch.samples_later_than(latest_allowed_ms);
                let rejected = batch.rejected.clone();
                Ok::<_, WriteError>((records, Tally::of(batch), rejected, ahead))
            })?;
            publisher.publish(records, tenant).await?;
            tally.count(&state.metrics);
            (state.metrics).dropped(DropReason::InvalidSeries, rejected.samples);
            (state.metrics).dropped(DropReason::TooFarAhead, ahead);
            let written = Written {
                samples: tally.samples - ahead,
                histograms: tally.histograms,
                exemplars: tally.exemplars,
            };
            let not_written = NotWritten {
                rejected,
                too_far_ahead: ahead,
                ..NotWritten::default()
            };
            answer(protocol, written, not_written)
        }
        Ingest::Nowhere => Err(WriteError::NotHere),
    }
}

/// A 2.0 request with anything not written is a partial write: 400, with the headers
/// counting what was (the spec forbids a 2xx answer then). A 1.0 request keeps its
/// documented answer, 204 with its drops counted, as Prometheus's own receiver answers;
/// series it refused are logged, since the sender is not told.
fn answer(
    protocol: Protocol,
    written: Written,
    not_written: NotWritten,
) -> Result<Written, WriteError> {
    if protocol == Protocol::V2 && !not_written.is_empty() {
        return Err(WriteError::Partial {
            written,
            not_written: Box::new(not_written),
        });
    }
    let rejected = &not_written.rejected;
    if let Some((series, problem)) = &rejected.first
        && let Say::First | Say::Summary { .. } =
            LOGS.occurred("ingest:refused_series", Instant::now())
    {
        tracing::warn!(
            refused = rejected.series,
            samples = rejected.samples,
            first = %format_args!("series {series}: {problem}"),
            "remote write 1.0: series refused, the rest of the request written (answered 204)"
        );
    }
    Ok(written)
}

/// What an accepted request held, for the received-counters.
struct Tally {
    samples: u64,
    series: u64,
    histograms: u64,
    exemplars: u64,
    metadata: u64,
}

impl Tally {
    fn of(batch: &WriteBatch) -> Tally {
        Tally {
            samples: batch.sample_count() as u64,
            series: batch.series().len() as u64,
            histograms: batch.histograms,
            exemplars: batch.exemplars,
            metadata: batch.metadata,
        }
    }

    fn count(&self, metrics: &crate::telemetry::Metrics) {
        metrics.samples_received.inc_by(self.samples);
        metrics.series_received.inc_by(self.series);
        metrics.histograms_received.inc_by(self.histograms);
        metrics.exemplars_received.inc_by(self.exemplars);
        metrics.metadata_received.inc_by(self.metadata);
    }
}

/// Decompresses, decodes and validates a body into `batch`, timing it.
fn decode(
    state: &AppState,
    protocol: Protocol,
    compressed: &[u8],
    batch: &mut WriteBatch,
) -> Result<(), WriteError> {
    let started = Instant::now();
    state.decoder.decode(protocol, compressed, batch)?;
    state
        .metrics
        .decode_seconds
        .observe(started.elapsed().as_secs_f64());
    Ok(())
}

/// The rest of a write in the role `all`: reserve, apply, enqueue. Returns what was
/// written and what was not.
fn apply(
    state: &AppState,
    registry: &Mutex<Registry>,
    queue: &mpsc::Sender<PipelineEvent>,
    batch: &WriteBatch,
) -> Result<(Written, NotWritten), WriteError> {
    let metrics = &state.metrics;
    let permit = queue.try_reserve().map_err(|error| match error {
        TrySendError::Full(()) => WriteError::Overloaded,
        TrySendError::Closed(()) => WriteError::ShuttingDown,
    })?;
    let mut accepted = Vec::with_capacity(batch.sample_count());
    let (outcome, active, at_limit) = {
        let mut registry = registry.lock();
        let outcome = registry.apply(batch, super::now_ms(), &mut accepted);
        (outcome, registry.active_series(), registry.at_limit())
    };
    if !accepted.is_empty() {
        permit.send(PipelineEvent::Samples(accepted));
    }

    Tally::of(batch).count(metrics);
    metrics.dropped(DropReason::OutOfOrder, outcome.out_of_order);
    metrics.dropped(DropReason::Duplicate, outcome.duplicate);
    metrics.dropped(DropReason::TooFarAhead, outcome.too_far_ahead);
    metrics.dropped(DropReason::SeriesLimit, outcome.series_limit);
    metrics.dropped(DropReason::InvalidSeries, batch.rejected.samples);
    metrics.series_created.inc_by(outcome.series_created);
    metrics.active_series.set(active as i64);
    metrics.series_limit_reached.set(i64::from(at_limit));
    metrics
        .queue_depth
        .set((queue.max_capacity() - queue.capacity()) as i64);
    if outcome.series_limit > 0 {
        match LOGS.occurred("ingest:series_limit", Instant::now()) {
            Say::First | Say::Summary { .. } => tracing::warn!(
                dropped = outcome.series_limit,
                active,
                "active-series limit reached: samples of new series dropped (ingest.max_active_series)"
            ),
            Say::Nothing => {}
        }
    } else if !at_limit {
        LOGS.recovered("ingest:series_limit", Instant::now());
    }
    if outcome.too_far_ahead > 0
        && let Say::First | Say::Summary { .. } =
            LOGS.occurred("ingest:too_far_ahead", Instant::now())
    {
        tracing::warn!(
            dropped = outcome.too_far_ahead,
            max_ahead_minutes = MAX_AHEAD_MS / 60_000,
            "samples ahead of this server's clock dropped: is the sender's clock right?"
        );
    }
    let written = Written {
        // A sample whose timestamp its series already holds counts as written: the
        // sender is retrying data harbinger has, and must not be told it failed.
        samples: outcome.accepted + outcome.duplicate,
        histograms: batch.histograms,
        exemplars: batch.exemplars,
    };
    let not_written = NotWritten {
        rejected: batch.rejected.clone(),
        out_of_order: outcome.out_of_order,
        too_far_ahead: outcome.too_far_ahead,
        series_limit: outcome.series_limit,
    };
    Ok((written, not_written))
}

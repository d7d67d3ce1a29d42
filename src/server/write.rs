//! `POST /api/v1/write`: the remote-write receiver.
//!
//! In: an HTTP request. Out: a response (see `respond`), and on success the accepted
//! samples on the pipeline queue. Order of work: authenticate, negotiate the protocol,
//! read the body under its size limit, decode and validate it (pure, no shared state),
//! reserve a queue slot (503 when full), and only then apply it to the registry. Every
//! refusal happens before the registry is touched, so a rejected request changes nothing.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tokio::sync::mpsc::error::TrySendError;

use super::AppState;
use super::respond::{WriteError, Written, respond};
use crate::ingest::{Protocol, WriteBatch, negotiate};
use crate::pipeline::PipelineEvent;
use crate::telemetry::{CodeLabels, DropReason};

thread_local! {
    /// Each worker thread decodes into its own batch, so that the decompression buffer
    /// and the span vectors are allocated once per thread, not once per request.
    static BATCH: RefCell<WriteBatch> = RefCell::new(WriteBatch::default());
}

pub async fn write(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    let content_type = header_text(&headers, header::CONTENT_TYPE);
    let v2 = negotiate(content_type, None) == Ok(Protocol::V2);
    let result = receive(&state, &headers, body).await;
    if let Err(error) = &result {
        state.metrics.rejected(error.reason());
        tracing::debug!(reason = error.reason(), %error, "write request refused");
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

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

async fn receive(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Written, WriteError> {
    if !state.auth.allows(headers) {
        return Err(WriteError::Unauthorized {
            challenge: state.auth.challenge(),
        });
    }
    let protocol = negotiate(
        header_text(headers, header::CONTENT_TYPE),
        header_text(headers, header::CONTENT_ENCODING),
    )?;
    let limit = state.max_body_bytes;
    let declared = header_text(headers, header::CONTENT_LENGTH).and_then(|v| v.parse().ok());
    if declared.is_some_and(|length: usize| length > limit) {
        return Err(WriteError::BodyTooLarge { limit });
    }
    let compressed = Limited::new(body, limit)
        .collect()
        .await
        .map_err(|error| {
            if error.downcast_ref::<LengthLimitError>().is_some() {
                WriteError::BodyTooLarge { limit }
            } else {
                WriteError::BodyRead(error.to_string())
            }
        })?
        .to_bytes();
    BATCH.with_borrow_mut(|batch| ingest(state, protocol, &compressed, batch))
}

/// The synchronous part of a write: decode, reserve, apply, enqueue.
fn ingest(
    state: &AppState,
    protocol: Protocol,
    compressed: &[u8],
    batch: &mut WriteBatch,
) -> Result<Written, WriteError> {
    let metrics = &state.metrics;
    let started = Instant::now();
    state.decoder.decode(protocol, compressed, batch)?;
    metrics
        .decode_seconds
        .observe(started.elapsed().as_secs_f64());

    let permit = state.queue.try_reserve().map_err(|error| match error {
        TrySendError::Full(()) => WriteError::Overloaded,
        TrySendError::Closed(()) => WriteError::ShuttingDown,
    })?;
    let mut accepted = Vec::with_capacity(batch.sample_count());
    let (outcome, active, at_limit) = {
        let mut registry = state.registry.lock();
        let outcome = registry.apply(batch, super::now_ms(), &mut accepted);
        (outcome, registry.active_series(), registry.at_limit())
    };
    if !accepted.is_empty() {
        permit.send(PipelineEvent::Samples(accepted));
    }

    metrics.samples_received.inc_by(batch.sample_count() as u64);
    metrics.series_received.inc_by(batch.series().len() as u64);
    metrics.histograms_received.inc_by(batch.histograms);
    metrics.exemplars_received.inc_by(batch.exemplars);
    metrics.metadata_received.inc_by(batch.metadata);
    metrics.dropped(DropReason::OutOfOrder, outcome.out_of_order);
    metrics.dropped(DropReason::Duplicate, outcome.duplicate);
    metrics.dropped(DropReason::SeriesLimit, outcome.series_limit);
    metrics.series_created.inc_by(outcome.series_created);
    metrics.active_series.set(active as i64);
    metrics.series_limit_reached.set(i64::from(at_limit));
    metrics
        .queue_depth
        .set((state.queue.max_capacity() - state.queue.capacity()) as i64);
    if outcome.series_limit > 0 {
        tracing::warn!(
            dropped = outcome.series_limit,
            active,
            "active-series limit reached: samples of new series dropped (ingest.max_active_series)"
        );
    }
    Ok(Written {
        // A sample whose timestamp its series already holds counts as written: the
        // sender is retrying data harbinger has, and must not be told it failed.
        samples: outcome.accepted + outcome.duplicate,
        histograms: batch.histograms,
        exemplars: batch.exemplars,
    })
}

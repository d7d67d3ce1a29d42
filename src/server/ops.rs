//! Operational endpoints: `/metrics`, `/-/healthy`, `/-/ready`, and `/api/v1/series`,
//! which shows what the registry holds for one metric name.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AppState;

pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut text = String::new();
    if let Err(error) =
        prometheus_client::encoding::text::encode(&mut text, &state.metrics_registry)
    {
        return (StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n")).into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

pub async fn healthy() -> &'static str {
    "harbinger is Healthy.\n"
}

pub async fn ready(State(state): State<Arc<AppState>>) -> Response {
    if state.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "harbinger is Ready.\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "harbinger is shutting down.\n",
        )
            .into_response()
    }
}

#[derive(Deserialize)]
pub struct SeriesQuery {
    /// The metric name (`__name__`) to list.
    metric: String,
    #[serde(default = "default_limit")]
    limit: usize,
}

fn default_limit() -> usize {
    1000
}

/// `GET /api/v1/series?metric=NAME[&limit=N]`: the live series of one metric with their
/// latest sample, as JSON in Prometheus's API envelope.
pub async fn series(
    State(state): State<Arc<AppState>>,
    Query(query): Query<SeriesQuery>,
) -> Response {
    let Some((registry, _)) = state.local() else {
        return (
            StatusCode::NOT_FOUND,
            "this process holds no series: in a Kafka deployment they are spread over the workers\n",
        )
            .into_response();
    };
    let found = registry.lock().series_named(&query.metric, query.limit);
    let data: Vec<serde_json::Value> = found
        .into_iter()
        .map(|series| {
            serde_json::json!({
                "labels": series.labels.into_iter().collect::<std::collections::BTreeMap<_, _>>(),
                "timestamp_ms": series.timestamp_ms,
                // As Prometheus's API does, values are strings (NaN and Inf survive JSON).
                "value": series.value.to_string(),
                "stale": series.stale,
            })
        })
        .collect();
    Json(serde_json::json!({"status": "success", "data": data})).into_response()
}

/// `GET /api/v1/tickets`: the tickets open now (each as last sent, with its action count
/// and whether its rule fired) and the dead letters, from the outbox.
pub async fn tickets(State(state): State<Arc<AppState>>) -> Response {
    let Some(view) = &state.tickets else {
        return (
            StatusCode::NOT_FOUND,
            "this process opens no tickets: a receiver publishes to Kafka, the workers ticket\n",
        )
            .into_response();
    };
    match (view.open().await, view.dead_letters().await) {
        (Ok(open), Ok(dead_letters)) => Json(serde_json::json!({
            "status": "success",
            "data": {"open": open, "dead_letters": dead_letters},
        }))
        .into_response(),
        (Err(e), _) | (_, Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("reading the outbox: {e}\n"),
        )
            .into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct PredictionsQuery {
    /// Only this target (alert name).
    target: Option<String>,
    /// Only entities with a label value containing this text.
    entity: Option<String>,
    #[serde(default = "default_predictions_limit")]
    limit: usize,
}

fn default_predictions_limit() -> usize {
    100
}

/// `GET /api/v1/predictions[?target=ALERT][&entity=TEXT][&limit=N]`: the last step's
/// predictions, most likely first (unknown last): at most `limit` (100), and how many
/// matched in all.
pub async fn predictions(
    State(state): State<Arc<AppState>>,
    Query(query): Query<PredictionsQuery>,
) -> Response {
    let Some(board) = &state.board else {
        return (
            StatusCode::NOT_FOUND,
            "this process publishes no predictions: only `serve --role all` does\n",
        )
            .into_response();
    };
    let (published, matched) = board.top(query.limit, |p| {
        query.target.as_ref().is_none_or(|t| &p.target == t)
            && query
                .entity
                .as_ref()
                .is_none_or(|text| p.entity.iter().any(|(_, v)| v.contains(text.as_str())))
    });
    Json(serde_json::json!({
        "status": "success",
        "data": {"at_ms": published.at_ms, "matched": matched, "predictions": published.predictions},
    }))
    .into_response()
}

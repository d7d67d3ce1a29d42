//! The status page at `/`: what harbinger thinks now, for a person with a browser.
//!
//! In: the board (ranked predictions, rules, model card, recent ticket actions), the
//! outbox (open tickets, dead letters, backlog), the process's own metrics, and the
//! query `?target=ALERT&entity=TEXT&limit=N`. Out: one server-rendered HTML page, inline
//! CSS and SVG and no script: per target the riskiest entities, each with a sparkline;
//! the open tickets with their evidence; recent actions and dead letters; the model
//! card; pipeline health. Only the first `limit` (20) entities per target are rendered,
//! so the page stays small at any estate size; the form finds the others.

mod page;
mod sections;
mod sparkline;

pub use page::render;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use crate::outbox::DeadLetter;
use crate::predictions::board::{Board, Prediction};
use crate::predictions::card::{ModelCard, RuleCard};
use crate::tickets::{OpenTicket, TicketAction};

/// The page's filter, a plain GET form.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    /// Only this target; empty: all.
    #[serde(default)]
    pub target: String,
    /// Only entities with a label value containing this text.
    #[serde(default)]
    pub entity: String,
    #[serde(default = "default_limit")]
    pub limit: usize,
}

fn default_limit() -> usize {
    20
}

/// The largest `limit` the page renders, whatever is asked.
const MAX_LIMIT: usize = 500;

/// Everything the page shows, read at one moment.
pub struct Snapshot {
    pub role: &'static str,
    pub now_ms: i64,
    pub query: PageQuery,
    pub model_source: String,
    /// None in the roles that do not score here.
    pub scoring: Option<Scoring>,
    /// None in the roles that do not ticket here; an error reading the outbox is shown.
    pub outbox: Option<Result<Outbox, String>>,
    pub health: Health,
}

pub struct Scoring {
    /// The last step's time; 0 before the first.
    pub at_ms: i64,
    pub step_seconds: f64,
    /// Every target's alert name, for the filter.
    pub alerts: Vec<String>,
    /// The targets the filter keeps.
    pub targets: Vec<TargetRanking>,
    pub model: Option<ModelCard>,
    pub recent: Vec<TicketAction>,
}

impl Scoring {
    /// What `board` holds that the page shows, with the targets and entities `query`
    /// keeps, at most `query.limit` per target.
    pub fn of(board: &Board, query: &PageQuery, step: Duration) -> Scoring {
        let rules = board.rules();
        let alerts = rules.iter().map(|rule| rule.alert.clone()).collect();
        let targets = rules
            .into_iter()
            .filter(|rule| query.target.is_empty() || rule.alert == query.target)
            .map(|rule| {
                let (published, matched) = board.top(query.limit, |p| {
                    p.target == rule.alert
                        && (query.entity.is_empty()
                            || p.entity
                                .iter()
                                .any(|(_, v)| v.contains(query.entity.as_str())))
                });
                TargetRanking {
                    rule,
                    shown: published.predictions,
                    matched,
                }
            })
            .collect();
        Scoring {
            at_ms: board.at_ms(),
            step_seconds: step.as_secs_f64(),
            alerts,
            targets,
            model: board.model(),
            recent: board.recent_actions(),
        }
    }
}

/// One target's entities, riskiest first, as far as the filter and the limit let.
pub struct TargetRanking {
    pub rule: RuleCard,
    pub shown: Vec<Prediction>,
    pub matched: usize,
}

pub struct Outbox {
    pub open: Vec<OpenTicket>,
    pub dead_letters: Vec<DeadLetter>,
    pub undelivered: u64,
}

/// The process's own figures, from its metrics.
pub struct Health {
    pub ready: bool,
    pub samples_received: u64,
    pub active_series: i64,
    pub series_limit: i64,
    pub queue_depth: i64,
    pub queue_capacity: i64,
    pub steps: u64,
    pub evaluation_errors: u64,
    pub feature_bytes: i64,
}

/// `GET /`: the status page.
pub async fn page(State(state): State<Arc<AppState>>, Query(query): Query<PageQuery>) -> Response {
    let snapshot = snapshot(&state, query).await;
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        page::render(&snapshot),
    )
        .into_response()
}

async fn snapshot(state: &AppState, mut query: PageQuery) -> Snapshot {
    query.limit = query.limit.clamp(1, MAX_LIMIT);
    let scoring = (state.board.as_ref()).map(|board| Scoring::of(board, &query, state.step));
    let outbox = match &state.tickets {
        Some(view) => Some(
            async {
                Ok(Outbox {
                    open: view.open().await?,
                    dead_letters: view.dead_letters().await?,
                    undelivered: view.undelivered().await?,
                })
            }
            .await
            .map_err(|e: crate::outbox::StoreError| e.to_string()),
        ),
        None => None,
    };
    let metrics = &state.metrics;
    Snapshot {
        role: state.role.name(),
        now_ms: super::now_ms(),
        query,
        model_source: state.model_source.clone(),
        scoring,
        outbox,
        health: Health {
            ready: state.ready.load(Ordering::Relaxed),
            samples_received: metrics.samples_received.get(),
            active_series: metrics.active_series.get(),
            series_limit: metrics.series_limit.get(),
            queue_depth: metrics.queue_depth.get(),
            queue_capacity: metrics.queue_capacity.get(),
            steps: metrics.pipeline_steps.get(),
            evaluation_errors: metrics.pipeline_evaluation_errors.get(),
            feature_bytes: metrics.pipeline_feature_bytes.get(),
        },
    }
}

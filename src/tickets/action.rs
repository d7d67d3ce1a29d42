//! A ticket action: one step of a ticket's life, as it is stored and delivered.
//!
//! A ticket belongs to one fingerprint (target + entity labels) and lives
//! `open → update* → confirm? → resolve`. Each action carries the whole ticket as it
//! stands, so a sink never needs an earlier action to render one, and an idempotency
//! key (`<fingerprint>-<ticket sequence>-<action sequence>`) that is the same on every
//! delivery attempt of the action, so that a receiver can drop a repeat.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::Outcome;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum ActionKind {
    /// A prediction opened the ticket.
    Open,
    /// The estimate changed materially.
    Update,
    /// The real rule fired.
    Confirm,
    /// The ticket ended.
    Resolve { outcome: Outcome },
}

impl ActionKind {
    /// The action's name, as serialised and in metric labels.
    pub fn name(&self) -> &'static str {
        match self {
            ActionKind::Open => "open",
            ActionKind::Update => "update",
            ActionKind::Confirm => "confirm",
            ActionKind::Resolve { .. } => "resolve",
        }
    }
}

/// What an operator needs to act on a prediction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Ticket {
    /// Hex of a stable hash of the target and the entity labels.
    pub fingerprint: String,
    /// Numbers the tickets of this fingerprint: the unix milliseconds of the step it
    /// opened at, so that numbers stay unique across restarts.
    pub sequence: u64,
    /// The alert the ticket anticipates, e.g. `HostOutOfDiskSpace`.
    pub target: String,
    /// The entity's labels, e.g. `{instance: app-1, mountpoint: /data}`.
    pub entity: BTreeMap<String, String>,
    /// e.g. "HostOutOfDiskSpace on instance=app-1, mountpoint=/data: predicted in ~40m".
    pub title: String,
    /// The rule's expression with its comparison, e.g. `... < 10`.
    pub rule: String,
    pub threshold: f64,
    /// Calibrated probability that the rule fires within the horizon; null without a
    /// classifier.
    pub probability: Option<f64>,
    pub horizon_seconds: f64,
    /// Seconds until the trend crosses the threshold, and its standard error.
    pub eta_seconds: Option<f64>,
    pub eta_stderr_seconds: Option<f64>,
    /// The signal's value now.
    pub value: Option<f64>,
    /// Its least-squares slope over the shortest window, per second.
    pub trend_per_second: Option<f64>,
    /// The rule's expression in Prometheus's graph page, when `prometheus_url` is set.
    pub graph_url: Option<String>,
    /// The model inputs that weighed most in the probability, largest effect first;
    /// empty without a classifier.
    pub evidence: Vec<Evidence>,
    /// The rule's annotations (summary, description, runbook_url, ...) and labels.
    pub annotations: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// Unix milliseconds of the step the ticket opened at.
    pub opened_at_ms: i64,
}

/// One model input's part in a prediction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Evidence {
    /// The input's name (see `model::Inputs`), e.g. `passage_5m` or `drift_5m`.
    pub input: String,
    /// Its value (a classifier input, or for the first-passage probability the drift
    /// toward the threshold per second, the volatility per √second, the distance).
    pub value: f64,
    /// How much it moved the probability: for a classifier input, the score minus the
    /// score with this input at its mean training value; for the first-passage
    /// probability, the probability minus that without the drift, without the noise,
    /// or at twice the distance.
    pub effect: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketAction {
    /// The same on every delivery attempt of this action.
    pub idempotency_key: String,
    #[serde(flatten)]
    pub kind: ActionKind,
    /// Unix milliseconds of the step that decided it.
    pub at_ms: i64,
    pub ticket: Ticket,
}

impl TicketAction {
    /// `sequence` counts the actions of the ticket, from 1 (the open).
    pub fn new(kind: ActionKind, at_ms: i64, ticket: Ticket, sequence: u64) -> TicketAction {
        TicketAction {
            idempotency_key: format!("{}-{}-{}", ticket.fingerprint, ticket.sequence, sequence),
            kind,
            at_ms,
            ticket,
        }
    }
}

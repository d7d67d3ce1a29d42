//! Live predictions: at every step of the live pipeline, every entity of every target
//! scored by the model and decided by its policy, with the code `backtest` runs.
//!
//! In: a model checked against the pipeline; then, after each step of the live signal
//! engine, the time, the engine's features and the series store (for the rules' own
//! state, from the `ALERTS` series Prometheus sends). Out: ticket actions (see
//! [`lifecycle`](mod@lifecycle)) and the gauges `harbinger_prediction_probability`,
//! `harbinger_prediction_eta_seconds` and `harbinger_anomaly_score`, labelled with the
//! target and the entity's labels; an entity the engine forgets loses its gauges.
//!
//! After a restart, [`LivePredictions::resume`] carries on the tickets the outbox
//! recorded as open: each is resolved once when its risk goes away, never opened twice.

pub mod board;
pub mod card;
mod gauges;
pub mod lifecycle;
pub mod track;

/// How many inputs a ticket names as the evidence for its probability.
const EVIDENCE: usize = 3;

use std::collections::{BTreeMap, HashMap};

use self::board::{Board, Prediction};
use self::card::{ModelCard, RuleCard};
use self::gauges::EntityGauges;
use self::lifecycle::{Describe, Lifecycle};
use crate::model::{AlertState, Model, ModelError, Policy, Scored, TargetModel, TargetScorer};
use crate::pipeline::{Pipeline, SignalEngine};
use crate::promql::{Labels, LabelsMap, Plan, SeriesStore, Value, evaluate, format_value};
use crate::rules::{Comparison, template};
use crate::telemetry::Metrics;
use crate::tickets::{OpenTicket, Ticket, TicketAction};

struct LiveTarget {
    scorer: TargetScorer,
    model: TargetModel,
    entities: LabelsMap<Tracked>,
}

/// What a target keeps of an entity.
#[derive(Default)]
struct Tracked {
    lifecycle: Lifecycle,
    /// Whether the last step saw it.
    seen: bool,
    gauges: EntityGauges,
}

pub struct LivePredictions {
    targets: Vec<LiveTarget>,
    entity_labels: Vec<String>,
    /// Prometheus's base URL, for the tickets' graph links.
    prometheus_url: Option<reqwest::Url>,
    alerts: Plan,
    metrics: Metrics,
    row: Vec<f64>,
    inputs: Vec<f64>,
    /// How long a ticket resumed from before a restart waits for its entity's samples
    /// before it is resolved as gone.
    resume_grace_ms: i64,
    /// Where each step's predictions are published, if anyone reads them.
    board: Option<Board>,
    /// What the board says of the rules and the model.
    rules: Vec<RuleCard>,
    card: ModelCard,
}

impl LivePredictions {
    /// Refuses a model that does not match the pipeline. Without a model, or for a
    /// target the model does not know, tickets open on the first-passage probability
    /// ([`Policy::untrained`]) within the pipeline's horizon; a target the model knows
    /// keeps the horizon it was trained for.
    pub fn new(
        pipeline: &Pipeline,
        model: Option<&Model>,
        prometheus_url: Option<reqwest::Url>,
        metrics: Metrics,
    ) -> Result<Self, ModelError> {
        if let Some(model) = model {
            model.check(pipeline)?;
        }
        let targets: Vec<LiveTarget> = pipeline
            .targets
            .iter()
            .map(|target| {
                let target = match model {
                    Some(model) => model.target_as_trained(target),
                    None => target.clone(),
                };
                let scorer = TargetScorer::new(pipeline, &target);
                let model = match model.and_then(|m| m.target(&target.alert)) {
                    Some(trained) => trained.clone(),
                    None => TargetModel::untrained(
                        &scorer,
                        Policy::untrained(&Policy::lifecycle(pipeline.step)),
                    ),
                };
                LiveTarget {
                    scorer,
                    model,
                    entities: LabelsMap::default(),
                }
            })
            .collect();
        let rules = targets
            .iter()
            .map(|t| {
                let windows = &pipeline.signals[t.scorer.signal].features.params().windows;
                let longest = windows.iter().max().copied().unwrap_or_default();
                RuleCard::of(&t.scorer.target, longest)
            })
            .collect();
        let card = ModelCard::of(model, targets.iter().map(|t| &t.model));
        Ok(LivePredictions {
            targets,
            entity_labels: pipeline.entity_labels.clone(),
            prometheus_url,
            alerts: Plan::parse("ALERTS").expect("a valid selector"),
            metrics,
            row: Vec::new(),
            inputs: Vec::new(),
            resume_grace_ms: 0,
            board: None,
            rules,
            card,
        })
    }

    /// The signals scored (by index in the pipeline), each once.
    pub fn signals(&self) -> impl Iterator<Item = usize> {
        let mut signals: Vec<usize> = self.targets.iter().map(|t| t.scorer.signal).collect();
        signals.sort_unstable();
        signals.dedup();
        signals.into_iter()
    }

    /// Publishes every step's predictions on `board` from now on.
    pub fn publish_to(&mut self, board: Board) {
        board.describe(self.rules.clone(), self.card.clone());
        self.board = Some(board);
    }

    /// Carries on `open`, the tickets open before a restart (from the outbox): each
    /// stays open, without opening again, until its policy closes it; one whose entity
    /// sends nothing within `grace` of the first step is resolved as gone. Returns the
    /// resolves, at `now_ms`, of the tickets of targets the pipeline no longer has.
    pub fn resume(
        &mut self,
        open: Vec<OpenTicket>,
        grace: std::time::Duration,
        now_ms: i64,
    ) -> Vec<TicketAction> {
        self.resume_grace_ms = grace.as_millis() as i64;
        let mut orphans = Vec::new();
        for ticket in open {
            let entity = Labels::new(ticket.ticket.entity.clone());
            let target = self
                .targets
                .iter_mut()
                .find(|t| t.scorer.target.alert == ticket.ticket.target);
            match target {
                Some(target) => {
                    let tracked = Tracked {
                        lifecycle: Lifecycle::resumed(ticket),
                        ..Tracked::default()
                    };
                    target.entities.insert(entity, tracked);
                }
                None => orphans.push(ticket),
            }
        }
        resolve_orphans(orphans, now_ms)
    }

    /// Scores with `model` from now on, keeping every open ticket and policy state; a
    /// model that does not match the pipeline is refused and the current one stays.
    pub fn reload(&mut self, pipeline: &Pipeline, model: &Model) -> Result<(), ModelError> {
        let mut next = LivePredictions::new(
            pipeline,
            Some(model),
            self.prometheus_url.clone(),
            self.metrics.clone(),
        )?;
        for target in &mut next.targets {
            let alert = &target.scorer.target.alert;
            if let Some(old) = self
                .targets
                .iter_mut()
                .find(|t| &t.scorer.target.alert == alert)
            {
                target.entities = std::mem::take(&mut old.entities);
            }
        }
        if let Some(board) = self.board.take() {
            next.publish_to(board);
        }
        // Tickets carried on from before a restart still wait for their entities.
        next.resume_grace_ms = self.resume_grace_ms;
        *self = next;
        Ok(())
    }

    /// Removes every entity's gauges: another process scores them from now on (a Kafka
    /// worker whose partition moved). Open tickets stay open, for the new owner: their
    /// fingerprints are returned.
    pub fn release(self) -> Vec<String> {
        let mut open = Vec::new();
        for mut target in self.targets {
            for (entity, tracked) in &mut target.entities {
                let alert = &target.scorer.target.alert;
                tracked.gauges.remove(&self.metrics, alert, entity);
                open.extend(tracked.lifecycle.open_fingerprint().map(str::to_owned));
            }
        }
        open
    }

    /// Scores and decides every entity at `t_ms`; appends the ticket actions.
    pub fn step(
        &mut self,
        t_ms: i64,
        engine: &SignalEngine,
        store: &SeriesStore,
        actions: &mut Vec<TicketAction>,
    ) {
        let alerts = self.alert_states(t_ms, store);
        for target in &mut self.targets {
            for tracked in target.entities.values_mut() {
                tracked.seen = false;
            }
        }
        let prometheus_url = self.prometheus_url.as_ref();
        let (row, inputs) = (&mut self.row, &mut self.inputs);
        let mut published = self.board.as_ref().map(|_| Vec::new());
        engine.for_each(|index, _, entity, features| {
            for target in self.targets.iter_mut().filter(|t| t.scorer.signal == index) {
                let horizon_s = target.scorer.target.horizon.as_secs_f64();
                row.clear();
                features.write(row);
                let alert_name = &target.scorer.target.alert;
                let alert = alerts
                    .get(alert_name)
                    .and_then(|states| states.get(entity))
                    .copied()
                    .unwrap_or(AlertState::Inactive);
                let scored = target.scorer.score(&target.model, row, alert, inputs);
                let tracked = target.entities.entry(entity.clone()).or_default();
                tracked.seen = true;
                tracked
                    .gauges
                    .set(&self.metrics, alert_name, entity, &scored);
                let lifecycle = &mut tracked.lifecycle;
                let describe = Description {
                    target: &target.scorer,
                    model: &target.model,
                    row,
                    entity,
                    scored: &scored,
                    horizon_s,
                    prometheus_url,
                };
                let observation = &scored.observation;
                if let Some(action) = lifecycle.step(
                    t_ms,
                    &target.model.policy,
                    horizon_s,
                    observation,
                    &describe,
                ) {
                    actions.push(action);
                }
                if let Some(published) = &mut published {
                    let alert = &target.scorer.target.alert;
                    published.push(Prediction::of(alert, entity, &scored, lifecycle.is_open()));
                }
            }
        });
        if let (Some(board), Some(published)) = (&self.board, published) {
            board.publish(t_ms, published);
        }
        // Entities the engine forgot: their gauges go, and an open ticket is resolved.
        let grace_ms = self.resume_grace_ms;
        for target in &mut self.targets {
            let alert = &target.scorer.target.alert;
            let gone: Vec<Labels> = target
                .entities
                .iter_mut()
                .filter_map(|(entity, tracked)| {
                    let gone = !tracked.seen && tracked.lifecycle.gone(t_ms, grace_ms);
                    gone.then(|| entity.clone())
                })
                .collect();
            for entity in gone {
                if let Some(mut tracked) = target.entities.remove(&entity) {
                    tracked.gauges.remove(&self.metrics, alert, &entity);
                    actions.extend(tracked.lifecycle.abandon(t_ms));
                }
            }
        }
    }

    /// The rules' states at `t_ms`, by alert name and entity, from `ALERTS`.
    fn alert_states(
        &self,
        t_ms: i64,
        store: &SeriesStore,
    ) -> HashMap<String, LabelsMap<AlertState>> {
        let mut states = HashMap::new();
        let Ok(Value::Vector(vector)) = evaluate(&self.alerts, store, t_ms) else {
            return states;
        };
        for element in vector {
            let (Some(alert), Some(state)) = (
                element.labels.get("alertname"),
                element.labels.get("alertstate"),
            ) else {
                continue;
            };
            let state = if state == "firing" {
                AlertState::Firing
            } else {
                AlertState::Pending
            };
            let entry = states
                .entry(alert.to_owned())
                .or_insert_with(LabelsMap::default)
                .entry(element.labels.keeping(&self.entity_labels))
                .or_insert(state);
            if state == AlertState::Firing {
                *entry = state;
            }
        }
        states
    }
}

/// Resolves, at `now_ms`, tickets left open before a restart whose target no pipeline
/// scores any more: nothing would ever close them.
pub fn resolve_orphans(open: Vec<OpenTicket>, now_ms: i64) -> Vec<TicketAction> {
    for ticket in &open {
        tracing::warn!(
            target = %ticket.ticket.target,
            fingerprint = %ticket.ticket.fingerprint,
            "a ticket open before the restart belongs to a target the pipeline no longer has; resolving it"
        );
    }
    open.into_iter()
        .filter_map(|ticket| Lifecycle::resumed(ticket).abandon(now_ms))
        .collect()
}

/// A stable fingerprint of a target and an entity: FNV-1a over their text, in hex.
pub fn fingerprint(alert: &str, entity: &Labels) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes.iter().chain(&[0xff]) {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    feed(alert.as_bytes());
    for (name, value) in entity.iter() {
        feed(name.as_bytes());
        feed(value.as_bytes());
    }
    format!("{hash:016x}")
}

/// The rule's annotations or labels, each rendered as Prometheus would for an alert on
/// the entity at `value`.
fn rendered(
    templates: &BTreeMap<String, String>,
    entity: &BTreeMap<String, String>,
    value: f64,
) -> BTreeMap<String, String> {
    templates
        .iter()
        .map(|(name, text)| (name.clone(), template::render(text, entity, value)))
        .collect()
}

/// The ticket as a step's scoring describes it.
struct Description<'a> {
    target: &'a TargetScorer,
    model: &'a TargetModel,
    /// The target signal's feature row at this step.
    row: &'a [f64],
    entity: &'a Labels,
    scored: &'a Scored,
    horizon_s: f64,
    prometheus_url: Option<&'a reqwest::Url>,
}

impl Describe for Description<'_> {
    fn ticket(&self, sequence: u64, opened_at_ms: i64) -> Ticket {
        let target = &self.target.target;
        let o = &self.scored.observation;
        let finite = |v: f64| v.is_finite().then_some(v);
        let entity: BTreeMap<String, String> = self
            .entity
            .iter()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect();
        let side = match target.comparison {
            Comparison::Below => "fall below",
            Comparison::Above => "rise above",
        };
        let when = finite(o.eta_seconds).map_or(String::new(), |eta| {
            format!(
                " in ~{}",
                crate::config::duration::format(std::time::Duration::from_secs(eta as u64))
            )
        });
        let chance = finite(o.probability).map_or(String::new(), |p| format!(" (p={p:.2})"));
        let rule = target.condition();
        let graph_url = self.prometheus_url.and_then(|base| {
            let mut url = base.join("graph").ok()?;
            url.query_pairs_mut()
                .append_pair("g0.expr", &rule)
                .append_pair("g0.tab", "0")
                .append_pair("g0.range_input", "1h");
            Some(url.to_string())
        });
        let annotations = rendered(&target.annotations, &entity, self.scored.level);
        let labels = rendered(&target.labels, &entity, self.scored.level);
        Ticket {
            fingerprint: fingerprint(&target.alert, self.entity),
            sequence,
            target: target.alert.clone(),
            title: format!(
                "{} on {}: predicted to {side} {}{when}{chance}",
                target.alert,
                self.entity,
                format_value(target.threshold)
            ),
            entity,
            rule,
            threshold: target.threshold,
            probability: finite(o.probability),
            horizon_seconds: self.horizon_s,
            eta_seconds: finite(o.eta_seconds),
            eta_stderr_seconds: finite(o.eta_stderr_seconds),
            value: finite(self.scored.level),
            trend_per_second: finite(self.scored.trend_per_second),
            graph_url,
            evidence: self.target.evidence(self.model, self.row, EVIDENCE),
            annotations,
            labels,
            opened_at_ms,
        }
    }
}

#[cfg(test)]
mod tests;

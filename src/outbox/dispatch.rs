//! The dispatcher: one task per sink, delivering what the store says the sink owes.
//!
//! In: wake-ups (an action appended, a delivery finished, shutdown) and the sink's
//! pending actions from the store. Out: delivery attempts, and each action settled in
//! the store (delivered, or dead-lettered with a log line saying why), with metrics;
//! the deliveries that finished together are settled in one commit.
//!
//! Order: only the oldest pending action of each fingerprint is ever in delivery, so an
//! update never overtakes its open; different fingerprints go concurrently, up to the
//! sink's concurrency. At least once: an action leaves the pending list only after the
//! sink reported it delivered, so a crash in between repeats it (with the same
//! idempotency key). Retries never end on their own: a transient failure waits the
//! capped, jittered backoff and tries again; only a refusal (4xx) ends an action early.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use super::sink::{Attempt, Sink};
use super::store::{Settlement, Store, on_blocking};
use crate::retry::Backoff;
use crate::telemetry::throttle::{LOGS, Say};
use crate::telemetry::{AttemptLabels, Metrics, SinkLabels, TicketLabels};
use crate::tickets::TicketAction;

/// What a dispatcher shares with the outbox, whatever its sink.
#[derive(Clone)]
pub struct Context {
    pub store: Arc<Store>,
    /// Notified on every append; a permit is kept when nobody waits, so none is lost.
    pub wake: Arc<Notify>,
    /// True once shutdown began: start no delivery, cut retry waits short.
    pub stop: watch::Receiver<bool>,
    pub backoff: Backoff,
    pub metrics: Metrics,
}

pub struct Dispatcher<S> {
    pub sink: Arc<S>,
    pub cx: Context,
}

impl<S: Sink> Dispatcher<S> {
    /// Runs a dispatcher of `sink` in `tasks`.
    pub fn start(sink: S, cx: Context, tasks: &mut JoinSet<String>) {
        Dispatcher {
            sink: Arc::new(sink),
            cx,
        }
        .spawn(tasks);
    }

    /// Runs the dispatcher in `tasks`; the task ends with the sink's name.
    pub fn spawn(self, tasks: &mut JoinSet<String>) {
        let name = self.sink.name().to_owned();
        tasks.spawn(async move {
            self.run().await;
            name
        });
    }

    /// Delivers until shutdown, then returns once the attempts in flight have ended.
    pub async fn run(mut self) {
        let sink_name = self.sink.name().to_owned();
        let labels = SinkLabels {
            sink: sink_name.clone(),
        };
        let dead = on_blocking(&self.cx.store, |store| store.dead_letters()).await;
        let dead = dead.map_or(0, |letters| {
            letters.iter().filter(|l| l.sink == labels.sink).count()
        });
        self.cx
            .metrics
            .outbox_dead_letters
            .get_or_create(&labels)
            .set(dead as i64);
        // Fingerprints with an action in delivery.
        let mut in_flight: HashSet<String> = HashSet::new();
        let mut deliveries = JoinSet::new();
        loop {
            let stopping = *self.cx.stop.borrow();
            if stopping && deliveries.is_empty() {
                return;
            }
            // With every slot busy this only counts what is owed, for the gauge.
            let free = self.sink.concurrency().saturating_sub(deliveries.len());
            if !stopping {
                let name = sink_name.clone();
                let busy = in_flight.clone();
                let next = move |store: &Store| store.next_owed(&name, &busy, free);
                match on_blocking(&self.cx.store, next).await {
                    Ok(owed) => {
                        self.cx
                            .metrics
                            .outbox_pending
                            .get_or_create(&labels)
                            .set(owed.count as i64);
                        for (seq, action) in owed.heads {
                            in_flight.insert(action.ticket.fingerprint.clone());
                            deliveries.spawn(self.delivery(seq, action));
                        }
                    }
                    Err(error) => {
                        tracing::error!(sink = %sink_name, %error, "outbox unreadable, retrying");
                        let pause = tokio::time::sleep(self.cx.backoff.initial);
                        tokio::select! {
                            () = pause => {}
                            _ = self.cx.stop.changed() => {}
                        }
                        continue;
                    }
                }
            }
            tokio::select! {
                Some(done) = deliveries.join_next() => {
                    // What else finished meanwhile is recorded with it, in one commit.
                    let mut finished = vec![done.expect("a delivery does not panic")];
                    while let Some(done) = deliveries.try_join_next() {
                        finished.push(done.expect("a delivery does not panic"));
                    }
                    self.record(&finished).await;
                    for done in finished {
                        in_flight.remove(&done.fingerprint);
                    }
                }
                () = self.cx.wake.notified(), if !stopping => {}
                _ = self.cx.stop.changed(), if !stopping => {}
            }
        }
    }

    /// Attempts one action until it is delivered or refused, or shutdown cuts a retry
    /// wait short (the action stays pending for the next start).
    fn delivery(
        &self,
        seq: u64,
        action: TicketAction,
    ) -> impl Future<Output = Finished> + Send + 'static {
        let (sink, metrics, backoff) = (
            Arc::clone(&self.sink),
            self.cx.metrics.clone(),
            self.cx.backoff,
        );
        let mut stop = self.cx.stop.clone();
        async move {
            let name = sink.name().to_owned();
            let kind = action.kind.name();
            let key = action.idempotency_key.as_str();
            let mut attempt = 0;
            let settlement = loop {
                attempt += 1;
                let result = sink.deliver(&action).await;
                let label = match &result {
                    Attempt::Delivered => "delivered",
                    Attempt::Retry(_) => "retry",
                    Attempt::Reject(_) => "rejected",
                };
                metrics
                    .ticket_delivery_attempts
                    .get_or_create(&AttemptLabels {
                        sink: name.clone(),
                        result: label,
                    })
                    .inc();
                match result {
                    Attempt::Retry(reason) => {
                        let delay = backoff.delay(attempt, rand::random());
                        let retry_in_ms = delay.as_millis() as u64;
                        match LOGS.occurred(&format!("sink:{name}:"), Instant::now()) {
                            Say::First => tracing::warn!(sink = %name, action = kind, key, attempt,
                                %reason, retry_in_ms, "ticket delivery failed, retrying"),
                            Say::Summary { held, total } => tracing::warn!(sink = %name,
                                action = kind, key, attempt, %reason, retry_in_ms, held, total,
                                "ticket deliveries still failing, retrying"),
                            Say::Nothing => {}
                        }
                        tokio::select! {
                            () = tokio::time::sleep(delay) => continue,
                            _ = stop.wait_for(|stopping| *stopping) => break None,
                        }
                    }
                    Attempt::Delivered => {
                        tracing::debug!(sink = %name, action = kind, key, attempt, "ticket delivered");
                        for cause in LOGS.recovered(&format!("sink:{name}:"), Instant::now()) {
                            tracing::info!(sink = %name, failed_attempts = cause.total,
                                lasted_seconds = cause.lasted.as_secs(), "the sink delivers again");
                        }
                        break Some(Settlement::Delivered);
                    }
                    Attempt::Reject(reason) => {
                        tracing::error!(sink = %name, action = kind, key, %reason,
                            "ticket action refused by the sink; moved to the dead letters");
                        break Some(Settlement::Refused(reason));
                    }
                }
            };
            Finished {
                seq,
                fingerprint: action.ticket.fingerprint.clone(),
                kind,
                settlement,
            }
        }
    }

    /// Records in the store, in one transaction, how the sink finished with each of
    /// `finished`, and counts them. The sink's answers are known, so a failed commit is
    /// tried again after the backoff, not delivered again; the dispatcher waits
    /// meanwhile (nothing else it does could be recorded either). Shutdown ends the
    /// waiting: what is unrecorded stays pending, and is delivered at the next start.
    async fn record(&mut self, finished: &[Finished]) {
        let settled: Vec<(u64, Settlement)> = finished
            .iter()
            .filter_map(|done| Some((done.seq, done.settlement.clone()?)))
            .collect();
        if settled.is_empty() {
            return;
        }
        let name = self.sink.name().to_owned();
        for attempt in 1u32.. {
            let (sink, batch) = (name.clone(), settled.clone());
            let recorded = on_blocking(&self.cx.store, move |s| s.settle_all(&sink, &batch)).await;
            let Err(error) = recorded else {
                for cause in LOGS.recovered(&format!("outbox:{name}:"), Instant::now()) {
                    tracing::info!(sink = %name, failed_attempts = cause.total,
                        lasted_seconds = cause.lasted.as_secs(), "ticket deliveries recorded again");
                }
                self.count(finished);
                return;
            };
            let delay = self.cx.backoff.delay(attempt, rand::random());
            let retry_in_ms = delay.as_millis() as u64;
            let actions = settled.len();
            match LOGS.occurred(&format!("outbox:{name}:"), Instant::now()) {
                Say::First => tracing::error!(sink = %name, %error, actions, retry_in_ms,
                    "cannot record ticket deliveries, retrying"),
                Say::Summary { held, total } => tracing::error!(sink = %name, %error, actions,
                    retry_in_ms, held, total, "still cannot record ticket deliveries, retrying"),
                Say::Nothing => {}
            }
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = self.cx.stop.wait_for(|stopping| *stopping) => return,
            }
        }
    }

    /// Counts the actions of `finished` that were settled, once recorded.
    fn count(&self, finished: &[Finished]) {
        let metrics = &self.cx.metrics;
        let name = self.sink.name();
        let labels = SinkLabels {
            sink: name.to_owned(),
        };
        for done in finished {
            let outcome = match &done.settlement {
                None => continue,
                Some(Settlement::Delivered) => "delivered",
                Some(Settlement::Refused(_)) => {
                    metrics.outbox_dead_letters.get_or_create(&labels).inc();
                    "dead_lettered"
                }
            };
            // One fewer owed; the next pass takes a fresh count.
            metrics.outbox_pending.get_or_create(&labels).dec();
            metrics
                .tickets
                .get_or_create(&TicketLabels {
                    sink: name.to_owned(),
                    action: done.kind,
                    outcome,
                })
                .inc();
        }
    }
}

/// How one delivery ended.
struct Finished {
    seq: u64,
    fingerprint: String,
    kind: &'static str,
    /// None when shutdown cut a retry wait short: the action stays pending.
    settlement: Option<Settlement>,
}

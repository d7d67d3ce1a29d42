use std::path::Path;
use std::time::Duration;

use super::*;
use crate::tickets::ActionKind;

fn pipeline() -> Pipeline {
    Pipeline::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/node-exporter.yml"))
        .unwrap()
}

/// A ticket of `target` open before a restart, on a filesystem that has sent nothing
/// since.
fn open_before_restart(target: &str) -> OpenTicket {
    let mut ticket = crate::outbox::example_action().ticket;
    ticket.target = target.into();
    ticket.fingerprint = fingerprint(target, &Labels::new(ticket.entity.clone()));
    OpenTicket {
        ticket,
        actions: 1,
        last_action_ms: 1_000,
        confirmed: false,
    }
}

#[test]
fn a_reload_keeps_the_grace_resumed_tickets_wait_for_their_entities() {
    let pipeline = pipeline();
    let model =
        Model::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("models/default.json")).unwrap();
    let target = pipeline.targets[0].alert.clone();
    let (engine, store) = (SignalEngine::new(pipeline.clone()), SeriesStore::default());
    let metrics = Metrics::register(&mut Default::default());
    let mut live = LivePredictions::new(&pipeline, Some(&model), None, metrics).unwrap();
    let hour = Duration::from_secs(3600);
    assert!(
        live.resume(vec![open_before_restart(&target)], hour, 0)
            .is_empty()
    );
    // The model file changes (or SIGHUP) before the entity's samples are back.
    live.reload(&pipeline, &model).unwrap();
    let mut actions = Vec::new();
    live.step(60_000, &engine, &store, &mut actions);
    assert!(actions.is_empty(), "still waiting: {actions:?}");
    live.step(3_660_000, &engine, &store, &mut actions);
    let kinds: Vec<ActionKind> = actions.iter().map(|a| a.kind).collect();
    assert_eq!(
        kinds,
        [ActionKind::Resolve {
            outcome: crate::model::Outcome::Averted
        }],
        "gone once the grace has passed"
    );
}

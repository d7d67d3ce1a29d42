//! One step of a pipeline over the series state: evaluate every signal (or those marked,
//! when the others feed nothing), route each result element to its entity, update that
//! entity's features.
//!
//! In: a loaded `Pipeline`, then at each step the time and the `SeriesStore` as it stands
//! (live in `serve`, replayed from CSV in `features` and training). Out: per signal and
//! entity, the incremental `SignalFeatures`. An entity seen before that has no value at
//! a step gets a gap; one without a value for longer than its longest window (every
//! window empty) is forgotten, so entities that went away do not hold memory.

use super::spec::{Pipeline, Signal};
use crate::features::SignalFeatures;
use crate::promql::{EvalError, Labels, LabelsMap, SeriesStore, Value, evaluate};

/// An entity's features for one signal, and the last step that gave it a value.
struct Tracked {
    features: SignalFeatures,
    last_update_ms: i64,
}

/// One signal's entities: entity → its features, and the entities in order, sorted again
/// only when one comes or goes (not at every step).
#[derive(Default)]
struct Entities {
    tracked: LabelsMap<Tracked>,
    sorted: Vec<Labels>,
}

pub struct SignalEngine {
    pipeline: Pipeline,
    /// Per signal, in the pipeline's order.
    entities: Vec<Entities>,
    /// Per signal, whether it is evaluated (one that feeds nothing is not).
    evaluated: Vec<bool>,
}

impl SignalEngine {
    /// An engine evaluating every signal of the pipeline.
    pub fn new(pipeline: Pipeline) -> SignalEngine {
        let every = vec![true; pipeline.signals.len()];
        SignalEngine::evaluating(pipeline, every)
    }

    /// An engine evaluating the signals marked in `evaluated` (by index in the
    /// pipeline); the others have no entities, at every step.
    pub fn evaluating(pipeline: Pipeline, evaluated: Vec<bool>) -> SignalEngine {
        assert_eq!(
            evaluated.len(),
            pipeline.signals.len(),
            "one mark per signal"
        );
        let entities = pipeline
            .signals
            .iter()
            .map(|_| Entities::default())
            .collect();
        SignalEngine {
            pipeline,
            entities,
            evaluated,
        }
    }

    /// The signals evaluated, in the pipeline's order.
    pub fn evaluated(&self) -> impl Iterator<Item = &Signal> {
        let signals = self.pipeline.signals.iter().zip(&self.evaluated);
        signals.filter_map(|(signal, &evaluated)| evaluated.then_some(signal))
    }

    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// How much history the store must keep behind each step.
    pub fn history_ms(&self) -> i64 {
        let longest = self.evaluated().map(|s| s.plan.history_ms());
        longest.max().unwrap_or(0)
    }

    /// Evaluates every signal at `t_ms` and updates the features of every entity. A
    /// signal should give one element per entity (aggregate it `by` the entity labels);
    /// where it gives several, the first one counts.
    pub fn step(&mut self, t_ms: i64, store: &SeriesStore) -> Result<(), EvalError> {
        let entity_labels = &self.pipeline.entity_labels;
        let signals = self.pipeline.signals.iter().zip(&mut self.entities);
        for ((signal, entities), _) in signals.zip(&self.evaluated).filter(|(_, e)| **e) {
            let elements = match evaluate(&signal.plan, store, t_ms)? {
                Value::Vector(vector) => vector.into_iter().map(|e| (e.labels, e.value)).collect(),
                Value::Scalar(value) => vec![(Labels::default(), value)],
            };
            let before = entities.tracked.len();
            let mut came = false;
            for (labels, value) in elements {
                let tracked = entities
                    .tracked
                    .entry(labels.keeping(entity_labels))
                    .or_insert_with(|| {
                        came = true;
                        Tracked {
                            features: SignalFeatures::new(&signal.features),
                            last_update_ms: i64::MIN,
                        }
                    });
                if tracked.last_update_ms != t_ms {
                    tracked.features.update(t_ms, Some(value));
                    tracked.last_update_ms = t_ms;
                }
            }
            let params = signal.features.params();
            let longest = params.windows.iter().max().copied().unwrap_or_default();
            let forget_after_ms = longest.max(params.anomaly_window).as_millis() as i64;
            let tracked = &mut entities.tracked;
            tracked.retain(|_, tracked| t_ms - tracked.last_update_ms <= forget_after_ms);
            for tracked in tracked.values_mut() {
                if tracked.last_update_ms != t_ms {
                    tracked.features.update(t_ms, None);
                }
            }
            if came || tracked.len() != before {
                entities.sorted = tracked.keys().cloned().collect();
                entities.sorted.sort_unstable();
            }
        }
        Ok(())
    }

    /// Every (signal index, signal, entity, features), signals in pipeline order,
    /// entities sorted.
    pub fn for_each(&self, mut each: impl FnMut(usize, &Signal, &Labels, &SignalFeatures)) {
        let signals = self.pipeline.signals.iter().zip(&self.entities);
        for (index, (signal, entities)) in signals.enumerate() {
            for entity in &entities.sorted {
                // The sorted labels are clones of the map's keys: found without comparing
                // strings.
                each(index, signal, entity, &entities.tracked[entity].features);
            }
        }
    }

    /// Entities followed, summed over signals, and the bytes their features hold.
    pub fn footprint(&self) -> (usize, usize) {
        let states = self.entities.iter().flat_map(|e| e.tracked.values());
        states.fold((0, 0), |(count, bytes), tracked| {
            (count + 1, bytes + tracked.features.memory_bytes())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::dataset::{Dataset, Sample, SeriesData};
    use crate::promql::{Steps, replay};

    fn disk(instance: &str, free: &[(i64, f64)]) -> Vec<SeriesData> {
        let series = |name: &str, value: &dyn Fn(f64) -> f64| SeriesData {
            labels: [
                ("__name__", name),
                ("instance", instance),
                ("mountpoint", "/data"),
            ]
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .to_vec(),
            samples: free
                .iter()
                .map(|&(t, f)| Sample {
                    timestamp_ms: t * 1000,
                    value: value(f),
                })
                .collect(),
        };
        vec![
            series("node_filesystem_avail_bytes", &|f| f * 1000.0),
            series("node_filesystem_size_bytes", &|_| 1000.0),
        ]
    }

    #[test]
    fn each_entity_gets_its_features_and_a_gap_when_it_goes_quiet() {
        let pipeline = Pipeline::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/node-exporter.yml"),
        )
        .unwrap();
        let filling: Vec<(i64, f64)> = (0..=40).map(|i| (i * 15, 0.5 - 0.01 * i as f64)).collect();
        let steady: Vec<(i64, f64)> = (0..=10).map(|i| (i * 15, 0.5)).collect();
        let mut series = disk("a", &filling);
        series.extend(disk("b", &steady));
        let dataset = Dataset { series };
        let mut engine = SignalEngine::new(pipeline);
        let steps = Steps {
            start_ms: 0,
            end_ms: 600_000,
            step_ms: 15_000,
        };
        replay(&dataset, steps, engine.history_ms(), |t, store| {
            engine.step(t, store)
        })
        .unwrap();

        let mut rows = Vec::new();
        engine.for_each(|_, signal, entity, features| {
            if signal.name == "HostOutOfDiskSpace" {
                let mut values = Vec::new();
                features.write(&mut values);
                let column = |name: &str| {
                    let names = signal.features.names();
                    values[names.iter().position(|n| n == name).unwrap()]
                };
                rows.push((
                    entity.get("instance").unwrap().to_owned(),
                    column("level"),
                    column("eta_seconds:HostOutOfDiskSpace"),
                    column("since_gap_seconds"),
                ));
            }
        });
        assert_eq!(rows.len(), 2, "one entity per host and mountpoint");
        let (a, b) = (&rows[0], &rows[1]);
        // Host a: 10 % free now, falling 1 % per step, so at the threshold: ETA 0.
        assert_eq!(a.0, "a");
        assert!((a.1 - 10.0).abs() < 1e-9, "{a:?}");
        assert_eq!(a.2, 0.0);
        // Host b stopped at 150 s; its instant selector still sees the last sample for
        // the 5-minute lookback, then the entity has gaps.
        assert_eq!(b.0, "b");
        assert!(b.1.is_nan(), "{b:?}");
        assert_eq!(b.3, 0.0);
    }

    #[test]
    fn an_entity_gone_longer_than_its_windows_is_forgotten() {
        let pipeline = Pipeline::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/node-exporter.yml"),
        )
        .unwrap();
        let dataset = Dataset {
            series: disk("a", &[(0, 0.5), (15, 0.5)]),
        };
        let mut engine = SignalEngine::new(pipeline);
        let hour = 3_600_000;
        let steps = |start_ms, end_ms| Steps {
            start_ms,
            end_ms,
            step_ms: 15_000,
        };
        replay(&dataset, steps(0, hour), engine.history_ms(), |t, store| {
            engine.step(t, store)
        })
        .unwrap();
        assert_eq!(engine.footprint().0, 1, "within the 1h windows: kept");
        let later = steps(hour + 15_000, hour + 15 * 60_000);
        replay(&dataset, later, engine.history_ms(), |t, store| {
            engine.step(t, store)
        })
        .unwrap();
        assert_eq!(
            engine.footprint().0,
            0,
            "past the longest window: forgotten"
        );
    }
}

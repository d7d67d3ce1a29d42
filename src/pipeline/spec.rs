//! Pipeline definitions: what to watch, and which alerts to predict.
//!
//! In: a pipeline YAML file (strict; see `pipelines/node-exporter.yml`) and the rule
//! files it names. Out: a `Pipeline` whose signals are all checked PromQL plans and whose
//! targets come from the rules; or every problem found, each naming the file, the signal
//! or rule, and the reason. Nothing unsupported survives loading.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use promql_parser::label::MatchOp;
use serde::Deserialize;

use crate::config::{duration, problem_list};
use crate::features::{FeatureParams, FeatureSpec, Threshold};
use crate::promql::{METRIC_NAME, Plan};
use crate::rules::{self, Target};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PipelineFile {
    #[serde(deserialize_with = "duration::deserialize")]
    step: Duration,
    entity_labels: Vec<String>,
    #[serde(default)]
    rule_files: Vec<PathBuf>,
    /// Refuse the pipeline when a rule has no threshold to predict, instead of skipping
    /// the rule with a warning.
    #[serde(default)]
    strict_rules: bool,
    #[serde(default)]
    signals: Vec<SignalEntry>,
    features: Option<FeaturesEntry>,
    /// Per alert name, or `default`, a Prometheus duration.
    #[serde(default)]
    horizons: BTreeMap<String, String>,
}

/// How far ahead a target is predicted when the pipeline's `horizons` name neither it
/// nor a `default`.
pub const DEFAULT_HORIZON: Duration = Duration::from_secs(1800);

/// The `features` section: windows shared by every signal.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeaturesEntry {
    #[serde(default, deserialize_with = "durations")]
    windows: Option<Vec<Duration>>,
    #[serde(default, deserialize_with = "durations")]
    half_lives: Option<Vec<Duration>>,
    #[serde(default, deserialize_with = "optional_duration")]
    anomaly_window: Option<Duration>,
    #[serde(default, deserialize_with = "optional_duration")]
    anomaly_memory: Option<Duration>,
}

fn durations<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<Duration>>, D::Error> {
    let texts = Vec::<String>::deserialize(d)?;
    texts
        .iter()
        .map(|text| duration::parse(text).map_err(serde::de::Error::custom))
        .collect::<Result<_, _>>()
        .map(Some)
}

fn optional_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignalEntry {
    name: String,
    expr: String,
}

/// A signal: a named PromQL expression evaluated at every step, and the features kept
/// of it per entity (with the thresholds of the targets whose signal it is).
#[derive(Debug, Clone)]
pub struct Signal {
    pub name: String,
    pub expr: String,
    pub plan: Plan,
    pub features: FeatureSpec,
}

/// A loaded, checked pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub step: Duration,
    pub entity_labels: Vec<String>,
    /// The pipeline's own signals, then one per target (named after its alert).
    pub signals: Vec<Signal>,
    pub targets: Vec<Target>,
}

/// A signal that may read any metric: one of its selectors does not name it.
#[derive(Debug, thiserror::Error)]
#[error(
    "signal {signal}: a selector names no metric (`__name__` by `=` or `=~`), so it may \
     read any series and Prometheus would have to send them all"
)]
pub struct UnnamedSelector {
    pub signal: String,
}

/// Why a pipeline cannot be loaded: every problem, each on its own line.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {}", problem_list(problems))]
pub struct PipelineError {
    pub path: PathBuf,
    pub problems: Vec<String>,
}

impl Pipeline {
    pub fn load(path: &Path) -> Result<Pipeline, PipelineError> {
        let text = std::fs::read_to_string(path).map_err(|e| PipelineError {
            path: path.to_owned(),
            problems: vec![e.to_string()],
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Pipeline::from_yaml(&text, path, |rule_file| {
            rules::read_targets(&base.join(rule_file))
        })
    }

    /// How far back a process that starts on a stream must read to compute what one
    /// running all along would: per signal, its features' warm-up plus its expression's
    /// own lookback, and one step more.
    pub fn warm_up(&self) -> Duration {
        let longest = self.signals.iter().map(|signal| {
            signal.features.warm_up() + Duration::from_millis(signal.plan.history_ms() as u64)
        });
        longest.max().unwrap_or_default() + self.step
    }

    /// The metric names its signals read, as regular expressions (RE2, as Prometheus and
    /// PromQL take them): each selector's `__name__` by equality, escaped, or its
    /// `=~` pattern in a group; sorted and each once. Err: the first signal with a
    /// selector that does not name its metric so (`{job="x"}`, `{__name__!="x"}`),
    /// which may read any metric.
    pub fn metric_names(&self) -> Result<BTreeSet<String>, UnnamedSelector> {
        let mut names = BTreeSet::new();
        for signal in &self.signals {
            for selector in signal.plan.selectors() {
                let name = selector.iter().find_map(|m| match &m.op {
                    MatchOp::Equal if m.name == METRIC_NAME => Some(regex::escape(&m.value)),
                    MatchOp::Re(_) if m.name == METRIC_NAME => Some(format!("(?:{})", m.value)),
                    _ => None,
                });
                match name {
                    Some(name) => names.insert(name),
                    None => {
                        return Err(UnnamedSelector {
                            signal: signal.name.clone(),
                        });
                    }
                };
            }
        }
        Ok(names)
    }

    /// The default pipeline (`pipelines/node-exporter.yml` and its rules), built into the
    /// binary so that `serve` runs on embedded defaults from any directory.
    pub fn embedded_default() -> Pipeline {
        const PIPELINE: &str = include_str!("../../pipelines/node-exporter.yml");
        const RULES: &str = include_str!("../../pipelines/rules/host.rules.yml");
        Pipeline::from_yaml(
            PIPELINE,
            Path::new("pipelines/node-exporter.yml"),
            |rule_file| rules::parse_targets(RULES, rule_file),
        )
        .expect("the embedded default pipeline is valid (a test checks it)")
    }

    /// Builds a pipeline from its text; `read_rules` reads each rule file it names.
    fn from_yaml(
        text: &str,
        path: &Path,
        read_rules: impl Fn(&Path) -> Result<rules::RuleTargets, rules::RulesError>,
    ) -> Result<Pipeline, PipelineError> {
        let fail = |problems: Vec<String>| PipelineError {
            path: path.to_owned(),
            problems,
        };
        let file: PipelineFile =
            serde_yaml_ng::from_str(text).map_err(|e| fail(vec![e.to_string()]))?;
        let mut problems = Vec::new();
        if file.step.is_zero() {
            problems.push("step: must be greater than 0".to_owned());
        }
        if file.entity_labels.is_empty() {
            problems.push("entity_labels: name at least one label".to_owned());
        }
        let mut targets = Vec::new();
        for rule_file in &file.rule_files {
            match read_rules(rule_file) {
                Ok(found) => {
                    targets.extend(found.targets);
                    for rule in found.unpredictable {
                        match file.strict_rules {
                            true => problems.push(format!("{rule} (strict_rules: true)")),
                            false => tracing::warn!(
                                pipeline = %path.display(),
                                "skipping a rule: {rule}; set strict_rules: true to refuse the pipeline instead"
                            ),
                        }
                    }
                }
                Err(error) => problems.push(error.to_string()),
            }
        }
        set_horizons(&mut targets, &file.horizons, &mut problems);
        let mut names = BTreeSet::new();
        let mut signals = Vec::new();
        let entries = file
            .signals
            .iter()
            .map(|s| (s.name.clone(), s.expr.clone()));
        let from_targets = targets.iter().map(|t| (t.alert.clone(), t.expression()));
        let defaults = FeatureParams::default();
        let features = file.features.unwrap_or(FeaturesEntry {
            windows: None,
            half_lives: None,
            anomaly_window: None,
            anomaly_memory: None,
        });
        let params = FeatureParams {
            step: file.step,
            windows: features.windows.unwrap_or(defaults.windows),
            half_lives: features.half_lives.unwrap_or(defaults.half_lives),
            anomaly_window: features.anomaly_window.unwrap_or(defaults.anomaly_window),
            anomaly_memory: features.anomaly_memory.unwrap_or(defaults.anomaly_memory),
            thresholds: Vec::new(),
        };
        for (name, expr) in entries.chain(from_targets) {
            if !names.insert(name.clone()) {
                problems.push(format!("signal {name:?}: the name is used twice"));
                continue;
            }
            let thresholds = targets
                .iter()
                .filter(|t| t.alert == name)
                .map(Threshold::from_target)
                .collect();
            let spec = FeatureSpec::new(FeatureParams {
                thresholds,
                ..params.clone()
            });
            match (Plan::parse(&expr), spec) {
                (Ok(plan), Ok(features)) => signals.push(Signal {
                    name,
                    expr,
                    plan,
                    features,
                }),
                (Err(error), _) => problems.push(format!("signal {name:?}: {error}")),
                (_, Err(error)) => problems.push(format!("features: {error}")),
            }
        }
        problems.dedup();
        // A pipeline of signals alone computes features without predicting (NAB scoring).
        if signals.is_empty() && problems.is_empty() {
            problems.push(
                "signals, rule_files: no signal and no alerting rule, so nothing to compute"
                    .to_owned(),
            );
        }
        if !problems.is_empty() {
            return Err(fail(problems));
        }
        Ok(Pipeline {
            step: file.step,
            entity_labels: file.entity_labels,
            signals,
            targets,
        })
    }
}

/// Sets each target's horizon from `horizons` (its alert name, else `default`, else
/// [`DEFAULT_HORIZON`]); a name that is no target, or a duration that is not a positive
/// Prometheus duration, is a problem.
fn set_horizons(
    targets: &mut [Target],
    horizons: &BTreeMap<String, String>,
    problems: &mut Vec<String>,
) {
    let mut parsed = BTreeMap::new();
    for (name, text) in horizons {
        if name != "default" && !targets.iter().any(|t| &t.alert == name) {
            problems.push(format!(
                "horizons: {name:?} is not the alert name of any target (nor `default`)"
            ));
        }
        match duration::parse(text) {
            Ok(horizon) if !horizon.is_zero() => {
                parsed.insert(name.as_str(), horizon);
            }
            Ok(_) => problems.push(format!("horizons: {name}: must be greater than 0")),
            Err(error) => problems.push(format!("horizons: {name}: {error}")),
        }
    }
    let default = parsed.get("default").copied().unwrap_or(DEFAULT_HORIZON);
    for target in targets {
        target.horizon = parsed
            .get(target.alert.as_str())
            .copied()
            .unwrap_or(default);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_pipeline_loads_its_four_targets() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/node-exporter.yml");
        let pipeline = Pipeline::load(&path).unwrap();
        let alerts: Vec<&str> = pipeline.targets.iter().map(|t| t.alert.as_str()).collect();
        assert_eq!(
            alerts,
            [
                "HostOutOfDiskSpace",
                "HostOutOfMemory",
                "HostSwapIsFillingUp",
                "HostHighCpuLoad"
            ]
        );
        assert_eq!(pipeline.signals.len(), 2 + 4);
        assert_eq!(pipeline.step, Duration::from_secs(15));
        assert_eq!(pipeline.entity_labels, ["instance", "mountpoint"]);
    }

    #[test]
    fn the_embedded_default_is_the_default_file() {
        let embedded = Pipeline::embedded_default();
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/node-exporter.yml");
        let file = Pipeline::load(&path).unwrap();
        assert_eq!(embedded.targets, file.targets);
        let exprs = |p: &Pipeline| p.signals.iter().map(|s| s.expr.clone()).collect::<Vec<_>>();
        assert_eq!(exprs(&embedded), exprs(&file));
    }

    #[test]
    fn the_default_rules_are_those_of_the_lab() {
        let ours = rules::read_targets(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/rules/host.rules.yml"),
        )
        .unwrap()
        .targets;
        let lab = rules::read_targets(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/lab-dev/rules.yml"),
        )
        .unwrap()
        .targets;
        for target in &ours {
            let same = lab.iter().find(|t| t.alert == target.alert).unwrap();
            assert_eq!(target, same);
        }
    }

    #[test]
    fn the_metric_names_are_each_selectors_name_or_pattern() {
        let no_rules = |_: &Path| unreachable!("the pipeline names no rule file");
        let pipeline = |signals: &str| {
            let text = format!("step: 15s\nentity_labels: [instance]\nsignals:\n{signals}");
            Pipeline::from_yaml(&text, Path::new("p.yml"), no_rules).unwrap()
        };
        let named = pipeline(
            r#"
  - {name: a, expr: 'rate(b_total[1m]) / on (instance) c'}
  - {name: d, expr: '{__name__="d:x.y", job="x"} + on (instance) c'}
  - {name: e, expr: 'sum by (instance) ({__name__=~"e.*|f"})'}
"#,
        );
        assert_eq!(
            named
                .metric_names()
                .unwrap()
                .into_iter()
                .collect::<Vec<_>>(),
            ["(?:e.*|f)", "b_total", "c", r"d:x\.y"]
        );
        for unnamed in [
            r#"{job="x"}"#,
            r#"{__name__!="x", job="y"}"#,
            r#"{__name__!~"x.*", job="y"}"#,
        ] {
            let signals = format!("  - {{name: g, expr: 'up + on (instance) {unnamed}'}}\n");
            let error = pipeline(&signals).metric_names().unwrap_err();
            assert_eq!(error.signal, "g", "{unnamed}");
        }
    }

    #[test]
    fn a_pipeline_of_signals_alone_loads_and_one_of_nothing_does_not() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/nab.yml");
        let pipeline = Pipeline::load(&path).unwrap();
        assert!(pipeline.targets.is_empty());
        let names: Vec<&str> = pipeline.signals.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["nab_value"]);
        assert_eq!(pipeline.step, Duration::from_secs(300));

        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.yml");
        std::fs::write(&empty, "step: 5m\nentity_labels: [instance]\n").unwrap();
        let message = Pipeline::load(&empty).unwrap_err().to_string();
        assert!(message.contains("nothing to compute"), "{message}");
    }

    #[test]
    fn reports_every_problem_with_its_signal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.yml");
        std::fs::write(
            &path,
            "step: 0s\nentity_labels: []\nrule_files: [missing.yml]\nsignals:\n  - {name: a, expr: 'rate(x[5m] offset 1m)'}\n  - {name: a, expr: up}\n",
        )
        .unwrap();
        let message = Pipeline::load(&path).unwrap_err().to_string();
        for expected in [
            "5 problem(s)",
            "step: must be greater than 0",
            "entity_labels: name at least one label",
            "missing.yml: No such file",
            "signal \"a\": \"rate(x[5m] offset 1m)\": offset modifier at column 12 is not supported",
            "signal \"a\": the name is used twice",
        ] {
            assert!(
                message.contains(expected),
                "{expected:?} missing in:\n{message}"
            );
        }
    }

    #[test]
    fn a_rule_as_people_write_it_loads_and_one_without_a_threshold_is_skipped_unless_strict() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("rules.yml"),
            r#"groups:
  - name: awesome-prometheus-alerts
    rules:
      - alert: HostOutOfDiskSpace
        expr: (node_filesystem_avail_bytes * 100) / node_filesystem_size_bytes < 10 and ON (instance, device, mountpoint) node_filesystem_readonly == 0
        for: 2m
      - alert: HostDown
        expr: up == 0
"#,
        )
        .unwrap();
        let path = dir.path().join("p.yml");
        let write = |strict: &str| {
            let text = format!(
                "step: 15s\nentity_labels: [instance, mountpoint]\nrule_files: [rules.yml]\n{strict}"
            );
            std::fs::write(&path, text).unwrap();
            Pipeline::load(&path)
        };
        let pipeline = write("").unwrap();
        let [disk] = &pipeline.targets[..] else {
            panic!("{:?}", pipeline.targets)
        };
        assert_eq!(disk.alert, "HostOutOfDiskSpace");
        let signal = pipeline
            .signals
            .iter()
            .find(|s| s.name == disk.alert)
            .unwrap();
        assert!(
            signal
                .expr
                .ends_with("and on (instance, device, mountpoint) node_filesystem_readonly == 0"),
            "the filter is evaluated with the signal: {}",
            signal.expr
        );
        let message = write("strict_rules: true\n").unwrap_err().to_string();
        assert!(
            message.contains("rule \"HostDown\": the expression `up == 0` is not")
                && message.contains("(strict_rules: true)"),
            "{message}"
        );
    }

    #[test]
    fn horizons_are_per_alert_name_with_a_default() {
        let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/rules/host.rules.yml");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.yml");
        let write = |horizons: &str| {
            let text = format!(
                "step: 15s\nentity_labels: [instance]\nrule_files: [{}]\n{horizons}",
                rules.display()
            );
            std::fs::write(&path, text).unwrap();
            Pipeline::load(&path)
        };
        let horizon = |pipeline: &Pipeline, alert: &str| {
            let target = pipeline.targets.iter().find(|t| t.alert == alert).unwrap();
            target.horizon
        };
        let minutes = |m: u64| Duration::from_secs(60 * m);

        let unset = write("").unwrap();
        assert_eq!(horizon(&unset, "HostOutOfDiskSpace"), DEFAULT_HORIZON);

        let set = write("horizons:\n  default: 4h\n  HostHighCpuLoad: 10m\n").unwrap();
        assert_eq!(horizon(&set, "HostOutOfDiskSpace"), minutes(240));
        assert_eq!(horizon(&set, "HostHighCpuLoad"), minutes(10));

        let message = write("horizons:\n  HostOutOfDisk: 1h\n  HostHighCpuLoad: 0s\n")
            .unwrap_err()
            .to_string();
        for expected in [
            "horizons: \"HostOutOfDisk\" is not the alert name of any target (nor `default`)",
            "horizons: HostHighCpuLoad: must be greater than 0",
        ] {
            assert!(
                message.contains(expected),
                "{expected:?} missing in:\n{message}"
            );
        }
    }
}

//! Prometheus alerting-rule files, read as they are, and the targets made from them.
//!
//! In: a rule file (`groups: [{name, rules: [{alert, expr, for, labels, annotations}]}]`,
//! Prometheus's format; recording rules are read and skipped). Out: one `Target` per
//! alerting rule: the rule's signal (its expression without the comparison), the
//! comparison and threshold, the filter after it, its `for` duration, labels and
//! annotations; and, apart, the rules that have no threshold to predict, each an error
//! naming the file, the group and the rule. A file that is not a valid rule file is an
//! error.

mod target;
pub mod template;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use target::{Comparison, Target, split_rule};

use crate::config::duration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    groups: Vec<RuleGroup>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleGroup {
    name: String,
    #[serde(default)]
    #[allow(
        dead_code,
        reason = "Prometheus's field, read so that files stay valid"
    )]
    interval: Option<String>,
    #[serde(default)]
    #[allow(
        dead_code,
        reason = "Prometheus's field, read so that files stay valid"
    )]
    limit: Option<u64>,
    #[serde(default)]
    rules: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    alert: Option<String>,
    record: Option<String>,
    expr: String,
    #[serde(default, rename = "for")]
    for_: Option<String>,
    #[serde(default)]
    keep_firing_for: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// Why a rule file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: group {group:?}, rule {rule:?}: {message}")]
    Rule {
        path: PathBuf,
        group: String,
        rule: String,
        message: String,
    },
}

/// A rule file's alerting rules: those harbinger predicts, and those it cannot.
#[derive(Debug, Default)]
pub struct RuleTargets {
    pub targets: Vec<Target>,
    /// The rules without a threshold to predict (`absent(up)`, `up == 0`), each with why.
    pub unpredictable: Vec<RulesError>,
}

/// Reads the alerting rules of a Prometheus rule file as targets.
pub fn read_targets(path: &Path) -> Result<RuleTargets, RulesError> {
    let text = std::fs::read_to_string(path).map_err(|source| RulesError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_targets(&text, path)
}

/// The alerting rules of a rule file's text as targets; `path` names it in errors.
pub fn parse_targets(text: &str, path: &Path) -> Result<RuleTargets, RulesError> {
    let file: RuleFile = serde_yaml_ng::from_str(text).map_err(|e| RulesError::Parse {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let mut found = RuleTargets::default();
    for group in file.groups {
        for rule in group.rules {
            let Some(alert) = rule.alert else {
                continue; // a recording rule
            };
            let error = |message: String| RulesError::Rule {
                path: path.to_owned(),
                group: group.name.clone(),
                rule: alert.clone(),
                message,
            };
            if rule.record.is_some() {
                return Err(error("has both alert and record".to_owned()));
            }
            let parse = |text: &Option<String>| -> Result<Duration, RulesError> {
                text.as_deref()
                    .map_or(Ok(Duration::ZERO), duration::parse)
                    .map_err(error)
            };
            let hold = parse(&rule.for_)?;
            let keep_firing_for = parse(&rule.keep_firing_for)?;
            for (name, text) in rule.annotations.iter().chain(&rule.labels) {
                for action in template::unsupported(text) {
                    tracing::warn!(
                        file = %path.display(),
                        group = %group.name,
                        rule = %alert,
                        field = %name,
                        "tickets show the template action {action} as written: harbinger renders $labels, $value and the humanize and printf functions"
                    );
                }
            }
            let split = match split_rule(&rule.expr) {
                Ok(split) => split,
                Err(message) => {
                    found.unpredictable.push(error(message));
                    continue;
                }
            };
            found.targets.push(Target {
                alert: alert.clone(),
                hold,
                keep_firing_for,
                labels: rule.labels,
                annotations: rule.annotations,
                ..split
            });
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_lab_rules_as_targets() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/lab-dev/rules.yml");
        let targets = read_targets(&path).unwrap().targets;
        let names: Vec<&str> = targets.iter().map(|t| t.alert.as_str()).collect();
        assert_eq!(
            names,
            [
                "HostOutOfDiskSpace",
                "DiskAlmostFull",
                "HostOutOfMemory",
                "HostSwapIsFillingUp",
                "HostHighCpuLoad"
            ]
        );
        let disk = &targets[0];
        assert_eq!(disk.comparison, Comparison::Below);
        assert_eq!(disk.threshold, 10.0);
        assert_eq!(disk.hold, Duration::from_secs(120));
        assert_eq!(disk.labels["severity"], "warning");
        assert!(disk.signal.contains("node_filesystem_avail_bytes"));
    }

    #[test]
    fn a_rule_without_a_threshold_is_set_apart_by_name_and_the_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.yml");
        std::fs::write(
            &path,
            "groups:\n  - name: g\n    rules:\n      - record: job:up:sum\n        expr: sum(up)\n      - alert: Absent\n        expr: absent(up)\n      - alert: Full\n        expr: x > 90\n",
        )
        .unwrap();
        let found = read_targets(&path).unwrap();
        assert_eq!(found.targets.len(), 1);
        assert_eq!(found.targets[0].alert, "Full");
        let [unpredictable] = &found.unpredictable[..] else {
            panic!("{:?}", found.unpredictable)
        };
        let message = unpredictable.to_string();
        assert!(
            message.contains("group \"g\", rule \"Absent\": the expression `absent(up)` is not `<signal> <comparison> <number>`"),
            "{message}"
        );
    }
}

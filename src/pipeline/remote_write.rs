//! The `remote_write` entry of a Prometheus configuration that sends harbinger only the
//! series its pipeline reads.
//!
//! In: a pipeline and the URL Prometheus reaches harbinger's write endpoint at. Out: a
//! `prometheus.yml` fragment whose `write_relabel_configs` keep the metric names the
//! pipeline's signals select, and `ALERTS` when it has targets (`serve` confirms and
//! resolves tickets by them). In lab-dev, node_exporter exposed 515 to 521 series per
//! host, of which the default pipeline's metrics are 27 to 31: Prometheus then sends,
//! and harbinger decodes and looks up, about 17 times fewer series.
//!
//! Names only, not the selectors' other matchers: a metric that two selectors read with
//! different labels is kept whole, which one `keep` rule on `__name__` says simply.

use std::collections::BTreeSet;

use serde::Serialize;

use super::spec::{Pipeline, UnnamedSelector};

#[derive(Serialize)]
struct Fragment<'a> {
    remote_write: [Endpoint<'a>; 1],
}

#[derive(Serialize)]
struct Endpoint<'a> {
    url: &'a str,
    write_relabel_configs: [Relabel; 1],
}

#[derive(Serialize)]
struct Relabel {
    source_labels: [&'static str; 1],
    regex: String,
    action: &'static str,
}

/// The fragment, as YAML with a comment that says where it came from.
pub fn remote_write_fragment(
    pipeline: &Pipeline,
    url: &str,
    source: &str,
) -> Result<String, UnnamedSelector> {
    let mut names: BTreeSet<String> = pipeline.metric_names()?;
    if !pipeline.targets.is_empty() {
        names.insert("ALERTS".to_owned());
    }
    let fragment = Fragment {
        remote_write: [Endpoint {
            url,
            write_relabel_configs: [Relabel {
                source_labels: ["__name__"],
                regex: names.into_iter().collect::<Vec<_>>().join("|"),
                action: "keep",
            }],
        }],
    };
    let yaml = serde_yaml_ng::to_string(&fragment).expect("plain strings serialize");
    Ok(format!(
        "# Sends harbinger only the series {source} reads (`harbinger remote-write-config`).\n\
         # Merge into prometheus.yml; check with `promtool check config prometheus.yml`.\n\
         {yaml}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_pipeline_keeps_its_metrics_and_alerts() {
        let yaml = remote_write_fragment(
            &Pipeline::embedded_default(),
            "http://harbinger:9799/api/v1/write",
            "the default pipeline",
        )
        .unwrap();
        let parsed: serde_yaml_ng::Value = serde_yaml_ng::from_str(&yaml).unwrap();
        let endpoint = &parsed["remote_write"][0];
        assert_eq!(endpoint["url"], "http://harbinger:9799/api/v1/write");
        let relabel = &endpoint["write_relabel_configs"][0];
        assert_eq!(relabel["action"], "keep");
        assert_eq!(relabel["source_labels"][0], "__name__");
        let kept: Vec<&str> = relabel["regex"].as_str().unwrap().split('|').collect();
        assert_eq!(
            kept,
            [
                "ALERTS",
                "node_cpu_seconds_total",
                "node_disk_written_bytes_total",
                "node_filesystem_avail_bytes",
                "node_filesystem_size_bytes",
                "node_load1",
                "node_memory_MemFree_bytes",
                "node_memory_MemTotal_bytes",
                "node_memory_SwapFree_bytes",
                "node_memory_SwapTotal_bytes",
            ]
        );
    }
}

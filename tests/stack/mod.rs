//! The monitoring stack of the end-to-end tests, as operators run it: Debian's
//! node_exporter (filesystem collector only) scraped every second by Debian's
//! Prometheus, which evaluates the given rules every second and remote-writes
//! everything to harbinger.

#[cfg(feature = "kafka")]
pub mod broker;

use std::path::Path;
use std::time::Instant;

use crate::support::{Process, eventually};

pub const INSTALL: &str =
    "run `apt-get install prometheus prometheus-node-exporter prometheus-alertmanager`";

pub fn start_node_exporter(dir: &Path, port: u16) -> Process {
    let args = [
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--collector.disable-defaults".into(),
        "--collector.filesystem".into(),
        // The default also excludes overlay, which is `/` in a container.
        "--collector.filesystem.fs-types-exclude=^(autofs|cgroup2?|devpts|nsfs|proc|sysfs)$".into(),
    ];
    Process::spawn(
        "node_exporter",
        "prometheus-node-exporter",
        &args,
        port,
        dir,
        INSTALL,
    )
}

/// Prometheus with `rules` (a rule file's text), scraping `node` as job `node` and
/// remote-writing everything to harbinger, promptly.
pub fn start_prometheus(
    dir: &Path,
    port: u16,
    node: &Process,
    harbinger_url: &str,
    rules: &str,
) -> Process {
    let remote_write = format!(
        r#"
remote_write:
  - url: {harbinger_url}/api/v1/write
    queue_config: {{batch_send_deadline: 1s, min_backoff: 100ms, max_backoff: 1s}}
    metadata_config: {{send_interval: 1s}}
"#
    );
    start_prometheus_writing(dir, port, node, &remote_write, rules)
}

/// Prometheus as `start_prometheus` starts it, with `remote_write` (a `remote_write:`
/// section of prometheus.yml) instead.
#[allow(dead_code)] // Not every end-to-end test writes a section of its own.
pub fn start_prometheus_writing(
    dir: &Path,
    port: u16,
    node: &Process,
    remote_write: &str,
    rules: &str,
) -> Process {
    let node_target = node.url.trim_start_matches("http://");
    // Its own file: a harbinger pipeline in `dir` may read a `rules.yml` of its own while
    // this one is written.
    let rule_path = dir.join("prometheus.rules.yml");
    std::fs::write(&rule_path, rules).expect("writing the rule file");
    let config = dir.join("prometheus.yml");
    let prometheus_yml = format!(
        r#"
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: ["{rules}"]
scrape_configs:
  - job_name: node
    static_configs: [{{targets: ["{node_target}"]}}]
{remote_write}"#,
        rules = rule_path.display(),
    );
    std::fs::write(&config, prometheus_yml).expect("writing prometheus.yml");
    let args = [
        format!("--config.file={}", config.display()),
        format!("--storage.tsdb.path={}", dir.join("tsdb").display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
    ];
    Process::spawn("prometheus", "prometheus", &args, port, dir, INSTALL)
}

/// Alertmanager on one node (no cluster), routing everything to a receiver that
/// notifies no one: the tests read its alerts through its API.
#[allow(dead_code)] // Not every end-to-end test runs an Alertmanager.
pub fn start_alertmanager(dir: &Path, port: u16) -> Process {
    let config = dir.join("alertmanager.yml");
    std::fs::write(
        &config,
        "route: {receiver: nobody, group_wait: 1s}\nreceivers: [{name: nobody}]\n",
    )
    .expect("writing alertmanager.yml");
    let args = [
        format!("--config.file={}", config.display()),
        format!("--storage.path={}", dir.join("alertmanager").display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--cluster.listen-address=".into(),
    ];
    Process::spawn(
        "alertmanager",
        "prometheus-alertmanager",
        &args,
        port,
        dir,
        INSTALL,
    )
}

/// [`start_alertmanager`] on a free port, once it answers.
#[allow(dead_code)]
pub async fn ready_alertmanager(dir: &Path) -> Process {
    let [port] = crate::support::free_ports();
    let alertmanager = start_alertmanager(dir, port);
    let deadline = Instant::now() + std::time::Duration::from_secs(30);
    let ready = format!("{}/-/ready", alertmanager.url);
    wait_ok(&reqwest::Client::new(), &ready, deadline).await;
    alertmanager
}

/// `harbinger serve --role ROLE` with the configuration at `config`, its data in
/// `dir/NAME` and its log in `dir/NAME.log`.
#[allow(dead_code)] // Not every end-to-end test starts harbinger this way.
pub fn start_harbinger(dir: &Path, name: &str, config: &Path, port: u16, role: &str) -> Process {
    let args = [
        "serve".to_owned(),
        format!("--config={}", config.display()),
        format!("--listen=127.0.0.1:{port}"),
        format!("--data-dir={}", dir.join(name).display()),
        format!("--role={role}"),
    ];
    Process::spawn(name, env!("CARGO_BIN_EXE_harbinger"), &args, port, dir, "")
}

/// Waits for `url` to answer 200.
pub async fn wait_ok(http: &reqwest::Client, url: &str, deadline: Instant) {
    eventually(url, deadline, async || match http.get(url).send().await {
        Ok(response) if response.status() == 200 => Ok(()),
        Ok(response) => Err(format!("status {}", response.status())),
        Err(error) => Err(error.to_string()),
    })
    .await;
}

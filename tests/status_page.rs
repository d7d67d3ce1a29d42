//! The status page in a real browser: lab-dev's first 24 minutes, while a disk fills,
//! replayed into `serve` (shifted to end now), then Debian's `chromium --headless` loads `/`. Its DOM must rank each target's
//! entities as `/api/v1/predictions` does, show every open ticket `/api/v1/tickets`
//! lists (their annotations rendered), draw a sparkline per entity, and keep only what a search asks for. A
//! screenshot is written to `$CARGO_TARGET_TMPDIR/status-page.png` for a person to look
//! at. Needs Debian's `chromium`; fails without it.

#[allow(dead_code)] // The shared helpers serve several test crates; this one uses a part.
mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{eventually, free_ports, ready, replay_with, serve, split_lab_dev};

/// Runs headless chromium on `url` with `args` (`--dump-dom`, `--screenshot=...`);
/// returns its stdout.
fn chromium(url: &str, args: &[&str]) -> String {
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .args(args)
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("chromium: {e}; run `apt-get install chromium`"));
    assert!(
        out.status.success(),
        "chromium {args:?} {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The `(data-target, data-entity)` of every entity row, in page order.
fn entity_rows(dom: &str) -> Vec<(String, String)> {
    let row =
        regex::Regex::new(r#"<tr class="entity" data-target="([^"]*)" data-entity="([^"]*)""#)
            .unwrap();
    row.captures_iter(dom)
        .map(|c| (c[1].to_owned(), c[2].replace("&quot;", "\"")))
        .collect()
}

/// `{instance="host1", mountpoint="/srv/data"}`, as the page names an entity.
fn entity_text(labels: &Value) -> String {
    let pairs: Vec<String> = labels
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    format!("{{{}}}", pairs.join(", "))
}

async fn json(http: &reqwest::Client, url: &str) -> Result<Value, String> {
    let response = http.get(url).send().await.map_err(|e| e.to_string())?;
    response.json().await.map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_ranks_entities_and_shows_open_tickets_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("harbinger.yml");
    std::fs::write(&config, "prometheus_url: http://prometheus.example:9090/\n").unwrap();
    let [port] = free_ports();
    let serve = serve(dir.path(), port, &config, "serve");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    ready(&serve, deadline).await;
    // 1450 s into lab-dev, host1's disk is filling and its ticket is open.
    let [before, _] = split_lab_dev(dir.path(), 1_795_571_575 + 1450);
    replay_with(
        &before,
        &format!("{}/api/v1/write", serve.url),
        &["--shift-to-now"],
    );
    let replayed_ms = chrono::Utc::now().timestamp_millis();

    // The pipeline has caught up when it has stepped to the replay's last minute.
    let predictions_url = format!("{}/api/v1/predictions?limit=1000", serve.url);
    eventually("the pipeline caught up", deadline, async || {
        let at = json(&http, &predictions_url).await?["data"]["at_ms"]
            .as_i64()
            .unwrap_or(0);
        (at >= replayed_ms - 60_000).then_some(()).ok_or(format!(
            "stepped to {at}, the replay ended at {replayed_ms}"
        ))
    })
    .await;
    let tickets_url = format!("{}/api/v1/tickets", serve.url);
    let tickets = eventually("a ticket open", deadline, async || {
        let tickets = json(&http, &tickets_url).await?;
        match tickets["data"]["open"]
            .as_array()
            .is_some_and(|open| !open.is_empty())
        {
            true => Ok(tickets),
            false => Err(format!("none open: {tickets}")),
        }
    })
    .await;
    let open = tickets["data"]["open"].as_array().unwrap();
    let predictions = json(&http, &predictions_url).await.unwrap();

    let dom = chromium(&format!("{}/", serve.url), &["--dump-dom"]);
    let rows = entity_rows(&dom);
    let targets: Vec<&str> = ["HostOutOfDiskSpace", "HostOutOfMemory", "HostHighCpuLoad"].into();
    for target in targets {
        let on_page: Vec<&str> = rows
            .iter()
            .filter(|(t, _)| t == target)
            .map(|(_, e)| e.as_str())
            .collect();
        let ranked: Vec<String> = predictions["data"]["predictions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["target"] == target)
            .take(20)
            .map(|p| entity_text(&p["entity"]))
            .collect();
        assert_eq!(
            on_page.len(),
            8,
            "{target}: lab-dev has 8 hosts: {on_page:?}"
        );
        assert_eq!(on_page, ranked, "{target}: the page ranks as the API does");
    }
    assert!(
        dom.matches("<svg class=\"spark\"").count() >= rows.len(),
        "a sparkline per entity row"
    );
    for ticket in open {
        // The rule's annotations, rendered as Prometheus would.
        let summary = ticket["ticket"]["annotations"]["summary"].as_str().unwrap();
        let instance = ticket["ticket"]["entity"]["instance"].as_str().unwrap();
        assert!(
            !summary.contains("{{") && summary.contains(&format!("(instance {instance})")),
            "{summary}"
        );
        let fingerprint = ticket["ticket"]["fingerprint"].as_str().unwrap();
        assert!(
            dom.contains(&format!("data-fingerprint=\"{fingerprint}\"")),
            "open ticket {fingerprint} is on the page"
        );
    }
    assert!(
        dom.contains("http://prometheus.example:9090/graph?g0.expr="),
        "graph links"
    );
    assert!(
        dom.contains("id=\"model\"") && dom.contains("held out"),
        "the model card"
    );

    // A search keeps only what it asks for, and says how many matched.
    let search = chromium(
        &format!(
            "{}/?target=HostOutOfDiskSpace&entity=host3&limit=5",
            serve.url
        ),
        &["--dump-dom"],
    );
    let found = entity_rows(&search);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "HostOutOfDiskSpace");
    assert!(found[0].1.contains("\"host3\""), "{found:?}");

    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("status-page.png");
    chromium(
        &format!("{}/", serve.url),
        &[
            &format!("--screenshot={}", screenshot.display()),
            "--window-size=1400,2400",
        ],
    );
    let png = std::fs::read(&screenshot).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    assert!(
        png.len() > 50_000,
        "a page with content, not a blank: {} bytes",
        png.len()
    );
    eprintln!("status page screenshot: {}", screenshot.display());
}

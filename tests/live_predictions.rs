//! The live path end to end with real processes: `harbinger serve` on its embedded
//! defaults (built-in pipeline and model) receives lab-dev by remote write from
//! `harbinger replay`, and decides exactly the tickets `harbinger backtest` decides on the
//! same export (one code path for scoring and policy), writes them to
//! `<data_dir>/tickets.jsonl`, and exposes the prediction gauges.
//!
//! The model was trained on lab-dev, so this checks the live path, not the model's
//! quality (the held-out evaluation is in models/report/). A second test reloads the
//! model on SIGHUP and on file change, refusing a bad one, and applies the configured
//! false-ticket budget to each model it loads.

mod command;
mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use command::{ROOT, harbinger, text};
use support::{Process, eventually, free_ports, samples};

const LAB: &str = "../shared/data/lab-dev/metrics.csv.gz";
const HARBINGER: &str = env!("CARGO_BIN_EXE_harbinger");

fn run(args: &[&str]) {
    let out = harbinger(args);
    assert!(
        out.status.success(),
        "harbinger {args:?}: {}",
        text(&out.stderr)
    );
}

/// (target, entity, unix seconds) of every ticket opening in a backtest table.
fn backtest_openings(path: &std::path::Path) -> BTreeSet<(String, String, i64)> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    reader
        .records()
        .map(Result::unwrap)
        .filter(|r| &r[9] == "1")
        .map(|r| (r[2].to_owned(), r[1].to_owned(), r[0].parse().unwrap()))
        .collect()
}

/// `harbinger serve` on `data_dir`, with `extra` arguments, once it is ready.
async fn serve(dir: &Path, data_dir: &Path, extra: &[String]) -> Process {
    let [port] = free_ports();
    let mut args = vec![
        "serve".to_owned(),
        format!("--listen=127.0.0.1:{port}"),
        format!("--data-dir={}", data_dir.display()),
    ];
    args.extend_from_slice(extra);
    let serve = Process::spawn("serve", HARBINGER, &args, port, dir, "built by cargo");
    let ready = format!("{}/-/ready", serve.url);
    let deadline = Instant::now() + Duration::from_secs(30);
    eventually("serve ready", deadline, async || {
        match reqwest::get(&ready).await {
            Ok(r) if r.status() == 200 => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    serve
}

async fn metrics(serve: &Process) -> String {
    let url = format!("{}/metrics", serve.url);
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

#[tokio::test]
async fn serve_decides_the_tickets_backtest_decides_and_exposes_the_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let serve = serve(dir.path(), &data_dir, &[]).await;
    let deadline = Instant::now() + Duration::from_secs(30);

    let url = format!("{}/api/v1/write", serve.url);
    run(&[
        "replay",
        "--data",
        LAB,
        "--url",
        &url,
        "--as-fast-as-possible",
    ]);
    let predictions = dir.path().join("predictions.csv");
    let table = predictions.to_str().unwrap();
    run(&[
        "backtest",
        "--model",
        "models/default.json",
        "--data",
        LAB,
        "--out",
        table,
    ]);
    let expected = backtest_openings(&predictions);
    assert!(
        expected
            .iter()
            .any(|(target, _, _)| target == "HostOutOfDiskSpace"),
        "the backtest opens disk tickets"
    );

    // The live step clock waits one step behind the newest sample, so the export's last
    // step is not evaluated live; compare the steps both saw.
    let last = expected.iter().map(|o| o.2).max().unwrap();
    let journal = data_dir.join("tickets.jsonl");
    let opened = eventually("the live tickets", deadline, async || {
        let text = std::fs::read_to_string(&journal).map_err(|e| e.to_string())?;
        let opened: BTreeSet<(String, String, i64)> = text
            .lines()
            .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
            .filter(|a| a["action"] == "open")
            .map(|a| {
                let entity: Vec<String> = a["ticket"]["entity"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(n, v)| format!("{n}={v}"))
                    .collect();
                let entity = format!("{{{}}}", entity.join(", "));
                let target = a["ticket"]["target"].as_str().unwrap().to_owned();
                (target, entity, a["at_ms"].as_i64().unwrap() / 1000)
            })
            .collect();
        if opened.len() >= expected.len() - 1 {
            Ok(opened)
        } else {
            Err(format!("{} openings so far", opened.len()))
        }
    })
    .await;
    let comparable: BTreeSet<_> = expected.into_iter().filter(|o| o.2 < last).collect();
    let live: BTreeSet<_> = opened.into_iter().filter(|o| o.2 < last).collect();
    assert_eq!(live, comparable, "live openings equal the backtest's");
    // A disk ticket names the model inputs that weighed most in its probability.
    let text = std::fs::read_to_string(&journal).unwrap();
    let disk_open = text
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .find(|a| a["action"] == "open" && a["ticket"]["target"] == "HostOutOfDiskSpace")
        .unwrap();
    let evidence = disk_open["ticket"]["evidence"].as_array().unwrap();
    assert_eq!(evidence.len(), 3, "{disk_open}");
    assert!(
        evidence
            .iter()
            .all(|e| e["input"].is_string() && e["effect"].is_f64())
    );

    let exposition = metrics(&serve).await;
    let disk = samples(&exposition, "harbinger_prediction_probability")
        .into_iter()
        .filter(|(labels, p)| labels.contains("HostOutOfDiskSpace") && (0.0..=1.0).contains(p))
        .count();
    assert_eq!(disk, 8, "one probability per host's filesystem");
    assert!(!samples(&exposition, "harbinger_prediction_eta_seconds").is_empty());

    // The API ranks the same predictions, most likely first, and filters them.
    let api = async |query: &str| -> serde_json::Value {
        let url = format!("{}/api/v1/predictions{query}", serve.url);
        reqwest::get(url).await.unwrap().json().await.unwrap()
    };
    let disks = api("?target=HostOutOfDiskSpace").await;
    let ranked = disks["data"]["predictions"].as_array().unwrap();
    assert_eq!(disks["data"]["matched"], 8, "{disks}");
    assert_eq!(ranked.len(), 8);
    let probabilities: Vec<f64> = ranked
        .iter()
        .filter_map(|p| p["probability"].as_f64())
        .collect();
    assert!(
        probabilities.windows(2).all(|w| w[0] >= w[1]),
        "{probabilities:?}"
    );
    let gauge = |instance: &str| {
        samples(&exposition, "harbinger_prediction_probability")
            .into_iter()
            .find(|(labels, _)| {
                labels.contains("HostOutOfDiskSpace")
                    && labels.contains(&format!("instance=\"{instance}\""))
            })
            .map(|(_, p)| p)
    };
    for prediction in ranked {
        let instance = prediction["entity"]["instance"].as_str().unwrap();
        assert_eq!(
            prediction["probability"].as_f64(),
            gauge(instance),
            "{prediction}"
        );
    }
    let one = api("?target=HostOutOfDiskSpace&entity=host6&limit=1").await;
    assert_eq!(one["data"]["matched"], 1, "{one}");
    assert_eq!(one["data"]["predictions"][0]["entity"]["instance"], "host6");
    let actions: f64 = samples(&exposition, "harbinger_ticket_actions_total")
        .iter()
        .map(|(_, v)| v)
        .sum();
    assert!(actions >= live.len() as f64, "{exposition}");
}

#[tokio::test]
async fn a_new_model_is_loaded_on_sighup_or_file_change_and_a_bad_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.json");
    let default_model = Path::new(ROOT).join("models/default.json");
    std::fs::copy(&default_model, &model).unwrap();
    let config = dir.path().join("harbinger.yml");
    let budget = "false_ticket_budget:\n  HostOutOfDiskSpace: 5\n";
    std::fs::write(&config, format!("model: {}\n{budget}", model.display())).unwrap();
    let data_dir = dir.path().join("data");
    let serve = serve(
        dir.path(),
        &data_dir,
        &[format!("--config={}", config.display())],
    )
    .await;
    let reloads = async |result: &str| -> f64 {
        let exposition = metrics(&serve).await;
        let label = format!("result=\"{result}\"");
        samples(&exposition, "harbinger_model_reloads_total")
            .iter()
            .filter(|(labels, _)| labels.contains(&label))
            .map(|(_, v)| v)
            .sum()
    };
    let deadline = Instant::now() + Duration::from_secs(30);

    std::fs::write(&model, "{ not a model").unwrap();
    serve.signal(libc::SIGHUP);
    eventually("a refused reload", deadline, async || {
        match reloads("failure").await {
            n if n >= 1.0 => Ok(()),
            n => Err(format!("{n} failures")),
        }
    })
    .await;
    assert_eq!(reloads("success").await, 0.0);
    let ready = reqwest::get(format!("{}/-/ready", serve.url))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200, "the old model keeps serving");
    assert!(
        serve.log_tail(20).contains("model reload refused"),
        "{}",
        serve.log_tail(20)
    );

    // A good file again, without a signal: the file watch picks it up.
    std::fs::copy(&default_model, &model).unwrap();
    eventually(
        "a reload on file change",
        deadline,
        async || match reloads("success").await {
            n if n >= 1.0 => Ok(()),
            n => Err(format!("{n} successes")),
        },
    )
    .await;
    // The budget picked the disk target's policy at the start and again at the reload.
    let picked = "false-ticket budget: HostOutOfDiskSpace: a budget of 5 false tickets";
    eventually(
        "the budget applied to the reloaded model",
        deadline,
        async || match serve.log_tail(200).matches(picked).count() {
            2.. => Ok(()),
            n => Err(format!("{n} budget lines:\n{}", serve.log_tail(200))),
        },
    )
    .await;
}

//! Every `harbinger` command shown in README.md and `docs/` (the lines of their `sh`
//! blocks) is run by a test:
//!
//! - here, as written, when it needs nothing but the shared data: run by `bash` from
//!   the repository root, its outputs (`--out`, `/tmp/`) moved into a temporary
//!   directory; README's first command serves on its defaults from an empty directory,
//!   and the documented replay fills it;
//! - or by the test named below for it, which must hold its invocation (a command that
//!   needs a Prometheus to export from, a Kafka broker, or minutes of training).
//!
//! A command added to the docs without either fails here.

#[allow(dead_code)] // The shared helpers serve several test crates; this one uses a part.
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::{Process, eventually};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const HARBINGER: &str = env!("CARGO_BIN_EXE_harbinger");

/// Commands run by another test: (the command's start, the test file, what it holds).
const ELSEWHERE: &[(&str, &str, &str)] = &[
    (
        "harbinger export --prometheus",
        "tests/export.rs",
        "\"export\"",
    ),
    (
        "harbinger replay --data export.csv.gz",
        "tests/replay.rs",
        "\"--shift-to-now\"",
    ),
    (
        "harbinger check --config harbinger.yml --kafka",
        "tests/kafka.rs",
        "\"--kafka\"",
    ),
    (
        "harbinger serve --role receiver",
        "tests/kafka.rs",
        "\"receiver\"",
    ),
    (
        "harbinger serve --role worker",
        "tests/kafka.rs",
        "\"worker\"",
    ),
    ("harbinger train --data", "tests/train.rs", "\"train\""),
    (
        "harbinger backtest --model",
        "tests/train.rs",
        "\"backtest\"",
    ),
];

/// The command lines of the `sh` blocks of every page, continuations joined and
/// comments dropped, in page order.
fn documented() -> Vec<(PathBuf, String)> {
    let mut pages = vec![Path::new(ROOT).join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join("docs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    let mut commands = Vec::new();
    for page in pages {
        let text = std::fs::read_to_string(&page).unwrap();
        let mut in_sh = false;
        let mut joined = String::new();
        for line in text.lines() {
            if line.starts_with("```") {
                in_sh = !in_sh && line == "```sh";
                continue;
            }
            if !in_sh {
                continue;
            }
            let line = line.split(" # ").next().unwrap().trim_end();
            match line.strip_suffix('\\') {
                Some(part) => joined.push_str(part),
                None => {
                    joined.push_str(line);
                    let command = joined.split_whitespace().collect::<Vec<_>>().join(" ");
                    if command.starts_with("harbinger ") || command.starts_with("cargo run") {
                        commands.push((page.clone(), command));
                    }
                    joined.clear();
                }
            }
        }
    }
    commands
}

/// `command` as run here: the binary for `harbinger`, its outputs in `out`.
fn here(command: &str, out: &Path) -> String {
    let mut words: Vec<String> = command.split(' ').map(str::to_owned).collect();
    for i in 1..words.len() {
        if let Some(file) = words[i].strip_prefix("/tmp/") {
            words[i] = out.join(file).display().to_string();
        } else if words[i - 1] == "--out" && !words[i].starts_with('/') {
            words[i] = out.join(&words[i]).display().to_string();
        }
    }
    words
        .join(" ")
        .replacen("harbinger ", &format!("{HARBINGER} "), 1)
}

fn run(command: &str, out: &Path) -> String {
    let line = here(command, out);
    let done = Command::new("bash")
        .args(["-c", &line])
        .current_dir(ROOT)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&done.stdout),
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(done.status.success(), "`{command}` failed:\n{said}");
    said
}

#[tokio::test(flavor = "multi_thread")]
async fn every_documented_command_is_run() {
    let commands = documented();
    assert!(commands.len() >= 12, "{commands:?}");
    let out = tempfile::tempdir().unwrap();
    let mut served = None;
    for (page, command) in &commands {
        let page = page.strip_prefix(ROOT).unwrap().display();
        if let Some((_, test, holds)) = ELSEWHERE
            .iter()
            .find(|(start, _, _)| command.starts_with(start))
        {
            let text = std::fs::read_to_string(Path::new(ROOT).join(test)).unwrap();
            assert!(
                text.contains(holds),
                "{page}: `{command}` is said to be run by {test}, which lacks {holds}"
            );
            continue;
        }
        match command.as_str() {
            "cargo run --release -- serve" => served = Some(serve_on_defaults().await),
            replay
                if replay.starts_with("harbinger replay") && replay.contains("127.0.0.1:9799") =>
            {
                assert!(
                    served.is_some(),
                    "{page}: the replay into :9799 needs README's serve first"
                );
                let said = run(replay, out.path());
                assert!(
                    said.contains("replay finished") && said.contains("rejected_samples=0"),
                    "{said}"
                );
            }
            other if other.starts_with("harbinger ") => {
                run(other, out.path());
            }
            other => panic!("{page}: `{other}`: neither run here nor by another test"),
        }
    }
    let (serve, dir) = served.expect("README's first command was run");
    let status = reqwest::get(format!("{}/", serve.url)).await.unwrap();
    assert_eq!(status.status(), 200);
    assert!(
        status.text().await.unwrap().contains("HostOutOfDiskSpace"),
        "the status page ranks the replayed hosts"
    );
    assert!(
        dir.path().join("data/outbox.redb").exists(),
        "state in ./data"
    );
    for written in ["features.csv.gz", "features.parquet", "nab-scores.csv.gz"] {
        assert!(out.path().join(written).exists(), "{written}");
    }
}

/// README's first command, from an empty directory: `serve` on its embedded defaults
/// (`:9799`, state in `./data`). The binary stands for `cargo run --release --`.
async fn serve_on_defaults() -> (Process, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let args = ["serve".to_owned()];
    let serve = Process::spawn_in(
        dir.path(),
        "serve",
        HARBINGER,
        &args,
        9799,
        "built by cargo",
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let url = serve.url.clone();
    eventually("serve on :9799", deadline, async || {
        match reqwest::get(format!("{url}/-/ready")).await {
            Ok(r) if r.status() == 200 => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    (serve, dir)
}

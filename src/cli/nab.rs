//! `harbinger nab`: scores a table of anomaly scores against NAB's labelled windows with
//! harbinger's NAB scorer (`harbinger::evaluation::nab`) and prints a Markdown report.
//!
//! In: a CSV (gzipped if its name ends in `.gz`) with the columns `timestamp` (unix
//! seconds), `instance` or `entity` (a label set such as `{instance="nyc_taxi"}`) and
//! `anomaly_score`, other columns ignored, at most one row per instance and timestamp;
//! `windows.json` (per instance, NAB's windows in unix seconds and the file's row count).
//! With `--data-dir`, each instance is scored over the rows of its NAB file
//! (`<instance>.csv.gz`, NAB's row count, order and probation): a row takes the first
//! score at or after its timestamp and before the next row's (on a step grid offset from
//! the file's, the step that first saw the sample), NaN if none. Without it, the rows are
//! the table's own, and every window limit must be one of their timestamps.
//!
//! Out: per profile the threshold swept over the corpus and the normalised score, then
//! per file the windows detected, false-positive rows and raw score. With `--report DIR`
//! (and `--data-dir`), also `DIR/nab.html`: each file's values and scores with the
//! windows and the standard profile's detections (`harbinger::report::write_nab`).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use harbinger::dataset::parse_series;
use harbinger::evaluation::nab::{
    Corpus, FileInput, PROBATION_PERCENT, PROFILES, ProfileScore, probation_rows,
};
use harbinger::report::{NabPage, NabSeries, write_nab};

/// Published standard-profile scores on NAB's whole corpus (58 series), from NAB's
/// scoreboard.
const SCOREBOARD: &str = "ARTime 74.9, Numenta HTM ~70, CAD OSE 69.9, \
    Random Cut Forest 51.7, random 11.0";

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    harbinger features --pipeline pipelines/nab.yml \\\n    \
    --data ../shared/data/nab-dev/*.csv.gz --out nab-scores.csv.gz\n  \
    harbinger nab --scores nab-scores.csv.gz \\\n    \
    --windows ../shared/data/nab-dev/windows.json --data-dir ../shared/data/nab-dev \\\n    \
    --report nab-report\n\n\
    Any detector's scores can be checked: a CSV with `timestamp` (unix seconds),\n\
    `instance` (or harbinger's `entity`) and `anomaly_score`. One threshold is swept\n\
    over every file, as NAB's optimiser does; the report gives the normalised score per\n\
    profile (standard, reward_low_FP_rate, reward_low_FN_rate), then per file.")]
pub struct NabArgs {
    /// CSV with `timestamp`, `instance` or `entity`, and `anomaly_score` (.gz ok).
    #[arg(long, value_name = "FILE")]
    scores: PathBuf,
    /// NAB's windows per instance, in unix seconds (`windows.json`).
    #[arg(long, value_name = "FILE")]
    windows: PathBuf,
    /// Directory of the NAB files (`<instance>.csv.gz`) whose rows are scored.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Also write DIR/nab.html: each file's values and scores, its windows, and where
    /// the standard profile's threshold detects (needs --data-dir for the values).
    #[arg(long, value_name = "DIR", requires = "data_dir")]
    report: Option<PathBuf>,
}

/// One instance of `windows.json`.
#[derive(serde::Deserialize)]
struct Labelled {
    rows: usize,
    windows: Vec<[i64; 2]>,
}

/// An instance's scores, `(unix ms, score)` sorted by time.
type Scores = Vec<(i64, f64)>;

pub fn run(args: NabArgs) -> anyhow::Result<()> {
    let labelled: BTreeMap<String, Labelled> = serde_json::from_reader(
        File::open(&args.windows).with_context(|| format!("{}", args.windows.display()))?,
    )
    .with_context(|| format!("{}", args.windows.display()))?;
    let mut scores = read_scores(&args.scores)?;

    let mut files = Vec::new();
    let mut drawn = Vec::new();
    let mut absent = Vec::new();
    for (instance, labels) in &labelled {
        let Some(scores) = scores.remove(instance) else {
            absent.push(instance.as_str());
            continue;
        };
        let windows: Vec<[i64; 2]> = labels.windows.iter().map(|w| w.map(ms)).collect();
        let (timestamps, scores) = match &args.data_dir {
            Some(dir) => {
                let (rows, values) = read_rows(dir, instance)?;
                if rows.len() != labels.rows {
                    bail!(
                        "{instance}: {} rows in {}, {} in windows.json",
                        rows.len(),
                        dir.display(),
                        labels.rows
                    );
                }
                let on_rows = scores_on_rows(&rows, &scores);
                if args.report.is_some() {
                    drawn.push(NabSeries {
                        name: instance.clone(),
                        times_ms: rows.clone(),
                        values,
                        scores: on_rows.clone(),
                        windows: windows.clone(),
                        probation_rows: probation_rows(rows.len(), PROBATION_PERCENT),
                        detections: Vec::new(),
                        summary: String::new(),
                    });
                }
                (rows, on_rows)
            }
            None => scores.into_iter().unzip(),
        };
        files.push(FileInput {
            name: instance.clone(),
            timestamps,
            scores,
            windows,
        });
    }
    let unlabelled: Vec<String> = scores.into_keys().collect();
    let rows: Vec<(usize, usize)> = files
        .iter()
        .map(|f| {
            (
                f.timestamps.len(),
                f.scores.iter().filter(|s| s.is_nan()).count(),
            )
        })
        .collect();
    let corpus = Corpus::new(files)?;
    let results: Vec<ProfileScore> = PROFILES.iter().map(|p| corpus.score(p)).collect();

    print_report(&args, labelled.len(), &absent, &unlabelled, &rows, &results);
    if let Some(dir) = &args.report {
        write_page(&args, drawn, &corpus, &results, dir)?;
    }
    Ok(())
}

/// `DIR/nab.html`: every file drawn with the standard profile's detections.
fn write_page(
    args: &NabArgs,
    mut series: Vec<NabSeries>,
    corpus: &Corpus,
    results: &[ProfileScore],
    dir: &Path,
) -> anyhow::Result<()> {
    let standard = &results[0];
    let detections = standard.threshold.map(|t| corpus.detections(t));
    for (k, (drawn, file)) in series.iter_mut().zip(&standard.files).enumerate() {
        drawn.detections = detections.as_ref().map_or_else(Vec::new, |d| d[k].clone());
        let scored = file.counts.windows_detected + file.counts.windows_missed;
        drawn.summary = format!(
            "{}/{scored} windows detected, {} false positive rows, raw score {:.3} \
             (standard profile).",
            file.counts.windows_detected, file.counts.fp_rows, file.raw
        );
    }
    let mut notes: Vec<String> = results
        .iter()
        .map(|r| {
            format!(
                "{}: normalised {:.1} at threshold {} ({} windows detected, {} missed, {} \
                 false positive rows).",
                r.profile.name,
                r.normalized,
                threshold(r),
                r.counts.windows_detected,
                r.counts.windows_missed,
                r.counts.fp_rows
            )
        })
        .collect();
    notes.push(
        "Each plot: the value (left axis) and the anomaly score (right axis) over the \
         file's days; NAB's windows shaded, the probation grey, the standard profile's \
         threshold dashed; a green dot at each window's first detection, a red one at \
         each false positive (later detections inside a window count for nothing)."
            .to_owned(),
    );
    let page = NabPage {
        title: format!("NAB check: {}", args.scores.display()),
        notes,
        threshold: standard.threshold,
        series,
    };
    write_nab(&page, dir)?;
    tracing::info!(page = %dir.join("nab.html").display(), "NAB page written");
    Ok(())
}

fn ms(seconds: i64) -> i64 {
    seconds * 1000
}

fn open(path: &Path) -> anyhow::Result<Box<dyn Read>> {
    let file = File::open(path).with_context(|| format!("{}", path.display()))?;
    Ok(if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    })
}

/// The column named `name` in `headers`.
fn column(headers: &csv::StringRecord, path: &Path, names: &[&str]) -> anyhow::Result<usize> {
    names
        .iter()
        .find_map(|name| headers.iter().position(|h| h == *name))
        .with_context(|| format!("{}: no column {}", path.display(), names.join(" or ")))
}

fn seconds_to_ms(text: &str) -> Option<i64> {
    let seconds: f64 = text.parse().ok()?;
    seconds
        .is_finite()
        .then(|| (seconds * 1000.0).round() as i64)
}

/// Per instance, its scores sorted by time (an empty cell or NaN: no score).
fn read_scores(path: &Path) -> anyhow::Result<BTreeMap<String, Scores>> {
    let mut reader = csv::Reader::from_reader(open(path)?);
    let headers = reader.headers()?.clone();
    let t_at = column(&headers, path, &["timestamp"])?;
    let instance_at = column(&headers, path, &["instance", "entity"])?;
    let entity = &headers[instance_at] == "entity";
    let score_at = column(&headers, path, &["anomaly_score"])?;
    let mut scores: BTreeMap<String, Scores> = BTreeMap::new();
    for (line, record) in reader.records().enumerate() {
        let record = record.with_context(|| format!("{}", path.display()))?;
        let at = || format!("{}: line {}", path.display(), line + 2);
        let t = seconds_to_ms(&record[t_at])
            .with_context(|| format!("{}: timestamp {:?}", at(), &record[t_at]))?;
        let instance = if entity {
            // An entity is a label set without a metric name; the parser wants one.
            parse_series(&format!("entity{}", &record[instance_at]))
                .map_err(|e| anyhow::anyhow!("{}: entity: {e}", at()))?
                .into_iter()
                .find_map(|(name, value)| (name == "instance").then_some(value))
                .with_context(|| format!("{}: the entity has no instance label", at()))?
        } else {
            record[instance_at].to_owned()
        };
        let score = match &record[score_at] {
            "" => f64::NAN,
            text => text
                .parse()
                .with_context(|| format!("{}: anomaly_score {text:?}", at()))?,
        };
        scores.entry(instance).or_default().push((t, score));
    }
    for (instance, series) in &mut scores {
        series.sort_by_key(|&(t, _)| t);
        if let Some(pair) = series.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            bail!(
                "{}: two rows for {instance} at {} s (one signal per table)",
                path.display(),
                pair[0].0 / 1000
            );
        }
    }
    Ok(scores)
}

/// The timestamps (unix ms) and values of an instance's NAB rows, in file order.
fn read_rows(dir: &Path, instance: &str) -> anyhow::Result<(Vec<i64>, Vec<f64>)> {
    let path = dir.join(format!("{instance}.csv.gz"));
    let mut reader = csv::Reader::from_reader(open(&path)?);
    let headers = reader.headers()?.clone();
    let t_at = column(&headers, &path, &["timestamp"])?;
    let value_at = column(&headers, &path, &["value"])?;
    let mut rows = (Vec::new(), Vec::new());
    for (line, record) in reader.records().enumerate() {
        let record = record.with_context(|| format!("{}", path.display()))?;
        let at = || format!("{}: line {}", path.display(), line + 2);
        let t = seconds_to_ms(&record[t_at])
            .with_context(|| format!("{}: timestamp {:?}", at(), &record[t_at]))?;
        let value: f64 = record[value_at]
            .parse()
            .with_context(|| format!("{}: value {:?}", at(), &record[value_at]))?;
        rows.0.push(t);
        rows.1.push(value);
    }
    Ok(rows)
}

/// Each row's score: the first at or after its time and before the next row's (the last
/// row allows one more of its preceding gap; a row followed by an earlier or equal time,
/// only its own time).
fn scores_on_rows(rows: &[i64], scores: &[(i64, f64)]) -> Vec<f64> {
    rows.iter()
        .enumerate()
        .map(|(i, &t)| {
            let end = match (rows.get(i + 1), i.checked_sub(1).map(|p| rows[p])) {
                (Some(&next), _) if next > t => next,
                (None, Some(previous)) if previous < t => t + (t - previous),
                _ => t + 1,
            };
            let first = scores.partition_point(|&(s, _)| s < t);
            match scores.get(first) {
                Some(&(s, score)) if s < end => score,
                _ => f64::NAN,
            }
        })
        .collect()
}

fn threshold(score: &ProfileScore) -> String {
    score
        .threshold
        .map_or("none (never detects)".to_owned(), |t| format!("{t:.4}"))
}

fn print_report(
    args: &NabArgs,
    labelled: usize,
    absent: &[&str],
    unlabelled: &[String],
    rows: &[(usize, usize)],
    results: &[ProfileScore],
) {
    let files = &results[0].files;
    println!("# NAB check: {}\n", args.scores.display());
    println!(
        "The nab-dev subset of NAB: {} of the {labelled} series of {} scored (NAB's whole \
         corpus has 58).",
        files.len(),
        args.windows.display()
    );
    if !absent.is_empty() {
        println!(
            "Not scored (absent from the scores): {}.",
            absent.join(", ")
        );
    }
    if !unlabelled.is_empty() {
        println!("Ignored (no NAB windows): {}.", unlabelled.join(", "));
    }
    match &args.data_dir {
        Some(dir) => println!(
            "Rows: NAB's own, from {} (probation: the first 15 %, at most 750 rows).",
            dir.display()
        ),
        None => println!("Rows: the score table's own (probation: the first 15 %, at most 750)."),
    }
    println!(
        "\n| profile | normalised | threshold | raw | null | perfect | windows detected | missed | FP rows |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in results {
        println!(
            "| {} | {:.1} | {} | {:.3} | {:.1} | {:.1} | {} | {} | {} |",
            r.profile.name,
            r.normalized,
            threshold(r),
            r.raw,
            r.null,
            r.perfect,
            r.counts.windows_detected,
            r.counts.windows_missed,
            r.counts.fp_rows
        );
    }
    println!(
        "\nPublished standard-profile scores on NAB's whole corpus, for scale (not the same \
         series): {SCOREBOARD}.\n"
    );
    println!("## Per file: windows detected / scored windows, FP rows, raw score\n");
    print!("| file | rows | rows without a score | windows |");
    for r in results {
        print!(" {} |", r.profile.name);
    }
    println!();
    println!("|---|---:|---:|---:|{}", "---|".repeat(results.len()));
    for (i, file) in files.iter().enumerate() {
        let (total, unscored) = rows[i];
        print!(
            "| {} | {total} | {unscored} | {} |",
            file.name, file.windows
        );
        for r in results {
            let f = &r.files[i];
            let scored = f.counts.windows_detected + f.counts.windows_missed;
            print!(
                " {}/{scored}, {} FP, {:.3} |",
                f.counts.windows_detected, f.counts.fp_rows, f.raw
            );
        }
        println!();
    }
}

//! The Numenta Anomaly Benchmark's scorer, following `numenta/NAB` (commit ea702d7):
//! `nab/sweeper.py` (each row's reward or cost, the threshold sweep), `nab/optimizer.py`
//! (one threshold per profile for the whole corpus), `nab/scorer.py` (each file scored at
//! that threshold), `nab/util.py` (`getProbationPeriod`; a detection is a score ≥ the
//! threshold), `nab/runner.py` (`normalize`) and `config/profiles.json` ([`PROFILES`]).
//!
//! # In
//!
//! A [`Corpus`] of [`FileInput`]s, one per NAB data file: the timestamps of its rows in
//! file order, the detector's score at each row (NaN: no score, never a detection) and
//! its anomaly windows `[start, end]` (NAB's `labels/combined_windows.json`), whose limits
//! are row timestamps. Files are independent: rows of two files that share a timestamp
//! are scored each against its own file's windows and probation, and only meet in the
//! sweep, where every row of the corpus is ranked by its score.
//!
//! # Out
//!
//! Per [`Profile`], a [`ProfileScore`] ([`Corpus::score`]): the threshold the sweep picks,
//! the raw score at that threshold, the null and perfect scores and the normalised score,
//! NAB's row counts and the windows detected and missed, in total and per file.
//!
//! # NAB's rules
//!
//! - **Probation**: the first `min(⌊0.15 n⌋, 0.15 × 5000)` rows of a file of `n` rows
//!   ([`probation_rows`]) are not scored: no reward, no cost, no count. A window is still
//!   measured over all its rows, and a window lying wholly in probation is neither
//!   detected nor missed.
//! - **Windows**: a window holds the rows from the first row at its start through the
//!   first row at its end (NAB's `timestamps.index`), so a repeated timestamp is two rows.
//!   A detection `k` rows before the window's last row (of `w`) has the relative position
//!   `−(k + 1)/w` (−1 at its first row) and earns `tp × S(position)/S(−1)`, with
//!   `S(x) = 2 sigmoid(−5x) − 1` ([`scaled_sigmoid`]): exactly `tp` at the first row,
//!   about `tp × 0.025` at the last of 100. Only the best (earliest) detection of a window
//!   counts; a window with none costs `fn`.
//! - **False positives**: a detection outside every window, `d` rows after the last row of
//!   the previous window (of `w` rows), costs `fp × S(d/(w − 1))`: barely anything right
//!   after a window, close to `fp` from `w` rows on, exactly `fp` past `3(w − 1)` rows
//!   and before the first window. True negatives are worth nothing (`tnWeight` is unused,
//!   as in NAB).
//! - **Threshold**: the sweep ranks every scored row of the corpus by its score and, for
//!   each distinct score `t` from the highest down, totals the corpus with detections at
//!   scores ≥ `t`; the highest total wins, a tie going to the higher threshold (NAB keeps
//!   the first of a stable sort). Each file is then scored at that threshold and the raw
//!   score is their sum (NAB's `scoreCorpus` totals).
//! - **Normalised**: `100 (raw − null) / (perfect − null)`. `null` is the score of a
//!   detector that never detects: `−fn` per window with a scored row. `perfect` is `tp`
//!   per labelled window, as NAB's `normalize` counts them (a window wholly in probation
//!   counts there too); NaN for a corpus without windows.
//!
//! # Deliberate deviations, each with a test
//!
//! - NAB's sweep starts at the threshold 1.1, above scores in `[0, 1]`. harbinger's scores
//!   are unbounded, so the no-detection candidate is a threshold of `None`.
//! - NaN scores never detect (NAB's scores are never NaN).
//! - A false positive after a window of one row: NAB divides by `w − 1 = 0` and raises;
//!   here the distance is infinite and the cost `fp`.
//! - A window limit that is no row's timestamp: NAB never enters such a window (start) or
//!   raises (end); windows out of order or overlapping make NAB's walk undefined. Both are
//!   a [`NabError`] here, naming the file and the window.

use std::cmp::Ordering;
use std::ops::AddAssign;

#[cfg(test)]
mod tests;

/// The share of each file's first rows that is not scored (`probationPercent`).
pub const PROBATION_PERCENT: f64 = 0.15;

/// An application profile's weights (NAB's `CostMatrix`; `tnWeight` is never used).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Profile {
    pub name: &'static str,
    /// The reward for a detection at the first row of a window.
    pub tp_weight: f64,
    /// The cost of a detection far from any window.
    pub fp_weight: f64,
    /// The cost of a window without a detection.
    pub fn_weight: f64,
}

/// NAB's three profiles, as `config/profiles.json` defines them.
pub const PROFILES: [Profile; 3] = [
    Profile {
        name: "standard",
        tp_weight: 1.0,
        fp_weight: 0.11,
        fn_weight: 1.0,
    },
    Profile {
        name: "reward_low_FP_rate",
        tp_weight: 1.0,
        fp_weight: 0.22,
        fn_weight: 1.0,
    },
    Profile {
        name: "reward_low_FN_rate",
        tp_weight: 1.0,
        fp_weight: 0.11,
        fn_weight: 2.0,
    },
];

/// One data file as the detector saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct FileInput {
    pub name: String,
    /// Row timestamps in file order (any unit, as long as the windows use the same).
    pub timestamps: Vec<i64>,
    /// The detector's score at each row; NaN where it gave none.
    pub scores: Vec<f64>,
    /// Labelled anomaly windows `[start, end]`, in time order, limits being row timestamps.
    pub windows: Vec<[i64; 2]>,
}

/// A file that cannot be scored as NAB would.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NabError {
    #[error("{file}: {timestamps} timestamps but {scores} scores")]
    ScoreCount {
        file: String,
        timestamps: usize,
        scores: usize,
    },
    #[error(
        "{file}: window [{}, {}]: no row has the timestamp {limit} (NAB's window limits are row timestamps)",
        window[0], window[1]
    )]
    WindowLimit {
        file: String,
        window: [i64; 2],
        limit: i64,
    },
    #[error(
        "{file}: window [{}, {}] ends before it starts or does not start after the previous window",
        window[0], window[1]
    )]
    WindowOrder { file: String, window: [i64; 2] },
}

/// NAB's row counts (`tp` + `fn` rows are the scored rows inside windows, `fp` + `tn` those
/// outside), and the windows with a scored row, detected or missed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub tp_rows: usize,
    pub fp_rows: usize,
    pub tn_rows: usize,
    pub fn_rows: usize,
    pub windows_detected: usize,
    pub windows_missed: usize,
}

impl AddAssign for Counts {
    fn add_assign(&mut self, other: Counts) {
        self.tp_rows += other.tp_rows;
        self.fp_rows += other.fp_rows;
        self.tn_rows += other.tn_rows;
        self.fn_rows += other.fn_rows;
        self.windows_detected += other.windows_detected;
        self.windows_missed += other.windows_missed;
    }
}

/// One file scored at a profile's threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct FileScore {
    pub name: String,
    pub raw: f64,
    pub counts: Counts,
    /// Every labelled window, including those wholly in probation.
    pub windows: usize,
}

/// The corpus scored under one profile.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileScore {
    pub profile: Profile,
    /// Detections are scores ≥ this; `None`: no detection at all.
    pub threshold: Option<f64>,
    /// The sum of the files' scores at the threshold.
    pub raw: f64,
    /// The score of a detector that never detects.
    pub null: f64,
    /// The score of a detector that detects every window at its first row.
    pub perfect: f64,
    /// `100 (raw − null) / (perfect − null)`.
    pub normalized: f64,
    pub counts: Counts,
    pub files: Vec<FileScore>,
}

/// NAB's scaled sigmoid of a relative position: `2 sigmoid(−5x) − 1`, and −1 past 3
/// (`nab/sweeper.py`: `> 3.0`; at exactly 3 it is −0.9999994). −1 is a window's first row
/// (0.98661), 0 just past its last.
pub fn scaled_sigmoid(position: f64) -> f64 {
    if position > 3.0 {
        -1.0
    } else {
        2.0 / (1.0 + (5.0 * position).exp()) - 1.0
    }
}

/// The rows of a file of `rows` rows that are not scored: `min(⌊p n⌋, p × 5000)`, counted
/// as NAB compares row indices with it.
pub fn probation_rows(rows: usize, probation_percent: f64) -> usize {
    let limit = (probation_percent * rows as f64)
        .floor()
        .min(probation_percent * 5000.0);
    limit.ceil() as usize
}

/// Files checked and measured once; scored under any profile.
#[derive(Debug, Clone)]
pub struct Corpus {
    files: Vec<File>,
}

#[derive(Debug, Clone)]
struct File {
    name: String,
    /// The scored rows (after probation), in file order.
    rows: Vec<Row>,
    /// The file's index of `rows[0]`: the probation's length.
    first_scored: usize,
    /// Labelled windows, including those wholly in probation.
    windows: usize,
    /// Windows with at least one scored row; `Place::Window` indexes these.
    scored_windows: usize,
}

#[derive(Debug, Clone, Copy)]
struct Row {
    score: f64,
    place: Place,
}

/// Where a row stands, with its unweighted scaled sigmoid.
#[derive(Debug, Clone, Copy)]
enum Place {
    Window { index: usize, sigmoid: f64 },
    Outside { sigmoid: f64 },
}

impl Corpus {
    /// Checks every file's windows against its rows, with NAB's probation.
    pub fn new(files: Vec<FileInput>) -> Result<Corpus, NabError> {
        Corpus::with_probation(files, PROBATION_PERCENT)
    }

    /// As [`Corpus::new`] with another probation share (NAB's unit tests use 0).
    pub fn with_probation(
        files: Vec<FileInput>,
        probation_percent: f64,
    ) -> Result<Corpus, NabError> {
        let files = files
            .into_iter()
            .map(|file| File::measure(file, probation_percent))
            .collect::<Result<_, _>>()?;
        Ok(Corpus { files })
    }

    /// Sweeps the threshold for `profile` over the corpus and scores it there.
    pub fn score(&self, profile: &Profile) -> ProfileScore {
        self.score_at(profile, self.best_threshold(profile))
    }

    /// Scores every file with detections at scores ≥ `threshold` (`None`: none).
    pub fn score_at(&self, profile: &Profile, threshold: Option<f64>) -> ProfileScore {
        let detects = |score: f64| threshold.is_some_and(|t| score >= t);
        let files: Vec<FileScore> = self
            .files
            .iter()
            .map(|file| {
                let mut tally = Tally::new(profile, file.scored_windows, &file.rows);
                for row in file.rows.iter().filter(|row| detects(row.score)) {
                    tally.detect(&row.place, 0);
                }
                FileScore {
                    name: file.name.clone(),
                    raw: tally.score(),
                    counts: tally.counts,
                    windows: file.windows,
                }
            })
            .collect();
        let mut counts = Counts::default();
        for file in &files {
            counts += file.counts;
        }
        let raw = files.iter().map(|f| f.raw).sum();
        let scored_windows: usize = self.files.iter().map(|f| f.scored_windows).sum();
        let windows: usize = self.files.iter().map(|f| f.windows).sum();
        let null = -profile.fn_weight * scored_windows as f64;
        let perfect = profile.tp_weight * windows as f64;
        ProfileScore {
            profile: *profile,
            threshold,
            raw,
            null,
            perfect,
            normalized: 100.0 * (raw - null) / (perfect - null),
            counts,
            files,
        }
    }

    /// Per file, the detections at scores ≥ `threshold` that NAB counts, as (row index
    /// in the file, true positive): each scored window's first detection (true) and
    /// every one outside the windows (false), in file order. Later detections inside a
    /// window count for nothing and are left out.
    pub fn detections(&self, threshold: f64) -> Vec<Vec<(usize, bool)>> {
        self.files
            .iter()
            .map(|file| {
                let mut seen = vec![false; file.scored_windows];
                let detected = file
                    .rows
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.score >= threshold);
                detected
                    .filter_map(|(k, row)| {
                        let at = file.first_scored + k;
                        match row.place {
                            Place::Window { index, .. } => {
                                (!std::mem::replace(&mut seen[index], true)).then_some((at, true))
                            }
                            Place::Outside { .. } => Some((at, false)),
                        }
                    })
                    .collect()
            })
            .collect()
    }

    /// NAB's sweep (`calcScoreByThreshold` over every file's rows, then the best total).
    fn best_threshold(&self, profile: &Profile) -> Option<f64> {
        let mut offset = 0;
        let mut ranked: Vec<(&Row, usize)> = Vec::new();
        for file in &self.files {
            ranked.extend(
                file.rows
                    .iter()
                    .filter(|row| !row.score.is_nan())
                    .map(|row| (row, offset)),
            );
            offset += file.scored_windows;
        }
        // Stable and descending, as NAB's `sorted(..., reverse=True)`.
        ranked.sort_by(|a, b| b.0.score.partial_cmp(&a.0.score).unwrap_or(Ordering::Equal));
        let mut tally = Tally::new(
            profile,
            offset,
            self.files.iter().flat_map(|file| &file.rows),
        );
        let mut best = (None, tally.score());
        let mut current = None;
        for (row, offset) in ranked {
            if current != Some(row.score) {
                if current.is_some() && tally.score() > best.1 {
                    best = (current, tally.score());
                }
                current = Some(row.score);
            }
            tally.detect(&row.place, offset);
        }
        if current.is_some() && tally.score() > best.1 {
            best = (current, tally.score());
        }
        best.0
    }
}

impl File {
    fn measure(input: FileInput, probation_percent: f64) -> Result<File, NabError> {
        let FileInput {
            name,
            timestamps,
            scores,
            windows,
        } = input;
        if timestamps.len() != scores.len() {
            return Err(NabError::ScoreCount {
                file: name,
                timestamps: timestamps.len(),
                scores: scores.len(),
            });
        }
        // Each window as the indices of its first and last rows.
        let mut spans: Vec<(usize, usize)> = Vec::with_capacity(windows.len());
        for window in &windows {
            let row_of = |limit: i64| {
                timestamps
                    .iter()
                    .position(|&t| t == limit)
                    .ok_or_else(|| NabError::WindowLimit {
                        file: name.clone(),
                        window: *window,
                        limit,
                    })
            };
            let (first, last) = (row_of(window[0])?, row_of(window[1])?);
            if last < first || spans.last().is_some_and(|&(_, previous)| first <= previous) {
                return Err(NabError::WindowOrder {
                    file: name,
                    window: *window,
                });
            }
            spans.push((first, last));
        }
        let probation = probation_rows(timestamps.len(), probation_percent);
        // Windows wholly in probation come first; scored windows are numbered after them.
        let unscored = spans.iter().filter(|&&(_, last)| last < probation).count();
        let mut rows = Vec::with_capacity(timestamps.len().saturating_sub(probation));
        let mut next = 0;
        for (i, &score) in scores.iter().enumerate() {
            while spans.get(next).is_some_and(|&(_, last)| last < i) {
                next += 1;
            }
            let place = match spans.get(next) {
                Some(&(first, last)) if first <= i => Place::Window {
                    index: next.saturating_sub(unscored),
                    sigmoid: scaled_sigmoid(-((last - i + 1) as f64) / (last - first + 1) as f64),
                },
                _ => {
                    // NAB's "no window yet" is the full cost, −1.
                    let position = match next.checked_sub(1).map(|p| spans[p]) {
                        None => f64::INFINITY,
                        Some((first, last)) => (i - last) as f64 / (last - first) as f64,
                    };
                    Place::Outside {
                        sigmoid: scaled_sigmoid(position),
                    }
                }
            };
            if i >= probation {
                rows.push(Row { score, place });
            }
        }
        Ok(File {
            name,
            rows,
            first_scored: probation,
            windows: spans.len(),
            scored_windows: spans.len() - unscored,
        })
    }
}

/// A score being totalled as detections are added (NAB's `scoreParts` and counts).
struct Tally {
    profile: Profile,
    /// `S(−1)`: a detection at a window's first row earns exactly `tp`.
    max_tp: f64,
    fp_total: f64,
    /// Per scored window, its best reward so far (`−fn` until detected).
    windows: Vec<f64>,
    detected: Vec<bool>,
    counts: Counts,
}

impl Tally {
    /// Nothing detected yet among `rows`, which hold `windows` scored windows.
    fn new<'a>(
        profile: &Profile,
        windows: usize,
        rows: impl IntoIterator<Item = &'a Row>,
    ) -> Tally {
        let mut counts = Counts {
            windows_missed: windows,
            ..Counts::default()
        };
        for row in rows {
            match row.place {
                Place::Window { .. } => counts.fn_rows += 1,
                Place::Outside { .. } => counts.tn_rows += 1,
            }
        }
        Tally {
            profile: *profile,
            max_tp: scaled_sigmoid(-1.0),
            fp_total: 0.0,
            windows: vec![-profile.fn_weight; windows],
            detected: vec![false; windows],
            counts,
        }
    }

    /// Adds a detection at a row; `offset` is the index of its file's first window.
    fn detect(&mut self, place: &Place, offset: usize) {
        match *place {
            Place::Window { index, sigmoid } => {
                let index = offset + index;
                let reward = sigmoid * self.profile.tp_weight / self.max_tp;
                self.windows[index] = self.windows[index].max(reward);
                if !self.detected[index] {
                    self.detected[index] = true;
                    self.counts.windows_detected += 1;
                    self.counts.windows_missed -= 1;
                }
                self.counts.tp_rows += 1;
                self.counts.fn_rows -= 1;
            }
            Place::Outside { sigmoid } => {
                self.fp_total += sigmoid * self.profile.fp_weight;
                self.counts.fp_rows += 1;
                self.counts.tn_rows -= 1;
            }
        }
    }

    /// The total, summed as NAB's `sum(scoreParts.values())`: false positives first.
    fn score(&self) -> f64 {
        self.windows
            .iter()
            .fold(self.fp_total, |total, w| total + w)
    }
}

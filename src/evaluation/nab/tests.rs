//! The scorer against NAB's own unit tests (`tests/unit/{scorer,true_positive,
//! false_positive,false_negative}_test.py`, ported with their numbers and counts), then
//! cases worked out by hand from NAB's formulas, then the deliberate deviations.

use super::*;

/// The cost matrix of NAB's unit tests: every weight 1.
const UNIT: Profile = Profile {
    name: "unit",
    tp_weight: 1.0,
    fp_weight: 1.0,
    fn_weight: 1.0,
};

const STANDARD: Profile = PROFILES[0];

/// Rows five minutes apart, as NAB's `generateTimestamps`.
fn timestamp(row: usize) -> i64 {
    1_396_310_400 + 300 * row as i64
}

/// NAB's `generateWindows`: `count` windows of `size` rows spread evenly over `length`
/// rows, as row indices `[first, last]` (Python's `round` rounds half to even).
fn nab_windows(length: usize, count: usize, size: usize) -> Vec<[usize; 2]> {
    let gap = ((length - count * size) as f64 / (count + 1) as f64).round_ties_even() as usize;
    (0..count)
        .map(|i| {
            let first = gap * (i + 1) + size * i;
            [first, first + size - 1]
        })
        .collect()
}

/// A file of `length` rows scoring 1 at `detections` and 0 elsewhere.
fn file(name: &str, length: usize, windows: &[[usize; 2]], detections: &[usize]) -> FileInput {
    FileInput {
        name: name.to_owned(),
        timestamps: (0..length).map(timestamp).collect(),
        scores: (0..length)
            .map(|i| if detections.contains(&i) { 1.0 } else { 0.0 })
            .collect(),
        windows: windows
            .iter()
            .map(|&[first, last]| [timestamp(first), timestamp(last)])
            .collect(),
    }
}

/// Rows without a detection get no score (NaN), so that a sweep cannot pick 0 and
/// detect them all.
fn unscored_elsewhere(mut input: FileInput) -> FileInput {
    for score in &mut input.scores {
        if *score == 0.0 {
            *score = f64::NAN;
        }
    }
    input
}

/// NAB's `Sweeper(probationPercent=0).scoreDataSet(..., threshold=0.5)` on one file.
fn score_one(input: FileInput, profile: &Profile) -> ProfileScore {
    Corpus::with_probation(vec![input], 0.0)
        .unwrap()
        .score_at(profile, Some(0.5))
}

/// NAB's `_checkCounts(row, tn, tp, fp, fn)`.
fn assert_counts(score: &ProfileScore, tn: usize, tp: usize, fp: usize, fn_rows: usize) {
    let c = score.counts;
    assert_eq!(
        (c.tn_rows, c.tp_rows, c.fp_rows, c.fn_rows),
        (tn, tp, fp, fn_rows),
        "(tn, tp, fp, fn)"
    );
}

fn assert_close(actual: f64, expected: f64, tolerance: f64) {
    assert!(
        (actual - expected).abs() <= tolerance,
        "{actual} is not within {tolerance} of {expected}"
    );
}

// --- NAB's unit tests ---------------------------------------------------------------

#[test]
fn nab_null_case_scores_zero() {
    let score = score_one(file("f", 10, &[], &[]), &UNIT);
    assert_eq!(score.raw, 0.0);
    assert_counts(&score, 10, 0, 0, 0);
}

#[test]
fn nab_first_true_positive_within_window_earns_exactly_tp() {
    let windows = nab_windows(10, 1, 2);
    assert_eq!(windows, [[4, 5]]);
    let score = score_one(file("f", 10, &windows, &[4]), &UNIT);
    assert_eq!(score.raw, UNIT.tp_weight);
    assert_counts(&score, 8, 1, 0, 1);
}

#[test]
fn nab_earlier_true_positive_is_better() {
    let windows = nab_windows(10, 1, 2);
    let early = score_one(file("f", 10, &windows, &[4]), &UNIT);
    let late = score_one(file("f", 10, &windows, &[5]), &UNIT);
    assert!(early.raw > late.raw);
    assert_counts(&early, 8, 1, 0, 1);
    assert_counts(&late, 8, 1, 0, 1);
    // Hand: the last of 2 rows is at −1/2, S(−1/2)/S(−1) = tanh(1.25)/tanh(2.5).
    assert_close(late.raw, 1.25f64.tanh() / 2.5f64.tanh(), 1e-12);
}

#[test]
fn nab_only_the_first_true_positive_of_a_window_counts() {
    let windows = nab_windows(10, 1, 2);
    let one = score_one(file("f", 10, &windows, &[4]), &UNIT);
    let two = score_one(file("f", 10, &windows, &[4, 5]), &UNIT);
    assert_eq!(one.raw, two.raw);
    assert_counts(&one, 8, 1, 0, 1);
    assert_counts(&two, 8, 2, 0, 0);
}

#[test]
fn nab_true_positives_at_the_start_score_alike_whatever_the_window_size() {
    let (two, three) = (nab_windows(10, 1, 2), nab_windows(10, 1, 3));
    assert_eq!(three, [[4, 6]]);
    let a = score_one(file("f", 10, &two, &[two[0][0]]), &UNIT);
    let b = score_one(file("f", 10, &three, &[three[0][0]]), &UNIT);
    assert_eq!(a.raw, b.raw);
    assert_counts(&a, 8, 1, 0, 1);
    assert_counts(&b, 7, 1, 0, 2);
}

#[test]
fn nab_true_positive_at_the_right_edge_is_worth_about_a_false_positive_just_after() {
    let windows = nab_windows(1000, 1, 100);
    assert_eq!(windows, [[450, 549]]);
    let inside = score_one(file("f", 1000, &windows, &[549]), &UNIT);
    let after = score_one(file("f", 1000, &windows, &[550]), &UNIT);
    // NAB: assertAlmostEqual(tp + fp + 1, 0, 3), the 1 being the second run's miss.
    assert!((inside.raw + after.raw + 1.0).abs() < 5e-4);
    assert_counts(&inside, 900, 1, 0, 99);
    assert_counts(&after, 899, 0, 1, 100);
    // Hand: S(−1/100)/S(−1) and −1 + S(1/99).
    assert_close(inside.raw, 0.025f64.tanh() / 2.5f64.tanh(), 1e-12);
    assert_close(after.raw, -1.0 - (2.5f64 / 99.0).tanh(), 1e-12);
}

#[test]
fn nab_a_false_positive_means_a_negative_score() {
    let windows = nab_windows(1000, 1, 10);
    let score = score_one(file("f", 1000, &windows, &[0]), &UNIT);
    assert!(score.raw < 0.0);
    // Hand: before any window the cost is the whole fp, and the window is missed.
    assert_eq!(score.raw, -2.0);
    assert_counts(&score, 989, 0, 1, 10);
}

#[test]
fn nab_two_false_positives_are_worse_than_one() {
    let windows = nab_windows(1000, 1, 10);
    let one = score_one(file("f", 1000, &windows, &[0]), &UNIT);
    let two = score_one(file("f", 1000, &windows, &[0, 1]), &UNIT);
    assert!(two.raw < one.raw);
    assert_counts(&one, 989, 0, 1, 10);
    assert_counts(&two, 988, 0, 2, 10);
}

#[test]
fn nab_one_false_positive_without_windows_costs_exactly_fp() {
    let score = score_one(file("f", 1000, &[], &[0]), &UNIT);
    assert_eq!(score.raw, -UNIT.fp_weight);
    assert_counts(&score, 999, 0, 1, 0);
}

#[test]
fn nab_an_earlier_false_positive_after_a_window_is_better() {
    let windows = nab_windows(10, 1, 2);
    let a = score_one(file("f", 10, &windows, &[6]), &UNIT);
    let b = score_one(file("f", 10, &windows, &[7]), &UNIT);
    assert!(a.raw > b.raw);
    assert_counts(&a, 7, 0, 1, 2);
    assert_counts(&b, 7, 0, 1, 2);
    // Hand: one and two rows after a window of 2 rows: S(1) and S(2), plus the miss.
    assert_close(a.raw, -1.0 - 2.5f64.tanh(), 1e-12);
    assert_close(b.raw, -1.0 - 5.0f64.tanh(), 1e-12);
}

#[test]
fn nab_a_false_negative_costs_exactly_fn() {
    let windows = nab_windows(1000, 1, 10);
    let one = score_one(file("f", 1000, &windows, &[]), &UNIT);
    assert_eq!(one.raw, -UNIT.fn_weight);
    assert_counts(&one, 990, 0, 0, 10);
    let windows = nab_windows(2000, 4, 10);
    let four = score_one(file("f", 2000, &windows, &[]), &UNIT);
    assert_eq!(four.raw, -4.0 * UNIT.fn_weight);
    assert_counts(&four, 1960, 0, 0, 40);
}

#[test]
fn nab_reward_low_false_negatives_doubles_a_miss() {
    let windows = nab_windows(100, 1, 10);
    let low_fn = Profile {
        fn_weight: 2.0,
        fp_weight: 0.055,
        ..UNIT
    };
    let one = score_one(file("f", 100, &windows, &[]), &UNIT);
    let two = score_one(file("f", 100, &windows, &[]), &low_fn);
    assert_eq!(one.raw, 0.5 * two.raw);
    assert_counts(&one, 90, 0, 0, 10);
    assert_counts(&two, 90, 0, 0, 10);
}

#[test]
fn nab_reward_low_false_positives_doubles_a_false_positive() {
    let low_fp = Profile {
        fp_weight: 2.0,
        fn_weight: 0.5,
        ..UNIT
    };
    let one = score_one(file("f", 100, &[], &[0]), &UNIT);
    let two = score_one(file("f", 100, &[], &[0]), &low_fp);
    assert_eq!(one.raw, 0.5 * two.raw);
    assert_counts(&one, 99, 0, 1, 0);
    assert_counts(&two, 99, 0, 1, 0);
}

#[test]
fn nab_scoring_all_metrics() {
    let windows = nab_windows(100, 2, 5);
    assert_eq!(windows, [[30, 34], [65, 69]]);
    let start = windows[0][0];
    let score = score_one(
        file("f", 100, &windows, &[start, start + 1, start + 7]),
        &UNIT,
    );
    // NAB: assertAlmostEqual(score, -0.9540, 4).
    assert!((score.raw - -0.9540).abs() < 5e-5, "{}", score.raw);
    // Hand: a full TP, a FP 3 rows after a window of 5 (S(3/4) = −tanh(1.875)), a miss.
    assert_close(score.raw, 1.0 - 1.875f64.tanh() - 1.0, 1e-12);
    assert_counts(&score, 89, 2, 1, 8);
    assert_eq!(
        (score.counts.windows_detected, score.counts.windows_missed),
        (1, 1)
    );
}

// --- NAB's formulas, worked by hand -------------------------------------------------

#[test]
fn scaled_sigmoid_matches_nab_docstring() {
    // sweeper.py: −1 → 0.98661, −0.5 → 0.84828, 0 → 0, 1 → −0.98661, > 3 → −1.
    assert_close(scaled_sigmoid(-1.0), 0.98661, 5e-6);
    assert_close(scaled_sigmoid(-0.5), 0.84828, 5e-6);
    assert_eq!(scaled_sigmoid(0.0), 0.0);
    assert_close(scaled_sigmoid(1.0), -0.98661, 5e-6);
    // Exactly 3 is still on the sigmoid (`if relativePositionInWindow > 3.0`).
    assert_close(scaled_sigmoid(3.0), -(7.5f64.tanh()), 1e-12);
    assert!(scaled_sigmoid(3.0) > -1.0);
    assert_eq!(scaled_sigmoid(3.000_001), -1.0);
    assert_eq!(scaled_sigmoid(f64::INFINITY), -1.0);
    assert_close(scaled_sigmoid(2.999), -(7.4975f64.tanh()), 1e-12);
}

#[test]
fn probation_is_fifteen_percent_capped_at_750_rows() {
    for (rows, expected) in [
        (0, 0),
        (10, 1),
        (1243, 186),
        (4032, 604),
        (5000, 750),
        (10320, 750),
        (22695, 750),
    ] {
        assert_eq!(probation_rows(rows, PROBATION_PERCENT), expected, "{rows}");
    }
    assert_eq!(probation_rows(4032, 0.0), 0);
}

#[test]
fn probation_rows_are_neither_rewarded_nor_counted() {
    // 20 rows: the first 3 are probation. A detection there counts for nothing.
    let input = file("f", 20, &[[10, 12]], &[2]);
    let score = Corpus::new(vec![input]).unwrap().score_at(&UNIT, Some(0.5));
    assert_eq!(score.raw, -1.0);
    assert_counts(&score, 14, 0, 0, 3);
    let input = file("f", 20, &[[10, 12]], &[3]);
    let score = Corpus::new(vec![input]).unwrap().score_at(&UNIT, Some(0.5));
    assert_eq!(score.raw, -2.0);
    assert_counts(&score, 13, 0, 1, 3);
}

#[test]
fn a_window_in_probation_is_not_missed_but_counts_in_perfect() {
    // 100 rows, 15 of probation: the window [10, 14] lies in it, [50, 54] does not.
    let input = file("f", 100, &[[10, 14], [50, 54]], &[15]);
    let score = Corpus::new(vec![input]).unwrap().score_at(&UNIT, Some(0.5));
    assert_eq!(score.null, -1.0);
    assert_eq!(score.perfect, 2.0);
    // The FP one row after the probation window still follows it: S(1/4) = −tanh(0.625).
    assert_close(score.raw, -(0.625f64.tanh()) - 1.0, 1e-12);
    assert_eq!(score.files[0].windows, 2);
    assert_eq!(
        (score.counts.windows_detected, score.counts.windows_missed),
        (0, 1)
    );
}

/// Two files; `a` has a window [4, 5] detected at 0.9, a FP at 0.95 three rows after it
/// (S(3) = −tanh(7.5), just short of −1) and a FP at 0.5 before it; `b` has no window
/// and a FP at 0.7.
fn two_files() -> Vec<FileInput> {
    let mut a = file("a", 10, &[[4, 5]], &[]);
    a.scores[4] = 0.9;
    a.scores[8] = 0.95;
    a.scores[0] = 0.5;
    let mut b = file("b", 10, &[], &[]);
    b.scores[3] = 0.7;
    vec![a, b]
}

#[test]
fn the_sweep_picks_the_best_threshold_over_the_corpus() {
    let corpus = Corpus::with_probation(two_files(), 0.0).unwrap();
    // Standard: none −1; ≥0.95 −1 − 0.11·S; ≥0.9 1 − 0.11·S ≈ 0.89; ≥0.7 ≈ 0.78;
    // ≥0.5 ≈ 0.67; ≥0 everything, far worse (S = tanh(7.5)).
    let at_point_nine = 1.0 - 0.11 * 7.5f64.tanh();
    let score = corpus.score(&STANDARD);
    assert_eq!(score.threshold, Some(0.9));
    assert_close(score.raw, at_point_nine, 1e-12);
    assert_counts(&score, 17, 1, 1, 1);
    assert_eq!(score.files[0].name, "a");
    assert_close(score.files[0].raw, at_point_nine, 1e-12);
    assert_eq!(score.files[1].raw, 0.0);
    // Normalised: null −1, perfect 1.
    assert_close(score.normalized, 100.0 * (at_point_nine + 1.0) / 2.0, 1e-9);
}

#[test]
fn a_tie_keeps_the_higher_threshold() {
    let mut files = two_files();
    // A second detection in the detected window changes nothing: 0.8 ties with 0.9.
    files[0].scores[5] = 0.8;
    files[1].scores[3] = 0.0;
    let score = Corpus::with_probation(files, 0.0).unwrap().score(&STANDARD);
    assert_eq!(score.threshold, Some(0.9));
}

#[test]
fn no_threshold_when_every_detection_hurts() {
    let input = unscored_elsewhere(file("f", 10, &[[4, 5]], &[0, 8]));
    let score = Corpus::with_probation(vec![input], 0.0)
        .unwrap()
        .score(&STANDARD);
    assert_eq!(score.threshold, None);
    assert_eq!(score.raw, score.null);
    assert_eq!(score.normalized, 0.0);
}

#[test]
fn normalised_is_zero_for_null_fifty_for_half_and_a_hundred_for_perfect() {
    let corpus = |a: &[usize], b: &[usize]| {
        let files = vec![
            unscored_elsewhere(file("a", 10, &[[4, 5]], a)),
            unscored_elsewhere(file("b", 10, &[[2, 3]], b)),
        ];
        Corpus::with_probation(files, 0.0).unwrap().score(&STANDARD)
    };
    assert_eq!(corpus(&[], &[]).normalized, 0.0);
    assert_eq!(corpus(&[4], &[]).normalized, 50.0);
    let perfect = corpus(&[4], &[2]);
    assert_eq!((perfect.null, perfect.perfect), (-2.0, 2.0));
    assert_eq!(perfect.normalized, 100.0);
    assert_eq!(perfect.threshold, Some(1.0));
}

#[test]
fn files_sharing_timestamps_are_scored_against_their_own_windows() {
    // Same timestamps; only `a` has a window. `b`'s detection at `a`'s window start is a
    // false positive of `b`, before any window of its own: the whole fp.
    let files = vec![file("a", 10, &[[4, 5]], &[4]), file("b", 10, &[], &[4])];
    let score = Corpus::with_probation(files, 0.0)
        .unwrap()
        .score_at(&STANDARD, Some(0.5));
    assert_eq!(score.files[0].raw, 1.0);
    assert_eq!(score.files[1].raw, -0.11);
    assert_counts(&score, 17, 1, 1, 1);
}

#[test]
fn a_repeated_timestamp_is_two_rows_and_a_window_ends_at_the_first() {
    // Rows 5 and 6 share a timestamp; the window [t4, t5] ends at row 5 (NAB's
    // `timestamps.index`), so row 6 is outside, one row after a window of 2 rows: S(1).
    let mut input = file("f", 10, &[[4, 5]], &[6]);
    input.timestamps[6] = input.timestamps[5];
    let score = score_one(input, &UNIT);
    assert_close(score.raw, -1.0 - 2.5f64.tanh(), 1e-12);
    assert_counts(&score, 7, 0, 1, 2);
}

// --- Deliberate deviations from NAB ---------------------------------------------------

#[test]
fn deviation_scores_above_one_are_swept_too() {
    // NAB's sweep starts at 1.1 and would merge a score of 40 into its first candidate;
    // harbinger's anomaly scores are unbounded.
    let mut input = file("f", 10, &[[4, 5]], &[]);
    input.scores[4] = 40.0;
    input.scores[0] = 30.0;
    let score = Corpus::with_probation(vec![input], 0.0)
        .unwrap()
        .score(&STANDARD);
    assert_eq!(score.threshold, Some(40.0));
    assert_eq!(score.raw, 1.0);
}

#[test]
fn deviation_nan_scores_never_detect() {
    let mut input = file("f", 10, &[[4, 5]], &[]);
    input.scores[4] = f64::NAN;
    input.scores[5] = 0.3;
    let score = Corpus::with_probation(vec![input], 0.0)
        .unwrap()
        .score(&STANDARD);
    assert_eq!(score.threshold, Some(0.3));
    assert_close(score.raw, 1.25f64.tanh() / 2.5f64.tanh(), 1e-12);
    // The NaN row stays a missed row of the window.
    assert_counts(&score, 8, 1, 0, 1);
}

#[test]
fn deviation_a_false_positive_after_a_one_row_window_costs_fp() {
    // NAB divides by w − 1 = 0 here and raises ZeroDivisionError.
    let score = score_one(file("f", 10, &[[4, 4]], &[4, 5]), &UNIT);
    assert_eq!(score.raw, 1.0 - 1.0);
}

#[test]
fn deviation_malformed_windows_are_errors_naming_the_file() {
    let mut off_grid = file("f", 10, &[[4, 5]], &[]);
    off_grid.windows[0][1] += 1;
    let error = Corpus::new(vec![off_grid]).unwrap_err();
    assert!(matches!(error, NabError::WindowLimit { .. }), "{error}");
    assert!(error.to_string().starts_with("f: window ["), "{error}");

    for windows in [vec![[5, 4]], vec![[2, 5], [5, 7]], vec![[6, 7], [2, 3]]] {
        let error = Corpus::new(vec![file("g", 10, &windows, &[])]).unwrap_err();
        assert!(matches!(error, NabError::WindowOrder { .. }), "{error}");
    }

    let mut short = file("h", 10, &[], &[]);
    short.scores.pop();
    assert_eq!(
        Corpus::new(vec![short]).unwrap_err().to_string(),
        "h: 10 timestamps but 9 scores"
    );
}

#[test]
fn the_profiles_are_nabs() {
    let weights: Vec<_> = PROFILES
        .iter()
        .map(|p| (p.name, p.tp_weight, p.fp_weight, p.fn_weight))
        .collect();
    assert_eq!(
        weights,
        [
            ("standard", 1.0, 0.11, 1.0),
            ("reward_low_FP_rate", 1.0, 0.22, 1.0),
            ("reward_low_FN_rate", 1.0, 0.11, 2.0),
        ]
    );
}

/// The detections a page draws are the ones the score counts: a window's first, and
/// every one outside the windows after probation (row 0 here); NaN never detects.
#[test]
fn detections_are_the_ones_nab_counts() {
    let mut input = file("f", 10, &[[3, 5]], &[0, 3, 4, 7]);
    input.scores[8] = f64::NAN;
    let corpus = Corpus::with_probation(vec![input], 0.15).unwrap();
    assert_eq!(corpus.detections(0.5), [vec![(3, true), (7, false)]]);
    let counts = corpus.score_at(&UNIT, Some(0.5)).counts;
    assert_eq!((counts.windows_detected, counts.fp_rows), (1, 1));
}

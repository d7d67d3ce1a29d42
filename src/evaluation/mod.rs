//! Evaluation: a detector's output against labelled truth, scored the way published
//! benchmarks score it, so that harbinger's numbers can stand next to theirs.
//!
//! In: per scored file, the row timestamps, the detector's score at each row and the
//! labelled anomaly windows. Out: per scoring profile, the threshold a benchmark would
//! pick and the scores it would publish. Pure code: no I/O; the drivers that read CSV
//! files live in `examples/`.
//!
//! - [`nab`]: the Numenta Anomaly Benchmark's scorer (windows, scaled-sigmoid rewards,
//!   probation, the three application profiles, a threshold swept over the corpus, and
//!   the normalised 0–100 score).

pub mod nab;

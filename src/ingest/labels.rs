//! Validation and hashing of one series' label set, the same for both protocol versions.
//!
//! In: a series' (name, value) byte pairs in wire order. Out: the series' hash, or the
//! first problem found. Labels must be sorted strictly by name (which also rules out
//! duplicates), names non-empty, names and values UTF-8 and within the size limits.

use std::cmp::Ordering;
use std::hash::{BuildHasher, Hasher};

use super::error::SeriesProblem;

/// Label limits, checked before anything is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelLimits {
    pub max_labels_per_series: usize,
    pub max_name_bytes: usize,
    pub max_value_bytes: usize,
}

impl Default for LabelLimits {
    fn default() -> Self {
        LabelLimits {
            max_labels_per_series: 64,
            max_name_bytes: 1024,
            max_value_bytes: 4096,
        }
    }
}

/// Hashes label sets; the seed is fixed so that a label set hashes the same in every
/// process (the Kafka receiver partitions by it).
const HASH_SEED: u64 = 0x6861_7262_696e_6765;

/// Checks and hashes the labels of one series as they are read.
pub struct LabelSetChecker<'a> {
    limits: &'a LabelLimits,
    check_utf8: bool,
    previous: Option<&'a [u8]>,
    count: usize,
    hasher: foldhash::fast::FoldHasher<'static>,
}

impl<'a> LabelSetChecker<'a> {
    /// A checker for labels read straight from the wire (remote write 1.0).
    pub fn new(limits: &'a LabelLimits) -> Self {
        LabelSetChecker {
            limits,
            check_utf8: true,
            previous: None,
            count: 0,
            hasher: foldhash::fast::FixedState::with_seed(HASH_SEED).build_hasher(),
        }
    }

    /// A checker for labels taken from a 2.0 symbols table, whose strings were checked
    /// for UTF-8 once, when the table was read.
    pub fn for_symbols(limits: &'a LabelLimits) -> Self {
        LabelSetChecker {
            check_utf8: false,
            ..LabelSetChecker::new(limits)
        }
    }

    /// Checks the next label and adds it to the hash.
    pub fn push(&mut self, name: &'a [u8], value: &'a [u8]) -> Result<(), SeriesProblem> {
        let index = self.count;
        self.count += 1;
        if self.count > self.limits.max_labels_per_series {
            return Err(SeriesProblem::TooManyLabels {
                count: self.count,
                limit: self.limits.max_labels_per_series,
            });
        }
        if name.is_empty() {
            return Err(SeriesProblem::EmptyName { index });
        }
        if self.check_utf8 && !is_utf8(name) {
            return Err(SeriesProblem::NameNotUtf8 { index });
        }
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        if let Some(previous) = self.previous {
            match name.cmp(previous) {
                Ordering::Greater => {}
                Ordering::Equal => return Err(SeriesProblem::Duplicate { name: text(name) }),
                Ordering::Less => {
                    return Err(SeriesProblem::Unsorted {
                        name: text(name),
                        previous: text(previous),
                    });
                }
            }
        }
        if name.len() > self.limits.max_name_bytes {
            return Err(SeriesProblem::NameTooLong {
                name: truncated(&text(name)),
                len: name.len(),
                limit: self.limits.max_name_bytes,
            });
        }
        if value.len() > self.limits.max_value_bytes {
            return Err(SeriesProblem::ValueTooLong {
                name: text(name),
                len: value.len(),
                limit: self.limits.max_value_bytes,
            });
        }
        if self.check_utf8 && !is_utf8(value) {
            return Err(SeriesProblem::ValueNotUtf8 { name: text(name) });
        }
        self.previous = Some(name);
        write_label(&mut self.hasher, name, value);
        Ok(())
    }

    pub fn finish(self) -> u64 {
        self.hasher.finish()
    }
}

fn write_label(hasher: &mut impl Hasher, name: &[u8], value: &[u8]) {
    // 0xff never occurs in UTF-8, so it separates fields unambiguously.
    hasher.write(name);
    hasher.write_u8(0xff);
    hasher.write(value);
    hasher.write_u8(0xff);
}

/// The hash `LabelSetChecker` gives a label set, for label sets already known valid.
pub fn hash_labels<'l>(labels: impl IntoIterator<Item = (&'l [u8], &'l [u8])>) -> u64 {
    let mut hasher = foldhash::fast::FixedState::with_seed(HASH_SEED).build_hasher();
    for (name, value) in labels {
        write_label(&mut hasher, name, value);
    }
    hasher.finish()
}

#[inline]
fn is_utf8(bytes: &[u8]) -> bool {
    // Label text is nearly always ASCII, which is checked a word at a time.
    bytes.is_ascii() || std::str::from_utf8(bytes).is_ok()
}

/// Names in error messages are cut so that one bad label cannot make a huge log line.
fn truncated(text: &str) -> String {
    const KEEP: usize = 64;
    match text.char_indices().nth(KEEP) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(labels: &[(&[u8], &[u8])]) -> Result<u64, SeriesProblem> {
        let limits = LabelLimits {
            max_labels_per_series: 3,
            max_name_bytes: 8,
            max_value_bytes: 8,
        };
        let mut checker = LabelSetChecker::new(&limits);
        for (name, value) in labels {
            checker.push(name, value)?;
        }
        Ok(checker.finish())
    }

    #[test]
    fn accepts_sorted_labels_and_hashes_like_hash_labels() {
        let labels: [(&[u8], &[u8]); 2] = [(b"__name__", b"up"), (b"job", b"node")];
        assert_eq!(check(&labels), Ok(hash_labels(labels)));
    }

    /// A label set the checker refuses, and its error message.
    struct Case {
        labels: &'static [(&'static [u8], &'static [u8])],
        error: &'static str,
    }

    #[test]
    fn names_each_problem() {
        let cases = [
            Case {
                labels: &[(b"", b"x")],
                error: "label 0: empty label name",
            },
            Case {
                labels: &[(b"a", b"x"), (b"a", b"y")],
                error: "label \"a\": duplicate label name",
            },
            Case {
                labels: &[(b"b", b"x"), (b"a", b"y")],
                error: "label \"a\": labels not sorted by name (\"a\" after \"b\")",
            },
            Case {
                labels: &[(b"\xff", b"x")],
                error: "label 0: name is not valid UTF-8",
            },
            Case {
                labels: &[(b"a", b"\xc3")],
                error: "label \"a\": value is not valid UTF-8",
            },
            Case {
                labels: &[(b"a", b""), (b"b", b""), (b"c", b""), (b"d", b"")],
                error: "4 labels exceed the limit of 3 per series",
            },
            Case {
                labels: &[(b"abcdefghi", b"")],
                error: "label \"abcdefghi\": name is 9 bytes, over the limit of 8",
            },
            Case {
                labels: &[(b"a", b"123456789")],
                error: "label \"a\": value is 9 bytes, over the limit of 8",
            },
        ];
        for Case { labels, error } in cases {
            assert_eq!(check(labels).unwrap_err().to_string(), error);
        }
    }

    #[test]
    fn separators_keep_label_sets_apart() {
        let joined: [(&[u8], &[u8]); 1] = [(b"ab", b"c")];
        let split: [(&[u8], &[u8]); 1] = [(b"a", b"bc")];
        assert_ne!(hash_labels(joined), hash_labels(split));
    }
}

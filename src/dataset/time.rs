//! Timestamps as CSV exports write them, to milliseconds since the unix epoch.
//!
//! In: the bytes of one cell. Out: milliseconds, rounded to the nearest one (halves away
//! from zero), or `None` when the cell is not a time. Decimal strings are converted
//! exactly, not through a float, so `1795572235.123` is `1795572235123` ms.

/// Epoch values at least this large (in magnitude) are milliseconds: as seconds they would
/// be past the year 5000, as milliseconds they are after March 1973.
const MILLIS_THRESHOLD: u64 = 100_000_000_000;

/// Unix seconds, possibly fractional or in exponent notation (`1795572235`, `1795572235.5`,
/// `1.7955e9`), as the long format writes them.
pub fn parse_unix_seconds(text: &[u8]) -> Option<i64> {
    match parse_decimal(text) {
        Some(decimal) => decimal.scaled(3),
        None => parse_float_scaled(text, 1e3),
    }
}

/// A time as Prometheus's HTTP API takes it: unix seconds (`1795572235.5`) or an RFC 3339
/// date and time (`2026-11-25T01:52:40Z`, UTC when no offset is given).
pub fn parse_api_time(text: &str) -> Option<i64> {
    let text = text.trim().as_bytes();
    parse_unix_seconds(text).or_else(|| parse_datetime(text))
}

/// A Grafana time cell: a date and time (UTC unless it carries an offset), or an epoch
/// number in seconds or milliseconds told apart by magnitude.
pub fn parse_grafana_time(text: &[u8]) -> Option<i64> {
    if let Some(decimal) = parse_decimal(text) {
        let scale = if decimal.int >= MILLIS_THRESHOLD {
            0
        } else {
            3
        };
        return decimal.scaled(scale);
    }
    parse_datetime(text)
}

/// A decimal number split at the point: sign, integer part, and fraction digits.
struct Decimal<'a> {
    negative: bool,
    int: u64,
    fraction: &'a [u8],
}

impl Decimal<'_> {
    /// The value times 10^`digits`, rounded to the nearest integer.
    fn scaled(&self, digits: usize) -> Option<i64> {
        let mut value = self.int;
        for i in 0..digits {
            let digit = self.fraction.get(i).map_or(0, |d| d - b'0');
            value = value.checked_mul(10)?.checked_add(u64::from(digit))?;
        }
        if self.fraction.get(digits).is_some_and(|&d| d >= b'5') {
            value = value.checked_add(1)?;
        }
        let value = i64::try_from(value).ok()?;
        Some(if self.negative { -value } else { value })
    }
}

/// `[+-]?[0-9]+(\.[0-9]*)?` or `[+-]?\.[0-9]+`; anything else (exponents, `NaN`, more
/// than 18 integer digits) is `None`. Plain loops: this runs once per row.
fn parse_decimal(text: &[u8]) -> Option<Decimal<'_>> {
    let negative = text.first() == Some(&b'-');
    let mut i = usize::from(matches!(text.first(), Some(b'-' | b'+')));
    let int_start = i;
    let mut int: u64 = 0;
    while i < text.len() && text[i].is_ascii_digit() {
        int = int * 10 + u64::from(text[i] - b'0');
        i += 1;
        if i - int_start > 18 {
            return None;
        }
    }
    let int_len = i - int_start;
    let fraction = match text.get(i) {
        None => &[][..],
        Some(b'.') => &text[i + 1..],
        Some(_) => return None,
    };
    let mut j = 0;
    while j < fraction.len() {
        if !fraction[j].is_ascii_digit() {
            return None;
        }
        j += 1;
    }
    if int_len == 0 && fraction.is_empty() {
        return None;
    }
    Some(Decimal {
        negative,
        int,
        fraction,
    })
}

fn parse_float_scaled(text: &[u8], scale: f64) -> Option<i64> {
    let value: f64 = std::str::from_utf8(text).ok()?.parse().ok()?;
    let scaled = (value * scale).round();
    // `as` saturates; the range check keeps out values that would have been clamped.
    (scaled.is_finite() && scaled.abs() < 9.2e18).then_some(scaled as i64)
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.fraction][Z | ±HH:MM | ±HHMM]`, UTC when no zone is given.
fn parse_datetime(text: &[u8]) -> Option<i64> {
    let mut cursor = Cursor(text);
    let year = cursor.digits(4)?;
    cursor.expect(b'-')?;
    let month = cursor.digits(2)?;
    cursor.expect(b'-')?;
    let day = cursor.digits(2)?;
    cursor.expect_any(b"Tt ")?;
    let hour = cursor.digits(2)?;
    cursor.expect(b':')?;
    let minute = cursor.digits(2)?;
    cursor.expect(b':')?;
    let second = cursor.digits(2)?;
    let mut millis = 0;
    if cursor.peek() == Some(b'.') {
        cursor.0 = &cursor.0[1..];
        let len = cursor.0.iter().take_while(|b| b.is_ascii_digit()).count();
        let decimal = Decimal {
            negative: false,
            int: 0,
            fraction: &cursor.0[..len],
        };
        if len == 0 {
            return None;
        }
        millis = decimal.scaled(3)?;
        cursor.0 = &cursor.0[len..];
    }
    let offset_minutes = match cursor.0 {
        [] | [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let mut zone = Cursor(rest);
            let hours = zone.digits(2)?;
            if zone.peek() == Some(b':') {
                zone.0 = &zone.0[1..];
            }
            let minutes = zone.digits(2)?;
            if !zone.0.is_empty() || hours > 23 || minutes > 59 {
                return None;
            }
            let offset = hours * 60 + minutes;
            if *sign == b'-' { -offset } else { offset }
        }
        _ => return None,
    };
    let valid = (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60;
    if !valid {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1_000 + millis)
}

struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.0.first().copied()
    }

    fn digits(&mut self, count: usize) -> Option<i64> {
        let digits = self.0.get(..count)?;
        let mut value = 0;
        for &digit in digits {
            if !digit.is_ascii_digit() {
                return None;
            }
            value = value * 10 + i64::from(digit - b'0');
        }
        self.0 = &self.0[count..];
        Some(value)
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.expect_any(&[byte])
    }

    fn expect_any(&mut self, bytes: &[u8]) -> Option<()> {
        let (&first, rest) = self.0.split_first()?;
        bytes.contains(&first).then(|| self.0 = rest)
    }
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Milliseconds as unix seconds for messages: `1795572235`, `1795572235.5`.
pub fn format_seconds(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let (seconds, millis) = (ms.unsigned_abs() / 1000, ms.unsigned_abs() % 1000);
    if millis == 0 {
        return format!("{sign}{seconds}");
    }
    let fraction = format!("{millis:03}");
    format!("{sign}{seconds}.{}", fraction.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_seconds_are_converted_exactly_and_rounded_to_the_nearest_millisecond() {
        let cases: &[(&str, Option<i64>)] = &[
            ("1795572235", Some(1_795_572_235_000)),
            ("1795572235.123", Some(1_795_572_235_123)),
            ("1795572235.1", Some(1_795_572_235_100)),
            ("1795572235.", Some(1_795_572_235_000)),
            ("1795572235.0004999", Some(1_795_572_235_000)),
            ("1795572235.0005", Some(1_795_572_235_001)),
            ("1795572235.9996", Some(1_795_572_236_000)),
            (".5", Some(500)),
            ("0", Some(0)),
            ("-1.5", Some(-1_500)),
            ("-0.0005", Some(-1)),
            ("1.7955e9", Some(1_795_500_000_000)),
            ("1e-3", Some(1)),
            ("", None),
            ("-", None),
            (".", None),
            ("abc", None),
            ("12a", None),
            ("1.2.3", None),
            ("NaN", None),
            ("inf", None),
            ("1e300", None),
            ("99999999999999999999", None),
            ("2026-11-25T01:52:40Z", None),
        ];
        for &(text, expected) in cases {
            assert_eq!(parse_unix_seconds(text.as_bytes()), expected, "{text:?}");
        }
    }

    #[test]
    fn grafana_times_are_datetimes_or_epoch_seconds_or_milliseconds() {
        let t = 1_795_571_560_000; // 2026-11-25 01:52:40 UTC
        let cases: &[(&str, Option<i64>)] = &[
            ("2026-11-25 01:52:40", Some(t)),
            ("2026-11-25T01:52:40Z", Some(t)),
            ("2026-11-25t01:52:40z", Some(t)),
            ("2026-11-25T01:52:40.250Z", Some(t + 250)),
            ("2026-11-25T01:52:40.2506", Some(t + 251)),
            ("2026-11-25T02:52:40+01:00", Some(t)),
            ("2026-11-25T00:52:40-0100", Some(t)),
            ("1795571560", Some(t)),
            ("1795571560.5", Some(t + 500)),
            ("1795571560000", Some(t)),
            ("1795571560000.4", Some(t)),
            ("99999999999", Some(99_999_999_999_000)),
            ("100000000000", Some(100_000_000_000)),
            ("1970-01-01 00:00:00", Some(0)),
            ("1969-12-31T23:59:59Z", Some(-1_000)),
            ("2000-02-29T00:00:00Z", Some(951_782_400_000)),
            ("2100-02-29T00:00:00Z", None),
            ("2026-13-01T00:00:00Z", None),
            ("2026-11-31T00:00:00Z", None),
            ("2026-11-25T24:00:00Z", None),
            ("2026-11-25T01:52:60Z", None),
            ("2026-11-25T01:52", None),
            ("2026-11-25T01:52:40.Z", None),
            ("2026-11-25T01:52:40 UTC", None),
            ("2026-11-25T01:52:40+1", None),
            ("2026-11-25", None),
            ("25/11/2026 01:52:40", None),
            ("", None),
        ];
        for &(text, expected) in cases {
            assert_eq!(parse_grafana_time(text.as_bytes()), expected, "{text:?}");
        }
    }

    #[test]
    fn api_times_are_unix_seconds_or_rfc3339() {
        let cases: &[(&str, Option<i64>)] = &[
            ("1795571560", Some(1_795_571_560_000)),
            ("1795571560.25", Some(1_795_571_560_250)),
            ("2026-11-25T01:52:40Z", Some(1_795_571_560_000)),
            ("2026-11-25T02:52:40.5+01:00", Some(1_795_571_560_500)),
            ("yesterday", None),
        ];
        for &(text, expected) in cases {
            assert_eq!(parse_api_time(text), expected, "{text:?}");
        }
    }

    #[test]
    fn seconds_are_formatted_without_trailing_zeros() {
        assert_eq!(format_seconds(1_795_572_235_000), "1795572235");
        assert_eq!(format_seconds(1_795_572_235_500), "1795572235.5");
        assert_eq!(format_seconds(1_795_572_235_007), "1795572235.007");
        assert_eq!(format_seconds(-1_500), "-1.5");
    }
}

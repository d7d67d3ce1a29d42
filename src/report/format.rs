//! How figures read as text: numbers in, short strings out, the same in Markdown and
//! HTML. Also the one escape every text put into HTML or SVG goes through.

use crate::evaluation::Interval;

/// What a figure that does not exist (no onset, no ticket, no caught onset) shows as.
pub(crate) const MISSING: &str = "–";

/// A duration rounded to whole seconds: `45s`, `12m30s`, `12m`, `1h05m`, `2h00m10s`.
pub(crate) fn duration(seconds: f64) -> String {
    if !seconds.is_finite() {
        return MISSING.to_owned();
    }
    let sign = if seconds < 0.0 { "-" } else { "" };
    let total = seconds.abs().round() as u64;
    let (hours, minutes, secs) = (total / 3600, total / 60 % 60, total % 60);
    let text = match (hours, minutes, secs) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, 0) => format!("{h}h{m:02}m"),
        (h, m, s) => format!("{h}h{m:02}m{s:02}s"),
    };
    format!("{sign}{text}")
}

/// A fraction such as precision or recall: two decimals.
pub(crate) fn fraction(value: f64) -> String {
    format!("{value:.2}")
}

/// A small rate such as false tickets per entity-day: two decimals, three below 0.1 so
/// that a rare false ticket does not read as none.
pub(crate) fn rate(value: f64) -> String {
    match value {
        0.0 => "0".to_owned(),
        v if v.abs() < 0.1 => format!("{v:.3}"),
        v => format!("{v:.2}"),
    }
}

/// How many times longer one lead is than another: `2.4×`, `12×`, `0.45×`.
pub(crate) fn times(value: f64) -> String {
    match value {
        v if v >= 10.0 => format!("{v:.0}×"),
        v if v >= 0.95 => format!("{v:.1}×"),
        v => format!("{v:.2}×"),
    }
}

/// `value` formatted by `show`, or [`MISSING`].
pub(crate) fn optional(value: Option<f64>, show: impl Fn(f64) -> String) -> String {
    value.map_or_else(|| MISSING.to_owned(), show)
}

/// `value` formatted by `show`, followed by its interval in brackets when there is one:
/// `0.58 [0.41–0.75]`.
pub(crate) fn with_interval(
    value: Option<f64>,
    interval: Option<Interval>,
    show: impl Fn(f64) -> String,
) -> String {
    match (value, interval) {
        (Some(v), Some(i)) => format!("{} [{}–{}]", show(v), show(i.low), show(i.high)),
        _ => optional(value, show),
    }
}

/// A signed difference of fractions: `+0.18`, `−0.05`.
pub(crate) fn signed(value: f64) -> String {
    if value < 0.0 {
        format!("−{:.2}", -value)
    } else {
        format!("+{value:.2}")
    }
}

/// The UTC time of day of a unix time, `HH:MM:SS`.
pub(crate) fn clock(unix_seconds: f64) -> String {
    let of_day = unix_seconds.rem_euclid(86_400.0).floor() as u64;
    format!(
        "{:02}:{:02}:{:02}",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// Text made safe for HTML and SVG, as element content and as a quoted attribute value.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_hours_minutes_and_seconds() {
        let cases = [
            (0.0, "0s"),
            (0.4, "0s"),
            (45.0, "45s"),
            (59.6, "1m"),
            (750.0, "12m30s"),
            (720.0, "12m"),
            (3900.0, "1h05m"),
            (7210.0, "2h00m10s"),
            (-90.0, "-1m30s"),
            (f64::NAN, MISSING),
        ];
        for (seconds, expected) in cases {
            assert_eq!(duration(seconds), expected, "{seconds} s");
        }
    }

    #[test]
    fn small_rates_keep_a_significant_digit() {
        assert_eq!(rate(0.0), "0");
        assert_eq!(rate(0.0125), "0.013");
        assert_eq!(rate(0.25), "0.25");
        assert_eq!(times(2.4), "2.4×");
        assert_eq!(times(0.5), "0.50×");
        assert_eq!(optional(None, fraction), MISSING);
    }

    #[test]
    fn clock_is_utc_time_of_day() {
        // 2026-11-25 01:52:40 UTC, the start of lab-dev's export window.
        assert_eq!(clock(1_795_571_560.0), "01:52:40");
    }

    #[test]
    fn escape_covers_markup_and_both_quotes() {
        assert_eq!(
            escape(r#"{a="<b>" & 'c'}"#),
            "{a=&quot;&lt;b&gt;&quot; &amp; &#39;c&#39;}"
        );
    }
}

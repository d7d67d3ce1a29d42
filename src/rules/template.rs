//! Alert annotations rendered as Prometheus renders them, for the subset of Go's
//! templates that alerting rules use.
//!
//! In: an annotation's text (`"{{ $labels.instance }} is at {{ $value | humanize }}%"`),
//! the entity's labels and the signal's value. Out: the text as Prometheus would write it
//! for an alert on that series. Understood inside `{{ }}` (with `{{-`/`-}}` trimming):
//! `$labels.NAME`, `.Labels.NAME`, `$labels`, `$value`, `.Value`,
//! `$externalLabels.NAME` (empty here), the functions `humanize`, `humanize1024`,
//! `humanizePercentage`, `humanizeDuration`, `printf "FORMAT" $value`, `toUpper`,
//! `toLower`, `title`, called directly or at the end of a `|` pipeline. Anything else
//! is left as written, and [`unsupported`] names it so that loading warns.

use std::collections::BTreeMap;

/// What an action's words evaluate to.
#[derive(Debug, Clone)]
enum Item {
    Text(String),
    Number(f64),
}

impl Item {
    fn text(self) -> String {
        match self {
            Item::Text(text) => text,
            Item::Number(v) => go_value(v),
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Item::Number(v) => Some(*v),
            Item::Text(text) => text.trim().parse().ok(),
        }
    }
}

/// The text of `template` for an alert whose series has `labels` and `value`.
pub fn render(template: &str, labels: &BTreeMap<String, String>, value: f64) -> String {
    let mut out = String::with_capacity(template.len());
    for (piece, action) in pieces(template) {
        out.push_str(piece);
        if let Some(action) = action {
            match evaluate(action.body, labels, value) {
                Some(item) => out.push_str(&item.text()),
                None => out.push_str(action.raw),
            }
        }
    }
    out
}

/// The actions of `template` that [`render`] leaves as written.
pub fn unsupported(template: &str) -> Vec<String> {
    let labels = BTreeMap::new();
    pieces(template)
        .into_iter()
        .filter_map(|(_, action)| action)
        .filter(|action| evaluate(action.body, &labels, 1.0).is_none())
        .map(|action| action.raw.to_owned())
        .collect()
}

struct Action<'a> {
    /// `{{ ... }}` as written.
    raw: &'a str,
    /// What is inside, trimmed.
    body: &'a str,
}

/// The text before each action, and the action; trimming markers applied to the text.
fn pieces(template: &str) -> Vec<(&str, Option<Action<'_>>)> {
    let mut pieces = Vec::new();
    let mut rest = template;
    let mut trim_next = false;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open..].find("}}").map(|c| open + c) else {
            break;
        };
        let raw = &rest[open..close + 2];
        let mut inner = &rest[open + 2..close];
        let mut before = &rest[..open];
        if trim_next {
            before = before.trim_start();
        }
        if let Some(stripped) = inner.strip_prefix("- ") {
            before = before.trim_end();
            inner = stripped;
        }
        trim_next = false;
        if let Some(stripped) = inner.strip_suffix(" -") {
            trim_next = true;
            inner = stripped;
        }
        pieces.push((
            before,
            Some(Action {
                raw,
                body: inner.trim(),
            }),
        ));
        rest = &rest[close + 2..];
    }
    pieces.push((if trim_next { rest.trim_start() } else { rest }, None));
    pieces
}

/// An action: a command, or commands joined by `|`, each command's result the last
/// argument of the next. None when something in it is not understood.
fn evaluate(body: &str, labels: &BTreeMap<String, String>, value: f64) -> Option<Item> {
    let mut result: Option<Item> = None;
    for command in body.split('|') {
        let words = words(command.trim())?;
        let mut args: Vec<Item> = Vec::new();
        let (name, rest) = words.split_first()?;
        for word in rest {
            args.push(operand(word, labels, value)?);
        }
        args.extend(result.take());
        result = Some(match operand(name, labels, value) {
            Some(item) if args.is_empty() => item,
            Some(_) => return None,
            None => call(name, args)?,
        });
    }
    result
}

/// Words of a command: quoted strings kept whole, with their quotes.
fn words(command: &str) -> Option<Vec<&str>> {
    let mut words = Vec::new();
    let mut rest = command.trim_start();
    while !rest.is_empty() {
        let end = if let Some(quoted) = rest.strip_prefix('"') {
            quoted.find('"').map(|e| e + 2)?
        } else {
            rest.find(char::is_whitespace).unwrap_or(rest.len())
        };
        words.push(&rest[..end]);
        rest = rest[end..].trim_start();
    }
    Some(words)
}

fn operand(word: &str, labels: &BTreeMap<String, String>, value: f64) -> Option<Item> {
    let label = |name: &str| {
        // Go's zero value for a missing key of a `map[string]string`.
        Item::Text(labels.get(name).cloned().unwrap_or_default())
    };
    if let Some(name) = word
        .strip_prefix("$labels.")
        .or(word.strip_prefix(".Labels."))
    {
        return Some(label(name));
    }
    if word.starts_with("$externalLabels.") || word.starts_with(".ExternalLabels.") {
        return Some(Item::Text(String::new()));
    }
    match word {
        "$value" | ".Value" => Some(Item::Number(value)),
        "$labels" | ".Labels" => {
            let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}:{v}")).collect();
            Some(Item::Text(format!("map[{}]", pairs.join(" "))))
        }
        quoted if quoted.len() >= 2 && quoted.starts_with('"') && quoted.ends_with('"') => {
            Some(Item::Text(quoted[1..quoted.len() - 1].to_owned()))
        }
        number => number.parse().ok().map(Item::Number),
    }
}

fn call(name: &str, args: Vec<Item>) -> Option<Item> {
    let one = || -> Option<f64> {
        match &args[..] {
            [only] => only.number(),
            _ => None,
        }
    };
    let text = || -> Option<String> {
        match &args[..] {
            [only] => Some(only.clone().text()),
            _ => None,
        }
    };
    Some(Item::Text(match name {
        "humanize" => humanize(one()?),
        "humanize1024" => humanize1024(one()?),
        "humanizePercentage" => format!("{}%", go_g(one()? * 100.0, 4)),
        "humanizeDuration" => humanize_duration(one()?),
        "toUpper" => text()?.to_uppercase(),
        "toLower" => text()?.to_lowercase(),
        "title" => title(&text()?),
        "printf" => printf(&args)?,
        _ => return None,
    }))
}

fn title(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut start = true;
    for c in text.chars() {
        if start && c.is_alphanumeric() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !c.is_alphanumeric();
    }
    out
}

/// Go's `fmt.Sprintf` for the verbs alert templates use on one value: `%s`, `%v`,
/// `%d`, `%f`, `%g`, `%e` with an optional precision, and `%%`.
fn printf(args: &[Item]) -> Option<String> {
    let (Item::Text(format), values) = args.split_first()? else {
        return None;
    };
    let mut values = values.iter();
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut precision = String::new();
        while let Some(&p) = chars.peek() {
            if p == '.' || p.is_ascii_digit() {
                precision.push(p);
                chars.next();
            } else {
                break;
            }
        }
        let precision: Option<usize> = precision.strip_prefix('.').and_then(|p| p.parse().ok());
        let verb = chars.next()?;
        if verb == '%' {
            out.push('%');
            continue;
        }
        let item = values.next()?.clone();
        out.push_str(&match verb {
            's' | 'v' => item.text(),
            'd' => format!("{}", item.number()? as i64),
            'f' => format!("{:.*}", precision.unwrap_or(6), item.number()?),
            'g' => match precision {
                Some(p) => go_g(item.number()?, p),
                None => go_value(item.number()?),
            },
            'e' => go_e(item.number()?, precision.unwrap_or(6)),
            _ => return None,
        });
    }
    Some(out)
}

fn humanize(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return go_g(v, 4);
    }
    let (scaled, prefix) = if v.abs() >= 1.0 {
        scale(v, 1000.0, &["k", "M", "G", "T", "P", "E", "Z", "Y"])
    } else {
        scale_up(v)
    };
    format!("{}{prefix}", go_g(scaled, 4))
}

fn humanize1024(v: f64) -> String {
    if v.abs() <= 1.0 || !v.is_finite() {
        return go_g(v, 4);
    }
    let (scaled, prefix) = scale(v, 1024.0, &["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"]);
    format!("{}{prefix}", go_g(scaled, 4))
}

/// Divides by `base` while at least `base` away from 0, naming each step.
fn scale(mut v: f64, base: f64, prefixes: &[&'static str]) -> (f64, &'static str) {
    let mut prefix = "";
    for p in prefixes {
        if v.abs() < base {
            break;
        }
        prefix = p;
        v /= base;
    }
    (v, prefix)
}

/// Multiplies by 1000 while below 1 away from 0, naming each step (`m`, `u`, ...).
fn scale_up(mut v: f64) -> (f64, &'static str) {
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    (v, prefix)
}

fn humanize_duration(v: f64) -> String {
    if !v.is_finite() {
        return go_g(v, 4);
    }
    if v == 0.0 {
        return format!("{}s", go_g(v, 4));
    }
    if v.abs() >= 1.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        let total = v.abs() as i64;
        let (days, hours, minutes, seconds) = (
            total / 86_400,
            total / 3600 % 24,
            total / 60 % 60,
            total % 60,
        );
        return match (days, hours, minutes) {
            (0, 0, 0) => format!("{sign}{}s", go_g(v.abs(), 4)),
            (0, 0, m) => format!("{sign}{m}m {seconds}s"),
            (0, h, m) => format!("{sign}{h}h {m}m {seconds}s"),
            (d, h, m) => format!("{sign}{d}d {h}h {m}m {seconds}s"),
        };
    }
    let (scaled, prefix) = scale_up(v);
    format!("{}{prefix}s", go_g(scaled, 4))
}

/// Go's `%.{precision}g`: the shorter of `%e` and `%f` at that many significant digits,
/// trailing zeros removed.
fn go_g(v: f64, precision: usize) -> String {
    if !v.is_finite() {
        return go_special(v);
    }
    let precision = precision.max(1);
    if v == 0.0 {
        return "0".to_owned();
    }
    let exponent = format!("{:.*e}", precision - 1, v)
        .split_once('e')
        .and_then(|(_, e)| e.parse::<i32>().ok())
        .unwrap_or(0);
    if exponent < -4 || exponent >= precision as i32 {
        let text = go_e(v, precision - 1);
        let (mantissa, exponent) = text.split_once('e').expect("go_e writes an exponent");
        return format!("{}e{exponent}", trim_zeros(mantissa.to_owned()));
    }
    let decimals = (precision as i32 - 1 - exponent).max(0) as usize;
    trim_zeros(format!("{v:.decimals$}"))
}

/// Go's `%e`: `1.234560e+06`, at least two exponent digits.
fn go_e(v: f64, precision: usize) -> String {
    if !v.is_finite() {
        return go_special(v);
    }
    let text = format!("{v:.precision$e}");
    let (mantissa, exponent) = text.split_once('e').expect("Rust's {:e} has an exponent");
    let exponent: i32 = exponent.parse().expect("an integer exponent");
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.abs())
}

/// Go's `%v` of a float64: the shortest text that reads back the same, with an
/// exponent below 1e-4 and from 1e6 (`1e+06`, as alert texts show it).
fn go_value(v: f64) -> String {
    if !v.is_finite() {
        return go_special(v);
    }
    let shortest = format!("{v:e}");
    let exponent: i32 = shortest
        .split_once('e')
        .map_or(0, |(_, e)| e.parse().unwrap_or(0));
    if v != 0.0 && !(-4..6).contains(&exponent) {
        let (mantissa, _) = shortest.split_once('e').expect("an exponent");
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.abs());
    }
    format!("{v}")
}

fn go_special(v: f64) -> String {
    match v {
        v if v.is_nan() => "NaN".to_owned(),
        v if v > 0.0 => "+Inf".to_owned(),
        _ => "-Inf".to_owned(),
    }
}

fn trim_zeros(text: String) -> String {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> BTreeMap<String, String> {
        [("instance", "app-1"), ("mountpoint", "/data")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn renders_the_templates_of_awesome_prometheus_alerts() {
        let cases = [
            (
                "Host out of disk space (instance {{ $labels.instance }})",
                7.5,
                "Host out of disk space (instance app-1)",
            ),
            (
                "Disk is almost full (< 10% left)\n  VALUE = {{ $value }}\n  LABELS = {{ $labels }}",
                7.5,
                "Disk is almost full (< 10% left)\n  VALUE = 7.5\n  LABELS = map[instance:app-1 mountpoint:/data]",
            ),
            ("{{ $value | humanize }}B free", 1234567.0, "1.235MB free"),
            ("{{ humanize1024 $value }}", 1048576.0, "1Mi"),
            ("{{ humanizeDuration $value }}", 899.99, "14m 59s"),
            ("{{ $value | humanizePercentage }}", 0.1234567, "12.35%"),
            ("{{ printf \"%.2f\" $value }}%", 12.3456, "12.35%"),
            (
                "{{- $labels.job -}} ! {{ .Labels.instance }}",
                0.0,
                "! app-1",
            ),
            ("{{ $labels.mountpoint | toUpper }}", 0.0, "/DATA"),
            (
                "{{ range $i := .Alerts }}x{{ end }}",
                0.0,
                "{{ range $i := .Alerts }}x{{ end }}",
            ),
        ];
        for (template, value, expected) in cases {
            assert_eq!(render(template, &labels(), value), expected, "{template}");
        }
    }

    #[test]
    fn numbers_read_as_go_prints_them() {
        for (v, expected) in [
            (1e6, "1e+06"),
            (0.5, "0.5"),
            (123.0, "123"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(go_value(v), expected, "{v}");
        }
        for (v, expected) in [
            (1234567.0, "1.235e+06"),
            (0.0001234, "0.0001234"),
            (0.00001234, "1.234e-05"),
            (100.0, "100"),
            (12.0, "12"),
        ] {
            assert_eq!(go_g(v, 4), expected, "{v}");
        }
        assert_eq!(humanize(0.0123), "12.3m");
        assert_eq!(humanize_duration(90061.0), "1d 1h 1m 1s");
        assert_eq!(humanize_duration(0.25), "250ms");
        assert_eq!(humanize_duration(42.5), "42.5s");
    }

    #[test]
    fn unsupported_actions_are_named() {
        let found = unsupported("{{ $value }} {{ range .Alerts }}{{ .Labels.x }}{{ end }}");
        assert_eq!(found, ["{{ range .Alerts }}", "{{ end }}"]);
    }
}

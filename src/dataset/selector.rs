//! Series names in PromQL notation, as Grafana writes them in column headers.
//!
//! In: text such as `node_load1{instance="host1", job="node"}`, `{__name__="up", job="x"}`
//! or a bare `up`. Out: the label set, sorted by name, `__name__` included, labels with an
//! empty value left out (Prometheus treats them as absent). Only `=` matchers describe a
//! series, so `!=`, `=~` and `!~` are errors, as is anything else that is not exactly a
//! series name. The reverse, [`format_series`], is used in messages.

/// A label set sorted by label name.
pub type Labels = Vec<(String, String)>;

/// Parses a series name; the error says what was expected where.
pub fn parse_series(text: &str) -> Result<Labels, String> {
    let mut parser = Parser { text, pos: 0 };
    let mut labels = Vec::new();
    parser.skip_space();
    if parser.peek() != Some('{') {
        let name = parser.identifier(true)?;
        labels.push(("__name__".to_owned(), name.to_owned()));
    }
    parser.skip_space();
    if parser.eat('{') {
        parser.label_list(&mut labels)?;
    }
    parser.skip_space();
    if let Some(rest) = parser.rest() {
        return Err(format!("unexpected {rest:?} after the series name"));
    }
    labels.sort();
    if let Some(pair) = labels.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        return Err(format!("label {:?} appears twice", pair[0].0));
    }
    labels.retain(|(_, value)| !value.is_empty());
    if !labels.iter().any(|(name, _)| name == "__name__") {
        return Err("there is no metric name".to_owned());
    }
    Ok(labels)
}

/// Writes labels as PromQL: `up{instance="host1", job="node"}`.
pub fn format_series(labels: &[(String, String)]) -> String {
    let name = labels
        .iter()
        .find(|(label, _)| label == "__name__")
        .map(|(_, value)| value.as_str())
        .filter(|name| is_identifier(name, true));
    let mut text = name.unwrap_or_default().to_owned();
    text.push('{');
    let mut first = true;
    for (label, value) in labels {
        if name.is_some() && label == "__name__" {
            continue;
        }
        if !first {
            text.push_str(", ");
        }
        first = false;
        if is_identifier(label, false) {
            text.push_str(label);
        } else {
            text.push_str(&quote(label));
        }
        text.push('=');
        text.push_str(&quote(value));
    }
    if first && name.is_some() {
        text.pop();
    } else {
        text.push('}');
    }
    text
}

fn quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '"' => quoted.push_str("\\\""),
            '\n' => quoted.push_str("\\n"),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// A metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`) or a label name (the same without colons).
fn is_identifier(text: &str, colons: bool) -> bool {
    !text.is_empty()
        && text
            .chars()
            .enumerate()
            .all(|(i, c)| identifier_char(c, i == 0, colons))
}

fn identifier_char(c: char, first: bool, colons: bool) -> bool {
    c == '_' || c.is_ascii_alphabetic() || (!first && c.is_ascii_digit()) || (colons && c == ':')
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn rest(&self) -> Option<&'a str> {
        Some(&self.text[self.pos..]).filter(|rest| !rest.is_empty())
    }

    fn eat(&mut self, c: char) -> bool {
        let found = self.peek() == Some(c);
        if found {
            self.pos += c.len_utf8();
        }
        found
    }

    fn skip_space(&mut self) {
        while let Some(c) = self.peek().filter(|c| c.is_whitespace()) {
            self.pos += c.len_utf8();
        }
    }

    /// What follows, for messages: `"!=\"x\"}"` or `the end`.
    fn found(&self) -> String {
        self.rest()
            .map_or_else(|| "the end".to_owned(), |rest| format!("{rest:?}"))
    }

    fn identifier(&mut self, colons: bool) -> Result<&'a str, String> {
        let rest = &self.text[self.pos..];
        let len = rest
            .char_indices()
            .find(|&(i, c)| !identifier_char(c, i == 0, colons))
            .map_or(rest.len(), |(i, _)| i);
        if len == 0 {
            let what = if colons {
                "a metric name"
            } else {
                "a label name"
            };
            return Err(format!("expected {what}, found {}", self.found()));
        }
        self.pos += len;
        Ok(&rest[..len])
    }

    /// The inside of `{...}` after the opening brace: `name="value"` pairs separated by
    /// commas (a trailing comma allowed), and possibly a quoted metric name (Prometheus 3).
    fn label_list(&mut self, labels: &mut Labels) -> Result<(), String> {
        loop {
            self.skip_space();
            if self.eat('}') {
                return Ok(());
            }
            let quoted = self.peek() == Some('"');
            let name = if quoted {
                self.string()?
            } else {
                self.identifier(false)?.to_owned()
            };
            self.skip_space();
            if quoted && matches!(self.peek(), Some(',' | '}')) {
                labels.push(("__name__".to_owned(), name));
            } else {
                self.matcher(&name)?;
                self.skip_space();
                labels.push((name, self.string()?));
            }
            self.skip_space();
            if !self.eat(',') {
                return match self.eat('}') {
                    true => Ok(()),
                    false => Err(format!("expected \",\" or \"}}\", found {}", self.found())),
                };
            }
        }
    }

    fn matcher(&mut self, name: &str) -> Result<(), String> {
        let rest = &self.text[self.pos..];
        for operator in ["!=", "=~", "!~"] {
            if rest.starts_with(operator) {
                return Err(format!(
                    "label {name:?} has the matcher {operator:?}: only \"=\" names a series"
                ));
            }
        }
        if self.eat('=') {
            Ok(())
        } else {
            Err(format!(
                "expected \"=\" after label {name:?}, found {}",
                self.found()
            ))
        }
    }

    /// A double-quoted string with Go's escapes (`\"`, `\\`, `\n`, `\t`, `\u00e9`, ...).
    fn string(&mut self) -> Result<String, String> {
        let start = self.pos;
        if !self.eat('"') {
            return Err(format!(
                "expected a double-quoted value, found {}",
                self.found()
            ));
        }
        let mut value = String::new();
        while let Some(c) = self.peek() {
            self.pos += c.len_utf8();
            let escape = match c {
                '"' => return Ok(value),
                '\\' => match self.peek() {
                    Some(escape) => escape,
                    None => break,
                },
                c => {
                    value.push(c);
                    continue;
                }
            };
            self.pos += escape.len_utf8();
            value.push(match escape {
                '"' | '\\' | '\'' => escape,
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                'a' => '\x07',
                'b' => '\x08',
                'f' => '\x0c',
                'v' => '\x0b',
                'u' => self.hex_escape('u', 4)?,
                'U' => self.hex_escape('U', 8)?,
                other => return Err(format!("unknown escape \"\\{other}\"")),
            });
        }
        Err(format!(
            "the value starting at byte {start} has no closing quote"
        ))
    }

    /// The hex digits of a `\u` or `\U` escape, after the letter.
    fn hex_escape(&mut self, letter: char, len: usize) -> Result<char, String> {
        let rest = &self.text[self.pos..];
        let digits = rest
            .bytes()
            .take(len)
            .take_while(u8::is_ascii_hexdigit)
            .count();
        let hex = &rest[..digits];
        let decoded = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32);
        match decoded {
            Some(c) if digits == len => {
                self.pos += len;
                Ok(c)
            }
            _ => Err(format!("invalid escape \"\\{letter}{hex}\"")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|&(n, v)| (n.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn series_names_parse_to_sorted_label_sets() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            ("up", &[("__name__", "up")]),
            ("node:load:avg", &[("__name__", "node:load:avg")]),
            ("up{}", &[("__name__", "up")]),
            (
                r#"node_load1{job="node", instance="host1"}"#,
                &[
                    ("__name__", "node_load1"),
                    ("instance", "host1"),
                    ("job", "node"),
                ],
            ),
            (
                r#"  up { job = "x" , } "#,
                &[("__name__", "up"), ("job", "x")],
            ),
            (
                r#"{__name__="up", job="x"}"#,
                &[("__name__", "up"), ("job", "x")],
            ),
            (
                r#"{"my.metric", "my.label"="a"}"#,
                &[("__name__", "my.metric"), ("my.label", "a")],
            ),
            (
                r#"up{path="C:\\dir", quote="say \"hi\"", nl="a\nb", e="\u00e9"}"#,
                &[
                    ("__name__", "up"),
                    ("e", "é"),
                    ("nl", "a\nb"),
                    ("path", r"C:\dir"),
                    ("quote", r#"say "hi""#),
                ],
            ),
            (
                r#"up{job="", x="{,}"}"#,
                &[("__name__", "up"), ("x", "{,}")],
            ),
        ];
        for &(text, expected) in cases {
            assert_eq!(parse_series(text), Ok(labels(expected)), "{text:?}");
        }
    }

    #[test]
    fn anything_but_an_exact_series_name_is_an_error() {
        let cases = [
            ("", "expected a metric name, found the end"),
            (
                "sum(rate(x[5m]))",
                r#"unexpected "(rate(x[5m]))" after the series name"#,
            ),
            ("Value #A", r##"unexpected "#A" after the series name"##),
            ("1up", r#"expected a metric name, found "1up""#),
            (
                r#"up{job!="x"}"#,
                r#"label "job" has the matcher "!=": only "=" names a series"#,
            ),
            (
                r#"up{job=~"x"}"#,
                r#"label "job" has the matcher "=~": only "=" names a series"#,
            ),
            (
                r#"up{job:x="x"}"#,
                r#"expected "=" after label "job", found ":x=\"x\"}""#,
            ),
            (
                r#"up{job="x" instance="y"}"#,
                r#"expected "," or "}", found "instance=\"y\"}""#,
            ),
            (r#"up{job="x""#, r#"expected "," or "}", found the end"#),
            (
                r#"up{job="x}"#,
                "the value starting at byte 7 has no closing quote",
            ),
            (
                r#"up{job=x}"#,
                r#"expected a double-quoted value, found "x}""#,
            ),
            (
                r#"up{job='x'}"#,
                r#"expected a double-quoted value, found "'x'}""#,
            ),
            (r#"up{job="\q"}"#, r#"unknown escape "\q""#),
            (r#"up{job="\u00"}"#, r#"invalid escape "\u00""#),
            (r#"up{job="\ud800"}"#, r#"invalid escape "\ud800""#),
            (r#"up{,}"#, r#"expected a label name, found ",}""#),
            (r#"up{job="a", job="b"}"#, r#"label "job" appears twice"#),
            (r#"up{__name__="up"}"#, r#"label "__name__" appears twice"#),
            (r#"{job="x"}"#, "there is no metric name"),
            (r#"{__name__="", job="x"}"#, "there is no metric name"),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_series(text), Err(expected.to_owned()), "{text:?}");
        }
    }

    #[test]
    fn formatting_round_trips() {
        let cases = [
            r#"up"#,
            r#"node_load1{instance="host1", job="node"}"#,
            r#"up{quote="say \"hi\" \\ now\n"}"#,
            r#"{__name__="my.metric", "my.label"="a"}"#,
        ];
        for text in cases {
            let parsed = parse_series(text).unwrap();
            assert_eq!(format_series(&parsed), text);
            assert_eq!(parse_series(&format_series(&parsed)), Ok(parsed));
        }
    }
}

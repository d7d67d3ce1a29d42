//! The webhook's JSON body: a JSON value whose string leaves may hold `{{path}}`
//! placeholders, filled from the ticket action.
//!
//! In: the template (from the config, or [`Template::default_body`]) and a
//! [`TicketAction`]. Out: the JSON body. Deliberately tiny: a placeholder is a dotted
//! path into the action as the file sink writes it (`idempotency_key`, `action`,
//! `outcome`, `at_ms`, `ticket`, `ticket.title`, `ticket.entity.instance`, ...), and
//! nothing else: no conditions, loops or filters. A string that is exactly one
//! placeholder takes the value with its JSON type (a number stays a number, `ticket` an
//! object, a missing value is `null`); placeholders inside longer text are replaced by
//! the value's text (strings without quotes, `null` as nothing).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::model::Outcome;
use crate::tickets::{ActionKind, Ticket, TicketAction};

/// Objects of a ticket whose keys vary from ticket to ticket: a placeholder may name
/// any key of them, missing ones render as `null`.
const MAPS: [&str; 3] = ["ticket.entity", "ticket.annotations", "ticket.labels"];

#[derive(Debug, Clone, PartialEq)]
pub struct Template(Value);

impl Template {
    /// The body sent when the config sets none; its JSON Schema is
    /// `schemas/webhook-body.schema.json`.
    pub fn default_body() -> Template {
        Template(json!({
            "title": "{{ticket.title}}",
            "action": "{{action}}",
            "outcome": "{{outcome}}",
            "idempotency_key": "{{idempotency_key}}",
            "at_ms": "{{at_ms}}",
            "ticket": "{{ticket}}",
        }))
    }

    /// Checks every placeholder against an example action, so that a typo is an error
    /// at start rather than a `null` in every ticket.
    pub fn parse(value: Value) -> Result<Template, String> {
        let example = serde_json::to_value(example_action()).expect("an action is JSON");
        let mut problems = Vec::new();
        visit_strings(&value, &mut |text| {
            for path in placeholders(text) {
                match path {
                    Err(()) => problems.push(format!("unclosed placeholder in {text:?}")),
                    Ok(path) if lookup(&example, path).is_none() && !is_map_key(path) => {
                        problems.push(format!("unknown placeholder {{{{{path}}}}}"))
                    }
                    Ok(_) => {}
                }
            }
        });
        if problems.is_empty() {
            Ok(Template(value))
        } else {
            Err(problems.join("; "))
        }
    }

    pub fn render(&self, action: &TicketAction) -> Value {
        let doc = serde_json::to_value(action).expect("an action is JSON");
        fill(&self.0, &doc)
    }
}

fn fill(template: &Value, doc: &Value) -> Value {
    match template {
        Value::String(text) => fill_string(text, doc),
        Value::Array(items) => Value::Array(items.iter().map(|v| fill(v, doc)).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), fill(v, doc)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn fill_string(text: &str, doc: &Value) -> Value {
    let value_of = |path: &str| lookup(doc, path).cloned().unwrap_or(Value::Null);
    if let Some(path) = whole_placeholder(text) {
        return value_of(path);
    }
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        match value_of(rest[start + 2..start + len].trim()) {
            Value::Null => {}
            Value::String(s) => out.push_str(&s),
            other => out.push_str(&other.to_string()),
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    Value::String(out)
}

/// The path when `text` is exactly one placeholder.
fn whole_placeholder(text: &str) -> Option<&str> {
    let inner = text.strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}")).then(|| inner.trim())
}

/// The paths of the placeholders in `text`; `Err` for a `{{` never closed.
fn placeholders(text: &str) -> Vec<Result<&str, ()>> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        match rest[start..].find("}}") {
            Some(len) => {
                found.push(Ok(rest[start + 2..start + len].trim()));
                rest = &rest[start + len + 2..];
            }
            None => {
                found.push(Err(()));
                break;
            }
        }
    }
    found
}

fn lookup<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(doc, |value, key| value.get(key))
}

fn is_map_key(path: &str) -> bool {
    path.rsplit_once('.')
        .is_some_and(|(parent, _)| MAPS.contains(&parent))
}

fn visit_strings(value: &Value, visit: &mut impl FnMut(&str)) {
    match value {
        Value::String(text) => visit(text),
        Value::Array(items) => items.iter().for_each(|v| visit_strings(v, visit)),
        Value::Object(fields) => fields.values().for_each(|v| visit_strings(v, visit)),
        _ => {}
    }
}

/// A resolved ticket with every field set: what placeholders are checked against, and
/// what tests render.
pub fn example_action() -> TicketAction {
    let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let ticket = Ticket {
        fingerprint: "3f2a9c0d1e7b6a54".to_owned(),
        sequence: 1,
        target: "HostOutOfDiskSpace".to_owned(),
        entity: map(&[("instance", "app-1"), ("mountpoint", "/data")]),
        title: "HostOutOfDiskSpace on instance=app-1, mountpoint=/data: predicted in ~40m"
            .to_owned(),
        rule: "node_filesystem_avail_bytes * 100 / node_filesystem_size_bytes < 10".to_owned(),
        threshold: 10.0,
        probability: Some(0.93),
        horizon_seconds: 3600.0,
        eta_seconds: Some(2400.0),
        eta_stderr_seconds: Some(300.0),
        value: Some(14.2),
        trend_per_second: Some(-0.0013),
        evidence: vec![crate::tickets::Evidence {
            input: "eta_seconds:HostOutOfDiskSpace".to_owned(),
            value: 0.67,
            effect: 0.41,
        }],
        graph_url: Some(
            "http://prometheus:9090/graph?g0.expr=node_filesystem_avail_bytes&g0.tab=0".to_owned(),
        ),
        annotations: map(&[("summary", "Host out of disk space")]),
        labels: map(&[("severity", "warning")]),
        opened_at_ms: 1_700_000_000_000,
    };
    let kind = ActionKind::Resolve {
        outcome: Outcome::Averted,
    };
    TicketAction::new(kind, 1_700_000_600_000, ticket, 3)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    /// The webhook's default body, as a receiver reads it.
    #[derive(Deserialize, schemars::JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[schemars(title = "harbinger webhook body (default template)")]
    #[allow(dead_code)] // read by the schema and the shape check only
    struct DefaultBody {
        /// The ticket's title, also at `ticket.title`.
        title: String,
        /// `open`, `update`, `confirm` or `resolve`.
        action: String,
        /// For `resolve` only; null otherwise.
        outcome: Option<Outcome>,
        /// `<fingerprint>-<ticket sequence>-<action sequence>`, the same on every
        /// attempt; also sent as the `Idempotency-Key` header.
        idempotency_key: String,
        /// Unix milliseconds of the step that decided the action.
        at_ms: i64,
        ticket: Ticket,
    }

    /// The default body has the committed schema's shape, and the committed schema is
    /// the one the code derives. `UPDATE_SCHEMA=1 cargo test` rewrites
    /// it after a deliberate change.
    #[test]
    fn the_default_body_matches_the_committed_schema() {
        let resolve = example_action();
        let open = TicketAction::new(ActionKind::Open, 1, resolve.ticket.clone(), 1);
        for action in [resolve, open] {
            let body = Template::default_body().render(&action);
            serde_json::from_value::<DefaultBody>(body).expect("the default body's shape");
        }
        let schema = schemars::schema_for!(DefaultBody);
        crate::schema_check::assert_committed("webhook-body.schema.json", &schema);
    }

    #[test]
    fn placeholders_keep_their_type_alone_and_become_text_inside_text() {
        let template = Template::parse(json!({
            "title": "{{ticket.title}}",
            "p": "{{ ticket.probability }}",
            "summary": "[{{action}}] p={{ticket.probability}} on {{ticket.entity.instance}}{{ticket.entity.absent}}",
            "missing": "{{ticket.labels.team}}",
            "fixed": 7,
            "list": ["{{at_ms}}"],
        }))
        .unwrap();
        let body = template.render(&example_action());
        assert_eq!(
            body,
            json!({
                "title": "HostOutOfDiskSpace on instance=app-1, mountpoint=/data: predicted in ~40m",
                "p": 0.93,
                "summary": "[resolve] p=0.93 on app-1",
                "missing": null,
                "fixed": 7,
                "list": [1_700_000_600_000_i64],
            })
        );
    }

    #[test]
    fn unknown_and_unclosed_placeholders_are_refused_at_start() {
        let error =
            Template::parse(json!({"a": "{{ticket.titel}}", "b": ["{{action"]})).unwrap_err();
        assert!(
            error.contains("unknown placeholder {{ticket.titel}}"),
            "{error}"
        );
        assert!(
            error.contains("unclosed placeholder in \"{{action\""),
            "{error}"
        );
    }

    #[test]
    fn the_default_body_carries_the_whole_action() {
        let action = example_action();
        let body = Template::default_body().render(&action);
        assert_eq!(body["title"], json!(action.ticket.title));
        assert_eq!(body["action"], json!("resolve"));
        assert_eq!(body["outcome"], json!("averted"));
        assert_eq!(
            body["ticket"],
            serde_json::to_value(&action.ticket).unwrap()
        );
        let open = TicketAction::new(ActionKind::Open, 1, action.ticket, 1);
        assert_eq!(
            Template::default_body().render(&open)["outcome"],
            Value::Null
        );
    }
}

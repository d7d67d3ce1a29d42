//! The `webhook` sink's configuration: where tickets are created and updated, how
//! (method, URL and body, per kind of action if need be), and with what credentials.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;

use crate::config::{Secret, duration};
use crate::model::Outcome;
use crate::outbox::template::Template;
use crate::tickets::ActionKind;

/// A REST ticket API: POST creates, PATCH (or PUT) updates and resolves; `actions`
/// changes the request of any kind of action (a comment here, a transition there).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhookSinkConfig {
    /// Names the sink in metrics, logs and the outbox; `webhook` when absent.
    pub name: Option<String>,
    /// Opens are POSTed here, e.g. `https://desk.example/api/tickets/`.
    pub url: String,
    /// Updates go here, `{id}` replaced by the created ticket's id; absent: `url`
    /// followed by `{id}/` (Django REST's detail route). Unused when the create answer
    /// carries no id but a `Location` header: updates go to that URL.
    pub ticket_url: Option<String>,
    /// The method of update, confirm and resolve: `PATCH` (default), `PUT` or `POST`.
    #[serde(default)]
    pub update_method: Method,
    /// JSON pointer to the created ticket's id in the create answer; `/id` when absent.
    pub id_pointer: Option<String>,
    /// Extra headers on every request.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// `Authorization: Bearer <token>`, the token read from this file...
    pub bearer_token_file: Option<PathBuf>,
    /// ...or from this environment variable.
    pub bearer_token_env: Option<String>,
    /// Per attempt; an attempt that takes longer is retried.
    #[serde(
        default = "default_timeout",
        deserialize_with = "duration::deserialize"
    )]
    pub timeout: Duration,
    /// The JSON body, its string leaves holding `{{path}}` placeholders; the default
    /// body (schema in `schemas/webhook-body.schema.json`) when absent.
    pub body: Option<serde_json::Value>,
    /// Per kind of action, what differs from the request above: `open`, `update`,
    /// `confirm`, `resolve`, or `resolve_averted` and `resolve_materialised` (which take
    /// precedence over `resolve`).
    #[serde(default)]
    pub actions: BTreeMap<ActionName, RequestConfig>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Post,
    Put,
    #[default]
    Patch,
}

impl Method {
    fn http(self) -> reqwest::Method {
        match self {
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum ActionName {
    Open,
    Update,
    Confirm,
    Resolve,
    ResolveAverted,
    ResolveMaterialised,
}

impl ActionName {
    /// As written in `actions`.
    fn key(self) -> &'static str {
        match self {
            ActionName::Open => "open",
            ActionName::Update => "update",
            ActionName::Confirm => "confirm",
            ActionName::Resolve => "resolve",
            ActionName::ResolveAverted => "resolve_averted",
            ActionName::ResolveMaterialised => "resolve_materialised",
        }
    }
}

/// One kind of action's request; what is absent is the sink's.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RequestConfig {
    pub method: Option<Method>,
    /// `{id}` is replaced by the created ticket's id.
    pub url: Option<String>,
    pub body: Option<serde_json::Value>,
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

#[derive(Debug, Clone)]
pub struct WebhookSpec {
    pub name: String,
    pub url: reqwest::Url,
    /// Holds `{id}`.
    pub ticket_url: String,
    pub id_pointer: String,
    /// Authorization included, marked sensitive so that it is never printed.
    pub headers: HeaderMap,
    pub timeout: Duration,
    pub requests: Requests,
}

/// The request of each kind of action.
#[derive(Debug, Clone)]
pub struct Requests {
    open: Request,
    update: Request,
    confirm: Request,
    averted: Request,
    materialised: Request,
}

impl Requests {
    pub fn of(&self, kind: &ActionKind) -> &Request {
        match kind {
            ActionKind::Open => &self.open,
            ActionKind::Update => &self.update,
            ActionKind::Confirm => &self.confirm,
            ActionKind::Resolve {
                outcome: Outcome::Averted,
            } => &self.averted,
            ActionKind::Resolve {
                outcome: Outcome::Materialised,
            } => &self.materialised,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Request {
    pub method: reqwest::Method,
    /// May hold `{id}`; None: for an open the sink's `url`, for the others the created
    /// ticket's URL.
    pub url: Option<String>,
    pub body: Template,
}

impl WebhookSinkConfig {
    pub fn validate(&self, field: &str, problems: &mut Vec<String>) -> Option<WebhookSpec> {
        let before = problems.len();
        let url = reqwest::Url::parse(&self.url)
            .map_err(|e| problems.push(format!("{field}.url: {:?}: {e}", self.url)))
            .ok();
        let ticket_url = match &self.ticket_url {
            Some(template) => template.clone(),
            None if self.url.ends_with('/') => format!("{}{{id}}/", self.url),
            None => format!("{}/{{id}}/", self.url),
        };
        // A default ticket_url derived from a bad url says nothing new.
        if url.is_some() || self.ticket_url.is_some() {
            check_url(&format!("{field}.ticket_url"), &ticket_url, problems);
            if !ticket_url.contains("{id}") {
                problems.push(format!("{field}.ticket_url: {ticket_url:?} has no {{id}}"));
            }
        }
        let id_pointer = self.id_pointer.clone().unwrap_or_else(|| "/id".to_owned());
        if !id_pointer.starts_with('/') {
            problems.push(format!(
                "{field}.id_pointer: {id_pointer:?} is not a JSON pointer (e.g. /id)"
            ));
        }
        let headers = self.headers(field, problems);
        if self.timeout.is_zero() {
            problems.push(format!("{field}.timeout: must be greater than 0"));
        }
        let requests = self.requests(field, problems);
        match (problems.len() == before, url, requests) {
            (true, Some(url), Some(requests)) => Some(WebhookSpec {
                name: self.name.clone().unwrap_or_else(|| "webhook".to_owned()),
                url,
                ticket_url,
                id_pointer,
                headers,
                timeout: self.timeout,
                requests,
            }),
            _ => None,
        }
    }

    fn headers(&self, field: &str, problems: &mut Vec<String>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            match (
                HeaderName::try_from(name.as_str()),
                HeaderValue::try_from(value.as_str()),
            ) {
                (Ok(name), Ok(value)) => {
                    headers.insert(name, value);
                }
                _ => problems.push(format!(
                    "{field}.headers: {name:?} is not a valid header name and value"
                )),
            }
        }
        if self.bearer_token_file.is_some() || self.bearer_token_env.is_some() {
            let token = Secret::load(
                &format!("{field}.bearer_token"),
                &self.bearer_token_file,
                &self.bearer_token_env,
            );
            match token.map(|t| HeaderValue::try_from(format!("Bearer {}", t.expose()))) {
                Ok(Ok(mut value)) => {
                    value.set_sensitive(true);
                    headers.insert(AUTHORIZATION, value);
                }
                Ok(Err(_)) => problems.push(format!(
                    "{field}.bearer_token: the token is not a valid header value"
                )),
                Err(problem) => problems.push(problem),
            }
        }
        headers
    }

    /// Each kind of action's request: its own entry in `actions` (the first of
    /// `names` found), over the sink's defaults.
    fn requests(&self, field: &str, problems: &mut Vec<String>) -> Option<Requests> {
        let before = problems.len();
        let body = match &self.body {
            None => Some(Template::default_body()),
            Some(value) => Template::parse(value.clone())
                .map_err(|e| problems.push(format!("{field}.body: {e}")))
                .ok(),
        }?;
        let mut request = |names: &[ActionName], method: Method| -> Option<Request> {
            let Some((name, own)) = names
                .iter()
                .find_map(|name| self.actions.get(name).map(|own| (name, own)))
            else {
                return Some(Request {
                    method: method.http(),
                    url: None,
                    body: body.clone(),
                });
            };
            let at = format!("{field}.actions.{}", name.key());
            if let Some(url) = &own.url {
                check_url(&format!("{at}.url"), url, problems);
                if *name == ActionName::Open && url.contains("{id}") {
                    problems.push(format!("{at}.url: an open has no {{id}} yet"));
                }
            }
            let body = match &own.body {
                None => body.clone(),
                Some(value) => Template::parse(value.clone())
                    .map_err(|e| problems.push(format!("{at}.body: {e}")))
                    .ok()?,
            };
            Some(Request {
                method: own.method.unwrap_or(method).http(),
                url: own.url.clone(),
                body,
            })
        };
        use ActionName::*;
        let requests = Requests {
            open: request(&[Open], Method::Post)?,
            update: request(&[Update], self.update_method)?,
            confirm: request(&[Confirm], self.update_method)?,
            averted: request(&[ResolveAverted, Resolve], self.update_method)?,
            materialised: request(&[ResolveMaterialised, Resolve], self.update_method)?,
        };
        (problems.len() == before).then_some(requests)
    }
}

/// Pushes a problem when `url`, with `{id}` filled, is not a URL.
fn check_url(field: &str, url: &str, problems: &mut Vec<String>) {
    if let Err(e) = reqwest::Url::parse(&url.replace("{id}", "1")) {
        problems.push(format!("{field}: {url:?}: {e}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate(yaml: &str) -> Result<WebhookSpec, Vec<String>> {
        let config: WebhookSinkConfig = serde_yaml_ng::from_str(yaml).unwrap();
        let mut problems = Vec::new();
        config
            .validate("tickets.sinks[0]", &mut problems)
            .ok_or(problems)
    }

    #[test]
    fn each_kind_of_action_takes_its_own_request_or_the_sinks() {
        let spec = validate(
            "url: https://desk.example/issues\nupdate_method: PUT\nactions:\n  resolve: {method: POST, url: 'https://desk.example/issues/{id}/close'}\n  resolve_averted: {body: {why: averted}}\n",
        )
        .unwrap();
        let of = |kind: ActionKind| spec.requests.of(&kind).clone();
        let open = of(ActionKind::Open);
        assert_eq!((open.method, open.url), (reqwest::Method::POST, None));
        assert_eq!(of(ActionKind::Confirm).method, reqwest::Method::PUT);
        let materialised = of(ActionKind::Resolve {
            outcome: Outcome::Materialised,
        });
        assert_eq!(materialised.method, reqwest::Method::POST);
        assert_eq!(
            materialised.url.as_deref(),
            Some("https://desk.example/issues/{id}/close")
        );
        let averted = of(ActionKind::Resolve {
            outcome: Outcome::Averted,
        });
        assert_eq!(
            (averted.method, averted.url),
            (reqwest::Method::PUT, None),
            "resolve_averted replaces resolve whole"
        );
    }

    #[test]
    fn a_bad_action_request_is_named() {
        let problems = validate(
            "url: https://desk.example/issues\nactions:\n  open: {url: 'https://desk.example/{id}'}\n  update: {url: 'not a url', body: {t: '{{ticket.nope}}'}}\n",
        )
        .unwrap_err();
        let text = problems.join("\n");
        for expected in [
            "tickets.sinks[0].actions.open.url: an open has no {id} yet",
            "tickets.sinks[0].actions.update.url: \"not a url\"",
            "tickets.sinks[0].actions.update.body: unknown placeholder {{ticket.nope}}",
        ] {
            assert!(text.contains(expected), "{expected:?} in:\n{text}");
        }
    }
}

//! The `redmine` sink: Redmine's REST API, a ticket system many IT teams run.
//!
//! In: actions. Out: an open creates an issue in the configured project, with its
//! tracker and priority (`POST /issues.json`); update and confirm add journal notes
//! (`PUT /issues/<id>.json`); resolve sets the status configured for its outcome, with
//! a note. Names of the project, tracker, priority and statuses are looked up once.
//!
//! Idempotent across retries and restarts: the created issue's id is kept in the outbox
//! store; an action with no id kept (a crash between the create and keeping it, or a
//! ticket opened by another worker before its entity's Kafka partition moved) first
//! looks for an issue whose description carries the ticket's marker, and a note is not
//! added again when the issue's journal already carries the action's marker.

mod config;
mod text;

use std::sync::Arc;

use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

pub use self::config::{RedmineSinkConfig, RedmineSpec};
use super::sink::{Attempt, Sink, judge};
use super::store::{Store, on_blocking};
use crate::model::Outcome;
use crate::tickets::{ActionKind, TicketAction};

/// The ids behind the configured names.
#[derive(Debug)]
struct Ids {
    project: u64,
    tracker: Option<u64>,
    priority: Option<u64>,
    materialised: u64,
    averted: u64,
}

pub struct RedmineSink {
    spec: RedmineSpec,
    client: reqwest::Client,
    store: Arc<Store>,
    ids: OnceCell<Ids>,
}

impl RedmineSink {
    pub fn new(spec: RedmineSpec, store: Arc<Store>) -> Result<RedmineSink, reqwest::Error> {
        let mut headers = HeaderMap::new();
        headers.insert("X-Redmine-API-Key", spec.api_key.clone());
        let client = reqwest::Client::builder()
            .timeout(spec.timeout)
            .default_headers(headers)
            .build()?;
        Ok(RedmineSink {
            spec,
            client,
            store,
            ids: OnceCell::new(),
        })
    }

    fn url(&self, path: &str) -> reqwest::Url {
        self.spec
            .url
            .join(path)
            .expect("a relative path joins a base URL")
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, Attempt> {
        let mut url = self.url(path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let sent = self.client.get(url).send().await;
        let response = judge(sent).await?;
        response
            .json()
            .await
            .map_err(|e| Attempt::Retry(format!("GET {path}: the answer is not JSON: {e}")))
    }

    async fn ids(&self) -> Result<&Ids, Attempt> {
        self.ids.get_or_try_init(|| self.look_up_ids()).await
    }

    async fn look_up_ids(&self) -> Result<Ids, Attempt> {
        let spec = &self.spec;
        let project = self
            .get(&format!("projects/{}.json", spec.project), &[])
            .await;
        let project = match project {
            Ok(found) => found["project"]["id"].as_u64(),
            Err(Attempt::Reject(reason)) => {
                return Err(Attempt::Reject(format!(
                    "project {:?}: {reason} (is it the identifier, and may the key's user see it?)",
                    spec.project
                )));
            }
            Err(other) => return Err(other),
        };
        let project = project
            .ok_or_else(|| Attempt::Reject(format!("project {:?} has no id", spec.project)))?;
        let tracker = match &spec.tracker {
            Some(name) => Some(
                self.id_of("tracker", name, "trackers.json", "trackers")
                    .await?,
            ),
            None => None,
        };
        let priority = match &spec.priority {
            Some(name) => Some(
                self.id_of(
                    "priority",
                    name,
                    "enumerations/issue_priorities.json",
                    "issue_priorities",
                )
                .await?,
            ),
            None => None,
        };
        let status = |name| self.id_of("status", name, "issue_statuses.json", "issue_statuses");
        Ok(Ids {
            project,
            tracker,
            priority,
            materialised: status(&spec.materialised_status).await?,
            averted: status(&spec.averted_status).await?,
        })
    }

    /// The id of `name` (or `name` itself when it is a number) among Redmine's `list`.
    async fn id_of(&self, what: &str, name: &str, path: &str, list: &str) -> Result<u64, Attempt> {
        if let Ok(id) = name.parse() {
            return Ok(id);
        }
        let found = self.get(path, &[]).await?;
        let entries = found[list].as_array().cloned().unwrap_or_default();
        let names: Vec<&str> = entries.iter().filter_map(|e| e["name"].as_str()).collect();
        entries
            .iter()
            .find(|e| {
                e["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            })
            .and_then(|e| e["id"].as_u64())
            .ok_or_else(|| {
                Attempt::Reject(format!(
                    "{what} {name:?} is not one of {}",
                    names.join(", ")
                ))
            })
    }

    /// The store key of the ticket an action belongs to.
    fn ticket_key(action: &TicketAction) -> String {
        format!("{}-{}", action.ticket.fingerprint, action.ticket.sequence)
    }

    async fn remember(&self, action: &TicketAction, id: u64) -> Attempt {
        let (sink, key) = (self.spec.name.clone(), Self::ticket_key(action));
        on_blocking(&self.store, move |store| {
            store.remember(&sink, &key, &id.to_string())
        })
        .await
        .map_or_else(|e| Attempt::Retry(e.to_string()), |()| Attempt::Delivered)
    }

    async fn recall(&self, action: &TicketAction) -> Result<Option<u64>, Attempt> {
        let (sink, key) = (self.spec.name.clone(), Self::ticket_key(action));
        let kept = on_blocking(&self.store, move |store| store.recall(&sink, &key))
            .await
            .map_err(|e| Attempt::Retry(e.to_string()))?;
        Ok(kept.and_then(|id| id.parse().ok()))
    }

    /// The issue created for the action's ticket before its id was kept, if any.
    async fn find(&self, action: &TicketAction, project: u64) -> Result<Option<u64>, Attempt> {
        let marker = text::ticket_marker(&action.ticket);
        let project = project.to_string();
        let query = [
            ("project_id", project.as_str()),
            ("f[]", "status_id"),
            ("op[status_id]", "*"),
            ("f[]", "description"),
            ("op[description]", "~"),
            ("v[description][]", marker.as_str()),
        ];
        let found = self.get("issues.json", &query).await?;
        let issues = found["issues"].as_array().cloned().unwrap_or_default();
        Ok(issues
            .iter()
            .find(|issue| {
                let description = issue["description"].as_str().unwrap_or_default();
                description.lines().any(|line| line.trim() == marker)
            })
            .and_then(|issue| issue["id"].as_u64()))
    }

    /// The id of the issue of the action's ticket: kept in the store, or else found by
    /// its marker (created before its id was kept, or by another worker before the
    /// entity's Kafka partition moved) and kept from now on; None when there is none.
    async fn issue_of(&self, action: &TicketAction) -> Result<Option<u64>, Attempt> {
        if let Some(id) = self.recall(action).await? {
            return Ok(Some(id));
        }
        let Some(id) = self.find(action, self.ids().await?.project).await? else {
            return Ok(None);
        };
        match self.remember(action, id).await {
            Attempt::Delivered => Ok(Some(id)),
            failed => Err(failed),
        }
    }

    async fn create(&self, action: &TicketAction) -> Result<Attempt, Attempt> {
        if self.issue_of(action).await?.is_some() {
            return Ok(Attempt::Delivered);
        }
        let ids = self.ids().await?;
        let mut issue = json!({
            "project_id": ids.project,
            "subject": text::subject(&action.ticket),
            "description": text::description(&action.ticket),
        });
        if let Some(tracker) = ids.tracker {
            issue["tracker_id"] = json!(tracker);
        }
        if let Some(priority) = ids.priority {
            issue["priority_id"] = json!(priority);
        }
        let sent = self
            .client
            .post(self.url("issues.json"))
            .json(&json!({ "issue": issue }))
            .send()
            .await;
        let created: Value =
            judge(sent).await?.json().await.map_err(|e| {
                Attempt::Retry(format!("the created issue's answer is not JSON: {e}"))
            })?;
        match created["issue"]["id"].as_u64() {
            Some(id) => Ok(self.remember(action, id).await),
            None => Err(Attempt::Reject(
                "created, but the answer names no issue id".to_owned(),
            )),
        }
    }

    async fn note(&self, action: &TicketAction) -> Result<Attempt, Attempt> {
        let Some(id) = self.issue_of(action).await? else {
            return Err(Attempt::Reject(format!(
                "no issue carries ticket {}: its open was refused",
                Self::ticket_key(action)
            )));
        };
        let path = format!("issues/{id}.json");
        let marker = text::action_marker(action);
        let issue = self.get(&path, &[("include", "journals")]).await?;
        let journals = issue["issue"]["journals"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let noted = journals.iter().any(|journal| {
            let notes = journal["notes"].as_str().unwrap_or_default();
            notes.lines().any(|line| line.trim() == marker)
        });
        if noted {
            return Ok(Attempt::Delivered);
        }
        let mut change = json!({ "notes": text::note(action) });
        if let ActionKind::Resolve { outcome } = action.kind {
            let ids = self.ids().await?;
            change["status_id"] = json!(match outcome {
                Outcome::Materialised => ids.materialised,
                Outcome::Averted => ids.averted,
            });
        }
        let sent = self
            .client
            .put(self.url(&path))
            .json(&json!({ "issue": change }))
            .send()
            .await;
        judge(sent).await?;
        Ok(Attempt::Delivered)
    }
}

impl Sink for RedmineSink {
    fn name(&self) -> &str {
        &self.spec.name
    }

    fn concurrency(&self) -> usize {
        4
    }

    async fn deliver(&self, action: &TicketAction) -> Attempt {
        let attempt = match action.kind {
            ActionKind::Open => self.create(action).await,
            _ => self.note(action).await,
        };
        attempt.unwrap_or_else(|failed| failed)
    }
}

//! The `webhook` sink: a REST ticket API, such as the operators' Django REST desk, or
//! Jira.
//!
//! In: actions. Out: an open is `POST <url>` with the rendered body and an
//! `Idempotency-Key` header; the created ticket's URL (from its id at `id_pointer` in
//! the answer, put into `ticket_url`, or else the answer's `Location`) and its id are
//! kept in the outbox store; update, confirm and resolve go to that URL by PATCH (or
//! PUT), with their own key. Each kind of action may have a method, URL (`{id}` filled
//! with the created id) and body of its own (`config::Requests`): Jira's comment and
//! transition endpoints, for example. An open whose ticket URL is already known (a repeat after a crash
//! that followed the create) is not POSTed again, so no ticket is created twice; a
//! crash between the create and keeping its URL repeats the POST with the same key,
//! for the receiver to answer with the ticket it created. A later action for a ticket
//! whose URL this store never kept (its entity's Kafka partition moved from another
//! worker, or the data dir was lost) sends the open again the same way first.

use std::sync::Arc;

use reqwest::header::LOCATION;
use serde_json::Value;

mod config;

use self::config::Request;
pub use self::config::{WebhookSinkConfig, WebhookSpec};
use super::sink::{Attempt, Sink, judge};
use super::store::{Store, on_blocking};
use crate::tickets::{ActionKind, TicketAction};

pub struct WebhookSink {
    spec: WebhookSpec,
    client: reqwest::Client,
    store: Arc<Store>,
}

impl WebhookSink {
    pub fn new(spec: WebhookSpec, store: Arc<Store>) -> Result<WebhookSink, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(spec.timeout)
            .default_headers(spec.headers.clone())
            .build()?;
        Ok(WebhookSink {
            spec,
            client,
            store,
        })
    }

    /// The store key of the ticket an action belongs to.
    fn ticket_key(action: &TicketAction) -> String {
        format!("{}-{}", action.ticket.fingerprint, action.ticket.sequence)
    }

    async fn recall(&self, key: String) -> Result<Option<String>, Attempt> {
        let sink = self.spec.name.clone();
        on_blocking(&self.store, move |store| store.recall(&sink, &key))
            .await
            .map_err(|e| Attempt::Retry(e.to_string()))
    }

    async fn create(&self, action: &TicketAction) -> Attempt {
        let key = Self::ticket_key(action);
        match self.recall(key.clone()).await {
            Ok(Some(_)) => return Attempt::Delivered,
            Ok(None) => {}
            Err(attempt) => return attempt,
        }
        let open = self.spec.requests.of(&action.kind);
        let url = open
            .url
            .as_deref()
            .map_or_else(|| self.spec.url.to_string(), str::to_owned);
        let response = match self.send(open, &url, action).await {
            Ok(response) => response,
            Err(attempt) => return attempt,
        };
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| self.spec.url.join(value).ok());
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let id = match body.pointer(&self.spec.id_pointer) {
            Some(Value::String(id)) => Some(id.clone()),
            Some(Value::Number(id)) => Some(id.to_string()),
            _ => None,
        };
        let url = match (&id, location) {
            (Some(id), _) => self.spec.ticket_url.replace("{id}", id),
            (None, Some(location)) => location.to_string(),
            (None, None) => {
                return Attempt::Reject(format!(
                    "created, but the answer has no id at {} and no Location header",
                    self.spec.id_pointer
                ));
            }
        };
        // The id first: the URL, kept last, is what says the ticket was created.
        let sink = self.spec.name.clone();
        on_blocking(&self.store, move |store| {
            if let Some(id) = id {
                store.remember(&sink, &Self::id_key(&key), &id)?;
            }
            store.remember(&sink, &key, &url)
        })
        .await
        .map_or_else(|e| Attempt::Retry(e.to_string()), |()| Attempt::Delivered)
    }

    /// The store key of a created ticket's id.
    fn id_key(ticket_key: &str) -> String {
        format!("{ticket_key}/id")
    }

    async fn update(&self, action: &TicketAction) -> Attempt {
        let key = Self::ticket_key(action);
        let ticket_url = match self.recall(key.clone()).await {
            Ok(Some(url)) => url,
            Ok(None) => match self.recover(action, &key).await {
                Ok(url) => url,
                Err(attempt) => return attempt,
            },
            Err(attempt) => return attempt,
        };
        let request = self.spec.requests.of(&action.kind);
        let url = match request.url.as_deref() {
            None => ticket_url,
            Some(url) if url.contains("{id}") => match self.recall(Self::id_key(&key)).await {
                Ok(Some(id)) => url.replace("{id}", &id),
                Ok(None) => {
                    return Attempt::Reject(format!(
                        "{url} needs the id of ticket {key}, and its create answer had none at {}",
                        self.spec.id_pointer
                    ));
                }
                Err(attempt) => return attempt,
            },
            Some(url) => url.to_owned(),
        };
        match self.send(request, &url, action).await {
            Ok(_) => Attempt::Delivered,
            Err(attempt) => attempt,
        }
    }

    /// The URL of a ticket this store has not kept (`key` is its store key): its open
    /// was refused here, or made elsewhere (another worker owned the entity's partition,
    /// or the data dir was lost). The open is POSTed again under its own
    /// Idempotency-Key, which a desk that honours keys answers with the ticket it
    /// created.
    async fn recover(&self, action: &TicketAction, key: &str) -> Result<String, Attempt> {
        let ticket = action.ticket.clone();
        let open = TicketAction::new(ActionKind::Open, ticket.opened_at_ms, ticket, 1);
        match self.create(&open).await {
            Attempt::Delivered => {}
            Attempt::Reject(reason) => {
                return Err(Attempt::Reject(format!(
                    "no ticket was created for {key}: its open, sent again, was refused: {reason}"
                )));
            }
            retry => return Err(retry),
        }
        match self.recall(key.to_owned()).await? {
            Some(url) => Ok(url),
            None => Err(Attempt::Retry(format!(
                "the URL of ticket {key} was not kept"
            ))),
        }
    }

    /// Sends `action` as `request` to `url`; a 2xx answer is returned, anything else is
    /// the attempt's fate.
    async fn send(
        &self,
        request: &Request,
        url: &str,
        action: &TicketAction,
    ) -> Result<reqwest::Response, Attempt> {
        let sent = self
            .client
            .request(request.method.clone(), url)
            .header("Idempotency-Key", &action.idempotency_key)
            .json(&request.body.render(action))
            .send()
            .await;
        judge(sent).await
    }
}

impl Sink for WebhookSink {
    fn name(&self) -> &str {
        &self.spec.name
    }

    fn concurrency(&self) -> usize {
        4
    }

    async fn deliver(&self, action: &TicketAction) -> Attempt {
        match action.kind {
            ActionKind::Open => self.create(action).await,
            _ => self.update(action).await,
        }
    }
}

//! The `webhook` sink: a REST ticket API, such as the operators' Django REST desk.
//!
//! In: actions. Out: an open is `POST <url>` with the rendered body and an
//! `Idempotency-Key` header; the created ticket's URL (from its id at `id_pointer` in
//! the answer, put into `ticket_url`, or else the answer's `Location`) is kept in the
//! outbox store; update, confirm and resolve go to that URL by PATCH (or PUT), with
//! their own key. An open whose ticket URL is already known (a repeat after a crash
//! that followed the create) is not POSTed again, so no ticket is created twice; a
//! crash between the create and keeping its URL repeats the POST with the same key,
//! for the receiver to answer with the ticket it created.

use std::sync::Arc;

use reqwest::header::LOCATION;
use serde_json::Value;

use super::config::WebhookSpec;
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
        let request = self.client.post(self.spec.url.clone());
        let response = match self.send(request, action).await {
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
        let url = match (id, location) {
            (Some(id), _) => self.spec.ticket_url.replace("{id}", &id),
            (None, Some(location)) => location.to_string(),
            (None, None) => {
                return Attempt::Reject(format!(
                    "created, but the answer has no id at {} and no Location header",
                    self.spec.id_pointer
                ));
            }
        };
        let sink = self.spec.name.clone();
        on_blocking(&self.store, move |store| store.remember(&sink, &key, &url))
            .await
            .map_or_else(|e| Attempt::Retry(e.to_string()), |()| Attempt::Delivered)
    }

    async fn update(&self, action: &TicketAction) -> Attempt {
        let url = match self.recall(Self::ticket_key(action)).await {
            Ok(Some(url)) => url,
            Ok(None) => {
                return Attempt::Reject(format!(
                    "no ticket was created for {}-{}: its open was refused",
                    action.ticket.fingerprint, action.ticket.sequence
                ));
            }
            Err(attempt) => return attempt,
        };
        let request = self.client.request(self.spec.update_method.clone(), url);
        match self.send(request, action).await {
            Ok(_) => Attempt::Delivered,
            Err(attempt) => attempt,
        }
    }

    /// Sends one request; a 2xx answer is returned, anything else is the attempt's fate.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        action: &TicketAction,
    ) -> Result<reqwest::Response, Attempt> {
        let sent = request
            .header("Idempotency-Key", &action.idempotency_key)
            .json(&self.spec.body.render(action))
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

//! The one place where write outcomes become HTTP responses.
//!
//! Status codes follow the remote-write specs and Prometheus's handler: 204 accepted,
//! 400 undecodable or invalid (senders never retry it, so the body says why), 401, 413,
//! 404 on a worker, 415, and 503 when overloaded or Kafka cannot take it, so that the sender backs off and retries. Never 429: a
//! default Prometheus drops a batch answered 429. Remote-write 2.0 answers always carry
//! the three `X-Prometheus-Remote-Write-*-Written` headers.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::ingest::{DecodeError, MediaTypeError};

/// What an accepted request wrote, as the 2.0 response headers report it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub samples: u64,
    pub histograms: u64,
    pub exemplars: u64,
}

/// Why a write request was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("unauthorized: missing or wrong credentials")]
    Unauthorized { challenge: &'static str },
    #[error("{0}")]
    UnsupportedMedia(#[from] MediaTypeError),
    #[error("request body exceeds the limit of {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("reading request body: {0}")]
    BodyRead(String),
    #[error("{0}")]
    Decode(#[from] DecodeError),
    #[error("overloaded: the pipeline queue is full, retry later")]
    Overloaded,
    #[error("shutting down, retry later")]
    ShuttingDown,
    /// The receiver could not publish the request to Kafka: (reason kind, message).
    #[error("{1}")]
    Unpublished(&'static str, String),
    #[error("this harbinger is a worker (serve --role worker): send remote write to a receiver")]
    NotHere,
}

impl WriteError {
    pub fn status(&self) -> StatusCode {
        match self {
            WriteError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            WriteError::UnsupportedMedia(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            WriteError::BodyTooLarge { .. }
            | WriteError::Decode(DecodeError::DecodedTooLarge { .. }) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            WriteError::BodyRead(_) | WriteError::Decode(_) => StatusCode::BAD_REQUEST,
            WriteError::Overloaded | WriteError::ShuttingDown | WriteError::Unpublished(..) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            WriteError::NotHere => StatusCode::NOT_FOUND,
        }
    }

    /// A bounded name for the reason, used as a metric label value.
    pub fn reason(&self) -> &'static str {
        match self {
            WriteError::Unauthorized { .. } => "unauthorized",
            WriteError::UnsupportedMedia(_) => "unsupported_media_type",
            WriteError::BodyTooLarge { .. } => "too_large",
            WriteError::BodyRead(_) => "body_read",
            WriteError::Decode(error) => error.reason(),
            WriteError::Overloaded => "queue_full",
            WriteError::ShuttingDown => "shutting_down",
            WriteError::Unpublished(reason, _) => reason,
            WriteError::NotHere => "not_a_receiver",
        }
    }
}

/// Builds the response; `v2` adds the written-count headers the 2.0 spec requires.
pub fn respond(result: &Result<Written, WriteError>, v2: bool) -> Response {
    let (mut response, written) = match result {
        Ok(written) => (StatusCode::NO_CONTENT.into_response(), *written),
        Err(error) => {
            let mut response = (error.status(), format!("{error}\n")).into_response();
            if let WriteError::Unauthorized { challenge } = error {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(challenge),
                );
            }
            (response, Written::default())
        }
    };
    if v2 {
        let headers = response.headers_mut();
        for (name, count) in [
            ("x-prometheus-remote-write-samples-written", written.samples),
            (
                "x-prometheus-remote-write-histograms-written",
                written.histograms,
            ),
            (
                "x-prometheus-remote-write-exemplars-written",
                written.exemplars,
            ),
        ] {
            headers.insert(name, HeaderValue::from(count));
        }
    }
    response
}

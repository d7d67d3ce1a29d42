//! The one place where write outcomes become HTTP responses.
//!
//! Status codes follow the remote-write specs and Prometheus's handler: 204 accepted,
//! 400 undecodable, invalid or over a size limit (senders never retry it, so the body
//! says why), and for 2.0 a partial write (some series refused, or samples dropped:
//! 400, the others written, the headers counting exactly those), 401, 404 on a worker,
//! 415, and 503 when overloaded, when the body was too slow to arrive or Kafka cannot
//! take it, so that the sender backs off and retries. Never 429 nor 408: a default
//! Prometheus drops a batch answered with any 4xx. Remote-write 2.0 answers always
//! carry the three `X-Prometheus-Remote-Write-*-Written` headers.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use std::fmt;

use crate::ingest::{DecodeError, MediaTypeError, Rejected};

/// What an accepted request wrote, as the 2.0 response headers report it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub samples: u64,
    pub histograms: u64,
    pub exemplars: u64,
}

/// What a 2.0 request held that was not written, while the rest was.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct NotWritten {
    /// Series refused as invalid, and what they held.
    pub rejected: Rejected,
    /// Samples not newer than their series' latest (duplicates, counted as written, are
    /// not among them).
    pub out_of_order: u64,
    /// Samples more than `registry::MAX_AHEAD_MS` past the server's clock.
    pub too_far_ahead: u64,
    /// Samples of new series past `ingest.max_active_series`.
    pub series_limit: u64,
}

impl NotWritten {
    pub fn is_empty(&self) -> bool {
        self.rejected.is_empty()
            && self.out_of_order == 0
            && self.too_far_ahead == 0
            && self.series_limit == 0
    }

    /// A bounded name for the first cause, used as a metric label value.
    fn reason(&self) -> &'static str {
        match &self.rejected.first {
            Some((_, problem)) => problem.reason(),
            None if self.out_of_order > 0 => "out_of_order",
            None if self.too_far_ahead > 0 => "too_far_ahead",
            None => "series_limit",
        }
    }
}

impl fmt::Display for NotWritten {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rejected = &self.rejected;
        let samples = rejected.samples + self.out_of_order + self.too_far_ahead + self.series_limit;
        write!(
            f,
            "not written: {samples} samples, {} histograms, {} exemplars (the rest was \
             written)",
            rejected.histograms, rejected.exemplars
        )?;
        if let Some((series, problem)) = &rejected.first {
            write!(
                f,
                "; {} series refused, the first: series {series}: {problem}",
                rejected.series
            )?;
        }
        if self.out_of_order > 0 {
            write!(
                f,
                "; {} samples not newer than their series' latest",
                self.out_of_order
            )?;
        }
        if self.too_far_ahead > 0 {
            write!(
                f,
                "; {} samples more than {} minutes ahead of the server's clock",
                self.too_far_ahead,
                crate::registry::MAX_AHEAD_MS / 60_000
            )?;
        }
        if self.series_limit > 0 {
            write!(
                f,
                "; {} samples of new series past ingest.max_active_series",
                self.series_limit
            )?;
        }
        Ok(())
    }
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
    #[error("the request body took longer than {} to arrive", crate::config::duration::format(*.0))]
    BodyTimeout(std::time::Duration),
    #[error("{0}")]
    Decode(#[from] DecodeError),
    /// A 2.0 request written in part: the spec forbids a 2xx answer.
    #[error("{not_written}")]
    Partial {
        written: Written,
        not_written: Box<NotWritten>,
    },
    #[error("overloaded: the pipeline queue is full, retry later")]
    Overloaded,
    #[error(
        "overloaded: every turn to decode a body, or the room for bodies being read (ingest.max_concurrent_writes), stayed taken for 10 s, retry later"
    )]
    Busy,
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
            // Over a size limit too: 400, as the design's contract says.
            WriteError::BodyTooLarge { .. }
            | WriteError::BodyRead(_)
            | WriteError::Decode(_)
            | WriteError::Partial { .. } => StatusCode::BAD_REQUEST,
            // A slow body may be the network's fault, and Prometheus drops a batch
            // answered with any 4xx: 503, so that it is sent again.
            WriteError::Overloaded
            | WriteError::Busy
            | WriteError::ShuttingDown
            | WriteError::Unpublished(..)
            | WriteError::BodyTimeout(_) => StatusCode::SERVICE_UNAVAILABLE,
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
            WriteError::BodyTimeout(_) => "body_timeout",
            WriteError::Decode(error) => error.reason(),
            WriteError::Partial { not_written, .. } => not_written.reason(),
            WriteError::Overloaded => "queue_full",
            WriteError::Busy => "too_many_writes",
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
            let written = match error {
                WriteError::Partial { written, .. } => *written,
                _ => Written::default(),
            };
            (response, written)
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

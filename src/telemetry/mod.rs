//! harbinger's own telemetry: the metric catalogue served at `/metrics`, and logging.

mod logging;
mod metrics;

pub use logging::{LogFormat, init_logging};
pub use metrics::{AttemptLabels, CodeLabels, DropReason, Metrics, SinkLabels, TicketLabels};

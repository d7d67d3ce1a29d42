//! harbinger's own telemetry: the metric catalogue served at `/metrics`, and logging.

mod logging;
mod metrics;

pub use logging::{LogFormat, init_logging};
pub use metrics::{
    ActionLabels, AttemptLabels, CodeLabels, DropReason, EntityLabels, Metrics, ReloadLabels,
    SinkLabels, TicketLabels,
};

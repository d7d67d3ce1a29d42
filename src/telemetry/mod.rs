//! harbinger's own telemetry: the metric catalogue served at `/metrics`, and logging.

mod kafka;
mod logging;
mod metrics;
pub mod throttle;

pub use kafka::{KafkaMetrics, PartitionLabels};
pub use logging::{LogFormat, init_logging};
pub use metrics::{
    ActionLabels, AttemptLabels, CodeLabels, DropReason, EntityLabels, FloatGauge, Metrics,
    ReloadLabels, SharedGauges, SinkLabels, TicketLabels,
};

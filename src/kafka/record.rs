//! The records between receivers and workers, and which partition each goes to.
//!
//! In: a decoded, validated `WriteBatch`, the tenant that sent it, the pipeline's entity
//! labels and the topic's partition count. Out: one record per partition the request
//! touches, holding that partition's series as a snappy-compressed remote-write 1.0
//! `WriteRequest` (float samples only; the pipeline uses nothing else), with the
//! `harbinger-format` header saying so. Every series of one entity (the values of the
//! entity labels, and the tenant) lands in one partition, so that one worker sees all
//! of an entity's samples, in order; the partition is a stable hash of the entity key,
//! the same in every receiver and every release.

use crate::ingest::{SeriesEntry, WriteBatch, encode_v1_series, proto};

/// The record header that names the payload's format.
pub const FORMAT_HEADER: &str = "harbinger-format";
/// Format 1: a snappy-compressed `prometheus.WriteRequest` (remote write 1.0).
pub const FORMAT_V1: &[u8] = b"1";
/// The record header that carries the sender's tenant (`X-Scope-OrgID`), when it gave one.
pub const TENANT_HEADER: &str = "harbinger-tenant";

/// Picks each series' partition from its entity key.
#[derive(Debug, Clone)]
pub struct Partitioner {
    entity_labels: Vec<String>,
}

/// One partition's share of a request, ready to produce.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub partition: i32,
    /// Snappy-compressed `WriteRequest`.
    pub payload: Vec<u8>,
    pub samples: usize,
}

impl Partitioner {
    pub fn new(entity_labels: &[String]) -> Partitioner {
        Partitioner {
            entity_labels: entity_labels.to_vec(),
        }
    }

    /// FNV-1a over the tenant and the series' value of each entity label (empty when
    /// it has none), each followed by 0xff, modulo `partitions`.
    pub fn partition(
        &self,
        batch: &WriteBatch,
        series: &SeriesEntry,
        tenant: &[u8],
        partitions: u32,
    ) -> i32 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let mut feed = |bytes: &[u8]| {
            for &b in bytes.iter().chain(&[0xff]) {
                hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
        };
        feed(tenant);
        for entity_label in &self.entity_labels {
            let value = batch
                .labels(series)
                .find(|(name, _)| *name == entity_label.as_bytes())
                .map_or(&[][..], |(_, value)| value);
            feed(value);
        }
        (hash % u64::from(partitions.max(1))) as i32
    }

    /// Splits `batch` into one record per partition it touches, in partition order.
    /// Series without float samples are left out.
    pub fn split(&self, batch: &WriteBatch, tenant: &[u8], partitions: u32) -> Vec<Record> {
        let mut bodies: Vec<(Vec<u8>, usize)> = vec![(Vec::new(), 0); partitions.max(1) as usize];
        for series in batch.series() {
            let samples = batch.samples(series).len();
            if samples == 0 {
                continue;
            }
            let (body, count) =
                &mut bodies[self.partition(batch, series, tenant, partitions) as usize];
            encode_v1_series(batch, series, body);
            *count += samples;
        }
        bodies
            .into_iter()
            .enumerate()
            .filter(|(_, (body, _))| !body.is_empty())
            .map(|(partition, (body, samples))| Record {
                partition: partition as i32,
                payload: proto::snappy(&body),
                samples,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{DecodeLimits, Decoder, Protocol};

    fn decode(compressed: &[u8]) -> WriteBatch {
        let mut batch = WriteBatch::default();
        Decoder::new(DecodeLimits::default())
            .decode(Protocol::V1, compressed, &mut batch)
            .unwrap();
        batch
    }

    fn entity_of(batch: &WriteBatch, series: &SeriesEntry) -> (Vec<u8>, Vec<u8>) {
        let get = |label: &str| {
            batch
                .labels(series)
                .find(|(n, _)| *n == label.as_bytes())
                .map_or(Vec::new(), |(_, v)| v.to_vec())
        };
        (get("instance"), get("mountpoint"))
    }

    #[test]
    fn an_entity_lands_in_one_partition_and_nothing_is_lost() {
        let mut series = Vec::new();
        for host in 0..40 {
            let instance = format!("host-{host}:9100");
            for mountpoint in ["/", "/data"] {
                for name in ["node_filesystem_avail_bytes", "node_filesystem_size_bytes"] {
                    series.push(proto::v1_series(
                        [
                            ("__name__", name),
                            ("instance", instance.as_str()),
                            ("mountpoint", mountpoint),
                        ],
                        [(1000, host as f64), (16_000, 2.0)],
                    ));
                }
            }
            series.push(proto::v1_series(
                [("__name__", "node_load1"), ("instance", instance.as_str())],
                [(1000, 0.5)],
            ));
        }
        let request = proto::v1::WriteRequest {
            timeseries: series,
            ..Default::default()
        };
        let batch = decode(&proto::encode_snappy(&request));
        let partitioner = Partitioner::new(&["instance".to_owned(), "mountpoint".to_owned()]);
        let records = partitioner.split(&batch, b"", 8);
        assert!(records.len() > 1, "40 hosts spread over partitions");
        let mut owner = std::collections::HashMap::new();
        let mut samples = 0;
        for record in &records {
            let part = decode(&record.payload);
            assert_eq!(part.sample_count(), record.samples);
            samples += part.sample_count();
            for s in part.series() {
                let previous = owner.insert(entity_of(&part, s), record.partition);
                assert!(
                    previous.is_none_or(|p| p == record.partition),
                    "one entity, one partition"
                );
            }
        }
        assert_eq!(samples, batch.sample_count(), "every sample in some record");
        assert_eq!(owner.len(), 40 * 3);
        // Stable: the same key gives the same partition with another tenant only by chance,
        // and always the same partition for the same tenant.
        let again = partitioner.split(&batch, b"", 8);
        assert_eq!(records, again);
        let first = &batch.series()[0];
        assert_eq!(partitioner.partition(&batch, first, b"", 8), {
            // FNV-1a of "" 0xff "host-0:9100" 0xff "/" 0xff, written out.
            let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
            for &b in b"\xffhost-0:9100\xff/\xff" {
                hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
            (hash % 8) as i32
        });
    }
}

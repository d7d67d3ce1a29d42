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

/// Past this many bytes (before compression), a partition's share of a request goes on
/// in another record: brokers refuse records over about 1 MB by default.
const MAX_RECORD_BYTES: usize = 512 * 1024;

/// Picks each series' partition from its entity key.
#[derive(Debug, Clone)]
pub struct Partitioner {
    entity_labels: Vec<String>,
    max_record_bytes: usize,
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
            max_record_bytes: MAX_RECORD_BYTES,
        }
    }

    /// The same, with records of at most `bytes` before compression (one series larger
    /// than that is a record of its own).
    pub fn with_max_record_bytes(self, bytes: usize) -> Partitioner {
        Partitioner {
            max_record_bytes: bytes,
            ..self
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

    /// Splits `batch` into records, one per partition it touches unless a partition's
    /// share exceeds the record size; a partition's records keep the request's order.
    /// Series without float samples are left out.
    pub fn split(&self, batch: &WriteBatch, tenant: &[u8], partitions: u32) -> Vec<Record> {
        let mut bodies: Vec<(Vec<u8>, usize)> = vec![(Vec::new(), 0); partitions.max(1) as usize];
        let mut records = Vec::new();
        for series in batch.series() {
            let samples = batch.samples(series).len();
            if samples == 0 {
                continue;
            }
            let partition = self.partition(batch, series, tenant, partitions);
            let (body, count) = &mut bodies[partition as usize];
            encode_v1_series(batch, series, body);
            *count += samples;
            if body.len() >= self.max_record_bytes {
                records.push(record(partition, body, count));
            }
        }
        for (partition, (body, count)) in bodies.iter_mut().enumerate() {
            if !body.is_empty() {
                records.push(record(partition as i32, body, count));
            }
        }
        records
    }
}

/// A record of what `body` holds, leaving it empty for the next.
fn record(partition: i32, body: &mut Vec<u8>, samples: &mut usize) -> Record {
    let record = Record {
        partition,
        payload: proto::snappy(body),
        samples: *samples,
    };
    body.clear();
    *samples = 0;
    record
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
        // Stable: the same input gives the same records.
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

    #[test]
    fn a_large_share_goes_on_in_records_that_keep_the_order() {
        let series: Vec<_> = (0..50)
            .map(|i| {
                let name = format!("metric_{i:02}");
                proto::v1_series(
                    [("__name__", name.as_str()), ("instance", "one-host:9100")],
                    [(1000, i as f64)],
                )
            })
            .collect();
        let request = proto::v1::WriteRequest {
            timeseries: series,
            ..Default::default()
        };
        let batch = decode(&proto::encode_snappy(&request));
        let partitioner = Partitioner::new(&["instance".to_owned()]).with_max_record_bytes(300);
        let records = partitioner.split(&batch, b"", 4);
        assert!(records.len() > 3, "{} records", records.len());
        assert!(records.iter().all(|r| r.partition == records[0].partition));
        let values: Vec<f64> = records
            .iter()
            .flat_map(|r| {
                let part = decode(&r.payload);
                part.series()
                    .iter()
                    .flat_map(|s| part.samples(s).iter().map(|x| x.value))
                    .collect::<Vec<_>>()
            })
            .collect();
        let expected: Vec<f64> = (0..50).map(f64::from).collect();
        assert_eq!(values, expected, "every sample, in the request's order");
    }
}

//! Decoding throughput of 2000-sample remote-write requests from node_exporter-like
//! targets (see `support/synthetic/mod.rs`).
//!
//! Two groups measure the same functions, once per sample (`decode_samples`) and once
//! per compressed byte (`decode_bytes`):
//! - `v1` / `v2`: `Decoder::decode` (snappy + zero-copy walk + label checks and hashing),
//!   cycling over the requests of 40 hosts (20,000 series, 10 requests).
//! - `v1_apply_100k` / `v2_apply_100k`: `Decoder::decode` then `Registry::apply` on a
//!   registry that already holds the 100,000 series of 200 hosts; every request is the
//!   next one of a later scrape round, so each sample is accepted (steady state). Making
//!   the request (patching timestamps into a template) is not timed.
//! - `prost_v1` / `prost_v2`: snappy into a reused buffer, then prost decoding into
//!   owned types, for comparison.
//! - `snappy_only_v1`: decompression alone, the floor under all of the above.
//!
//! Run: `cargo bench --bench decode` (about 90 s on 2 cores).

#[path = "support/synthetic/mod.rs"]
mod synthetic;

use std::cell::RefCell;
use std::hint::black_box;
use std::rc::Rc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use harbinger::ingest::{DecodeLimits, Decoder, Protocol, WriteBatch, proto};
use harbinger::registry::Registry;
use prost::Message;
use synthetic::{BASE_MS, Fleet, SAMPLES_PER_REQUEST, Template};

/// A registry holding every series of a fleet, and the requests of the rounds after.
struct SteadyState {
    fleet: Fleet,
    templates: Vec<Template>,
    registry: Registry,
    decoder: Decoder,
    batch: WriteBatch,
    body: Vec<u8>,
    /// Requests sent so far after the warm-up round; the next is
    /// `templates[sent % len]` of round `1 + sent / len`.
    sent: u64,
    decode_time: Duration,
    apply_time: Duration,
    samples: u64,
    dropped: u64,
}

impl SteadyState {
    fn new(protocol: Protocol, hosts: usize) -> SteadyState {
        let fleet = Fleet::node_exporters(hosts);
        let templates = fleet.templates(protocol);
        templates[0].check(&fleet, 0);
        templates[templates.len() - 1].check(&fleet, 7);
        let mut state = SteadyState {
            registry: Registry::new(2_000_000),
            decoder: Decoder::new(DecodeLimits::default()),
            batch: WriteBatch::default(),
            body: Vec::new(),
            sent: 0,
            decode_time: Duration::ZERO,
            apply_time: Duration::ZERO,
            samples: 0,
            dropped: 0,
            fleet,
            templates,
        };
        let mut accepted = Vec::new();
        for template in &state.templates {
            template.render(&state.fleet, 0, &mut state.body);
            state
                .decoder
                .decode(protocol, &state.body, &mut state.batch)
                .expect("synthetic request decodes");
            state.registry.apply(&state.batch, BASE_MS, &mut accepted);
        }
        assert_eq!(state.registry.active_series(), state.fleet.len());
        state
    }

    fn protocol(&self) -> Protocol {
        self.templates[0].protocol
    }

    fn average_compressed_bytes(&self) -> u64 {
        let total: usize = self.templates.iter().map(Template::compressed_len).sum();
        (total / self.templates.len()) as u64
    }

    /// Sends `iters` requests; returns the time spent decoding and applying them.
    fn run(&mut self, iters: u64) -> Duration {
        let protocol = self.protocol();
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let count = self.templates.len() as u64;
            let template = &self.templates[(self.sent % count) as usize];
            let round = 1 + self.sent / count;
            self.sent += 1;
            template.render(&self.fleet, round, &mut self.body);
            // The server's clock on the synthetic timeline: samples are never too far ahead.
            let now_ms = BASE_MS + round as i64 * 15_000;

            let started = Instant::now();
            self.decoder
                .decode(protocol, &self.body, &mut self.batch)
                .expect("synthetic request decodes");
            let decoded = Instant::now();
            // As the server does: a fresh vector per request, sent to the pipeline.
            let mut accepted = Vec::with_capacity(self.batch.sample_count());
            let outcome = self.registry.apply(&self.batch, now_ms, &mut accepted);
            black_box(accepted);
            let applied = Instant::now();

            total += applied - started;
            self.decode_time += decoded - started;
            self.apply_time += applied - decoded;
            self.samples += outcome.accepted;
            self.dropped += self.batch.sample_count() as u64 - outcome.accepted;
        }
        total
    }

    fn report(&self, name: &str) {
        if self.sent == 0 {
            return; // filtered out
        }
        let total = (self.decode_time + self.apply_time).as_secs_f64();
        println!(
            "{name}: {} requests, {} samples accepted, {} dropped; time split: decode {:.1}%, \
             apply {:.1}% ({:.0} ns/sample decode, {:.0} ns/sample apply)",
            self.sent,
            self.samples,
            self.dropped,
            100.0 * self.decode_time.as_secs_f64() / total,
            100.0 * self.apply_time.as_secs_f64() / total,
            1e9 * self.decode_time.as_secs_f64() / self.samples.max(1) as f64,
            1e9 * self.apply_time.as_secs_f64() / self.samples.max(1) as f64,
        );
        assert_eq!(self.dropped, 0, "steady state must accept every sample");
    }
}

/// Decompresses into a reused buffer, as `Decoder::decode` does; returns the length.
fn decompress(body: &[u8], raw: &mut Vec<u8>) -> usize {
    let len = snap::raw::decompress_len(body).expect("snappy");
    raw.resize(len, 0);
    snap::raw::Decoder::new()
        .decompress(body, raw)
        .expect("snappy")
}

fn average_len(requests: &[Vec<u8>]) -> u64 {
    (requests.iter().map(Vec::len).sum::<usize>() / requests.len()) as u64
}

fn benches(c: &mut Criterion) {
    let fleet = Fleet::node_exporters(40);
    let v1 = fleet.requests(Protocol::V1, 1);
    let v2 = fleet.requests(Protocol::V2, 1);
    assert!(
        v1.len() == 10
            && fleet
                .request_ranges()
                .iter()
                .all(|r| r.len() == SAMPLES_PER_REQUEST)
    );
    let setup = Instant::now();
    let steady_v1 = Rc::new(RefCell::new(SteadyState::new(Protocol::V1, 200)));
    let steady_v2 = Rc::new(RefCell::new(SteadyState::new(Protocol::V2, 200)));
    eprintln!("setup: {:.1} s", setup.elapsed().as_secs_f64());
    println!(
        "requests: 2000 samples; v1 {} B compressed on average (snap), v2 {} B; \
         patchable templates: v1 {} B, v2 {} B",
        average_len(&v1),
        average_len(&v2),
        steady_v1.borrow().average_compressed_bytes(),
        steady_v2.borrow().average_compressed_bytes(),
    );

    for per_byte in [false, true] {
        let mut group = c.benchmark_group(if per_byte {
            "decode_bytes"
        } else {
            "decode_samples"
        });
        group
            .sample_size(20)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
        let throughput = |bytes: u64| {
            if per_byte {
                Throughput::Bytes(bytes)
            } else {
                Throughput::Elements(SAMPLES_PER_REQUEST as u64)
            }
        };

        for (name, protocol, requests) in [("v1", Protocol::V1, &v1), ("v2", Protocol::V2, &v2)] {
            group.throughput(throughput(average_len(requests)));
            let decoder = Decoder::new(DecodeLimits::default());
            let mut batch = WriteBatch::default();
            let mut next = 0;
            group.bench_function(name, |b| {
                b.iter(|| {
                    let body = &requests[next % requests.len()];
                    next += 1;
                    decoder.decode(protocol, body, &mut batch).expect("decodes");
                    black_box(batch.sample_count())
                })
            });
        }

        for (name, state) in [("v1_apply_100k", &steady_v1), ("v2_apply_100k", &steady_v2)] {
            group.throughput(throughput(state.borrow().average_compressed_bytes()));
            group.bench_function(name, |b| {
                b.iter_custom(|iters| state.borrow_mut().run(iters))
            });
        }

        let mut raw = Vec::new();
        group.throughput(throughput(average_len(&v1)));
        let mut next = 0;
        group.bench_function("snappy_only_v1", |b| {
            b.iter(|| {
                next += 1;
                black_box(decompress(&v1[next % v1.len()], &mut raw))
            })
        });
        let mut next = 0;
        group.bench_function("prost_v1", |b| {
            b.iter(|| {
                next += 1;
                let len = decompress(&v1[next % v1.len()], &mut raw);
                let request = proto::v1::WriteRequest::decode(&raw[..len]).expect("decodes");
                black_box(request.timeseries.len())
            })
        });
        group.throughput(throughput(average_len(&v2)));
        let mut next = 0;
        group.bench_function("prost_v2", |b| {
            b.iter(|| {
                next += 1;
                let len = decompress(&v2[next % v2.len()], &mut raw);
                let request = proto::v2::Request::decode(&raw[..len]).expect("decodes");
                black_box(request.timeseries.len())
            })
        });
        group.finish();
    }
    steady_v1.borrow().report("v1_apply_100k");
    steady_v2.borrow().report("v2_apply_100k");
}

criterion_group! {
    name = decode;
    // Plots take longer to draw than the measurements on a small machine.
    config = Criterion::default().without_plots();
    targets = benches
}
criterion_main!(decode);

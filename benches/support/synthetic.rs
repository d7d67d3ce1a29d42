//! Synthetic remote-write traffic for the benchmarks: a fleet of node_exporter targets
//! scraped by one Prometheus, and the requests it would send.
//!
//! In: a number of hosts. Out: their series (500 per host, shaped like node_exporter's:
//! `node_cpu_seconds_total{cpu,mode}`, `node_filesystem_*{device,fstype,mountpoint}`,
//! `node_network_*{device}`, `node_memory_*`, `node_disk_*{device}`, `go_*`, `process_*`,
//! and Prometheus's own `up` and `scrape_*`), each with a value model (counters increase,
//! gauges wander, constants stay), and the remote-write requests carrying one sample of
//! each series per scrape round of 15 s, 2000 samples per request, host after host, as
//! Prometheus sends them.
//!
//! Two ways to get requests:
//! - `v1_requests` / `v2_requests`: prost encoding and `proto::encode_snappy`, exactly
//!   what a sender produces; used by the decode benchmarks.
//! - `Template`: the same bodies, compressed once by `compress_pinned`, a snappy block
//!   encoder that keeps every timestamp and value in a literal at a known position, so
//!   that the request of any later round is made by copying the template and patching
//!   those bytes (microseconds per request instead of re-encoding). Used wherever
//!   timestamps must keep advancing for a long time (registry steady state, load test).
//!   `Template::check` proves a rendered body decodes (snap + prost) to the same message
//!   as the prost-encoded request of that round.

#![allow(dead_code)]

use std::ops::Range;

use harbinger::ingest::Protocol;
use harbinger::ingest::proto;
use prost::Message;

pub const SERIES_PER_HOST: usize = 500;
pub const SAMPLES_PER_REQUEST: usize = 2000;
pub const SCRAPE_INTERVAL_MS: i64 = 15_000;
/// Timestamp of round 0 (2025-06-15T15:06:40Z); later rounds add 15 s each.
pub const BASE_MS: i64 = 1_750_000_000_000;

/// How a series' value evolves from one scrape round to the next.
#[derive(Debug, Clone, Copy)]
enum Model {
    /// Increases by about `per_sec` per second (never decreases); integer counters
    /// (bytes, packets) stay integers.
    Counter {
        start: f64,
        per_sec: f64,
        integer: bool,
    },
    /// Wanders around `base` by up to `amplitude`, never below zero.
    Gauge {
        base: f64,
        amplitude: f64,
        integer: bool,
    },
    Constant(f64),
}

/// The metric type a remote-write 2.0 sender declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

impl Kind {
    fn wire(self) -> i32 {
        match self {
            Kind::Counter => proto::v2::metadata::MetricType::Counter as i32,
            Kind::Gauge => proto::v2::metadata::MetricType::Gauge as i32,
        }
    }
}

pub struct Series {
    /// Sorted by name; `__name__` first.
    pub labels: Vec<(String, String)>,
    pub kind: Kind,
    pub help: String,
    pub host: usize,
    model: Model,
    seed: u64,
}

/// All series of `hosts` node_exporter targets, host after host, each host's series in
/// scrape order.
pub struct Fleet {
    pub series: Vec<Series>,
    pub hosts: usize,
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A deterministic number in [0, 1) for (seed, round).
fn unit(seed: u64, round: u64) -> f64 {
    (splitmix(seed ^ round.wrapping_mul(0x2545_f491_4f6c_dd1d)) >> 11) as f64 / (1u64 << 53) as f64
}

/// One metric of the per-host catalogue, before host labels are added.
struct Entry {
    name: String,
    labels: Vec<(String, String)>,
    kind: Kind,
    model: Model,
}

#[derive(Default)]
struct Catalogue {
    entries: Vec<Entry>,
}

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
const MIB: f64 = 1024.0 * 1024.0;

impl Catalogue {
    fn add(&mut self, name: &str, labels: &[(&str, &str)], kind: Kind, model: Model) {
        self.entries.push(Entry {
            name: name.to_owned(),
            labels: labels
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            kind,
            model,
        });
    }

    fn counter(&mut self, name: &str, labels: &[(&str, &str)], per_sec: f64, integer: bool) {
        let start = if per_sec == 0.0 {
            0.0
        } else {
            per_sec * 86_400.0 * 3.0
        };
        let start = if integer { start.floor() } else { start };
        self.add(
            name,
            labels,
            Kind::Counter,
            Model::Counter {
                start,
                per_sec,
                integer,
            },
        );
    }

    fn gauge(&mut self, name: &str, labels: &[(&str, &str)], base: f64, amplitude: f64) {
        let integer = base.fract() == 0.0 && base.abs() >= 1.0 && amplitude >= 1.0;
        self.add(
            name,
            labels,
            Kind::Gauge,
            Model::Gauge {
                base,
                amplitude,
                integer,
            },
        );
    }

    fn constant(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.add(name, labels, Kind::Gauge, Model::Constant(value));
    }

    /// node_exporter's output (families in alphabetical order, as it exposes them),
    /// padded with `node_scrape_collector_*` to `SERIES_PER_HOST - 5`, then the five
    /// series Prometheus adds to every scrape.
    fn node_exporter() -> Catalogue {
        let mut c = Catalogue::default();
        c.go_runtime();
        c.node_core();
        c.node_devices();
        c.node_kernel();
        c.process();
        let report = 5;
        let collectors = [
            "arp",
            "bcache",
            "bonding",
            "btrfs",
            "conntrack",
            "cpu",
            "cpufreq",
            "diskstats",
            "dmi",
            "edac",
            "entropy",
            "fibrechannel",
            "filefd",
            "filesystem",
            "hwmon",
            "infiniband",
            "ipvs",
            "loadavg",
            "mdadm",
            "meminfo",
            "netclass",
            "netdev",
            "netstat",
            "nfs",
            "nfsd",
            "nvme",
            "os",
            "powersupplyclass",
            "pressure",
            "rapl",
            "schedstat",
            "selinux",
            "sockstat",
            "softnet",
            "stat",
            "tapestats",
            "textfile",
            "thermal_zone",
            "time",
            "timex",
            "udp_queues",
            "uname",
            "vmstat",
            "xfs",
            "zfs",
        ];
        let mut fill = SERIES_PER_HOST - report - c.entries.len();
        for collector in collectors {
            if fill == 0 {
                break;
            }
            let labels = [("collector", collector)];
            c.gauge(
                "node_scrape_collector_duration_seconds",
                &labels,
                0.002,
                0.0015,
            );
            fill -= 1;
            if fill > 0 {
                c.constant("node_scrape_collector_success", &labels, 1.0);
                fill -= 1;
            }
        }
        assert_eq!(fill, 0, "collector list too short to fill a host");
        // Exporter output is sorted by family name; Prometheus appends its report series.
        c.entries.sort_by(|a, b| a.name.cmp(&b.name));
        c.constant("up", &[], 1.0);
        c.gauge("scrape_duration_seconds", &[], 0.045, 0.02);
        c.constant("scrape_samples_scraped", &[], SERIES_PER_HOST as f64 - 5.0);
        c.constant(
            "scrape_samples_post_metric_relabeling",
            &[],
            SERIES_PER_HOST as f64 - 5.0,
        );
        c.constant("scrape_series_added", &[], 0.0);
        assert_eq!(c.entries.len(), SERIES_PER_HOST);
        c
    }

    fn go_runtime(&mut self) {
        for q in ["0", "0.25", "0.5", "0.75", "1"] {
            self.gauge("go_gc_duration_seconds", &[("quantile", q)], 4e-5, 2e-5);
        }
        self.counter("go_gc_duration_seconds_sum", &[], 0.0004, false);
        self.counter("go_gc_duration_seconds_count", &[], 0.2, true);
        self.gauge("go_goroutines", &[], 9.0, 2.0);
        self.constant("go_info", &[("version", "go1.22.5")], 1.0);
        for (name, base, kind) in [
            ("alloc_bytes", 4.0 * MIB, 'g'),
            ("alloc_bytes_total", 9e5, 'c'),
            ("buck_hash_sys_bytes", 1.5 * MIB, 'k'),
            ("frees_total", 2000.0, 'c'),
            ("gc_sys_bytes", 3.5 * MIB, 'k'),
            ("heap_alloc_bytes", 4.0 * MIB, 'g'),
            ("heap_idle_bytes", 6.0 * MIB, 'g'),
            ("heap_inuse_bytes", 5.5 * MIB, 'g'),
            ("heap_objects", 30_000.0, 'g'),
            ("heap_released_bytes", 4.0 * MIB, 'g'),
            ("heap_sys_bytes", 11.5 * MIB, 'k'),
            ("last_gc_time_seconds", 0.0, 't'),
            ("lookups_total", 0.0, 'c'),
            ("mallocs_total", 2100.0, 'c'),
            ("mcache_inuse_bytes", 4800.0, 'k'),
            ("mcache_sys_bytes", 15600.0, 'k'),
            ("mspan_inuse_bytes", 120_000.0, 'g'),
            ("mspan_sys_bytes", 160_000.0, 'k'),
            ("next_gc_bytes", 8.0 * MIB, 'g'),
            ("other_sys_bytes", 1.1 * MIB, 'k'),
            ("stack_inuse_bytes", 640_000.0, 'g'),
            ("stack_sys_bytes", 640_000.0, 'k'),
            ("sys_bytes", 20.0 * MIB, 'k'),
        ] {
            let name = format!("go_memstats_{name}");
            match kind {
                'c' => self.counter(&name, &[], base, true),
                'k' => self.constant(&name, &[], base.floor()),
                't' => self.counter(&name, &[], 0.2, false),
                _ => self.gauge(&name, &[], base.floor(), (base * 0.2).floor()),
            }
        }
        self.gauge("go_threads", &[], 8.0, 1.0);
    }

    fn node_core(&mut self) {
        const MODES: [(&str, f64); 8] = [
            ("idle", 0.72),
            ("iowait", 0.01),
            ("irq", 0.0),
            ("nice", 0.001),
            ("softirq", 0.006),
            ("steal", 0.002),
            ("system", 0.06),
            ("user", 0.2),
        ];
        for cpu in 0..8 {
            let cpu = cpu.to_string();
            for (mode, per_sec) in MODES {
                self.counter(
                    "node_cpu_seconds_total",
                    &[("cpu", &cpu), ("mode", mode)],
                    per_sec,
                    false,
                );
            }
            for mode in ["nice", "user"] {
                self.counter(
                    "node_cpu_guest_seconds_total",
                    &[("cpu", &cpu), ("mode", mode)],
                    0.0,
                    false,
                );
            }
        }
        self.constant("node_boot_time_seconds", &[], 1_749_740_800.0);
        self.counter("node_context_switches_total", &[], 4200.0, true);
        self.gauge("node_entropy_available_bits", &[], 256.0, 0.0);
        self.constant("node_entropy_pool_size_bits", &[], 256.0);
        self.constant(
            "node_exporter_build_info",
            &[
                ("branch", "HEAD"),
                ("goarch", "amd64"),
                ("goos", "linux"),
                ("goversion", "go1.22.5"),
                ("revision", "1a1ac7b5e0d4e8ed4b4c1bc2b6b1bcd1c1e7f0a0"),
                ("tags", "unknown"),
                ("version", "1.8.2"),
            ],
            1.0,
        );
        self.gauge("node_filefd_allocated", &[], 2400.0, 300.0);
        self.constant("node_filefd_maximum", &[], 9_223_372_036_854_775_807.0);
        self.counter("node_forks_total", &[], 6.0, true);
        self.counter("node_intr_total", &[], 2600.0, true);
        self.gauge("node_load1", &[], 0.9, 0.6);
        self.gauge("node_load15", &[], 0.8, 0.2);
        self.gauge("node_load5", &[], 0.85, 0.4);
        for (name, base, amplitude) in [
            ("Active_anon_bytes", 2.1 * GIB, 0.3 * GIB),
            ("Active_bytes", 5.0 * GIB, 0.5 * GIB),
            ("Active_file_bytes", 2.9 * GIB, 0.3 * GIB),
            ("AnonHugePages_bytes", 0.0, 0.0),
            ("AnonPages_bytes", 2.3 * GIB, 0.3 * GIB),
            ("Bounce_bytes", 0.0, 0.0),
            ("Buffers_bytes", 310.0 * MIB, 10.0 * MIB),
            ("Cached_bytes", 7.5 * GIB, 0.8 * GIB),
            ("CommitLimit_bytes", 8.0 * GIB, 0.0),
            ("Committed_AS_bytes", 6.2 * GIB, 0.6 * GIB),
            ("DirectMap1G_bytes", 10.0 * GIB, 0.0),
            ("DirectMap2M_bytes", 5.5 * GIB, 0.0),
            ("DirectMap4k_bytes", 540.0 * MIB, 0.0),
            ("Dirty_bytes", 1.2 * MIB, 1.0 * MIB),
            ("HardwareCorrupted_bytes", 0.0, 0.0),
            ("HugePages_Free", 0.0, 0.0),
            ("HugePages_Rsvd", 0.0, 0.0),
            ("HugePages_Surp", 0.0, 0.0),
            ("HugePages_Total", 0.0, 0.0),
            ("Hugepagesize_bytes", 2.0 * MIB, 0.0),
            ("Inactive_anon_bytes", 420.0 * MIB, 40.0 * MIB),
            ("Inactive_bytes", 4.1 * GIB, 0.4 * GIB),
            ("Inactive_file_bytes", 3.7 * GIB, 0.4 * GIB),
            ("KernelStack_bytes", 14.0 * MIB, 1.0 * MIB),
            ("Mapped_bytes", 620.0 * MIB, 50.0 * MIB),
            ("MemAvailable_bytes", 9.4 * GIB, 1.0 * GIB),
            ("MemFree_bytes", 2.1 * GIB, 0.7 * GIB),
            ("MemTotal_bytes", 16.0 * GIB, 0.0),
            ("Mlocked_bytes", 0.0, 0.0),
            ("NFS_Unstable_bytes", 0.0, 0.0),
            ("PageTables_bytes", 42.0 * MIB, 4.0 * MIB),
            ("Percpu_bytes", 6.0 * MIB, 0.0),
            ("SReclaimable_bytes", 720.0 * MIB, 60.0 * MIB),
            ("SUnreclaim_bytes", 210.0 * MIB, 10.0 * MIB),
            ("ShmemHugePages_bytes", 0.0, 0.0),
            ("ShmemPmdMapped_bytes", 0.0, 0.0),
            ("Shmem_bytes", 95.0 * MIB, 5.0 * MIB),
            ("Slab_bytes", 930.0 * MIB, 70.0 * MIB),
            ("SwapCached_bytes", 0.0, 0.0),
            ("SwapFree_bytes", 0.0, 0.0),
            ("SwapTotal_bytes", 0.0, 0.0),
            ("Unevictable_bytes", 32.0 * MIB, 0.0),
            ("VmallocChunk_bytes", 0.0, 0.0),
            ("VmallocTotal_bytes", 32.0 * 1024.0 * GIB, 0.0),
            ("VmallocUsed_bytes", 40.0 * MIB, 2.0 * MIB),
            ("WritebackTmp_bytes", 0.0, 0.0),
            ("Writeback_bytes", 0.0, 0.0),
        ] {
            let name = format!("node_memory_{name}");
            if amplitude == 0.0 {
                self.constant(&name, &[], base.floor());
            } else {
                // Memory is counted in 4 KiB pages.
                self.gauge(
                    &name,
                    &[],
                    (base / 4096.0).floor() * 4096.0,
                    amplitude.floor(),
                );
            }
        }
        self.gauge("node_nf_conntrack_entries", &[], 900.0, 300.0);
        self.constant("node_nf_conntrack_entries_limit", &[], 262_144.0);
        self.constant(
            "node_os_info",
            &[
                ("build_id", ""),
                ("id", "debian"),
                ("id_like", ""),
                ("image_id", ""),
                ("image_version", ""),
                ("name", "Debian GNU/Linux"),
                ("pretty_name", "Debian GNU/Linux 12 (bookworm)"),
                ("variant", ""),
                ("variant_id", ""),
                ("version", "12 (bookworm)"),
                ("version_codename", "bookworm"),
                ("version_id", "12"),
            ],
            1.0,
        );
        self.gauge("node_procs_blocked", &[], 1.0, 1.0);
        self.gauge("node_procs_running", &[], 3.0, 2.0);
        self.constant("node_textfile_scrape_error", &[], 0.0);
        self.gauge("node_time_seconds", &[], 1_750_000_000.0, 0.0);
    }

    fn node_devices(&mut self) {
        const DISKS: [&str; 3] = ["dm-0", "nvme0n1", "sda"];
        for device in DISKS {
            let d = [("device", device)];
            for (name, per_sec, integer) in [
                ("discard_time_seconds_total", 0.0, false),
                ("discarded_sectors_total", 0.0, true),
                ("discards_completed_total", 0.0, true),
                ("discards_merged_total", 0.0, true),
                ("flush_requests_time_seconds_total", 0.002, false),
                ("flush_requests_total", 0.8, true),
                ("io_time_seconds_total", 0.04, false),
                ("io_time_weighted_seconds_total", 0.09, false),
                ("read_bytes_total", 180_000.0, true),
                ("read_time_seconds_total", 0.02, false),
                ("reads_completed_total", 12.0, true),
                ("reads_merged_total", 1.5, true),
                ("write_time_seconds_total", 0.07, false),
                ("writes_completed_total", 40.0, true),
                ("writes_merged_total", 18.0, true),
                ("written_bytes_total", 950_000.0, true),
            ] {
                self.counter(&format!("node_disk_{name}"), &d, per_sec, integer);
            }
            self.gauge("node_disk_io_now", &d, 0.0, 2.0);
        }
        const FILESYSTEMS: [(&str, &str, &str, f64); 6] = [
            ("/dev/mapper/vg0-root", "ext4", "/", 98.0),
            ("/dev/nvme0n1p1", "xfs", "/var/lib/data", 1800.0),
            ("/dev/sda1", "vfat", "/boot/efi", 0.5),
            ("tmpfs", "tmpfs", "/dev/shm", 7.8),
            ("tmpfs", "tmpfs", "/run", 1.6),
            ("tmpfs", "tmpfs", "/run/lock", 0.005),
        ];
        for (device, fstype, mountpoint, size_gib) in FILESYSTEMS {
            let l = [
                ("device", device),
                ("fstype", fstype),
                ("mountpoint", mountpoint),
            ];
            let size = (size_gib * GIB / 4096.0).floor() * 4096.0;
            let free = (size * 0.4 / 4096.0).floor() * 4096.0;
            self.gauge(
                "node_filesystem_avail_bytes",
                &l,
                free,
                (size * 0.01).floor(),
            );
            self.constant("node_filesystem_device_error", &l, 0.0);
            self.constant("node_filesystem_files", &l, (size / 16384.0).floor());
            self.gauge(
                "node_filesystem_files_free",
                &l,
                (size / 20480.0).floor(),
                (size / 2e6).floor().max(1.0),
            );
            self.gauge(
                "node_filesystem_free_bytes",
                &l,
                free,
                (size * 0.01).floor(),
            );
            self.constant("node_filesystem_readonly", &l, 0.0);
            self.constant("node_filesystem_size_bytes", &l, size);
        }
        const NICS: [(&str, f64); 3] = [("docker0", 0.1), ("eth0", 1.0), ("lo", 0.3)];
        for (device, load) in NICS {
            let d = [("device", device)];
            self.constant("node_network_address_assign_type", &d, 0.0);
            self.constant("node_network_carrier", &d, 1.0);
            self.constant("node_network_dormant", &d, 0.0);
            self.constant("node_network_flags", &d, 4099.0);
            self.constant("node_network_iface_id", &d, 2.0);
            self.constant("node_network_mtu_bytes", &d, 1500.0);
            self.constant("node_network_protocol_type", &d, 1.0);
            for (name, per_sec) in [
                ("receive_bytes_total", 2.4e6),
                ("receive_compressed_total", 0.0),
                ("receive_drop_total", 0.01),
                ("receive_errs_total", 0.0),
                ("receive_fifo_total", 0.0),
                ("receive_frame_total", 0.0),
                ("receive_multicast_total", 0.2),
                ("receive_packets_total", 2100.0),
                ("transmit_bytes_total", 1.9e6),
                ("transmit_carrier_total", 0.0),
                ("transmit_colls_total", 0.0),
                ("transmit_compressed_total", 0.0),
                ("transmit_drop_total", 0.0),
                ("transmit_errs_total", 0.0),
                ("transmit_fifo_total", 0.0),
                ("transmit_packets_total", 1900.0),
            ] {
                self.counter(&format!("node_network_{name}"), &d, per_sec * load, true);
            }
            self.constant("node_network_speed_bytes", &d, 1.25e9);
            self.constant("node_network_transmit_queue_length", &d, 1000.0);
            self.constant("node_network_up", &d, 1.0);
        }
    }

    fn node_kernel(&mut self) {
        for (name, per_sec) in [
            ("Icmp6_InErrors", 0.0),
            ("Icmp6_InMsgs", 0.3),
            ("Icmp6_OutMsgs", 0.3),
            ("Icmp_InErrors", 0.0),
            ("Icmp_InMsgs", 0.5),
            ("Icmp_OutMsgs", 0.5),
            ("Ip6_InOctets", 1200.0),
            ("Ip6_OutOctets", 1100.0),
            ("IpExt_InOctets", 2.5e6),
            ("IpExt_OutOctets", 2.0e6),
            ("TcpExt_ListenDrops", 0.0),
            ("TcpExt_ListenOverflows", 0.0),
            ("TcpExt_SyncookiesFailed", 0.0),
            ("TcpExt_SyncookiesRecv", 0.0),
            ("TcpExt_SyncookiesSent", 0.0),
            ("TcpExt_TCPSynRetrans", 0.02),
            ("TcpExt_TCPTimeouts", 0.05),
            ("Tcp_ActiveOpens", 4.0),
            ("Tcp_InErrs", 0.0),
            ("Tcp_InSegs", 2000.0),
            ("Tcp_OutRsts", 0.8),
            ("Tcp_OutSegs", 1900.0),
            ("Tcp_PassiveOpens", 3.0),
            ("Tcp_RetransSegs", 0.4),
            ("Udp6_InDatagrams", 0.0),
            ("Udp_InDatagrams", 25.0),
            ("Udp_InErrors", 0.0),
            ("Udp_NoPorts", 0.1),
            ("Udp_OutDatagrams", 25.0),
            ("Udp_RcvbufErrors", 0.0),
        ] {
            self.counter(&format!("node_netstat_{name}"), &[], per_sec, true);
        }
        self.gauge("node_netstat_Tcp_CurrEstab", &[], 40.0, 10.0);
        for (name, base, amplitude) in [
            ("FRAG6_inuse", 0.0, 0.0),
            ("FRAG_inuse", 0.0, 0.0),
            ("RAW6_inuse", 1.0, 0.0),
            ("RAW_inuse", 0.0, 0.0),
            ("TCP6_inuse", 12.0, 4.0),
            ("TCP_alloc", 80.0, 20.0),
            ("TCP_inuse", 45.0, 10.0),
            ("TCP_mem", 20.0, 10.0),
            ("TCP_mem_bytes", 81920.0, 40960.0),
            ("TCP_orphan", 0.0, 1.0),
            ("TCP_tw", 30.0, 15.0),
            ("UDP6_inuse", 2.0, 0.0),
            ("UDP_inuse", 6.0, 1.0),
            ("UDP_mem", 4.0, 2.0),
            ("UDP_mem_bytes", 16384.0, 8192.0),
            ("sockets_used", 400.0, 40.0),
        ] {
            let name = format!("node_sockstat_{name}");
            if amplitude == 0.0 {
                self.constant(&name, &[], base);
            } else {
                self.gauge(&name, &[], base, amplitude);
            }
        }
        for (name, base, amplitude) in [
            ("estimated_error_seconds", 0.0004, 0.0002),
            ("frequency_adjustment_ratio", 1.000_012, 0.000_002),
            ("loop_time_constant", 7.0, 0.0),
            ("maxerror_seconds", 0.02, 0.01),
            ("offset_seconds", 0.0, 0.0001),
            ("pps_frequency_hertz", 0.0, 0.0),
            ("pps_jitter_seconds", 0.0, 0.0),
            ("pps_shift_seconds", 0.0, 0.0),
            ("pps_stability_hertz", 0.0, 0.0),
            ("status", 8193.0, 0.0),
            ("sync_status", 1.0, 0.0),
            ("tai_offset_seconds", 0.0, 0.0),
            ("tick_seconds", 0.01, 0.0),
        ] {
            let name = format!("node_timex_{name}");
            if amplitude == 0.0 {
                self.constant(&name, &[], base);
            } else {
                self.gauge(&name, &[], base, amplitude);
            }
        }
        self.constant(
            "node_uname_info",
            &[
                ("domainname", "(none)"),
                ("machine", "x86_64"),
                ("nodename", "web-frontend"),
                ("release", "6.1.0-21-amd64"),
                ("sysname", "Linux"),
                (
                    "version",
                    "#1 SMP PREEMPT_DYNAMIC Debian 6.1.90-1 (2024-05-03)",
                ),
            ],
            1.0,
        );
        for (name, per_sec) in [
            ("oom_kill", 0.0),
            ("pgfault", 9000.0),
            ("pgmajfault", 0.2),
            ("pgpgin", 180.0),
            ("pgpgout", 950.0),
            ("pswpin", 0.0),
            ("pswpout", 0.0),
        ] {
            self.counter(&format!("node_vmstat_{name}"), &[], per_sec, true);
        }
    }

    fn process(&mut self) {
        self.counter("process_cpu_seconds_total", &[], 0.012, false);
        self.constant("process_max_fds", &[], 1_048_576.0);
        self.counter("process_network_receive_bytes_total", &[], 900.0, true);
        self.counter("process_network_transmit_bytes_total", &[], 26_000.0, true);
        self.gauge("process_open_fds", &[], 10.0, 2.0);
        self.gauge("process_resident_memory_bytes", &[], 24.0 * MIB, 2.0 * MIB);
        self.constant("process_start_time_seconds", &[], 1_749_740_810.0);
        self.gauge("process_virtual_memory_bytes", &[], 1.3 * GIB, 10.0 * MIB);
        self.constant("process_virtual_memory_max_bytes", &[], 1.8e19);
        for code in ["200", "500", "503"] {
            let per_sec = if code == "200" { 1.0 / 15.0 } else { 0.0 };
            self.counter(
                "promhttp_metric_handler_requests_total",
                &[("code", code)],
                per_sec,
                true,
            );
        }
        self.gauge("promhttp_metric_handler_requests_in_flight", &[], 1.0, 0.0);
        for cause in ["encoding", "gathering"] {
            self.counter(
                "promhttp_metric_handler_errors_total",
                &[("cause", cause)],
                0.0,
                true,
            );
        }
    }
}

impl Fleet {
    /// `hosts` node_exporter targets, `instance="host-NNN:9100"`, `job="node"`.
    pub fn node_exporters(hosts: usize) -> Fleet {
        let catalogue = Catalogue::node_exporter();
        let mut series = Vec::with_capacity(hosts * SERIES_PER_HOST);
        for host in 0..hosts {
            let instance = format!("host-{host:03}:9100");
            for (local, entry) in catalogue.entries.iter().enumerate() {
                let seed = splitmix((host * SERIES_PER_HOST + local) as u64);
                // Hosts differ: rates and levels vary by up to ±50%.
                let scale = 0.5 + unit(seed, u64::MAX);
                let model = match entry.model {
                    Model::Counter {
                        start,
                        per_sec,
                        integer,
                    } => Model::Counter {
                        start: if integer {
                            (start * scale).floor()
                        } else {
                            start * scale
                        },
                        per_sec: per_sec * scale,
                        integer,
                    },
                    other => other,
                };
                let mut labels = Vec::with_capacity(entry.labels.len() + 3);
                labels.push(("__name__".to_owned(), entry.name.clone()));
                labels.extend(entry.labels.iter().cloned());
                labels.push(("instance".to_owned(), instance.clone()));
                labels.push(("job".to_owned(), "node".to_owned()));
                labels.sort();
                let help = help_text(&entry.name, entry.kind);
                series.push(Series {
                    labels,
                    kind: entry.kind,
                    help,
                    host,
                    model,
                    seed,
                });
            }
        }
        Fleet { series, hosts }
    }

    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// The series ranges of successive requests of `SAMPLES_PER_REQUEST` samples each.
    pub fn request_ranges(&self) -> Vec<Range<usize>> {
        (0..self.series.len())
            .step_by(SAMPLES_PER_REQUEST)
            .map(|start| start..(start + SAMPLES_PER_REQUEST).min(self.series.len()))
            .collect()
    }

    /// The scrape time of `series` in `round`: each host is scraped at its own offset
    /// within the interval, as Prometheus spreads targets.
    pub fn timestamp(&self, series: usize, round: u64) -> i64 {
        let host = self.series[series].host as i64;
        BASE_MS + round as i64 * SCRAPE_INTERVAL_MS + (host * 7919) % SCRAPE_INTERVAL_MS
    }

    pub fn value(&self, series: usize, round: u64) -> f64 {
        let s = &self.series[series];
        match s.model {
            Model::Constant(value) => value,
            Model::Counter {
                start,
                per_sec,
                integer,
            } => {
                let step = per_sec * (SCRAPE_INTERVAL_MS / 1000) as f64;
                // Jitter of up to half a step keeps the counter monotonic.
                let value = start + step * round as f64 + step * 0.5 * unit(s.seed, round);
                if integer { value.floor() } else { value }
            }
            Model::Gauge {
                base,
                amplitude,
                integer,
            } => {
                let period = 20.0 + (s.seed % 180) as f64;
                let phase = unit(s.seed, u64::MAX - 1) * std::f64::consts::TAU;
                let wave = (round as f64 / period * std::f64::consts::TAU + phase).sin();
                let noise = 2.0 * unit(s.seed, round) - 1.0;
                let value = (base + amplitude * (0.8 * wave + 0.2 * noise)).max(0.0);
                if integer { value.round() } else { value }
            }
        }
    }

    /// The remote-write 1.0 message for `series` in `round`.
    pub fn v1_message(&self, series: Range<usize>, round: u64) -> proto::v1::WriteRequest {
        let timeseries = series
            .map(|i| proto::v1::TimeSeries {
                labels: self.series[i]
                    .labels
                    .iter()
                    .map(|(name, value)| proto::v1::Label {
                        name: name.clone(),
                        value: value.clone(),
                    })
                    .collect(),
                samples: vec![proto::v1::Sample {
                    value: self.value(i, round),
                    timestamp: self.timestamp(i, round),
                }],
                ..Default::default()
            })
            .collect();
        proto::v1::WriteRequest {
            timeseries,
            metadata: Vec::new(),
        }
    }

    /// The remote-write 2.0 message for `series` in `round`: symbols in order of first
    /// use, starting with "", each series with its type and help text.
    pub fn v2_message(&self, series: Range<usize>, round: u64) -> proto::v2::Request {
        let mut symbols = Symbols::default();
        let timeseries = series
            .map(|i| {
                let s = &self.series[i];
                let labels_refs = s
                    .labels
                    .iter()
                    .flat_map(|(name, value)| [symbols.get(name), symbols.get(value)])
                    .collect();
                proto::v2::TimeSeries {
                    labels_refs,
                    samples: vec![proto::v2::Sample {
                        value: self.value(i, round),
                        timestamp: self.timestamp(i, round),
                        start_timestamp: 0,
                    }],
                    metadata: Some(proto::v2::Metadata {
                        r#type: s.kind.wire(),
                        help_ref: symbols.get(&s.help),
                        unit_ref: 0,
                    }),
                    ..Default::default()
                }
            })
            .collect();
        proto::v2::Request {
            symbols: symbols.list,
            timeseries,
        }
    }

    /// Every request of `round`, prost-encoded and snappy-compressed.
    pub fn requests(&self, protocol: Protocol, round: u64) -> Vec<Vec<u8>> {
        self.request_ranges()
            .into_iter()
            .map(|range| match protocol {
                Protocol::V1 => proto::encode_snappy(&self.v1_message(range, round)),
                Protocol::V2 => proto::encode_snappy(&self.v2_message(range, round)),
            })
            .collect()
    }

    /// One patchable template per request of a round.
    pub fn templates(&self, protocol: Protocol) -> Vec<Template> {
        self.request_ranges()
            .into_iter()
            .map(|range| Template::new(self, protocol, range))
            .collect()
    }
}

fn help_text(name: &str, kind: Kind) -> String {
    let what = name
        .trim_start_matches("node_")
        .trim_end_matches("_total")
        .replace('_', " ");
    match kind {
        Kind::Counter => format!("Total {what}, as a counter since boot or process start."),
        Kind::Gauge => format!("Current {what}, as reported by the exporter."),
    }
}

#[derive(Default)]
struct Symbols {
    list: Vec<String>,
    index: std::collections::HashMap<String, u32>,
}

impl Symbols {
    fn get(&mut self, text: &str) -> u32 {
        if self.list.is_empty() {
            self.list.push(String::new());
            self.index.insert(String::new(), 0);
        }
        if let Some(&id) = self.index.get(text) {
            return id;
        }
        let id = self.list.len() as u32;
        self.list.push(text.to_owned());
        self.index.insert(text.to_owned(), id);
        id
    }
}

/// A compressed request whose timestamps and values can be rewritten in place.
pub struct Template {
    pub protocol: Protocol,
    pub series: Range<usize>,
    /// Snappy block, timestamps and values of round 0 in literals.
    compressed: Vec<u8>,
    /// Per sample: position of its timestamp varint and of its 8 value bytes.
    timestamp_at: Vec<usize>,
    value_at: Vec<usize>,
    timestamp_width: usize,
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn varint_len(value: u64) -> usize {
    let mut scratch = Vec::with_capacity(10);
    put_varint(&mut scratch, value);
    scratch.len()
}

fn put_len_delimited(out: &mut Vec<u8>, key: u8, bytes: &[u8]) {
    out.push(key);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Appends a `Sample { value = 1 (double), timestamp = 2 (int64) }` as field `key`,
/// recording where its value and timestamp bytes are.
fn put_sample(out: &mut Vec<u8>, key: u8, value: f64, timestamp: i64, pins: &mut Pins) {
    let ts_len = varint_len(timestamp as u64);
    out.push(key);
    put_varint(out, (1 + 8 + 1 + ts_len) as u64);
    out.push(0x09);
    pins.value.push(out.len());
    out.extend_from_slice(&value.to_le_bytes());
    out.push(0x10);
    pins.timestamp.push(out.len());
    put_varint(out, timestamp as u64);
    pins.timestamp_width = ts_len;
}

#[derive(Default)]
struct Pins {
    value: Vec<usize>,
    timestamp: Vec<usize>,
    timestamp_width: usize,
}

impl Template {
    /// Encodes round 0 of `series` by hand (the layout prost uses, except that a 0.0
    /// value is written rather than omitted, so that every sample has the same shape)
    /// and compresses it with the sample bytes pinned.
    pub fn new(fleet: &Fleet, protocol: Protocol, series: Range<usize>) -> Template {
        let mut raw = Vec::new();
        let mut pins = Pins::default();
        match protocol {
            Protocol::V1 => {
                let mut ts = Vec::new();
                let mut label = Vec::new();
                for i in series.clone() {
                    ts.clear();
                    for (name, value) in &fleet.series[i].labels {
                        label.clear();
                        put_len_delimited(&mut label, 0x0a, name.as_bytes());
                        put_len_delimited(&mut label, 0x12, value.as_bytes());
                        put_len_delimited(&mut ts, 0x0a, &label);
                    }
                    let mut sample = Vec::new();
                    let mut local = Pins::default();
                    put_sample(
                        &mut sample,
                        0x12,
                        fleet.value(i, 0),
                        fleet.timestamp(i, 0),
                        &mut local,
                    );
                    raw.push(0x0a);
                    put_varint(&mut raw, (ts.len() + sample.len()) as u64);
                    raw.extend_from_slice(&ts);
                    let shift = raw.len();
                    raw.extend_from_slice(&sample);
                    pins.value.push(shift + local.value[0]);
                    pins.timestamp.push(shift + local.timestamp[0]);
                    pins.timestamp_width = local.timestamp_width;
                }
            }
            Protocol::V2 => {
                // Symbols and refs exactly as `v2_message` assigns them.
                let message = fleet.v2_message(series.clone(), 0);
                for symbol in &message.symbols {
                    put_len_delimited(&mut raw, 0x22, symbol.as_bytes());
                }
                let mut ts = Vec::new();
                for (k, i) in series.clone().enumerate() {
                    let m = &message.timeseries[k];
                    ts.clear();
                    let mut refs = Vec::new();
                    for &r in &m.labels_refs {
                        put_varint(&mut refs, u64::from(r));
                    }
                    put_len_delimited(&mut ts, 0x0a, &refs);
                    let mut local = Pins::default();
                    put_sample(
                        &mut ts,
                        0x12,
                        fleet.value(i, 0),
                        fleet.timestamp(i, 0),
                        &mut local,
                    );
                    let meta = m.metadata.as_ref().expect("v2_message sets metadata");
                    let mut md = Vec::new();
                    if meta.r#type != 0 {
                        md.push(0x08);
                        put_varint(&mut md, meta.r#type as u64);
                    }
                    if meta.help_ref != 0 {
                        md.push(0x18);
                        put_varint(&mut md, u64::from(meta.help_ref));
                    }
                    put_len_delimited(&mut ts, 0x2a, &md);
                    raw.push(0x2a);
                    put_varint(&mut raw, ts.len() as u64);
                    let shift = raw.len();
                    raw.extend_from_slice(&ts);
                    pins.value.push(shift + local.value[0]);
                    pins.timestamp.push(shift + local.timestamp[0]);
                    pins.timestamp_width = local.timestamp_width;
                }
            }
        }
        let mut ranges = Vec::with_capacity(pins.value.len() * 2);
        for (&v, &t) in pins.value.iter().zip(&pins.timestamp) {
            ranges.push(v..v + 8);
            ranges.push(t..t + pins.timestamp_width);
        }
        let (compressed, at) = compress_pinned(&raw, &ranges);
        let (value_at, timestamp_at) = at.chunks_exact(2).map(|p| (p[0], p[1])).unzip();
        Template {
            protocol,
            series,
            compressed,
            timestamp_at,
            value_at,
            timestamp_width: pins.timestamp_width,
        }
    }

    pub fn samples(&self) -> usize {
        self.series.len()
    }

    pub fn compressed_len(&self) -> usize {
        self.compressed.len()
    }

    /// Writes the compressed request of `round` into `out`.
    pub fn render(&self, fleet: &Fleet, round: u64, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&self.compressed);
        let mut varint = Vec::with_capacity(10);
        for (k, i) in self.series.clone().enumerate() {
            let at = self.value_at[k];
            out[at..at + 8].copy_from_slice(&fleet.value(i, round).to_le_bytes());
            varint.clear();
            put_varint(&mut varint, fleet.timestamp(i, round) as u64);
            assert_eq!(
                varint.len(),
                self.timestamp_width,
                "timestamp varint changed width; keep rounds within one width"
            );
            let at = self.timestamp_at[k];
            out[at..at + varint.len()].copy_from_slice(&varint);
        }
    }

    /// Panics unless the body rendered for `round` decodes to the prost message of that
    /// round.
    pub fn check(&self, fleet: &Fleet, round: u64) {
        let mut body = Vec::new();
        self.render(fleet, round, &mut body);
        let raw = snap::raw::Decoder::new()
            .decompress_vec(&body)
            .expect("template is valid snappy");
        match self.protocol {
            Protocol::V1 => assert_eq!(
                proto::v1::WriteRequest::decode(raw.as_slice()).expect("valid protobuf"),
                fleet.v1_message(self.series.clone(), round),
                "v1 template of round {round} differs from the prost message"
            ),
            Protocol::V2 => assert_eq!(
                proto::v2::Request::decode(raw.as_slice()).expect("valid protobuf"),
                fleet.v2_message(self.series.clone(), round),
                "v2 template of round {round} differs from the prost message"
            ),
        }
    }
}

/// Compresses `raw` in the snappy block format so that every byte of `pinned` (sorted,
/// disjoint ranges) lies in a literal, never in or under a copy; returns the block and,
/// for each pinned range, where its first byte is in the block. Rewriting those bytes
/// in the block rewrites the same bytes of the decompressed output and nothing else.
pub fn compress_pinned(raw: &[u8], pinned: &[Range<usize>]) -> (Vec<u8>, Vec<usize>) {
    const HASH_BITS: u32 = 14;
    const MAX_OFFSET: usize = 65_535;
    let n = raw.len();
    let mut out = Vec::with_capacity(n / 3 + 16);
    put_varint(&mut out, n as u64);
    let mut at = Vec::with_capacity(pinned.len());
    let mut table = vec![u32::MAX; 1 << HASH_BITS];
    let (mut literal_start, mut i, mut next_pin) = (0, 0, 0);
    let mut recorded = 0;
    while i + 4 <= n {
        while next_pin < pinned.len() && pinned[next_pin].end <= i {
            next_pin += 1;
        }
        let dest_limit = pinned.get(next_pin).map_or(n, |p| p.start);
        if i + 4 > dest_limit {
            i = pinned[next_pin].end;
            continue;
        }
        let word = u32::from_le_bytes(raw[i..i + 4].try_into().expect("4 bytes"));
        let slot = (word.wrapping_mul(0x1e35_a7bd) >> (32 - HASH_BITS)) as usize;
        let candidate = table[slot];
        table[slot] = i as u32;
        if candidate != u32::MAX {
            let c = candidate as usize;
            if i - c <= MAX_OFFSET && raw[c..c + 4] == raw[i..i + 4] {
                // Never copy from a pinned range: its bytes change after compression.
                let source_pin = pinned.partition_point(|p| p.end <= c);
                let source_limit = pinned.get(source_pin).map_or(n, |p| p.start);
                let mut len = 4;
                while i + len < dest_limit && c + len < source_limit && raw[c + len] == raw[i + len]
                {
                    len += 1;
                }
                emit_literal(
                    &mut out,
                    raw,
                    literal_start..i,
                    pinned,
                    &mut recorded,
                    &mut at,
                );
                emit_copy(&mut out, i - c, len);
                i += len;
                literal_start = i;
                continue;
            }
        }
        i += 1;
    }
    emit_literal(
        &mut out,
        raw,
        literal_start..n,
        pinned,
        &mut recorded,
        &mut at,
    );
    assert_eq!(
        recorded,
        pinned.len(),
        "every pinned range lies in a literal"
    );
    (out, at)
}

fn emit_literal(
    out: &mut Vec<u8>,
    raw: &[u8],
    range: Range<usize>,
    pinned: &[Range<usize>],
    recorded: &mut usize,
    at: &mut Vec<usize>,
) {
    if range.is_empty() {
        return;
    }
    let n = (range.len() - 1) as u32;
    match n {
        0..60 => out.push((n << 2) as u8),
        60..0x100 => out.extend_from_slice(&[60 << 2, n as u8]),
        0x100..0x1_0000 => {
            out.push(61 << 2);
            out.extend_from_slice(&n.to_le_bytes()[..2]);
        }
        0x1_0000..0x100_0000 => {
            out.push(62 << 2);
            out.extend_from_slice(&n.to_le_bytes()[..3]);
        }
        _ => {
            out.push(63 << 2);
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
    let data = out.len();
    while *recorded < pinned.len() && pinned[*recorded].start < range.end {
        let pin = &pinned[*recorded];
        assert!(pin.start >= range.start && pin.end <= range.end);
        at.push(data + pin.start - range.start);
        *recorded += 1;
    }
    out.extend_from_slice(&raw[range]);
}

fn emit_copy(out: &mut Vec<u8>, offset: usize, mut len: usize) {
    let copy2 = |out: &mut Vec<u8>, len: usize| {
        out.push((((len - 1) << 2) | 2) as u8);
        out.extend_from_slice(&(offset as u16).to_le_bytes());
    };
    while len >= 68 {
        copy2(out, 64);
        len -= 64;
    }
    if len > 64 {
        copy2(out, 60);
        len -= 60;
    }
    if (4..12).contains(&len) && offset < 2048 {
        out.push((1 | ((len - 4) << 2) | ((offset >> 8) << 5)) as u8);
        out.push(offset as u8);
    } else {
        copy2(out, len);
    }
}

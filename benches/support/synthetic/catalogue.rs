//! The per-host series catalogue: what one node_exporter target exposes, as scraped by
//! Prometheus.
//!
//! In: nothing (the catalogue is fixed). Out: `Catalogue::node_exporter()`, the
//! `SERIES_PER_HOST` entries of one host (metric name, labels without `instance` and
//! `job`, metric kind and value model) in scrape order; `Fleet::node_exporters` adds the
//! host labels and per-host variation.

use super::{Kind, Model, SERIES_PER_HOST};

/// One metric of the per-host catalogue, before host labels are added.
pub(super) struct Entry {
    pub(super) name: String,
    pub(super) labels: Vec<(String, String)>,
    pub(super) kind: Kind,
    pub(super) model: Model,
}

#[derive(Default)]
pub(super) struct Catalogue {
    pub(super) entries: Vec<Entry>,
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
    pub(super) fn node_exporter() -> Catalogue {
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

//! The real servers the benches run: the `harbinger serve` binary, started on a free
//! loopback port with a temporary data dir and a configuration of the bench's, and
//! VictoriaMetrics (Debian's `victoria-metrics`) as a peer to compare with. Both are
//! measured through `/proc` (CPU time, resident memory now and at its peak) and stopped
//! when dropped.

#![allow(dead_code)] // Each bench uses a part.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server process; stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Server {
    child: Child,
    pub address: SocketAddr,
    _data_dir: tempfile::TempDir,
}

impl Server {
    /// `serve --role ROLE` with the configuration `yaml` returns, given the data dir
    /// (where it may write the files the configuration names).
    pub fn start(role: &str, yaml: impl FnOnce(&Path) -> String) -> Server {
        let data_dir = tempfile::tempdir().expect("temporary data dir");
        let config = data_dir.path().join("harbinger.yml");
        std::fs::write(&config, yaml(data_dir.path())).expect("writing the configuration");
        let address = free_address();
        let mut command = Command::new(env!("CARGO_BIN_EXE_harbinger"));
        command
            .args(["--log-level", "warn", "serve", "--role", role, "--listen"])
            .arg(address.to_string())
            .arg("--data-dir")
            .arg(data_dir.path())
            .arg("--config")
            .arg(&config);
        Server::spawn(command, address, data_dir, "the harbinger binary")
    }

    /// VictoriaMetrics single-node, storing in a temporary dir and keeping every sample
    /// however old (the benches' timestamps start in 2025). Ready when `/health` answers.
    pub fn victoria_metrics() -> Server {
        let data_dir = tempfile::tempdir().expect("temporary data dir");
        let address = free_address();
        let mut command = Command::new("victoria-metrics");
        command
            .arg(format!("-httpListenAddr={address}"))
            .arg(format!("-storageDataPath={}", data_dir.path().display()))
            .args(["-retentionPeriod=100y", "-loggerLevel=ERROR"]);
        Server::spawn(
            command,
            address,
            data_dir,
            "victoria-metrics (apt install victoria-metrics)",
        )
    }

    fn spawn(
        mut command: Command,
        address: SocketAddr,
        data_dir: tempfile::TempDir,
        what: &str,
    ) -> Server {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|error| panic!("starting {what}: {error}"));
        Server {
            child,
            address,
            _data_dir: data_dir,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Server CPU time (user + system) so far, in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        process_cpu_seconds(&format!("/proc/{}/stat", self.pid()))
    }

    /// Resident memory now.
    pub fn rss_bytes(&self) -> u64 {
        self.status_bytes("VmRSS:")
    }

    /// The most resident memory the process has had.
    pub fn peak_rss_bytes(&self) -> u64 {
        self.status_bytes("VmHWM:")
    }

    fn status_bytes(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("reading the server's /proc status");
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{field} in /proc/<pid>/status"));
        kib * 1024
    }

    pub fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_address() -> SocketAddr {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port();
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// utime + stime of a `/proc/.../stat` file, in seconds.
pub fn process_cpu_seconds(path: &str) -> f64 {
    let stat = std::fs::read_to_string(path).expect("reading /proc stat");
    // Fields after the command name, which is in parentheses and may contain spaces:
    // state is field 3, utime field 14, stime field 15.
    let fields: Vec<&str> = stat[stat.rfind(')').expect("comm") + 2..]
        .split_whitespace()
        .collect();
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks as f64 / per_second
}

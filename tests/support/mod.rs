//! Helpers for tests that run real programs: a child process that is killed when dropped
//! (and whose log tail is printed when the test is failing), free ports, and polling
//! with a deadline.

pub mod prometheus;
pub mod redmine;

use std::fs::File;
use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `N` distinct loopback ports that were free a moment ago (bound together, released).
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: [TcpListener; N] =
        std::array::from_fn(|_| TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0"));
    listeners.map(|l| {
        l.local_addr()
            .expect("bound listener has an address")
            .port()
    })
}

/// A running program listening on a loopback port, killed on drop.
pub struct Process {
    name: String,
    child: Child,
    log: PathBuf,
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub url: String,
}

impl Process {
    /// Starts `program` with stdout and stderr in `logs/NAME.log`. Panics with `hint` when
    /// the program is not installed.
    pub fn spawn(
        name: &str,
        program: &str,
        args: &[String],
        port: u16,
        logs: &Path,
        hint: &str,
    ) -> Process {
        Process::start(name, Command::new(program), args, port, logs, hint)
    }

    /// [`Process::spawn`] with `cwd` as the working directory.
    #[allow(dead_code)] // Shared by the test crates; not every one needs it.
    pub fn spawn_in(
        cwd: &Path,
        name: &str,
        program: &str,
        args: &[String],
        port: u16,
        hint: &str,
    ) -> Process {
        let mut command = Command::new(program);
        command.current_dir(cwd);
        Process::start(name, command, args, port, cwd, hint)
    }

    fn start(
        name: &str,
        mut command: Command,
        args: &[String],
        port: u16,
        logs: &Path,
        hint: &str,
    ) -> Process {
        let log = logs.join(format!("{name}.log"));
        let out = File::create(&log).expect("creating a log file");
        let err = out.try_clone().expect("cloning a log file handle");
        let program = command.get_program().to_string_lossy().into_owned();
        let child = command
            .args(args)
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|error| match error.kind() {
                ErrorKind::NotFound => panic!("{program} is not installed: {hint}"),
                _ => panic!("starting {program}: {error}"),
            });
        Process {
            name: name.to_owned(),
            child,
            log,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// The process id (for its CPU time in `/proc/<pid>/stat`).
    #[allow(dead_code)] // Shared by the test crates; the export bench reads it.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Sends the process a signal (e.g. `libc::SIGHUP`).
    #[allow(dead_code)] // Shared by the test crates; not every one signals.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid, which it holds until we reap it.
        let sent = unsafe { libc::kill(self.child.id() as i32, signal) };
        assert_eq!(sent, 0, "signalling {}", self.name);
    }

    /// The last `lines` lines of the program's output.
    /// Whether it has exited (reaping it if so).
    #[allow(dead_code)] // Shared by the test crates; not every one needs it.
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let state = match self.child.try_wait() {
            Ok(Some(status)) => format!("had exited, {status}"),
            _ => "was running".to_owned(),
        };
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let tail = self.log_tail(40);
            eprintln!(
                "----- {} {state}; its last output lines:\n{tail}\n-----",
                self.name
            );
        }
    }
}

/// Calls `probe` every 250 ms until it returns `Ok`, and returns that value; past
/// `deadline`, panics with `what` and the last `Err` the probe gave.
pub async fn eventually<T>(
    what: &str,
    deadline: Instant,
    mut probe: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    loop {
        let last = match probe().await {
            Ok(value) => return value,
            Err(last) => last,
        };
        if Instant::now() >= deadline {
            panic!("timed out waiting for {what}; last observation: {last}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The samples of `name` in a Prometheus or OpenMetrics text exposition, as
/// (label text between the braces, value) pairs.
pub fn samples(exposition: &str, name: &str) -> Vec<(String, f64)> {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            let (labels, rest) = match rest.strip_prefix('{') {
                Some(rest) => rest.split_once('}')?,
                None => ("", rest),
            };
            if !rest.starts_with(' ') {
                return None; // another metric whose name starts with `name`
            }
            let value = rest.split_whitespace().next()?.parse().ok()?;
            Some((labels.to_owned(), value))
        })
        .collect()
}

/// `harbinger replay --as-fast-as-possible` of `csv` to the remote-write `url`, run from
/// the repository root; panics with its stderr when it fails.
#[allow(dead_code)] // Shared by the test crates; not every one replays.
pub fn replay(csv: &Path, url: &str) {
    replay_with(csv, url, &[]);
}

/// [`replay`] with more of `harbinger replay`'s flags (e.g. `--shift-to-now`).
pub fn replay_with(csv: &Path, url: &str, flags: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_harbinger"))
        .args(["replay", "--as-fast-as-possible", "--url", url])
        .args(flags)
        .arg("--data")
        .arg(csv)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("running harbinger replay");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// lab-dev split at `at` (unix seconds): the rows before it, and the rest, as two CSV
/// files in `dir`.
#[allow(dead_code)] // Shared by the test crates; not every one splits.
pub fn split_lab_dev(dir: &std::path::Path, at: i64) -> [std::path::PathBuf; 2] {
    use std::io::{BufRead, Write};
    let file = std::fs::File::open(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/lab-dev/metrics.csv.gz"
    ))
    .unwrap();
    let mut lines = std::io::BufReader::new(flate2::read::GzDecoder::new(file)).lines();
    let header = lines.next().unwrap().unwrap();
    let paths = [dir.join("before.csv"), dir.join("after.csv")];
    let mut parts = paths.clone().map(|p| {
        let mut w = std::io::BufWriter::new(std::fs::File::create(p).unwrap());
        writeln!(w, "{header}").unwrap();
        w
    });
    for line in lines {
        let line = line.unwrap();
        let t: i64 = line.split(',').nth(1).unwrap().parse().unwrap();
        writeln!(parts[usize::from(t >= at)], "{line}").unwrap();
    }
    parts.iter_mut().for_each(|w| w.flush().unwrap());
    paths
}

/// `harbinger serve` with `config` on `port`, its data and log in `dir` (`NAME.log`).
#[allow(dead_code)] // Shared by the test crates; not every one serves.
pub fn serve(dir: &Path, port: u16, config: &Path, name: &str) -> Process {
    let args = [
        "serve".to_owned(),
        format!("--config={}", config.display()),
        format!("--listen=127.0.0.1:{port}"),
        format!("--data-dir={}", dir.join("data").display()),
    ];
    let program = env!("CARGO_BIN_EXE_harbinger");
    Process::spawn(name, program, &args, port, dir, "built by cargo")
}

/// Waits until `process` answers `/-/ready` with 200.
#[allow(dead_code)] // Shared by the test crates; not every one serves.
pub async fn ready(process: &Process, deadline: std::time::Instant) {
    let url = format!("{}/-/ready", process.url);
    eventually("serve ready", deadline, async || {
        match reqwest::get(&url).await {
            Ok(r) if r.status() == 200 => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
}

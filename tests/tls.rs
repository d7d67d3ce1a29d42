//! The listener hardened: a real Prometheus remote-writes to `serve` over TLS, and over
//! mutual TLS with a client certificate; a client without a certificate, or with one
//! from another CA, is refused; a connection that sends nothing is closed after
//! `read_header_timeout`, and a body that stalls is answered 503 after `read_timeout` (so
//! that Prometheus sends it again). That a stalled body holds up no other write is
//! `tests/http_write/stalls.rs`.
//!
//! Certificates are made for the test (rcgen): a CA, the server's for 127.0.0.1, a
//! client's from the same CA and one from another CA. Needs Debian's `prometheus`.

mod support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use support::{Process, eventually, free_ports, samples};

const HARBINGER: &str = env!("CARGO_BIN_EXE_harbinger");

/// PEM files of one CA's certificates.
struct Pki {
    ca: PathBuf,
    server: (PathBuf, PathBuf),
    client: (PathBuf, PathBuf),
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A CA named `name` and a server and a client certificate it signed, in `dir`.
fn issue_pki(dir: &Path, name: &str) -> Pki {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("{name} CA"));
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let issue = |role: &str, names: Vec<String>| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        (
            write(dir, &format!("{name}-{role}.pem"), &cert.pem()),
            write(dir, &format!("{name}-{role}.key"), &key.serialize_pem()),
        )
    };
    let server = issue("server", vec!["127.0.0.1".into(), "localhost".into()]);
    let client = issue("client", vec!["prometheus".into()]);
    Pki {
        ca: write(dir, &format!("{name}-ca.pem"), &ca.pem()),
        server,
        client,
    }
}

fn serve(dir: &Path, port: u16, config: &str) -> Process {
    let path = write(dir, "harbinger.yml", config);
    let args = [
        "serve".to_owned(),
        format!("--config={}", path.display()),
        format!("--listen=127.0.0.1:{port}"),
        format!("--data-dir={}", dir.join("data").display()),
    ];
    Process::spawn("harbinger", HARBINGER, &args, port, dir, "built by cargo")
}

/// Prometheus scraping itself and remote-writing over HTTPS with `tls_config`.
fn prometheus(dir: &Path, port: u16, harbinger_port: u16, tls_config: &str) -> Process {
    let config = write(
        dir,
        "prometheus.yml",
        &format!(
            "global: {{scrape_interval: 1s}}\n\
             scrape_configs:\n  - job_name: self\n    static_configs: [{{targets: [\"127.0.0.1:{port}\"]}}]\n\
             remote_write:\n  - url: https://127.0.0.1:{harbinger_port}/api/v1/write\n    \
             queue_config: {{batch_send_deadline: 1s, min_backoff: 100ms, max_backoff: 1s}}\n    \
             tls_config: {tls_config}\n"
        ),
    );
    let args = [
        format!("--config.file={}", config.display()),
        format!("--storage.tsdb.path={}", dir.join("tsdb").display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
    ];
    Process::spawn(
        "prometheus",
        "prometheus",
        &args,
        port,
        dir,
        "run `apt-get install prometheus`",
    )
}

/// An HTTPS client that trusts `ca`, presenting `identity` (cert, key) if given.
fn client(ca: &Path, identity: Option<&(PathBuf, PathBuf)>) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap();
    let mut builder = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .tls_certs_only([ca]);
    if let Some((cert, key)) = identity {
        let mut pem = std::fs::read(key).unwrap();
        pem.extend(std::fs::read(cert).unwrap());
        builder = builder.identity(reqwest::Identity::from_pem(&pem).unwrap());
    }
    builder.build().unwrap()
}

/// Waits for harbinger to have answered Prometheus's writes with 204, read over `http`.
async fn writes_accepted(http: &reqwest::Client, harbinger: &Process, deadline: Instant) {
    let url = format!("{}/metrics", harbinger.url.replace("http:", "https:"));
    eventually("Prometheus's writes answered 204", deadline, async || {
        let text = match http.get(&url).send().await {
            Ok(response) => response.text().await.map_err(|e| e.to_string())?,
            Err(e) => return Err(format!("{e:?}")),
        };
        let accepted: f64 = samples(&text, "harbinger_requests_total")
            .iter()
            .filter(|(labels, _)| labels.contains("code=\"204\""))
            .map(|(_, v)| v)
            .sum();
        match accepted > 0.0 {
            true => Ok(()),
            false => Err("none yet".to_owned()),
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_writes_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let pki = issue_pki(dir.path(), "lab");
    let [port, prometheus_port] = free_ports();
    let harbinger = serve(
        dir.path(),
        port,
        &format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
            pki.server.0.display(),
            pki.server.1.display()
        ),
    );
    let _prometheus = prometheus(
        dir.path(),
        prometheus_port,
        port,
        &format!("{{ca_file: {}}}", pki.ca.display()),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    writes_accepted(&client(&pki.ca, None), &harbinger, deadline).await;
    // Plain HTTP on the TLS port gets no answer.
    let plain = reqwest::Client::new()
        .get(format!("{}/metrics", harbinger.url))
        .send()
        .await;
    assert!(plain.is_err(), "{plain:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_writes_over_mutual_tls_and_other_clients_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let pki = issue_pki(dir.path(), "lab");
    let stranger = issue_pki(dir.path(), "stranger");
    let [port, prometheus_port] = free_ports();
    let harbinger = serve(
        dir.path(),
        port,
        &format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n  \
             client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\n",
            pki.server.0.display(),
            pki.server.1.display(),
            pki.ca.display()
        ),
    );
    let _prometheus = prometheus(
        dir.path(),
        prometheus_port,
        port,
        &format!(
            "{{ca_file: {}, cert_file: {}, key_file: {}}}",
            pki.ca.display(),
            pki.client.0.display(),
            pki.client.1.display()
        ),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    writes_accepted(&client(&pki.ca, Some(&pki.client)), &harbinger, deadline).await;
    let url = format!("{}/-/healthy", harbinger.url.replace("http:", "https:"));
    for (who, http) in [
        ("no certificate", client(&pki.ca, None)),
        ("another CA's", client(&pki.ca, Some(&stranger.client))),
    ] {
        let refused = http.get(&url).send().await;
        assert!(refused.is_err(), "{who}: {refused:?}");
    }
}

async fn ready(harbinger: &Process) {
    let deadline = Instant::now() + Duration::from_secs(30);
    eventually("serve up", deadline, async || {
        reqwest::get(format!("{}/-/ready", harbinger.url))
            .await
            .map_err(|e| e.to_string())
    })
    .await;
}

/// A write that promises 100 bytes of body and sends 10.
fn stalled_write(port: u16) -> std::net::TcpStream {
    let mut stalled = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stalled
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stalled,
        "POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n\
         Content-Encoding: snappy\r\nContent-Length: 100\r\n\r\n0123456789"
    )
    .unwrap();
    stalled
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_connection_is_closed_and_a_stalled_body_is_answered_503() {
    let dir = tempfile::tempdir().unwrap();
    let [port] = free_ports();
    let harbinger = serve(
        dir.path(),
        port,
        "read_header_timeout: 1s\nread_timeout: 1s\n",
    );
    ready(&harbinger).await;

    // Sends nothing: closed after about a second.
    let mut silent = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut buffer = [0u8; 256];
    let read = silent.read(&mut buffer).unwrap_or(0);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "closed after {waited:?} (read {read} bytes)"
    );

    let mut stalled = stalled_write(port);
    let mut answer = String::new();
    let _ = stalled.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("took longer than 1s"), "{answer}");
}

//! A Kafka-protocol broker for the load bench's receiver/worker split: tansu, in memory,
//! on a free loopback port, with the samples topic created; killed on drop.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A Kafka-protocol broker (tansu, in memory) with the topic created; killed on drop.
pub struct Broker {
    child: Child,
    port: u16,
}

impl Broker {
    pub fn start(partitions: u32) -> Broker {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free loopback port")
            .port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new("tansu")
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting tansu (cargo install tansu --features dynostore --locked)");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let created = Command::new("tansu")
                .args(["topic", "create", "--broker", &url])
                .arg(format!("--partitions={partitions}"))
                .arg("harbinger-samples")
                .output()
                .is_ok_and(|output| output.status.success());
            if created {
                break;
            }
            assert!(Instant::now() < deadline, "tansu did not create the topic");
            std::thread::sleep(Duration::from_millis(200));
        }
        Broker { child, port }
    }

    pub fn kafka_section(&self) -> String {
        format!("kafka:\n  brokers: [127.0.0.1:{}]\n", self.port)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

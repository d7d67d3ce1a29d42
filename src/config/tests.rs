use std::path::Path;

use super::*;

/// The error of validating `yaml` as the file `h.yml`.
fn problems_of(yaml: &str) -> String {
    Config::from_yaml(yaml)
        .unwrap()
        .validate(Path::new("h.yml"))
        .unwrap_err()
        .to_string()
}

#[test]
fn empty_file_means_defaults() {
    assert_eq!(Config::from_yaml(""), Ok(Config::default()));
    assert!(Config::default().validate(Path::new("defaults")).is_ok());
}

#[test]
fn unknown_key_is_named_with_its_line() {
    let error =
        Config::from_yaml("listen: 127.0.0.1:1\ningest:\n  max_body_byte: 10\n").unwrap_err();
    assert!(error.contains("unknown field `max_body_byte`"), "{error}");
    assert!(error.contains("line 3"), "{error}");
}

#[test]
fn reads_sizes_and_durations() {
    let config = Config::from_yaml(
        "ingest:\n  max_body_bytes: 16MiB\n  series_idle_timeout: 1h30m\nshutdown_timeout: 5s\n",
    )
    .unwrap();
    assert_eq!(config.ingest.max_body_bytes, ByteSize::mib(16));
    assert_eq!(config.ingest.series_idle_timeout, Duration::from_secs(5400));
    assert_eq!(config.shutdown_timeout, Duration::from_secs(5));
}

#[test]
fn validation_reports_every_problem_at_once() {
    let config = Config::from_yaml(
        "ingest:\n  queue_capacity: 0\n  max_labels_per_series: 0\n  series_idle_timeout: 10s\nwrite_auth:\n  bearer:\n    token_env: HARBINGER_TEST_UNSET_VARIABLE\n",
    )
    .unwrap();
    let error = config.validate(Path::new("h.yml")).unwrap_err().to_string();
    for expected in [
        "h.yml: 4 problem(s)",
        "ingest.queue_capacity: must be greater than 0",
        "ingest.max_labels_per_series: must be greater than 0",
        "ingest.series_idle_timeout (10s): must be at least 1m",
        "write_auth.bearer.token_env: environment variable HARBINGER_TEST_UNSET_VARIABLE is not set",
    ] {
        assert!(
            error.contains(expected),
            "missing {expected:?} in:\n{error}"
        );
    }
}

#[test]
fn secrets_load_from_a_file_and_never_print() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret\n").unwrap();
    let yaml = format!(
        "write_auth:\n  bearer:\n    token_file: {}\n",
        token.display()
    );
    let valid = Config::from_yaml(&yaml)
        .unwrap()
        .validate(Path::new("h.yml"))
        .unwrap();
    let Some(WriteAuth::Bearer(secret)) = &valid.write_auth else {
        panic!("bearer auth expected");
    };
    assert_eq!(secret.expose(), "s3cret");
    assert!(!format!("{valid:?}").contains("s3cret"));
}

#[test]
fn the_documented_example_is_valid_and_complete() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/harbinger.yml");
    let config = Config::from_file(&path).unwrap();
    // Every field of the example is set to its default, so the example documents the
    // defaults truthfully.
    assert_eq!(config, Config::default());
}

#[test]
fn ticket_sinks_are_strict_and_checked_together() {
    let error =
        Config::from_yaml("tickets:\n  sinks:\n    - type: file\n      pth: x\n").unwrap_err();
    assert!(error.contains("unknown field `pth`"), "{error}");
    let config = Config::from_yaml(
        "tickets:\n  sinks:\n    - type: file\n    - type: file\n    - type: webhook\n      url: not a url\n      body: {t: '{{ticket.nope}}'}\n      bearer_token_env: HARBINGER_TEST_UNSET_VARIABLE\n",
    )
    .unwrap();
    let error = config.validate(Path::new("h.yml")).unwrap_err().to_string();
    for expected in [
        "h.yml: 4 problem(s)",
        "tickets.sinks[1].name: \"file\" must be non-empty and unique",
        "tickets.sinks[2].url: \"not a url\"",
        "tickets.sinks[2].bearer_token_env: environment variable HARBINGER_TEST_UNSET_VARIABLE is not set",
        "tickets.sinks[2].body: unknown placeholder {{ticket.nope}}",
    ] {
        assert!(
            error.contains(expected),
            "missing {expected:?} in:\n{error}"
        );
    }
}

#[test]
fn the_kafka_section_is_checked_field_by_field() {
    let config = Config::from_yaml(
        "kafka:\n  brokers: [kafka-1, 'kafka-2:9092']\n  topic: ''\n  produce_timeout: 10ms\n  tls: {cert_file: /nonexistent.pem}\n  sasl: {mechanism: SCRAM-SHA-512, username: h}\n",
    )
    .unwrap();
    let error = config.validate(Path::new("h.yml")).unwrap_err().to_string();
    for expected in [
        "h.yml: 6 problem(s)",
        "kafka.brokers: \"kafka-1\" is not host:port",
        "kafka.topic: must not be empty",
        "kafka.produce_timeout (10ms): must be at least 100ms",
        "kafka.tls: set both cert_file and key_file, or neither",
        "kafka.tls.cert_file: /nonexistent.pem is not a readable file",
        "kafka.sasl.password: set kafka.sasl.password_file or kafka.sasl.password_env",
    ] {
        assert!(
            error.contains(expected),
            "missing {expected:?} in:\n{error}"
        );
    }
    let error =
        Config::from_yaml("kafka:\n  brokers: [a:1]\n  sasl: {mechanism: GSSAPI, username: h}\n")
            .unwrap_err();
    assert!(error.contains("unknown variant `GSSAPI`"), "{error}");
    let valid = Config::from_yaml("kafka:\n  brokers: ['127.0.0.1:9092']\n")
        .unwrap()
        .validate(Path::new("h.yml"))
        .unwrap();
    let kafka = valid.kafka.unwrap();
    assert_eq!(kafka.config.topic, "harbinger-samples");
    assert_eq!(kafka.config.group, "harbinger-workers");
}

#[test]
fn tls_problems_name_the_field_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let yaml = format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: /nonexistent/server.key\n  \
         client_auth_type: RequireAndVerifyClientCert\nread_timeout: 0s\n",
        empty.display()
    );
    let error = problems_of(&yaml);
    for expected in [
        "h.yml: 4 problem(s)",
        "read_timeout: must be greater than 0",
        &format!(
            "tls_server_config.cert_file: {} holds no PEM certificate",
            empty.display()
        ),
        "tls_server_config.key_file: /nonexistent/server.key: ",
        "tls_server_config.client_auth_type RequireAndVerifyClientCert needs client_ca_file",
    ] {
        assert!(error.contains(expected), "{expected:?} in {error}");
    }
    let refused = Config::from_yaml(
        "tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequireAnyClientCert}\n",
    )
    .unwrap_err();
    assert!(
        refused.contains("unknown variant `RequireAnyClientCert`"),
        "{refused}"
    );
}

#[test]
fn false_ticket_budgets_name_targets_and_pick_from_the_front() {
    let wrong =
        "false_ticket_budget:\n  default: 1\n  HostOutOfDiskSpce: 1\n  HostHighCpuLoad: -1\n";
    let error = problems_of(wrong);
    for expected in [
        "h.yml: 2 problem(s)",
        "false_ticket_budget.HostOutOfDiskSpce: the pipeline has no such target (its targets: HostOutOfDiskSpace,",
        "false_ticket_budget.HostHighCpuLoad: -1 is not a number of false tickets per entity-day",
    ] {
        assert!(
            error.contains(expected),
            "missing {expected:?} in:\n{error}"
        );
    }

    // The built-in model: the disk target's front has a policy without false tickets on
    // held-out hosts; a target that never fired there keeps its trained policy.
    let valid = Config::from_yaml("false_ticket_budget:\n  default: 0\n")
        .unwrap()
        .validate(Path::new("h.yml"))
        .unwrap();
    let choice = |alert: &str| {
        valid
            .budget_choices
            .iter()
            .find(|c| c.alert == alert)
            .unwrap()
    };
    let model = valid.model.as_ref().unwrap();
    let disk = choice("HostOutOfDiskSpace");
    let picked = disk.picked.as_ref().expect("the disk target has a front");
    assert!(picked.within);
    assert_eq!(picked.figures.false_tickets_per_entity_day, 0.0);
    assert_eq!(
        model.target("HostOutOfDiskSpace").unwrap().policy,
        disk.policy
    );
    let trained = Model::embedded_default();
    let memory = choice("HostOutOfMemory");
    assert!(memory.picked.is_none());
    assert_eq!(
        memory.policy,
        trained.target("HostOutOfMemory").unwrap().policy
    );
    assert_ne!(
        disk.policy,
        trained.target("HostOutOfDiskSpace").unwrap().policy
    );

    // A pipeline without a model has no front to pick from.
    let dir = tempfile::tempdir().unwrap();
    let pipeline = dir.path().join("p.yml");
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/rules/host.rules.yml");
    let definition = format!(
        "step: 15s\nentity_labels: [instance]\nrule_files: [{}]\n",
        rules.display()
    );
    std::fs::write(&pipeline, definition).unwrap();
    let yaml = format!(
        "pipeline: {}\nfalse_ticket_budget:\n  default: 1\n",
        pipeline.display()
    );
    let error = problems_of(&yaml);
    assert!(
        error.contains("there is no model to pick policies from"),
        "{error}"
    );
}

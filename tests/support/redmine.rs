//! A real Redmine for the tests: Debian's `redmine` package on SQLite, each test with a
//! copy of the database the package created, the REST API enabled, a project `ops`
//! and the admin's API key, served by WEBrick on a loopback port.
//!
//! Needs Debian's `redmine` and `redmine-sqlite`; fails, never skips, without.

// Test crates that include `support` for its other helpers leave this module unused.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::{Process, eventually, free_ports};

/// The database Debian's `redmine-sqlite` creates at install (schema and default data:
/// trackers, statuses, priorities).
const INSTALLED_DB: &str =
    "/var/lib/dbconfig-common/sqlite3/redmine/instances/default/redmine_default";
const REDMINE: &str = "/usr/share/redmine";
const HINT: &str = "run `apt-get install redmine redmine-sqlite`";

/// Serves Redmine's Rails application with WEBrick (the package ships no server of
/// its own; `webrick` is loaded before Bundler narrows the load path).
const LAUNCHER: &str = r#"
require 'webrick'
Dir.chdir(ENV.fetch('REDMINE'))
require File.join(ENV.fetch('REDMINE'), 'config/environment')
require 'rack/handler/webrick'
Rack::Handler::WEBrick.run(Rails.application, Host: '127.0.0.1', Port: Integer(ENV.fetch('PORT')))
"#;

/// Enables the REST API, creates the project `ops` with every tracker, prints the
/// admin's API key.
const SETUP: &str = r#"
Setting.rest_api_enabled = '1'
Project.create!(name: 'Ops', identifier: 'ops', is_public: true, tracker_ids: Tracker.pluck(:id))
puts "API KEY #{User.find_by_login('admin').api_key}"
"#;

pub struct Redmine {
    _process: Process,
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub url: String,
    pub api_key: String,
    /// A file holding the API key, for `api_key_file`.
    pub api_key_file: PathBuf,
}

impl Redmine {
    /// A fresh Redmine in `dir`, ready to answer.
    pub async fn start(dir: &Path) -> Redmine {
        assert!(
            Path::new(INSTALLED_DB).exists(),
            "no Redmine database at {INSTALLED_DB}: {HINT}"
        );
        let db = dir.join("redmine.db");
        std::fs::copy(INSTALLED_DB, &db).unwrap();
        let database_url = format!("sqlite3:{}", db.display());
        let out = Command::new(format!("{REDMINE}/bin/rails"))
            .args(["runner", SETUP])
            .current_dir(REDMINE)
            .env("RAILS_ENV", "production")
            .env("DATABASE_URL", &database_url)
            .output()
            .unwrap_or_else(|e| panic!("{REDMINE}/bin/rails: {e}; {HINT}"));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let api_key = stdout
            .lines()
            .find_map(|line| line.strip_prefix("API KEY "))
            .unwrap_or_else(|| {
                panic!(
                    "Redmine's setup failed:\n{stdout}{}",
                    String::from_utf8_lossy(&out.stderr)
                )
            })
            .trim()
            .to_owned();
        let api_key_file = dir.join("redmine.key");
        std::fs::write(&api_key_file, &api_key).unwrap();
        let launcher = dir.join("serve-redmine.rb");
        std::fs::write(&launcher, LAUNCHER).unwrap();
        let [port] = free_ports();
        let args = [
            format!("PORT={port}"),
            format!("REDMINE={REDMINE}"),
            format!("DATABASE_URL={database_url}"),
            "RAILS_ENV=production".to_owned(),
            "ruby".to_owned(),
            launcher.display().to_string(),
        ];
        let process = Process::spawn("redmine", "env", &args, port, dir, HINT);
        let url = process.url.clone();
        let deadline = Instant::now() + Duration::from_secs(120);
        eventually(
            "Redmine answering",
            deadline,
            async || match reqwest::get(format!("{url}/issues.json")).await {
                Ok(r) if r.status().is_success() => Ok(()),
                other => Err(format!("{other:?}")),
            },
        )
        .await;
        Redmine {
            _process: process,
            url,
            api_key,
            api_key_file,
        }
    }

    /// GET `path` (e.g. `/issues.json?status_id=*`) with the API key, as JSON.
    pub async fn get(&self, path: &str) -> serde_json::Value {
        let response = reqwest::Client::new()
            .get(format!("{}{path}", self.url))
            .header("X-Redmine-API-Key", &self.api_key)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    /// The notes of issue `id`'s journal, oldest first (a change without a note has
    /// none).
    pub async fn notes(&self, id: u64) -> Vec<String> {
        let issue = self
            .get(&format!("/issues/{id}.json?include=journals"))
            .await;
        let journals = issue["issue"]["journals"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        journals
            .iter()
            .filter_map(|j| j["notes"].as_str())
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Every issue of the project, open or closed.
    pub async fn issues(&self) -> Vec<serde_json::Value> {
        let found = self
            .get("/issues.json?project_id=ops&status_id=*&limit=100")
            .await;
        found["issues"].as_array().cloned().unwrap_or_default()
    }
}

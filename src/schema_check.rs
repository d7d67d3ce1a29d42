//! For tests: a committed JSON Schema (under `schemas/`) must be the one the code
//! derives. `UPDATE_SCHEMA=1 cargo test` rewrites the file after a deliberate change.

/// Asserts that `schemas/<file>` holds `schema`, or writes it when `UPDATE_SCHEMA` is set.
pub fn assert_committed(file: &str, schema: &impl serde::Serialize) {
    let path = format!("{}/schemas/{file}", env!("CARGO_MANIFEST_DIR"));
    let derived = serde_json::to_string_pretty(schema).unwrap() + "\n";
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &derived).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == derived,
        "schemas/{file} is stale: run UPDATE_SCHEMA=1 cargo test, and review the change"
    );
}

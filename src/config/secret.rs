//! Secrets read from a file or an environment variable, never printed.

use std::fmt;
use std::path::PathBuf;

/// A credential. Its `Debug` output is redacted so that it cannot reach a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Loads the secret named `field` from exactly one of `{field}_file` or
    /// `{field}_env`; the problem, if any, names the field and never the value.
    pub fn load(
        field: &str,
        file: &Option<PathBuf>,
        env: &Option<String>,
    ) -> Result<Secret, String> {
        let text = match (file, env) {
            (Some(path), None) => std::fs::read_to_string(path)
                .map_err(|e| format!("{field}_file: cannot read {}: {e}", path.display()))?,
            (None, Some(var)) => std::env::var(var)
                .map_err(|_| format!("{field}_env: environment variable {var} is not set"))?,
            (None, None) => return Err(format!("{field}: set {field}_file or {field}_env")),
            (Some(_), Some(_)) => {
                return Err(format!(
                    "{field}: set only one of {field}_file and {field}_env"
                ));
            }
        };
        let text = text.trim();
        if text.is_empty() {
            return Err(format!("{field}: the secret is empty"));
        }
        Ok(Secret(text.to_owned()))
    }
}

//! A bench's setting from the environment: its value parsed, or the default when unset.

use std::str::FromStr;

/// Panics, naming the variable, when the value does not parse.
pub fn setting<T: FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a valid value")),
        Err(_) => default,
    }
}

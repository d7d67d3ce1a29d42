//! Running the `harbinger` binary as a user runs it, from the repository root, for the
//! tests of the offline commands.

use std::process::{Command, Output};

pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Runs `harbinger ARGS` in the repository root and waits for it.
pub fn harbinger(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harbinger"))
        .args(args)
        .current_dir(ROOT)
        .env("NO_COLOR", "1")
        .output()
        .expect("running harbinger")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

//! The `harbinger` command. Errors end in `cli` as one readable message and a non-zero
//! exit status.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}

//! Compiles the remote-write schemas in `schemas/` with protox (a pure-Rust protobuf
//! compiler, so no `protoc` is needed on the build machine) and generates prost types.
//! The generated types are the reference decoder that the zero-copy walk in
//! `src/ingest/` is checked against, and the encoder used by `replay` and the tests.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    const PROTOS: [&str; 2] = [
        "schemas/prometheus/remote.proto",
        "schemas/io/prometheus/write/v2/types.proto",
    ];
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    println!("cargo:rerun-if-changed=schemas/prometheus/types.proto");
    let descriptors = protox::compile(PROTOS, ["schemas"])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}

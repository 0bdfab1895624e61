// Generates the BuildKit gateway client from the proto subset in proto/.
// BTreeMap everywhere: map fields then encode in sorted key order, as Go's deterministic
// marshaller does, so re-encoded LLB hashes the way BuildKit expects.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    tonic_prost_build::configure()
        .build_server(false)
        .btree_map(".")
        .compile_protos(
            &["proto/github.com/moby/buildkit/frontend/gateway/pb/gateway.proto"],
            &["proto"],
        )?;
    Ok(())
}

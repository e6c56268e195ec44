//! kleene-oci: an OCI runtime with runc's command line, on kleene's Linux
//! runtime, for containerd, Docker and Podman.

fn main() -> std::process::ExitCode {
    kleene::oci::main()
}

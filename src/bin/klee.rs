fn main() -> std::process::ExitCode {
    kleene::cli::main()
}
